//! The notification outbox: notifications are rows of `notification_logs`, written PENDING
//! (with the alert change that caused them), then claimed by a sender with a lease (one
//! UPDATE that only matches rows nobody holds; `FOR UPDATE SKIP LOCKED` on PostgreSQL),
//! and completed as SENT, retried later, or FAILED. A sender that dies leaves its claims
//! to expire; PENDING rows survive restarts.

use sqlx::AssertSqlSafe;
use wfmon_model::{NotificationLog, NotificationStatus, Record, Timestamp};

use crate::records::select_sql;
use crate::{Store, StoreError};

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The channel accepted it.
    Sent,
    /// It failed; try again at `next_attempt_at`.
    Retry {
        /// Why it failed (no secret).
        error: String,
        /// When to try again.
        next_attempt_at: Timestamp,
    },
    /// It failed for good (last attempt, or a failure no retry can fix).
    Failed {
        /// Why (no secret).
        error: String,
    },
    /// Not attempted (the channel's circuit is open); look again at `next_attempt_at`.
    Postponed {
        /// Why.
        reason: String,
        /// When to look again.
        next_attempt_at: Timestamp,
    },
}

/// On PostgreSQL, a claim skips rows another sender is claiming at the same moment.
const LOCK: &str = " FOR UPDATE SKIP LOCKED";

impl Store {
    /// Queues notifications (PENDING rows) or records suppressed ones.
    pub async fn enqueue_notifications(&self, rows: &[NotificationLog]) -> Result<u64, StoreError> {
        self.insert(rows).await
    }

    /// Claims up to `limit` PENDING notifications due at `now` that nobody holds (or whose
    /// claim expired), oldest first, until `until`. Each is claimed by one sender.
    pub async fn claim_notifications(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<NotificationLog>, StoreError> {
        let lock = match self.backend() {
            crate::Backend::Postgres => LOCK,
            crate::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE notification_logs SET claimed_by = $1, claimed_until = $2 \
             WHERE log_id IN (SELECT log_id FROM notification_logs \
                 WHERE status = 'PENDING' \
                   AND (next_attempt_at IS NULL OR next_attempt_at <= $3) \
                   AND (claimed_until IS NULL OR claimed_until < $3) \
                 ORDER BY created_at, log_id LIMIT {limit}{lock}) \
             RETURNING {}",
            NotificationLog::column_list()
        );
        dispatch!(self, pool, Db => {
            let mut rows = sqlx::query_as::<Db, NotificationLog>(AssertSqlSafe(sql))
                .bind(owner)
                .bind(until)
                .bind(now)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("claiming notifications"))?;
            rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.log_id.cmp(&b.log_id)));
            Ok(rows)
        })
    }

    /// Records how an attempt on a notification `owner` holds ended, and releases it.
    /// Returns false when the claim was lost (expired and taken by another sender).
    pub async fn complete_notification(
        &self,
        log_id: &str,
        owner: &str,
        outcome: &DeliveryOutcome,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let release = "claimed_by = NULL, claimed_until = NULL";
        let guard = "WHERE log_id = $2 AND claimed_by = $3 AND status = 'PENDING'";
        let (sql, text, time) = match outcome {
            DeliveryOutcome::Sent => (
                format!(
                    "UPDATE notification_logs SET status = 'SENT', delivery_status = 'DELIVERED', \
                     error_message = COALESCE($4, error_message), sent_at = $1, \
                     next_attempt_at = NULL, {release} {guard}"
                ),
                None,
                at,
            ),
            DeliveryOutcome::Retry {
                error,
                next_attempt_at,
            } => (
                format!(
                    "UPDATE notification_logs SET delivery_status = 'RETRYING', \
                     retry_count = retry_count + 1, error_message = $4, next_attempt_at = $1, \
                     {release} {guard}"
                ),
                Some(error.clone()),
                *next_attempt_at,
            ),
            DeliveryOutcome::Failed { error } => (
                format!(
                    "UPDATE notification_logs SET status = 'FAILED', \
                     delivery_status = 'UNDELIVERED', retry_count = retry_count + 1, \
                     error_message = $4, sent_at = $1, next_attempt_at = NULL, {release} {guard}"
                ),
                Some(error.clone()),
                at,
            ),
            DeliveryOutcome::Postponed {
                reason,
                next_attempt_at,
            } => (
                format!(
                    "UPDATE notification_logs SET error_message = $4, next_attempt_at = $1, \
                     {release} {guard}"
                ),
                Some(reason.clone()),
                *next_attempt_at,
            ),
        };
        dispatch!(self, pool, Db => {
            sqlx::query::<Db>(AssertSqlSafe(sql))
                .bind(time)
                .bind(log_id)
                .bind(owner)
                .bind(text)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
                .map_err(StoreError::query(format!("recording delivery of {log_id}")))
        })
    }

    /// Releases every claim `owner` holds (at shutdown): the rows stay PENDING.
    pub async fn release_notification_claims(&self, owner: &str) -> Result<u64, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query::<Db>(
                "UPDATE notification_logs SET claimed_by = NULL, claimed_until = NULL \
                 WHERE claimed_by = $1 AND status = 'PENDING'",
            )
            .bind(owner)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query("releasing notification claims"))
        })
    }

    /// The earliest time a PENDING notification nobody holds at `now` is due.
    pub async fn next_notification_due(
        &self,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, Option<Timestamp>>(
                "SELECT MIN(COALESCE(next_attempt_at, created_at)) FROM notification_logs \
                 WHERE status = 'PENDING' AND (claimed_until IS NULL OR claimed_until < $1)",
            )
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(StoreError::query("reading the next notification due"))
        })
    }

    /// Notifications, newest first: all, or those of one status, or of one alert.
    pub async fn recent_notifications(
        &self,
        status: Option<NotificationStatus>,
        alert_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<NotificationLog>, StoreError> {
        let mut filters = Vec::new();
        if status.is_some() {
            filters.push("status = $2");
        }
        if alert_id.is_some() {
            filters.push(if status.is_some() {
                "alert_id = $3"
            } else {
                "alert_id = $2"
            });
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        };
        let sql = format!(
            "{}{filter} ORDER BY created_at DESC, log_id DESC LIMIT $1",
            select_sql::<NotificationLog>()
        );
        dispatch!(self, pool, Db => {
            let mut q = sqlx::query_as::<Db, NotificationLog>(AssertSqlSafe(sql)).bind(i64::from(limit));
            if let Some(status) = status {
                q = q.bind(status);
            }
            if let Some(alert_id) = alert_id {
                q = q.bind(alert_id.to_owned());
            }
            q.fetch_all(pool)
                .await
                .map_err(StoreError::query("listing notifications"))
        })
    }
}

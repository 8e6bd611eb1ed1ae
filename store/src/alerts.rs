//! Alert state, in the `alerts` table: one row per episode, at most one open row per
//! fingerprint (rule, workflow, environment), which the database enforces with a unique
//! partial index. Every change is one compare-and-set statement (a silence, which also
//! rewrites the metadata, reads and writes the row under a lock in one transaction), so two
//! evaluators (two instances, or the daemon and `wfmon alerts`) never both open, resolve or
//! escalate the same alert; the notifications a change causes are written in the same
//! transaction.
//!
//! Status: an open alert is ACKNOWLEDGED once acknowledged, else ESCALATED once escalated,
//! else ACTIVE (`unsilenced_status`), except while a silence holds it SILENCED. A silence
//! is either set by hand until a time (metadata `silencedUntil`, with `silencedBy` and
//! `silenceReason`) or caused by an open alert it depends on (metadata `silencedReason`);
//! when it ends, the alert gets back the status it had, acknowledgement included, and the
//! two keys that mark a silence in force are removed. A silence also suppresses the
//! alert's notifications that no sender holds yet.
//!
//! Also the history reads the evaluator needs: recent runs, runs in a window, metric values.

use sqlx::{AssertSqlSafe, QueryBuilder};
use wfmon_model::{
    Alert, AlertStatus, Json, NotificationLog, NotificationStatus, Record, Timestamp,
    WorkflowExecution,
};

use crate::records::{OnConflict, begin_write, insert_rows, select_sql};
use crate::{Store, StoreError};

/// What `trigger_alert` did.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertChange {
    /// A new episode was opened (the candidate row was inserted).
    Opened(Alert),
    /// The open episode of the fingerprint was triggered again (occurrences bumped).
    Retriggered(Alert),
}

impl AlertChange {
    /// The alert as stored now.
    pub fn alert(&self) -> &Alert {
        match self {
            AlertChange::Opened(a) | AlertChange::Retriggered(a) => a,
        }
    }
}

/// Final statuses of runs that tell whether a workflow works (not RUNNING, SKIPPED, ABORTED).
const VERDICT_STATUSES: &str = "('PASSED', 'WARNING', 'FAILED', 'TIMED_OUT')";

/// Keeps only the last attempt of each run: an attempt followed by a retry is not a verdict.
const LAST_ATTEMPTS: &str = "NOT EXISTS (SELECT 1 FROM workflow_executions later \
     WHERE later.first_run_id = COALESCE(workflow_executions.first_run_id, workflow_executions.run_id) \
     AND later.attempt > workflow_executions.attempt)";

/// The status an open alert has when no silence holds it: ACKNOWLEDGED once acknowledged,
/// else ESCALATED once escalated, else ACTIVE.
fn unsilenced_status(alert: &Alert) -> AlertStatus {
    if alert.acknowledged_at.is_some() {
        AlertStatus::Acknowledged
    } else if alert.escalated_at.is_some() {
        AlertStatus::Escalated
    } else {
        AlertStatus::Active
    }
}

/// When a silence set by hand ends, if one holds the alert.
fn silenced_until(alert: &Alert) -> Option<Timestamp> {
    alert
        .metadata
        .as_ref()
        .and_then(|m| m.0.get("silencedUntil"))
        .and_then(|v| v.as_str())
        .and_then(|t| Timestamp::parse(t).ok())
}

/// The alert's metadata as a map (empty when it has none or it is not an object).
fn metadata_map(alert: &Alert) -> serde_json::Map<String, serde_json::Value> {
    match alert.metadata.as_ref().map(|m| m.0.clone()) {
        Some(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// What a silence, or its end, makes of the alert read under lock.
struct Rewrite {
    status: AlertStatus,
    metadata: Json,
    /// Suppress the alert's notifications no sender holds, with this reason.
    withdraw: Option<String>,
}

fn with_alert(rows: &[NotificationLog], alert_id: &str) -> Vec<NotificationLog> {
    rows.iter()
        .map(|r| NotificationLog {
            alert_id: Some(alert_id.to_owned()),
            ..r.clone()
        })
        .collect()
}

impl Store {
    /// Opens an episode for the candidate's fingerprint, or, when one is open, bumps its
    /// occurrences, last trigger time and message: one statement, so concurrent triggers
    /// of one fingerprint open one episode.
    pub async fn trigger_alert(&self, candidate: &Alert) -> Result<AlertChange, StoreError> {
        let columns = Alert::column_list();
        let prefix = format!("INSERT INTO alerts ({columns}) ");
        let suffix = format!(
            " ON CONFLICT (fingerprint) WHERE status <> 'RESOLVED' DO UPDATE SET \
             occurrences = alerts.occurrences + 1, \
             last_triggered_at = excluded.last_triggered_at, message = excluded.message \
             RETURNING {columns}"
        );
        let stored: Alert = dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new(prefix.as_str());
            q.push_values(std::iter::once(candidate), |mut row, a| {
                wfmon_model::PushValues::<Db>::push_values(a, &mut row)
            });
            q.push(suffix.as_str());
            q.build_query_as::<Alert>()
                .fetch_one(pool)
                .await
                .map_err(StoreError::query(format!("triggering alert {}", candidate.fingerprint)))
        })?;
        Ok(if stored.alert_id == candidate.alert_id {
            AlertChange::Opened(stored)
        } else {
            AlertChange::Retriggered(stored)
        })
    }

    /// The open episode of a fingerprint.
    pub async fn open_alert(&self, fingerprint: &str) -> Result<Option<Alert>, StoreError> {
        let sql = format!(
            "{} WHERE fingerprint = $1 AND status <> 'RESOLVED'",
            select_sql::<Alert>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, Alert>(AssertSqlSafe(sql))
                .bind(fingerprint)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query("reading an open alert"))
        })
    }

    /// Every open episode, oldest first.
    pub async fn open_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let sql = format!(
            "{} WHERE status <> 'RESOLVED' ORDER BY triggered_at, alert_id",
            select_sql::<Alert>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, Alert>(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing open alerts"))
        })
    }

    /// The most recently triggered episodes, open ones only or all.
    pub async fn recent_alerts(
        &self,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let filter = if open_only {
            "WHERE status <> 'RESOLVED' "
        } else {
            ""
        };
        let sql = format!(
            "{} {filter}ORDER BY last_triggered_at DESC, alert_id DESC LIMIT {limit}",
            select_sql::<Alert>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, Alert>(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing alerts"))
        })
    }

    /// Queues notifications about an open alert and marks it notified at `at`, if it was
    /// last notified at `expected` (None: never): two evaluators cannot both remind.
    /// Returns whether this call won (and the rows were queued).
    pub async fn notify_alert(
        &self,
        alert_id: &str,
        expected: Option<Timestamp>,
        at: Timestamp,
        rows: &[NotificationLog],
    ) -> Result<bool, StoreError> {
        let rows = with_alert(rows, alert_id);
        let refs: Vec<&NotificationLog> = rows.iter().collect();
        let sql = if expected.is_some() {
            "UPDATE alerts SET last_notified_at = $1 WHERE alert_id = $2 \
             AND status <> 'RESOLVED' AND last_notified_at = $3"
        } else {
            "UPDATE alerts SET last_notified_at = $1 WHERE alert_id = $2 \
             AND status <> 'RESOLVED' AND last_notified_at IS NULL"
        };
        dispatch!(self, pool, Db => {
            let result: Result<bool, sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                let mut q = sqlx::query::<Db>(sql).bind(at).bind(alert_id);
                if let Some(expected) = expected {
                    q = q.bind(expected);
                }
                let won = q.execute(&mut *tx).await?.rows_affected() == 1;
                if won {
                    insert_rows::<Db, _>(&mut tx, &refs, OnConflict::Fail).await?;
                }
                tx.commit().await?;
                Ok(won)
            }
            .await;
            result.map_err(StoreError::query(format!("notifying alert {alert_id}")))
        })
    }

    /// Resolves an open alert and queues `rows` (its recovery notifications) with it.
    /// Returns the resolved alert, or None when it was not open.
    pub async fn resolve_alert(
        &self,
        alert_id: &str,
        by: &str,
        at: Timestamp,
        rows: &[NotificationLog],
    ) -> Result<Option<Alert>, StoreError> {
        let sql = format!(
            "UPDATE alerts SET status = 'RESOLVED', resolved_at = $1, resolved_by = $2 \
             WHERE alert_id = $3 AND status <> 'RESOLVED' RETURNING {}",
            Alert::column_list()
        );
        self.change_alert(sql, alert_id, (at, Some(by.to_owned())), rows, "resolving")
            .await
    }

    /// Escalates an ACTIVE alert (nobody acknowledged it in time) and queues `rows`; the
    /// alert counts as notified when one of them is PENDING (not all suppressed).
    pub async fn escalate_alert(
        &self,
        alert_id: &str,
        at: Timestamp,
        rows: &[NotificationLog],
    ) -> Result<Option<Alert>, StoreError> {
        let notified = if rows.iter().any(|r| r.status == NotificationStatus::Pending) {
            ", last_notified_at = $1"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE alerts SET status = 'ESCALATED', escalated_at = $1{notified} \
             WHERE alert_id = $2 AND status = 'ACTIVE' AND acknowledged_at IS NULL RETURNING {}",
            Alert::column_list()
        );
        self.change_alert(sql, alert_id, (at, None), rows, "escalating")
            .await
    }

    /// Acknowledges an open alert that nobody acknowledged yet (ACTIVE, ESCALATED, or
    /// SILENCED, whose silence this ends): no more escalation or reminders. Returns None
    /// when it is not open or already acknowledged.
    pub async fn acknowledge_alert(
        &self,
        alert_id: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<Option<Alert>, StoreError> {
        let sql = format!(
            "UPDATE alerts SET status = 'ACKNOWLEDGED', acknowledged_at = $1, acknowledged_by = $2 \
             WHERE alert_id = $3 AND status IN ('ACTIVE', 'ESCALATED', 'SILENCED') \
             AND acknowledged_at IS NULL RETURNING {}",
            Alert::column_list()
        );
        self.change_alert(
            sql,
            alert_id,
            (at, Some(by.to_owned())),
            &[],
            "acknowledging",
        )
        .await
    }

    /// Silences an open alert by hand until `until`: it stays recorded, its notifications
    /// are suppressed, those no sender holds at `at` included (logged SUPPRESSED with
    /// `note`). Who, why and until when are kept in its metadata (`silencedBy`,
    /// `silenceReason`, `silencedUntil`); a silence by hand replaces the one in force.
    /// Returns the alert and the notifications it suppressed, or None when it is not open.
    pub async fn silence_alert(
        &self,
        alert_id: &str,
        until: Timestamp,
        reason: &str,
        by: &str,
        note: &str,
        at: Timestamp,
    ) -> Result<Option<(Alert, Vec<NotificationLog>)>, StoreError> {
        self.rewrite_alert(alert_id, at, "silencing", |alert| {
            if !alert.status.is_open() {
                return None;
            }
            let mut metadata = metadata_map(alert);
            metadata.remove("silencedReason");
            metadata.insert("silencedBy".into(), by.into());
            metadata.insert("silenceReason".into(), reason.into());
            metadata.insert("silencedUntil".into(), until.to_string().into());
            Some(Rewrite {
                status: AlertStatus::Silenced,
                metadata: wfmon_model::json(serde_json::Value::Object(metadata)),
                withdraw: Some(note.to_owned()),
            })
        })
        .await
    }

    /// Silences an ACTIVE or ESCALATED alert, not acknowledged, because an alert it depends
    /// on is open (`reason`, kept in its metadata as `silencedReason`); its notifications no
    /// sender holds at `at` are suppressed with that reason. The silence lasts until
    /// `unsilence_alert`. Returns the alert and the notifications it suppressed, or None
    /// when the alert is in no state to be silenced so.
    pub async fn silence_alert_for_dependency(
        &self,
        alert_id: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<Option<(Alert, Vec<NotificationLog>)>, StoreError> {
        self.rewrite_alert(alert_id, at, "silencing", |alert| {
            if !matches!(alert.status, AlertStatus::Active | AlertStatus::Escalated)
                || alert.acknowledged_at.is_some()
            {
                return None;
            }
            let mut metadata = metadata_map(alert);
            metadata.remove("silencedUntil");
            metadata.insert("silencedReason".into(), reason.into());
            Some(Rewrite {
                status: AlertStatus::Silenced,
                metadata: wfmon_model::json(serde_json::Value::Object(metadata)),
                withdraw: Some(reason.to_owned()),
            })
        })
        .await
    }

    /// Gives an open alert the status it has with no silence (`unsilenced_status`): ends a
    /// dependency's silence, or a silence by hand whose time has come by `at`, and brings an
    /// ACTIVE or ESCALATED record that was acknowledged back to ACKNOWLEDGED. Returns the
    /// alert, or None when nothing changed (not open, a silence by hand lasting beyond
    /// `at`, or already so).
    pub async fn unsilence_alert(
        &self,
        alert_id: &str,
        at: Timestamp,
    ) -> Result<Option<Alert>, StoreError> {
        let changed = self
            .rewrite_alert(alert_id, at, "ending the silence of", |alert| {
                if !alert.status.is_open()
                    || (alert.status == AlertStatus::Silenced
                        && silenced_until(alert).is_some_and(|until| until > at))
                {
                    return None;
                }
                let status = unsilenced_status(alert);
                if status == alert.status {
                    return None;
                }
                let mut metadata = metadata_map(alert);
                metadata.remove("silencedUntil");
                metadata.remove("silencedReason");
                Some(Rewrite {
                    status,
                    metadata: wfmon_model::json(serde_json::Value::Object(metadata)),
                    withdraw: None,
                })
            })
            .await?;
        Ok(changed.map(|(alert, _)| alert))
    }

    /// The channels that were sent a notification of the alert (an alert, a reminder or an
    /// escalation, queued for delivery: not suppressed), in the order they were first sent
    /// one.
    pub async fn alert_recipients(&self, alert_id: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, String>(
                "SELECT channel_name FROM notification_logs \
                 WHERE alert_id = $1 AND channel_name IS NOT NULL AND status <> 'SUPPRESSED' \
                   AND notification_type IN ('ALERT', 'REMINDER', 'ESCALATION') \
                 GROUP BY channel_name ORDER BY MIN(created_at), channel_name",
            )
            .bind(alert_id)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query(format!("reading who was told of alert {alert_id}")))
        })
    }

    /// Reads the alert under a lock (`FOR UPDATE` on PostgreSQL; SQLite's write transaction
    /// is exclusive), lets `decide` say what it becomes, and writes that in the same
    /// transaction: status and metadata, and, when asked, its PENDING notifications that
    /// no sender holds at `at` suppressed with the reason. An alert whose notifications were
    /// all suppressed so counts as never notified (`last_notified_at` cleared), so that it
    /// is announced when its silence ends.
    async fn rewrite_alert(
        &self,
        alert_id: &str,
        at: Timestamp,
        action: &str,
        decide: impl FnOnce(&Alert) -> Option<Rewrite>,
    ) -> Result<Option<(Alert, Vec<NotificationLog>)>, StoreError> {
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE",
            crate::Backend::Sqlite => "",
        };
        let read = format!("{} WHERE alert_id = $1{lock}", select_sql::<Alert>());
        let withdraw = format!(
            "UPDATE notification_logs SET status = 'SUPPRESSED', error_message = $1, \
             delivery_status = NULL, next_attempt_at = NULL \
             WHERE alert_id = $2 AND status = 'PENDING' \
               AND (claimed_until IS NULL OR claimed_until < $3) RETURNING {}",
            NotificationLog::column_list()
        );
        let columns = Alert::column_list();
        let write = format!(
            "UPDATE alerts SET status = $1, metadata = $2 WHERE alert_id = $3 RETURNING {columns}"
        );
        let write_unnotified = format!(
            "UPDATE alerts SET status = $1, metadata = $2, last_notified_at = CASE \
             WHEN EXISTS (SELECT 1 FROM notification_logs n \
                 WHERE n.alert_id = alerts.alert_id AND n.status <> 'SUPPRESSED') \
             THEN last_notified_at ELSE NULL END \
             WHERE alert_id = $3 RETURNING {columns}"
        );
        dispatch!(self, pool, Db => {
            let result: Result<Option<(Alert, Vec<NotificationLog>)>, sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                let current = sqlx::query_as::<Db, Alert>(AssertSqlSafe(read))
                    .bind(alert_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(rewrite) = current.as_ref().and_then(decide) else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let withdrawn = match &rewrite.withdraw {
                    Some(reason) => {
                        sqlx::query_as::<Db, NotificationLog>(AssertSqlSafe(withdraw))
                            .bind(reason.as_str())
                            .bind(alert_id)
                            .bind(at)
                            .fetch_all(&mut *tx)
                            .await?
                    }
                    None => Vec::new(),
                };
                let sql = if withdrawn.is_empty() { write } else { write_unnotified };
                let alert = sqlx::query_as::<Db, Alert>(AssertSqlSafe(sql))
                    .bind(rewrite.status.as_str())
                    .bind(rewrite.metadata)
                    .bind(alert_id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some((alert, withdrawn)))
            }
            .await;
            result.map_err(StoreError::query(format!("{action} alert {alert_id}")))
        })
    }

    /// Runs one compare-and-set UPDATE ... RETURNING with parameters $1 time, then $2 who
    /// (when given), then the alert id, and queues `rows` in the same transaction when it
    /// matched.
    async fn change_alert(
        &self,
        sql: String,
        alert_id: &str,
        (at, by): (Timestamp, Option<String>),
        rows: &[NotificationLog],
        action: &str,
    ) -> Result<Option<Alert>, StoreError> {
        let rows = with_alert(rows, alert_id);
        let refs: Vec<&NotificationLog> = rows.iter().collect();
        dispatch!(self, pool, Db => {
            let result: Result<Option<Alert>, sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                let mut q = sqlx::query_as::<Db, Alert>(AssertSqlSafe(sql)).bind(at);
                if let Some(by) = by {
                    q = q.bind(by);
                }
                let changed = q.bind(alert_id).fetch_optional(&mut *tx).await?;
                if changed.is_some() {
                    insert_rows::<Db, _>(&mut tx, &refs, OnConflict::Fail).await?;
                }
                tx.commit().await?;
                Ok(changed)
            }
            .await;
            result.map_err(StoreError::query(format!("{action} alert {alert_id}")))
        })
    }

    /// The last `limit` runs of a workflow in an environment that passed or failed (not
    /// RUNNING, SKIPPED or ABORTED), newest first; of a retried run, its last attempt.
    pub async fn recent_runs(
        &self,
        workflow: &str,
        environment: &str,
        limit: u32,
    ) -> Result<Vec<WorkflowExecution>, StoreError> {
        let sql = format!(
            "{} WHERE workflow_name = $1 AND environment = $2 AND status IN {VERDICT_STATUSES} \
             AND {LAST_ATTEMPTS} ORDER BY started_at DESC, run_id DESC LIMIT {limit}",
            select_sql::<WorkflowExecution>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, WorkflowExecution>(AssertSqlSafe(sql))
                .bind(workflow)
                .bind(environment)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("reading recent runs"))
        })
    }

    /// Runs (passed or failed) started at or after `since`, newest first; of a retried run,
    /// its last attempt.
    pub async fn runs_since(
        &self,
        workflow: &str,
        environment: &str,
        since: Timestamp,
    ) -> Result<Vec<WorkflowExecution>, StoreError> {
        let sql = format!(
            "{} WHERE workflow_name = $1 AND environment = $2 AND status IN {VERDICT_STATUSES} \
             AND started_at >= $3 AND {LAST_ATTEMPTS} ORDER BY started_at DESC, run_id DESC",
            select_sql::<WorkflowExecution>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, WorkflowExecution>(AssertSqlSafe(sql))
                .bind(workflow)
                .bind(environment)
                .bind(since)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("reading runs in a window"))
        })
    }

    /// Values of a metric of a workflow's runs in an environment recorded since `since`.
    /// (A metric's `workflow_id` is its workflow's name: naming it lets the metrics' index on
    /// workflow, metric and time bound the read to the window.)
    pub async fn metric_values_since(
        &self,
        workflow: &str,
        environment: &str,
        metric: &str,
        since: Timestamp,
    ) -> Result<Vec<f64>, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, f64>(
                "SELECT m.metric_value FROM workflow_metrics m \
                 JOIN workflow_executions e ON e.run_id = m.execution_id \
                 WHERE m.workflow_id = $1 AND e.workflow_name = $1 AND e.environment = $2 \
                   AND m.metric_name = $3 AND m.recorded_at >= $4",
            )
            .bind(workflow)
            .bind(environment)
            .bind(metric)
            .bind(since)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query("reading metric values"))
        })
    }

    /// When the last run (of any outcome but SKIPPED) of a workflow in an environment
    /// started.
    pub async fn last_run_started(
        &self,
        workflow: &str,
        environment: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, Option<Timestamp>>(
                "SELECT MAX(started_at) FROM workflow_executions \
                 WHERE workflow_name = $1 AND environment = $2 AND status <> 'SKIPPED'",
            )
            .bind(workflow)
            .bind(environment)
            .fetch_one(pool)
            .await
            .map_err(StoreError::query("reading the last run"))
        })
    }
}

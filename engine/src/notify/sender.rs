//! The outbox sender: claims due PENDING notifications from the database, delivers each
//! through its channel with a timeout, and records the outcome: SENT; a retry later with
//! exponential backoff and jitter (or after the receiver's Retry-After on 429); or FAILED
//! after the last attempt or a failure no retry can fix. A channel that keeps failing has
//! its circuit opened (`breaker`): its notifications wait without being attempted, then
//! one trial goes. It never blocks the runner: it works on its own task, from the database.
//!
//! Delivery is at least once. A notification is recorded SENT after the receiver accepted
//! it; if the process dies between the two, the claim expires and the notification is sent
//! again. Receivers that deduplicate see the same key both times: PagerDuty's `dedup_key`
//! (the alert), the webhook's `Idempotency-Key` header and an email's Message-ID (the
//! notification). Slack, Discord and Teams have no such key and may show it twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use wfmon_model::{NotificationLog, Timestamp};
use wfmon_store::{DeliveryOutcome, Store};

use super::breaker::CircuitBreaker;
use super::{Channel, DeliveryKeys, DeliverySettings, Notice, SendError};
use crate::runner::redact::Redactor;
use crate::telemetry::{NotificationOutcome, StoreOperation, Telemetry};

/// Notifications claimed at once.
const BATCH: u32 = 16;

/// Longest sleep between two looks at the outbox (other instances and commands add rows).
const POLL: Duration = Duration::from_secs(1);

/// Delivers the outbox.
pub struct OutboxSender {
    store: Store,
    channels: BTreeMap<String, Arc<dyn Channel>>,
    settings: DeliverySettings,
    owner: String,
    breakers: Mutex<HashMap<String, CircuitBreaker>>,
    nudge: Arc<Notify>,
    redactor: Redactor,
    telemetry: Arc<Telemetry>,
}

impl OutboxSender {
    /// A sender for `channels`, claiming as `owner`; `nudge` wakes it when rows are queued;
    /// `secrets` are removed from every error it records or logs.
    pub fn new(
        store: Store,
        channels: BTreeMap<String, Arc<dyn Channel>>,
        settings: DeliverySettings,
        owner: String,
        nudge: Arc<Notify>,
        secrets: Vec<String>,
    ) -> OutboxSender {
        OutboxSender {
            store,
            channels,
            settings,
            owner,
            breakers: Mutex::new(HashMap::new()),
            nudge,
            redactor: Redactor::new(&secrets),
            telemetry: Arc::default(),
        }
    }

    /// Counts outcomes and failed outbox calls in `telemetry` (the event bus's) instead of
    /// counters of its own.
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> OutboxSender {
        self.telemetry = telemetry;
        self
    }

    /// How long a claim lasts: longer than one attempt, so only a dead sender loses it.
    fn lease(&self) -> Duration {
        self.settings.timeout * 2 + Duration::from_secs(5)
    }

    /// Delivers until `stop` turns true; then releases what it holds.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut offline = false;
        while !*stop.borrow() {
            let now = Timestamp::now();
            let until = now.plus(chrono::TimeDelta::from_std(self.lease()).unwrap_or_default());
            let claimed = match self
                .store
                .claim_notifications(&self.owner, now, until, BATCH)
                .await
            {
                Ok(rows) => {
                    if offline {
                        tracing::info!("notification outbox reachable again");
                        offline = false;
                    }
                    rows
                }
                Err(e) => {
                    self.telemetry.store_error(StoreOperation::Outbox);
                    if !offline {
                        tracing::warn!("cannot read the notification outbox: {e}");
                        offline = true;
                    }
                    Vec::new()
                }
            };
            if !claimed.is_empty() {
                let mut tasks = tokio::task::JoinSet::new();
                for row in claimed {
                    let me = self.clone();
                    tasks.spawn(async move { me.deliver(row).await });
                }
                while tasks.join_next().await.is_some() {}
                continue;
            }
            let wait = match self.store.next_notification_due(now).await {
                Ok(Some(due)) => Duration::from_millis(
                    (due.unix_millis() - Timestamp::now().unix_millis()).clamp(10, 1000) as u64,
                ),
                _ => POLL,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.nudge.notified() => {}
                _ = stop.changed() => {}
            }
        }
        if let Err(e) = self.store.release_notification_claims(&self.owner).await {
            tracing::warn!("cannot release notification claims: {e}");
        }
    }

    /// One attempt at one notification, recorded.
    pub async fn deliver(&self, row: NotificationLog) -> DeliveryOutcome {
        let outcome = self.attempt(&row).await;
        let name = row.channel_name.as_deref().unwrap_or("?");
        let counted = match &outcome {
            DeliveryOutcome::Sent => NotificationOutcome::Delivered,
            DeliveryOutcome::Retry { .. } => NotificationOutcome::Retried,
            DeliveryOutcome::Failed { .. } => NotificationOutcome::Failed,
            DeliveryOutcome::Postponed { .. } => NotificationOutcome::Postponed,
        };
        self.telemetry.notification(name, counted);
        match &outcome {
            DeliveryOutcome::Sent => tracing::info!(
                channel = name,
                kind = %row.notification_type,
                attempts = row.retry_count + 1,
                "notification {} delivered",
                row.log_id
            ),
            DeliveryOutcome::Retry {
                error,
                next_attempt_at,
            } => tracing::warn!(
                channel = name,
                "notification {} attempt {} failed: {error}; next attempt at {next_attempt_at}",
                row.log_id,
                row.retry_count + 1
            ),
            DeliveryOutcome::Failed { error } => tracing::error!(
                channel = name,
                "notification {} not delivered: {error}",
                row.log_id
            ),
            DeliveryOutcome::Postponed { reason, .. } => {
                tracing::debug!(
                    channel = name,
                    "notification {} waits: {reason}",
                    row.log_id
                )
            }
        }
        match self
            .store
            .complete_notification(&row.log_id, &self.owner, &outcome, Timestamp::now())
            .await
        {
            Ok(true) => {
                if outcome == DeliveryOutcome::Sent
                    && let Some(report_id) = &row.report_id
                    && let Err(e) = self
                        .store
                        .mark_report_notified(report_id, Timestamp::now())
                        .await
                {
                    tracing::warn!("report {report_id} delivered, but not marked notified: {e}");
                }
            }
            Ok(false) => tracing::warn!(
                "notification {}: the claim expired before the outcome was recorded",
                row.log_id
            ),
            Err(e) => {
                self.telemetry.store_error(StoreOperation::Outbox);
                tracing::warn!(
                    "notification {}: cannot record the outcome (it will be attempted again): {e}",
                    row.log_id
                )
            }
        }
        outcome
    }

    async fn attempt(&self, row: &NotificationLog) -> DeliveryOutcome {
        let name = row.channel_name.clone().unwrap_or_default();
        let Some(channel) = self.channels.get(&name) else {
            return DeliveryOutcome::Failed {
                error: format!("channel `{name}` is not in the configuration"),
            };
        };
        let notice: Notice = match row
            .metadata
            .as_ref()
            .and_then(|m| m.0.get("notice"))
            .map(|n| serde_json::from_value(n.clone()))
        {
            Some(Ok(notice)) => notice,
            _ => {
                return DeliveryOutcome::Failed {
                    error: "the notification has no readable content".into(),
                };
            }
        };
        if let Err(until) = self.breaker(&name, |b| b.allow(Instant::now())) {
            let wait = until.saturating_duration_since(Instant::now());
            return DeliveryOutcome::Postponed {
                reason: format!("channel `{name}` is failing; its circuit is open"),
                next_attempt_at: later(wait.max(Duration::from_millis(10))),
            };
        }
        let keys = DeliveryKeys {
            idempotency_key: row.log_id.clone(),
            dedup_key: row.alert_id.clone().unwrap_or_else(|| row.log_id.clone()),
        };
        let result =
            match tokio::time::timeout(self.settings.timeout, channel.send(&notice, &keys)).await {
                Ok(result) => result,
                Err(_) => Err(SendError::retry(format!(
                    "no answer within {}s",
                    self.settings.timeout.as_secs_f64()
                ))),
            };
        match result {
            Ok(()) => {
                self.breaker(&name, |b| b.success());
                DeliveryOutcome::Sent
            }
            Err(SendError::Retry { reason, after }) => {
                if self.breaker(&name, |b| b.failure(Instant::now())) {
                    tracing::warn!(
                        "channel `{name}` failed {} time(s) in a row: circuit open for {}s",
                        self.settings.breaker_failures,
                        self.settings.breaker_cooldown.as_secs()
                    );
                }
                let error = self.redact(&reason);
                let attempts = u32::try_from(row.retry_count).unwrap_or(0) + 1;
                if attempts >= self.settings.attempts {
                    return DeliveryOutcome::Failed {
                        error: format!("{error} (gave up after {attempts} attempts)"),
                    };
                }
                let wait = after
                    .map(|a| a.min(Duration::from_secs(3600)))
                    .unwrap_or_else(|| backoff(&self.settings, attempts));
                DeliveryOutcome::Retry {
                    error,
                    next_attempt_at: later(wait),
                }
            }
            Err(SendError::Permanent { reason }) => DeliveryOutcome::Failed {
                error: self.redact(&reason),
            },
        }
    }

    fn breaker<T>(&self, name: &str, f: impl FnOnce(&mut CircuitBreaker) -> T) -> T {
        let mut breakers = self.breakers.lock().expect("breakers");
        let breaker = breakers.entry(name.to_owned()).or_insert_with(|| {
            CircuitBreaker::new(
                self.settings.breaker_failures,
                self.settings.breaker_cooldown,
            )
        });
        f(breaker)
    }

    fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }
}

fn later(wait: Duration) -> Timestamp {
    Timestamp::now().plus(chrono::TimeDelta::from_std(wait).unwrap_or_default())
}

/// The delay before attempt `attempts + 1`: `backoff * 2^(attempts-1)`, at most
/// `max_backoff`, of which a random half ("equal jitter"), so that many notifications that
/// failed together do not retry together.
pub fn backoff(settings: &DeliverySettings, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let full = settings
        .backoff
        .saturating_mul(1 << exponent)
        .min(settings.max_backoff);
    let fraction = (rand::random::<u32>() % 1000) as f64 / 1000.0;
    full / 2 + full.mul_f64(fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_limit() {
        let settings = DeliverySettings {
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            ..DeliverySettings::default()
        };
        for (attempts, full) in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 30), (12, 30)] {
            for _ in 0..20 {
                let d = backoff(&settings, attempts);
                let full = Duration::from_secs(full);
                assert!(d >= full / 2 && d <= full, "{attempts}: {d:?}");
            }
        }
    }
}

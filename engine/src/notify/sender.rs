//! The outbox sender: claims due PENDING notifications from the database, delivers each
//! through its channel with a timeout, and records the outcome: SENT; a retry later with
//! exponential backoff and jitter (or after the receiver's Retry-After on 429); or FAILED
//! after the last attempt or a failure no retry can fix. A channel that keeps failing has
//! its circuit opened (`breaker`): its notifications wait without being attempted, then
//! one trial goes. It never blocks the runner: it works on its own task, from the database.
//!
//! Channels are independent. Each has its own lane: one attempt at a time, oldest
//! notification first (so a receiver gets an alert before its recovery, and a rate-limited
//! webhook is not flooded), while the lanes of other channels go on. The sender claims more
//! work whenever it looks at the outbox, not when every attempt of a batch has ended, so a
//! receiver that never answers holds up only its own notifications, each for at most the
//! delivery timeout. A lane holds a few claimed notifications (`LANE`); beyond that, and for
//! a notification that could no longer be attempted within its claim, the row goes back to
//! the outbox, not attempted, to be claimed again later (its failed attempts and last error
//! kept). Lanes are per sender: two instances may each deliver to one channel at a time.
//!
//! Delivery is at least once. A notification is recorded SENT after the receiver accepted
//! it; if the process dies between the two, the claim expires and the notification is sent
//! again. Receivers that deduplicate see the same key both times: PagerDuty's `dedup_key`
//! (the alert), the webhook's `Idempotency-Key` header and an email's Message-ID (the
//! notification). Slack, Discord and Teams have no such key and may show it twice.
//!
//! `retry_count` on a row counts its failed attempts: 0 for a notification delivered at the
//! first attempt, 2 for one delivered at the third, 8 for one given up after 8 attempts, 1
//! for one refused at once (a 4xx).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::{Id, JoinSet};
use wfmon_model::{NotificationLog, Timestamp};
use wfmon_store::{DeliveryOutcome, Store};

use super::breaker::CircuitBreaker;
use super::{Channel, DeliveryKeys, DeliverySettings, Notice, SendError};
use crate::runner::redact::Redactor;
use crate::telemetry::{NotificationOutcome, StoreOperation, Telemetry};

/// Notifications claimed at once.
const BATCH: u32 = 16;

/// Claimed notifications one channel holds at a time, the one being attempted included.
const LANE: usize = 8;

/// Time kept, after an attempt's timeout, to record its outcome within the claim.
const RECORD_MARGIN: Duration = Duration::from_secs(2);

/// Shortest wait before a notification that found its channel's lane full is claimed again.
const MIN_REQUEUE: Duration = Duration::from_millis(100);

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

/// One channel's claimed notifications, oldest first, attempted one at a time.
#[derive(Default)]
struct Lane {
    waiting: VecDeque<NotificationLog>,
    /// When the attempt in flight started.
    busy_since: Option<Instant>,
    /// How long the last attempt took.
    last: Duration,
}

impl Lane {
    fn held(&self) -> usize {
        self.waiting.len() + usize::from(self.busy_since.is_some())
    }

    /// How long the lane takes to work through a full load, judged by its last attempt and
    /// the one in flight: the wait before a notification that found it full comes back.
    fn requeue_after(&self, timeout: Duration) -> Duration {
        let current = self.busy_since.map_or(Duration::ZERO, |t| t.elapsed());
        let pace = self.last.max(current);
        (pace * LANE as u32).clamp(MIN_REQUEUE, timeout.max(MIN_REQUEUE))
    }
}

/// The channel lanes and the attempts in flight.
#[derive(Default)]
struct Lanes {
    lanes: HashMap<String, Lane>,
    in_flight: JoinSet<()>,
    channel_of: HashMap<Id, String>,
}

impl OutboxSender {
    /// A sender for `channels`, claiming as `owner`; `nudge` wakes it when rows are queued;
    /// `secrets` are removed from every error it records or logs (each channel also hides
    /// its own URL, keys and credentials from its errors: see `build_channel`).
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

    /// Delivers until `stop` turns true; then lets the attempts in flight end (each bounded
    /// by the timeout) and releases what it holds.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut offline = false;
        let mut lanes = Lanes::default();
        while !*stop.borrow() {
            while let Some(done) = lanes.in_flight.try_join_next_with_id() {
                lanes.finished(done);
            }
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
            let more = claimed.len() == BATCH as usize;
            for row in claimed {
                self.take(&mut lanes, row).await;
            }
            self.start(&mut lanes).await;
            if more {
                continue;
            }
            let wait = match self.store.next_notification_due(now).await {
                Ok(Some(due)) => Duration::from_millis(
                    (due.unix_millis() - Timestamp::now().unix_millis()).clamp(10, 1000) as u64,
                ),
                _ => POLL,
            };
            let in_flight = !lanes.in_flight.is_empty();
            tokio::select! {
                Some(done) = lanes.in_flight.join_next_with_id(), if in_flight => {
                    lanes.finished(done);
                }
                _ = tokio::time::sleep(wait) => {}
                _ = self.nudge.notified() => {}
                _ = stop.changed() => {}
            }
        }
        while let Some(done) = lanes.in_flight.join_next_with_id().await {
            lanes.finished(done);
        }
        if let Err(e) = self.store.release_notification_claims(&self.owner).await {
            tracing::warn!("cannot release notification claims: {e}");
        }
    }

    /// Puts a claimed notification in its channel's lane, or, when the lane is full, back
    /// in the outbox for when the lane will have worked through its load.
    async fn take(&self, lanes: &mut Lanes, row: NotificationLog) {
        let name = row.channel_name.clone().unwrap_or_default();
        let lane = lanes.lanes.entry(name.clone()).or_default();
        if lane.held() < LANE {
            lane.waiting.push_back(row);
            return;
        }
        let after = lane.requeue_after(self.settings.timeout);
        self.requeue(&row, held_back(&name), later(after)).await;
    }

    /// Starts the oldest waiting notification of every idle lane, on its own task; one that
    /// could no longer be attempted and recorded within its claim goes back to the outbox,
    /// due at once, to be claimed afresh.
    async fn start(self: &Arc<Self>, lanes: &mut Lanes) {
        let needed = self.settings.timeout + RECORD_MARGIN;
        let mut starts = Vec::new();
        let mut expired = Vec::new();
        for (name, lane) in &mut lanes.lanes {
            if lane.busy_since.is_some() {
                continue;
            }
            while let Some(row) = lane.waiting.pop_front() {
                let left = row.claimed_until.map_or(0, |until| {
                    until.unix_millis() - Timestamp::now().unix_millis()
                });
                if u128::try_from(left).unwrap_or(0) < needed.as_millis() {
                    expired.push((name.clone(), row));
                    continue;
                }
                lane.busy_since = Some(Instant::now());
                starts.push((name.clone(), row));
                break;
            }
        }
        for (name, row) in starts {
            let me = self.clone();
            let handle = lanes.in_flight.spawn(async move {
                me.deliver(row).await;
            });
            lanes.channel_of.insert(handle.id(), name);
        }
        for (name, row) in expired {
            self.requeue(&row, held_back(&name), Timestamp::now()).await;
        }
    }

    /// Gives a claimed notification back to the outbox, not attempted, due at `at`. Its
    /// last error, if it has one, stays: it is still the last delivery error.
    async fn requeue(&self, row: &NotificationLog, reason: String, at: Timestamp) {
        tracing::debug!(
            channel = row.channel_name.as_deref().unwrap_or("?"),
            "notification {} waits until {at}: {reason}",
            row.log_id
        );
        let outcome = DeliveryOutcome::Postponed {
            reason: row.error_message.clone().unwrap_or(reason),
            next_attempt_at: at,
        };
        if let Err(e) = self
            .store
            .complete_notification(&row.log_id, &self.owner, &outcome, Timestamp::now())
            .await
        {
            self.telemetry.store_error(StoreOperation::Outbox);
            tracing::warn!(
                "notification {}: cannot put it back in the outbox (it waits for its claim \
                 to expire): {e}",
                row.log_id
            );
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

impl Lanes {
    /// An attempt ended (or its task failed): its lane may start the next one.
    fn finished(&mut self, done: Result<(Id, ()), tokio::task::JoinError>) {
        let id = match &done {
            Ok((id, ())) => *id,
            Err(e) => {
                tracing::error!("a notification delivery task failed: {e}");
                e.id()
            }
        };
        if let Some(lane) = self
            .channel_of
            .remove(&id)
            .and_then(|name| self.lanes.get_mut(&name))
            && let Some(since) = lane.busy_since.take()
        {
            lane.last = since.elapsed();
        }
    }
}

/// Why a notification went back to the outbox without an attempt.
fn held_back(channel: &str) -> String {
    format!("held back while channel `{channel}` delivered earlier notifications")
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

//! The engine's own counters, for `/metrics`: notification outcomes per channel, the delay
//! between each scheduled run's due time and its start, failed database calls per
//! operation, and results lost because the writer's buffer was full.
//!
//! They are counted where things happen (the outbox sender, the evaluator, the scheduler,
//! the results writer), not from events, because a counter must not miss what a slow event
//! listener would lose. One `Telemetry` is shared by everything on one event bus
//! (`EventBus::telemetry`), so a daemon exposes one set; counting costs an atomic add, or a
//! short lock of a small map for the per-channel counts (notifications are rare).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the scheduler lag histogram's buckets.
pub const LAG_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// What became of one notification, as `/metrics` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationOutcome {
    /// The channel accepted it (the outbox row is SENT).
    Delivered,
    /// An attempt failed and another is planned.
    Retried,
    /// It failed for good (the outbox row is FAILED).
    Failed,
    /// Not attempted because the channel's circuit is open; it waits.
    Postponed,
    /// Recorded, not sent: a silence, a maintenance window or a dependency (SUPPRESSED).
    Suppressed,
}

impl NotificationOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationOutcome::Delivered => "delivered",
            NotificationOutcome::Retried => "retried",
            NotificationOutcome::Failed => "failed",
            NotificationOutcome::Postponed => "postponed",
            NotificationOutcome::Suppressed => "suppressed",
        }
    }
}

/// Which kind of database call failed, as `/metrics` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOperation {
    /// The results writer writing a batch (each failed attempt counts).
    WriteResults,
    /// The scheduler's loop: claiming, advancing and renewing schedules.
    Schedule,
    /// The outbox sender claiming notifications or recording an outcome.
    Outbox,
    /// A read for an API answer, a page or a scrape.
    ApiRead,
}

impl StoreOperation {
    /// Every operation, in the order they are exposed.
    pub const ALL: [StoreOperation; 4] = [
        StoreOperation::WriteResults,
        StoreOperation::Schedule,
        StoreOperation::Outbox,
        StoreOperation::ApiRead,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreOperation::WriteResults => "write_results",
            StoreOperation::Schedule => "schedule",
            StoreOperation::Outbox => "outbox",
            StoreOperation::ApiRead => "api_read",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The scheduler lag histogram, in atomics.
#[derive(Debug, Default)]
struct Lag {
    /// Count per bucket of `LAG_BUCKETS` (not cumulative), then the overflow.
    buckets: [AtomicU64; LAG_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
    last_micros: AtomicU64,
}

/// A copy of the scheduler lag histogram at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct LagSnapshot {
    /// Cumulative counts, one per bound of `LAG_BUCKETS`.
    pub cumulative: Vec<u64>,
    /// Runs measured (the `+Inf` bucket).
    pub count: u64,
    /// Sum of the delays, in seconds.
    pub sum_seconds: f64,
    /// The latest delay, in seconds (0 before the first run).
    pub last_seconds: f64,
}

/// The engine's counters; share one per process through the event bus.
#[derive(Debug, Default)]
pub struct Telemetry {
    notifications: Mutex<BTreeMap<(String, NotificationOutcome), u64>>,
    lag: Lag,
    store_errors: [AtomicU64; StoreOperation::ALL.len()],
    results_dropped: AtomicU64,
}

impl Telemetry {
    /// Counts one notification of channel `channel` ending (for now) as `outcome`.
    pub fn notification(&self, channel: &str, outcome: NotificationOutcome) {
        self.notifications(channel, outcome, 1);
    }

    /// Counts `n` notifications of `channel` ending as `outcome`.
    pub fn notifications(&self, channel: &str, outcome: NotificationOutcome, n: u64) {
        if n == 0 {
            return;
        }
        let mut map = self.notifications.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((channel.to_owned(), outcome)).or_default() += n;
    }

    /// Records the delay between a scheduled run's due time and its start.
    pub fn scheduler_lag(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        let seconds = delay.as_secs_f64();
        let slot = LAG_BUCKETS
            .iter()
            .position(|le| seconds <= *le)
            .unwrap_or(LAG_BUCKETS.len());
        self.lag.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.lag.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.lag.last_micros.store(micros, Ordering::Relaxed);
        self.lag.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed database call of `operation`.
    pub fn store_error(&self, operation: StoreOperation) {
        self.store_errors[operation.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a result the writer refused because its buffer was full.
    pub fn result_dropped(&self) {
        self.results_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Notification counts so far: (channel, outcome) -> count, in label order.
    pub fn notification_counts(&self) -> Vec<(String, NotificationOutcome, u64)> {
        let map = self.notifications.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|((channel, outcome), n)| (channel.clone(), *outcome, *n))
            .collect()
    }

    /// The scheduler lag histogram now. Read while runs start, the parts may be off by the
    /// runs being counted at that instant; each part is exact once they are.
    pub fn scheduler_lag_snapshot(&self) -> LagSnapshot {
        let mut running = 0;
        let cumulative = (0..LAG_BUCKETS.len())
            .map(|i| {
                running += self.lag.buckets[i].load(Ordering::Relaxed);
                running
            })
            .collect();
        LagSnapshot {
            cumulative,
            count: self.lag.count.load(Ordering::Relaxed),
            sum_seconds: self.lag.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            last_seconds: self.lag.last_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// Failed database calls of `operation` so far.
    pub fn store_errors(&self, operation: StoreOperation) -> u64 {
        self.store_errors[operation.index()].load(Ordering::Relaxed)
    }

    /// Results refused so far because the writer's buffer was full.
    pub fn results_dropped(&self) -> u64 {
        self.results_dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_lands_in_the_first_bucket_that_holds_it() {
        let t = Telemetry::default();
        t.scheduler_lag(Duration::from_millis(3));
        t.scheduler_lag(Duration::from_millis(10));
        t.scheduler_lag(Duration::from_millis(700));
        t.scheduler_lag(Duration::from_secs(120));
        let s = t.scheduler_lag_snapshot();
        assert_eq!(s.count, 4);
        // 0.005: 1; 0.01: 2 (10 ms is within its bound); 1.0: 3; 60: still 3.
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[1], 2);
        assert_eq!(s.cumulative[6], 2, "0.5 s");
        assert_eq!(s.cumulative[7], 3, "1 s");
        assert_eq!(*s.cumulative.last().unwrap(), 3, "120 s is only in +Inf");
        assert!((s.sum_seconds - 120.713).abs() < 1e-9, "{}", s.sum_seconds);
        assert_eq!(s.last_seconds, 120.0);
    }

    #[test]
    fn counts_are_kept_per_channel_and_outcome_and_per_operation() {
        let t = Telemetry::default();
        t.notification("ops", NotificationOutcome::Delivered);
        t.notification("ops", NotificationOutcome::Delivered);
        t.notification("pager", NotificationOutcome::Failed);
        t.notifications("ops", NotificationOutcome::Suppressed, 0);
        t.store_error(StoreOperation::Outbox);
        t.result_dropped();
        assert_eq!(
            t.notification_counts(),
            [
                ("ops".to_owned(), NotificationOutcome::Delivered, 2),
                ("pager".to_owned(), NotificationOutcome::Failed, 1),
            ]
        );
        assert_eq!(t.store_errors(StoreOperation::Outbox), 1);
        assert_eq!(t.store_errors(StoreOperation::WriteResults), 0);
        assert_eq!(t.results_dropped(), 1);
    }
}

//! Scheduling precision: how late runs start after their due time, through `run_scheduler` on
//! a fresh SQLite file, against plain tokio timers woken at the same kind of instants.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tokio::task::JoinSet;
use wfmon_engine::config::Config;
use wfmon_engine::scheduler::{SchedulerOptions, run_scheduler, schedule_specs};
use wfmon_engine::writer::ResultWriter;
use wfmon_model::new_id;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

use crate::exit::Failure;

/// How often the workflows are due, and for how many due times the measurement runs.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cadence {
    /// The cron expression of every workflow.
    pub expression: &'static str,
    /// Seconds between due times.
    pub period_seconds: i64,
    /// Due times measured.
    pub due_times: usize,
}

impl Cadence {
    /// Every minute (5 fields), two minute boundaries.
    pub const MINUTES: Cadence = Cadence {
        expression: "* * * * *",
        period_seconds: 60,
        due_times: 2,
    };

    /// Every second (6 fields), five due times: the quick check.
    pub const SECONDS: Cadence = Cadence {
        expression: "* * * * * *",
        period_seconds: 1,
        due_times: 5,
    };

    /// The due times measured: the first boundary at least `setup` after `now`, then one
    /// per period.
    pub fn due_times_after(&self, now: DateTime<Utc>, setup: TimeDelta) -> Vec<DateTime<Utc>> {
        let period = self.period_seconds.max(1);
        let earliest = (now + setup).timestamp();
        let first = (earliest.div_euclid(period) + 1) * period;
        (0..self.due_times as i64)
            .filter_map(|i| DateTime::from_timestamp(first + i * period, 0))
            .collect()
    }

    /// How long after the last due time the measurement stops: enough for the runs to start,
    /// before the next due time is claimed (the scheduler claims 250 ms ahead).
    fn tail(&self) -> TimeDelta {
        if self.period_seconds <= 1 {
            TimeDelta::milliseconds(500)
        } else {
            TimeDelta::seconds(5)
        }
    }
}

/// Setup time left before the first due time (syncing 1,000 schedules, opening the store).
const SETUP: TimeDelta = TimeDelta::seconds(2);

/// What the scheduler did while measured.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerCounts {
    /// Runs started.
    pub started: u64,
    /// Due runs recorded as SKIPPED (the previous run still in flight).
    pub skipped: u64,
    /// Runs aborted at the stop.
    pub aborted: u64,
    /// Results written by the writer.
    pub written: u64,
    /// Results lost (refused or failed).
    pub lost: u64,
}

/// The baseline: `timers` tasks, each sleeping until each due time as the scheduler's run
/// task does (`tokio::time::sleep` of due minus now), then noting how late it woke.
pub async fn timers(timers: usize, cadence: Cadence) -> Vec<Duration> {
    let due = Arc::new(cadence.due_times_after(Utc::now(), SETUP));
    let delays = Arc::new(Mutex::new(Vec::with_capacity(timers * due.len())));
    let mut tasks = JoinSet::new();
    for _ in 0..timers {
        let (due, delays) = (due.clone(), delays.clone());
        tasks.spawn(async move {
            for &at in due.iter() {
                if let Ok(wait) = (at - Utc::now()).to_std() {
                    tokio::time::sleep(wait).await;
                }
                let delay = (Utc::now() - at).to_std().unwrap_or_default();
                delays.lock().expect("delays").push(delay);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    std::mem::take(&mut *delays.lock().expect("delays"))
}

/// Runs `config` (every workflow on `cadence`) through `run_scheduler` on a fresh database at
/// `url` for `cadence.due_times` due times, recording start delays.
pub async fn scheduler(
    url: &DatabaseUrl,
    config: Config,
    cadence: Cadence,
) -> Result<(Vec<Duration>, SchedulerCounts), Failure> {
    let store = Store::open(url, OpenMode::Create).await?;
    let now = Utc::now();
    let due = cadence.due_times_after(now, SETUP);
    let (Some(&first), Some(&last)) = (due.first(), due.last()) else {
        return Err(Failure::new("no due time to measure"));
    };
    // The first due time of every schedule is `first`: no run is due during the setup.
    store
        .sync_schedules(&schedule_specs(&config, first - TimeDelta::milliseconds(1)))
        .await?;
    let (writer, writer_task) = ResultWriter::start(store.clone(), config.scheduler.buffer);
    let stop_at = last + cadence.tail();
    let shutdown = async move {
        if let Ok(wait) = (stop_at - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        "end of the measurement".to_owned()
    };
    let options = SchedulerOptions {
        record_start_delays: true,
        ..SchedulerOptions::default()
    };
    let summary = run_scheduler(
        store.clone(),
        Arc::new(config),
        writer.clone(),
        new_id("bench"),
        options,
        shutdown,
    )
    .await;
    let _ = writer_task.await;
    let stats = writer.stats();
    store.close().await;
    Ok((
        summary.start_delays,
        SchedulerCounts {
            started: summary.started,
            skipped: summary.skipped,
            aborted: summary.aborted,
            written: stats.written,
            lost: stats.pending + stats.overflowed + stats.failed,
        },
    ))
}

/// Percentiles of a set of delays, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    /// How many delays.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Spread {
    /// The spread of `delays` (all zero when there are none).
    pub fn of(delays: &[Duration]) -> Spread {
        let mut sorted = delays.to_vec();
        sorted.sort_unstable();
        let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        Spread {
            samples: sorted.len(),
            p50_ms: ms(percentile(&sorted, 50.0)),
            p99_ms: ms(percentile(&sorted, 99.0)),
            max_ms: ms(sorted.last()),
        }
    }
}

/// The nearest-rank percentile `p` (0 < p <= 100) of sorted values: the smallest value with
/// at least p% of the values at or below it.
pub fn percentile<T>(sorted: &[T], p: f64) -> Option<&T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(&50));
        assert_eq!(percentile(&values, 99.0), Some(&99));
        assert_eq!(percentile(&values, 100.0), Some(&100));
        // 1,000 values: p99 is the 990th, so the 10 largest are above it.
        let values: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&values, 99.0), Some(&990));
        assert_eq!(percentile(&[7], 99.0), Some(&7));
        assert_eq!(percentile(&[1, 2], 50.0), Some(&1));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
    }

    #[test]
    fn spread_sorts_and_converts_to_milliseconds() {
        let mut delays: Vec<Duration> = (1..=200).map(Duration::from_micros).collect();
        delays.reverse();
        delays.push(Duration::from_millis(40));
        let spread = Spread::of(&delays);
        assert_eq!(spread.samples, 201);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(spread.p50_ms, 0.101), "{spread:?}");
        assert!(close(spread.p99_ms, 0.199), "{spread:?}");
        assert!(close(spread.max_ms, 40.0), "{spread:?}");
        assert_eq!(Spread::of(&[]).max_ms, 0.0);
    }

    #[test]
    fn due_times_are_boundaries_after_the_setup() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T10:00:58.500Z")
            .unwrap()
            .with_timezone(&Utc);
        let due = Cadence::MINUTES.due_times_after(now, SETUP);
        let shown: Vec<String> = due.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            shown,
            ["2026-01-01T10:02:00+00:00", "2026-01-01T10:03:00+00:00"]
        );
        let due = Cadence::SECONDS.due_times_after(now, SETUP);
        assert_eq!(due.len(), 5);
        assert_eq!(due[0].to_rfc3339(), "2026-01-01T10:01:01+00:00");
    }
}

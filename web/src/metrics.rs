//! `GET /metrics` in the Prometheus text exposition format (version 0.0.4), written here.
//! Run counts and durations are counted in-process from the event bus (`run.finished`);
//! notification outcomes, scheduler lag, store errors and dropped results come from the
//! engine's counters (`wfmon_engine::telemetry`, carried by the bus); open alerts are read
//! from the store at each scrape, and left out (the failure counted) when the database does
//! not answer, so that a scrape still shows the rest during an outage. Label values are
//! escaped as the format requires (backslash, double quote, newline).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, Weak};

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;
use wfmon_engine::events::{Event, EventBus};
use wfmon_engine::telemetry::{LAG_BUCKETS, StoreOperation, Telemetry};
use wfmon_model::AlertSeverity;

use crate::AppState;

/// Upper bounds (seconds) of the run duration histogram's buckets.
const DURATION_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Debug, Default)]
struct Histogram {
    /// Count per bucket of `DURATION_BUCKETS` (not cumulative), then the overflow.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Counts {
    /// (workflow, environment, status) -> runs.
    executions: BTreeMap<(String, String, String), u64>,
    /// (workflow, environment) -> durations.
    durations: BTreeMap<(String, String), Histogram>,
    /// Events this collector missed because it fell behind.
    lost_events: u64,
}

/// The in-process counters of `/metrics`, fed by the event bus.
#[derive(Debug, Default)]
pub struct RunMetrics {
    counts: Mutex<Counts>,
}

impl RunMetrics {
    /// Counters that follow `events` from now on (on a task of the current runtime; without
    /// one they stay at zero).
    pub fn follow(events: &EventBus) -> Arc<RunMetrics> {
        let metrics = Arc::new(RunMetrics::default());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let mut receiver = events.subscribe();
            let weak: Weak<RunMetrics> = Arc::downgrade(&metrics);
            runtime.spawn(async move {
                loop {
                    let event = receiver.recv().await;
                    let Some(metrics) = weak.upgrade() else {
                        return;
                    };
                    match event {
                        Ok(event) => metrics.count(&event),
                        Err(RecvError::Lagged(n)) => metrics.lock().lost_events += n,
                        Err(RecvError::Closed) => return,
                    }
                }
            });
        }
        metrics
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, event: &Event) {
        let Event::RunFinished {
            workflow_name,
            environment,
            status,
            duration_ms,
            ..
        } = event
        else {
            return;
        };
        let mut counts = self.lock();
        *counts
            .executions
            .entry((
                workflow_name.clone(),
                environment.clone(),
                status.as_str().to_owned(),
            ))
            .or_default() += 1;
        let histogram = counts
            .durations
            .entry((workflow_name.clone(), environment.clone()))
            .or_default();
        if histogram.buckets.is_empty() {
            histogram.buckets = vec![0; DURATION_BUCKETS.len() + 1];
        }
        let seconds = *duration_ms as f64 / 1000.0;
        let slot = DURATION_BUCKETS
            .iter()
            .position(|le| seconds <= *le)
            .unwrap_or(DURATION_BUCKETS.len());
        histogram.buckets[slot] += 1;
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// The counters in the exposition format.
    fn write(&self, out: &mut String) {
        let counts = self.lock();
        out.push_str(
            "# HELP wfmon_executions_total Finished runs by workflow, environment and status.\n\
             # TYPE wfmon_executions_total counter\n",
        );
        for ((workflow, environment, status), n) in &counts.executions {
            let _ = writeln!(
                out,
                "wfmon_executions_total{{workflow=\"{}\",environment=\"{}\",status=\"{}\"}} {n}",
                escape(workflow),
                escape(environment),
                escape(status)
            );
        }
        out.push_str(
            "# HELP wfmon_execution_duration_seconds Wall time of finished runs.\n\
             # TYPE wfmon_execution_duration_seconds histogram\n",
        );
        for ((workflow, environment), h) in &counts.durations {
            let labels = format!(
                "workflow=\"{}\",environment=\"{}\"",
                escape(workflow),
                escape(environment)
            );
            let mut cumulative = 0;
            for (i, le) in DURATION_BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i];
                let _ = writeln!(
                    out,
                    "wfmon_execution_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "wfmon_execution_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 wfmon_execution_duration_seconds_sum{{{labels}}} {}\n\
                 wfmon_execution_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP wfmon_metrics_lost_events_total Run events these counters missed.\n\
             # TYPE wfmon_metrics_lost_events_total counter\n\
             wfmon_metrics_lost_events_total {}",
            counts.lost_events
        );
    }
}

/// A label value escaped for the text format: `\` `"` and newline.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The engine's counters in the exposition format.
fn write_telemetry(telemetry: &Telemetry, out: &mut String) {
    out.push_str(
        "# HELP wfmon_notifications_total Notification delivery outcomes by channel: delivered, \
         retried (an attempt failed, another is planned), failed (for good), postponed (circuit \
         open), suppressed (silence, maintenance or dependency).\n\
         # TYPE wfmon_notifications_total counter\n",
    );
    for (channel, outcome, n) in telemetry.notification_counts() {
        let _ = writeln!(
            out,
            "wfmon_notifications_total{{channel=\"{}\",outcome=\"{}\"}} {n}",
            escape(&channel),
            outcome.as_str()
        );
    }
    let lag = telemetry.scheduler_lag_snapshot();
    out.push_str(
        "# HELP wfmon_scheduler_lag_seconds Delay between a scheduled run's due time and its \
         start.\n\
         # TYPE wfmon_scheduler_lag_seconds histogram\n",
    );
    for (le, n) in LAG_BUCKETS.iter().zip(&lag.cumulative) {
        let _ = writeln!(out, "wfmon_scheduler_lag_seconds_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "wfmon_scheduler_lag_seconds_bucket{{le=\"+Inf\"}} {count}\n\
         wfmon_scheduler_lag_seconds_sum {}\n\
         wfmon_scheduler_lag_seconds_count {count}\n\
         # HELP wfmon_scheduler_last_lag_seconds Delay of the latest scheduled run's start.\n\
         # TYPE wfmon_scheduler_last_lag_seconds gauge\n\
         wfmon_scheduler_last_lag_seconds {}",
        lag.sum_seconds,
        lag.last_seconds,
        count = lag.count,
    );
    out.push_str(
        "# HELP wfmon_store_errors_total Failed database calls by operation.\n\
         # TYPE wfmon_store_errors_total counter\n",
    );
    for operation in StoreOperation::ALL {
        let _ = writeln!(
            out,
            "wfmon_store_errors_total{{operation=\"{}\"}} {}",
            operation.as_str(),
            telemetry.store_errors(operation)
        );
    }
    let _ = writeln!(
        out,
        "# HELP wfmon_results_dropped_total Results lost because the database was unreachable \
         and the writer's buffer was full.\n\
         # TYPE wfmon_results_dropped_total counter\n\
         wfmon_results_dropped_total {}",
        telemetry.results_dropped()
    );
}

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP wfmon_build_info The running wfmon's version.\n\
         # TYPE wfmon_build_info gauge\n\
         wfmon_build_info{{version=\"{}\"}} 1",
        escape(env!("CARGO_PKG_VERSION"))
    );
    state.run_metrics().write(&mut out);
    // Read before the counters are written, so that a failure shows in this very scrape.
    let open = state.store().open_alerts().await;
    let telemetry = state.events().telemetry();
    if let Err(e) = &open {
        telemetry.store_error(StoreOperation::ApiRead);
        tracing::warn!("/metrics: open alerts left out, the database did not answer: {e}");
    }
    write_telemetry(telemetry, &mut out);
    if let Ok(open) = open {
        out.push_str(
            "# HELP wfmon_open_alerts Alerts not resolved, by severity.\n\
             # TYPE wfmon_open_alerts gauge\n",
        );
        for severity in AlertSeverity::ALL {
            let n = open.iter().filter(|a| a.severity == *severity).count();
            let _ = writeln!(
                out,
                "wfmon_open_alerts{{severity=\"{}\"}} {n}",
                severity.as_str()
            );
        }
    }
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape("plain"), "plain");
    }
}

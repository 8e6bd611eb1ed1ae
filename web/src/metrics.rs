//! `GET /metrics` in the Prometheus text exposition format (version 0.0.4), written here.
//! Run counts and durations are counted in-process from the event bus (`run.finished`);
//! open alerts are read from the store at each scrape. Label values are escaped as the
//! format requires (backslash, double quote, newline).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, Weak};

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;
use wfmon_engine::events::{Event, EventBus};
use wfmon_model::AlertSeverity;

use crate::{ApiError, AppState};

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

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP wfmon_build_info The running wfmon's version.\n\
         # TYPE wfmon_build_info gauge\n\
         wfmon_build_info{{version=\"{}\"}} 1",
        escape(env!("CARGO_PKG_VERSION"))
    );
    state.run_metrics().write(&mut out);
    let open = state.store().open_alerts().await?;
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
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
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

//! The event bus: what happens in the engine, for whoever listens (the live dashboard, the
//! API's event stream, metrics). A tokio broadcast channel: publishing never waits, and a
//! listener that falls behind loses the oldest events (it is told how many) instead of
//! holding memory or slowing the engine.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;
use wfmon_model::{Alert, ExecutionStatus, ReportType, Timestamp, WorkflowExecution};

use crate::telemetry::Telemetry;

/// Events kept for a slow listener before it starts losing them.
const CAPACITY: usize = 1024;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A run started.
    #[serde(rename = "run.started", rename_all = "camelCase")]
    RunStarted {
        /// Its run id.
        run_id: String,
        /// Workflow.
        workflow_name: String,
        /// Environment.
        environment: String,
        /// When.
        started_at: Timestamp,
    },
    /// A run ended (also SKIPPED and ABORTED runs).
    #[serde(rename = "run.finished", rename_all = "camelCase")]
    RunFinished {
        /// Its run id.
        run_id: String,
        /// Workflow.
        workflow_name: String,
        /// Environment.
        environment: String,
        /// How it ended.
        status: ExecutionStatus,
        /// Wall time.
        duration_ms: u64,
        /// The first failure, redacted.
        error_message: Option<String>,
        /// When it ended.
        completed_at: Timestamp,
    },
    /// A finished execution was committed to the database (what alerting evaluates).
    #[serde(rename = "execution.recorded", rename_all = "camelCase")]
    ExecutionRecorded {
        /// The row as stored.
        execution: Box<WorkflowExecution>,
    },
    /// A monitoring report was generated and saved.
    #[serde(rename = "report.generated", rename_all = "camelCase")]
    ReportGenerated {
        /// Its id.
        report_id: String,
        /// Its cadence.
        report_type: ReportType,
        /// Window start.
        start_time: Timestamp,
        /// Window end.
        end_time: Timestamp,
        /// Runs in the window.
        total_runs: i64,
        /// Ratio in [0, 1]; null without runs.
        success_rate: Option<f64>,
    },
    /// An alert opened, or its state changed (by a rule, the timer, or a person).
    #[serde(rename = "alert.changed", rename_all = "camelCase")]
    AlertChanged {
        /// What happened: `opened`, `escalated`, `acknowledged`, `silenced`, `unsilenced`
        /// or `resolved`.
        change: &'static str,
        /// The alert as stored after the change.
        alert: Box<Alert>,
    },
}

/// Publishes events to every current listener, and carries the engine's counters
/// (`Telemetry`): whatever shares a bus shares them, so one daemon exposes one set.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    telemetry: Arc<Telemetry>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    /// A bus with no listeners yet.
    pub fn new() -> EventBus {
        EventBus {
            sender: broadcast::channel(CAPACITY).0,
            telemetry: Arc::new(Telemetry::default()),
        }
    }

    /// The counters shared by everything on this bus.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// Publishes `event`; with no listener it goes nowhere.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    /// A new listener, receiving events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(n: u64) -> Event {
        Event::RunFinished {
            run_id: format!("run_{n}"),
            workflow_name: "w".into(),
            environment: "e".into(),
            status: ExecutionStatus::Passed,
            duration_ms: n,
            error_message: None,
            completed_at: Timestamp::now(),
        }
    }

    #[test]
    fn a_slow_listener_loses_the_oldest_events_and_is_told() {
        let bus = EventBus::new();
        let mut slow = bus.subscribe();
        for n in 0..(CAPACITY as u64 + 10) {
            bus.publish(finished(n));
        }
        match slow.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(lost)) => assert_eq!(lost, 10),
            other => panic!("expected a lag notice, got {other:?}"),
        }
        match slow.try_recv().unwrap() {
            Event::RunFinished { run_id, .. } => assert_eq!(run_id, "run_10", "oldest kept"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn events_serialise_with_a_type_tag_and_camel_case() {
        let json = serde_json::to_value(finished(7)).unwrap();
        assert_eq!(json["type"], "run.finished");
        assert_eq!(json["runId"], "run_7");
        assert_eq!(json["durationMs"], 7);
        assert_eq!(json["status"], "PASSED");
    }
}

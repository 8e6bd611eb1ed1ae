//! The REST API under `/api`: one module per resource. Handlers read through the store and
//! the configuration and answer camelCase JSON, the records straight from the model structs.

mod alerts;
mod analytics;
mod executions;
mod lists;
pub(crate) mod overview;
mod reports;
pub(crate) mod series;
mod slos;
mod workflows;

use axum::Router;
use axum::routing::{get, post};
use serde::Serialize;
use wfmon_model::{Timestamp, WorkflowSchedule};
use wfmon_store::is_paused;

use crate::state::AppState;

/// Every `/api` resource route (the live events, documents and health probes are added by
/// `crate::router`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/overview", get(overview::overview))
        .route("/api/workflows", get(workflows::list))
        .route("/api/workflows/{name}", get(workflows::detail))
        .route("/api/workflows/{name}/run", post(workflows::run))
        .route("/api/schedules/{scheduleId}/pause", post(workflows::pause))
        .route(
            "/api/schedules/{scheduleId}/resume",
            post(workflows::resume),
        )
        .route("/api/executions", get(executions::list))
        .route("/api/executions/{runId}", get(executions::detail))
        .route("/api/alerts", get(lists::alerts))
        .route("/api/alerts/{alertId}", get(alerts::detail))
        .route(
            "/api/alerts/{alertId}/acknowledge",
            post(alerts::acknowledge),
        )
        .route("/api/alerts/{alertId}/resolve", post(alerts::resolve))
        .route("/api/alerts/{alertId}/silence", post(alerts::silence))
        .route("/api/reports", get(lists::reports).post(reports::generate))
        .route("/api/reports/{reportId}", get(reports::detail))
        .route("/api/series", get(series::series))
        .route("/api/analytics/series", get(analytics::series))
        .route("/api/analytics/failures", get(analytics::failures))
        .route("/api/analytics/steps", get(analytics::steps))
        .route("/api/slos", get(slos::list))
        .route("/api/slos/{name}", get(slos::detail))
}

/// A list answer: `{"items": [...]}`.
#[derive(Debug, Serialize)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

/// A schedule row as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    /// `workflow@environment`.
    pub schedule_id: String,
    /// Workflow.
    pub workflow_name: String,
    /// Environment.
    pub environment: String,
    /// Cron expression.
    pub cron: String,
    /// Time zone of the expression.
    pub timezone: String,
    /// Whether it runs (false when paused or no longer configured).
    pub enabled: bool,
    /// Whether someone paused it (`POST /api/schedules/{id}/pause`).
    pub paused: bool,
    /// Who paused it.
    pub paused_by: Option<String>,
    /// When it was paused.
    pub paused_at: Option<String>,
    /// Next due time.
    pub next_run_at: Option<Timestamp>,
    /// Last start.
    pub last_run_at: Option<Timestamp>,
    /// Scheduled runs counted.
    pub run_count: i64,
    /// Of which passed.
    pub success_count: i64,
    /// Of which failed.
    pub failure_count: i64,
}

impl From<&WorkflowSchedule> for ScheduleView {
    fn from(row: &WorkflowSchedule) -> ScheduleView {
        let meta = |key: &str| {
            row.metadata
                .as_ref()
                .and_then(|m| m.0.get(key))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let paused = is_paused(row);
        ScheduleView {
            schedule_id: row.schedule_id.clone(),
            workflow_name: row.workflow_name.clone(),
            environment: row.environment.clone(),
            cron: row.cron_expression.clone(),
            timezone: row.timezone.clone(),
            enabled: row.enabled,
            paused,
            paused_by: if paused { meta("pausedBy") } else { None },
            paused_at: if paused { meta("pausedAt") } else { None },
            next_run_at: row.next_run_at,
            last_run_at: row.last_run_at,
            run_count: row.run_count,
            success_count: row.success_count,
            failure_count: row.failure_count,
        }
    }
}

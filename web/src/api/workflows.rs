//! The configured workflows, their schedules, pausing and resuming a schedule, and starting a
//! run now. Definitions are summaries: names, kinds and targets as written, with secret
//! values replaced by `***`; variable and header values are never shown, only their names.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use wfmon_engine::scheduler::schedule_id;
use wfmon_engine::trigger::{Started, TriggerError};
use wfmon_engine::workflow::{Backoff, Step, StepAction, Workflow};
use wfmon_model::{Timestamp, TriggeredBy, WorkflowSchedule};

use super::{Items, ScheduleView};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Params, PathParam};
use crate::state::AppState;

/// A workflow in the list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSummary {
    /// Name.
    pub name: String,
    /// What it proves.
    pub description: Option<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// Environments it runs in.
    pub environments: Vec<String>,
    /// Its cron schedule; None: on demand only.
    pub schedule: Option<CronView>,
    /// Number of steps (cleanup excluded).
    pub step_count: usize,
    /// Its schedule rows, one per environment.
    pub schedules: Vec<ScheduleView>,
}

/// A cron schedule.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronView {
    /// Expression (5 fields, or 6 with seconds).
    pub cron: String,
    /// IANA time zone.
    pub timezone: String,
}

/// A workflow's definition.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDetail {
    /// Summary fields.
    #[serde(flatten)]
    pub summary: WorkflowSummary,
    /// Limit for a whole run.
    pub timeout_ms: u64,
    /// Retries of failed runs.
    pub retries: RetriesView,
    /// Names of the workflow's own variables (values are not shown).
    pub variables: Vec<String>,
    /// Limits on metrics.
    pub thresholds: Vec<ThresholdView>,
    /// The steps, in order.
    pub steps: Vec<StepView>,
    /// Steps that always run at the end.
    pub cleanup: Vec<StepView>,
}

/// Retry policy.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetriesView {
    /// Total attempts (1: no retry).
    pub attempts: u32,
    /// `exponential` or `fixed`.
    pub backoff: &'static str,
    /// Delay before the first retry.
    pub initial_ms: u64,
    /// Longest delay.
    pub max_ms: u64,
}

/// A threshold.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdView {
    /// Metric.
    pub metric: String,
    /// Largest value within the threshold.
    pub max: f64,
    /// Soft (WARNING) or hard (FAILED).
    pub soft: bool,
}

/// A step.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    /// Name.
    pub name: String,
    /// `http`, `command` or `health`.
    pub kind: &'static str,
    /// HTTP method (http steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// URL as written, `{{ references }}` unfilled (http and health steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Expected status (health steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_status: Option<u16>,
    /// Program and arguments as written (command steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Names of the headers sent (values are not shown).
    pub headers: Vec<String>,
    /// Assertions (CEL).
    pub assertions: Vec<String>,
    /// Names of the values captured for later steps.
    pub captures: Vec<String>,
    /// Limit for the step.
    pub timeout_ms: u64,
    /// Whether a failure lets the next steps run.
    pub continue_on_failure: bool,
}

/// The body of `POST /api/workflows/{name}/run`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Run in this environment only; default: every environment of the workflow.
    pub environment: Option<String>,
}

/// The answer to `POST /api/workflows/{name}/run`.
#[derive(Debug, Serialize)]
pub struct RunsStarted {
    /// The runs started, one per environment.
    pub runs: Vec<Started>,
}

fn summary(state: &AppState, w: &Workflow, schedules: &[WorkflowSchedule]) -> WorkflowSummary {
    WorkflowSummary {
        name: w.name.clone(),
        description: w.description.as_deref().map(|d| state.redact(d)),
        tags: w.tags.clone(),
        environments: w.environments.clone(),
        schedule: w.schedule.as_ref().map(|s| CronView {
            cron: s.expression.clone(),
            timezone: s.timezone.name().to_owned(),
        }),
        step_count: w.steps.len(),
        schedules: schedules
            .iter()
            .filter(|s| s.workflow_name == w.name)
            .map(ScheduleView::from)
            .collect(),
    }
}

fn step_view(state: &AppState, step: &Step) -> StepView {
    let redact = |text: String| state.redact(&text);
    let mut view = StepView {
        name: step.name.clone(),
        kind: step.action.kind(),
        method: None,
        url: None,
        expected_status: None,
        command: None,
        headers: Vec::new(),
        assertions: step.assertions.iter().map(|a| state.redact(a)).collect(),
        captures: step.captures.iter().map(|c| c.name.clone()).collect(),
        timeout_ms: millis(step.timeout),
        continue_on_failure: step.continue_on_failure,
    };
    match &step.action {
        StepAction::Http(h) => {
            view.method = Some(h.method.clone());
            view.url = Some(redact(h.url.to_string()));
            view.headers = h.headers.iter().map(|(name, _)| name.clone()).collect();
        }
        StepAction::Command(c) => {
            view.command = Some(c.argv.iter().map(|a| redact(a.to_string())).collect());
        }
        StepAction::Health(h) => {
            view.url = Some(redact(h.url.to_string()));
            view.expected_status = Some(h.expected_status);
            view.headers = h.headers.iter().map(|(name, _)| name.clone()).collect();
        }
    }
    view
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `GET /api/workflows`
pub async fn list(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Items<WorkflowSummary>>, ApiError> {
    params.only(&[])?;
    let schedules = state.store().schedules().await?;
    let items = state
        .config()
        .workflows
        .iter()
        .map(|w| summary(&state, w, &schedules))
        .collect();
    Ok(Json(Items { items }))
}

/// `GET /api/workflows/{name}`
pub async fn detail(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    params: Params,
) -> Result<Json<WorkflowDetail>, ApiError> {
    params.only(&[])?;
    let w = state
        .config()
        .workflow(&name)
        .ok_or_else(|| ApiError::not_found("workflow", &name))?;
    let schedules = state.store().schedules().await?;
    Ok(Json(WorkflowDetail {
        summary: summary(&state, w, &schedules),
        timeout_ms: millis(w.timeout),
        retries: RetriesView {
            attempts: w.retries.attempts,
            backoff: match w.retries.backoff {
                Backoff::Exponential => "exponential",
                Backoff::Fixed => "fixed",
            },
            initial_ms: millis(w.retries.initial),
            max_ms: millis(w.retries.max),
        },
        variables: w.variables.keys().cloned().collect(),
        thresholds: w
            .thresholds
            .iter()
            .map(|t| ThresholdView {
                metric: t.metric.clone(),
                max: t.max,
                soft: t.soft,
            })
            .collect(),
        steps: w.steps.iter().map(|s| step_view(&state, s)).collect(),
        cleanup: w.cleanup.iter().map(|s| step_view(&state, s)).collect(),
    }))
}

/// `POST /api/workflows/{name}/run`
pub async fn run(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    params: Params,
    JsonBody(request): JsonBody<RunRequest>,
) -> Result<(StatusCode, Json<RunsStarted>), ApiError> {
    params.only(&[])?;
    if state.config().workflow(&name).is_none() {
        return Err(ApiError::not_found("workflow", &name));
    }
    let trigger = state.trigger().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "runs_unavailable",
            "this server does not start runs (no scheduler runs beside it)",
        )
    })?;
    let runs = trigger
        .run_now(&name, request.environment.as_deref(), TriggeredBy::Api)
        .map_err(|e| match e {
            TriggerError::UnknownWorkflow(_) => ApiError::not_found("workflow", &name),
            e @ TriggerError::UnknownEnvironment { .. } => {
                ApiError::invalid_body("environment", e.to_string())
            }
        })?;
    Ok((StatusCode::ACCEPTED, Json(RunsStarted { runs })))
}

/// `POST /api/schedules/{scheduleId}/pause`
pub async fn pause(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    params: Params,
) -> Result<Json<ScheduleView>, ApiError> {
    params.only(&[])?;
    set_paused(&state, &id, true, &principal.name).await
}

/// `POST /api/schedules/{scheduleId}/resume`
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    params: Params,
) -> Result<Json<ScheduleView>, ApiError> {
    params.only(&[])?;
    set_paused(&state, &id, false, &principal.name).await
}

async fn set_paused(
    state: &AppState,
    id: &str,
    paused: bool,
    who: &str,
) -> Result<Json<ScheduleView>, ApiError> {
    let Some(row) = state.store().get::<WorkflowSchedule>(id).await? else {
        return Err(ApiError::not_found("schedule", id));
    };
    // Only schedules the configuration defines run: resuming any other would enable a row
    // the scheduler must leave alone.
    let schedule = state
        .config()
        .workflow(&row.workflow_name)
        .filter(|w| w.environments.contains(&row.environment))
        .filter(|w| schedule_id(&w.name, &row.environment) == row.schedule_id)
        .and_then(|w| w.schedule.as_ref())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "not_configured",
                format!("schedule `{id}` is no longer in the configuration; it stays disabled"),
            )
        })?;
    let next = schedule.next_after(chrono::Utc::now()).map(Timestamp::from);
    let row = state
        .store()
        .set_paused(id, paused, who, next)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule", id))?;
    Ok(Json(ScheduleView::from(&row)))
}

//! `GET /api/analytics/series|failures|steps`: figures per workflow and environment over a
//! window with a chosen bucket size (from the rollups), per-step figures, and failures
//! grouped by signature across workflows.

use axum::Json;
use axum::extract::State;
use chrono::TimeDelta;
use serde::Serialize;
use wfmon_model::Timestamp;
use wfmon_store::{
    AnalyticsWindow, FailureGroup, StepFigures, Uptime, WindowProblem, WorkflowFigures,
};

use crate::error::{ApiError, echo};
use crate::extract::Params;
use crate::state::AppState;

/// Bucket sizes chosen when none is asked for: the smallest giving at most 500 points.
const DEFAULT_STEPS_MINUTES: [i64; 7] = [1, 5, 15, 60, 360, 1440, 10080];

/// `/api/analytics/series`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSeries {
    /// Start of the window (on the minute).
    pub since: Timestamp,
    /// End of the window (exclusive).
    pub until: Timestamp,
    /// Bucket size in seconds.
    pub step_seconds: i64,
    /// One entry per workflow and environment that ran in the window.
    pub series: Vec<WorkflowFigures>,
    /// Uptime per workflow and environment over the window.
    pub uptime: Vec<Uptime>,
}

/// `/api/analytics/failures`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureList {
    /// Start of the window.
    pub since: Timestamp,
    /// End of the window (exclusive).
    pub until: Timestamp,
    /// Groups, most frequent first.
    pub items: Vec<FailureGroup>,
}

/// `/api/analytics/steps`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepList {
    /// Start of the window.
    pub since: Timestamp,
    /// End of the window (exclusive).
    pub until: Timestamp,
    /// One item per workflow and step.
    pub items: Vec<StepFigures>,
}

/// Reads `workflow`, `environment`, `since` and `until` (default: the last 24 hours),
/// refusing unknown workflows, inverted windows and windows longer than `MAX_WINDOW_DAYS`.
pub(crate) fn read_window(state: &AppState, params: &Params) -> Result<AnalyticsWindow, ApiError> {
    let now = Timestamp::now();
    let workflow = params.text("workflow").map(str::to_owned);
    if let Some(name) = &workflow
        && state.config().workflow(name).is_none()
    {
        return Err(ApiError::not_found("workflow", name));
    }
    let until = params.instant("until", now)?.unwrap_or(now);
    let since = params
        .instant("since", now)?
        .unwrap_or_else(|| until.minus(TimeDelta::hours(24)));
    let window = AnalyticsWindow {
        workflow,
        environment: params.text("environment").map(str::to_owned),
        since,
        until,
    };
    check_window(&window, None)?;
    Ok(window)
}

/// Refuses a window the store would not read (see `AnalyticsWindow::problem`), naming the
/// parameter to change.
fn check_window(window: &AnalyticsWindow, step: Option<i64>) -> Result<(), ApiError> {
    match window.problem(step) {
        None => Ok(()),
        Some(problem) => {
            let field = match problem {
                WindowProblem::Inverted(_) => "until",
                WindowProblem::TooLong(_) => "since",
                WindowProblem::TooManyPoints(_) => "step",
            };
            Err(ApiError::invalid_parameter(field, problem.message()))
        }
    }
}

/// `GET /api/analytics/series`
pub async fn series(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<AnalyticsSeries>, ApiError> {
    params.only(&["workflow", "environment", "since", "until", "step"])?;
    let window = read_window(&state, &params)?;
    let span = window.until.unix_millis() - window.since.unix_millis();
    let step = params.parse_with("step", |text| {
        let step = wfmon_model::parse_duration(text).map_err(|e| format!("`step`: {e}"))?;
        let ms = step.num_milliseconds();
        if ms < 60_000 || ms % 60_000 != 0 {
            return Err(format!(
                "`step`: `{}` is not a whole number of minutes (write 1m, 15m, 1h, 1d)",
                echo(text)
            ));
        }
        Ok(ms)
    })?;
    let step = match step {
        Some(ms) => ms,
        None => DEFAULT_STEPS_MINUTES
            .iter()
            .map(|m| m * 60_000)
            .find(|ms| span / ms <= 500)
            .unwrap_or(DEFAULT_STEPS_MINUTES[6] * 60_000),
    };
    check_window(&window, Some(step))?;
    let (series, uptime) = state
        .store()
        .figures_and_uptime(&window, Some(step))
        .await?;
    let since = Timestamp::from_unix_millis(window.since.unix_millis().div_euclid(60_000) * 60_000)
        .unwrap_or(window.since);
    Ok(Json(AnalyticsSeries {
        since,
        until: window.until,
        step_seconds: step / 1000,
        series,
        uptime,
    }))
}

/// `GET /api/analytics/failures`
pub async fn failures(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<FailureList>, ApiError> {
    params.only(&["workflow", "environment", "since", "until", "limit"])?;
    let window = read_window(&state, &params)?;
    let limit = params.limit("limit", 50, 500)?;
    let items = state
        .store()
        .failure_groups(&window, limit as usize)
        .await?;
    Ok(Json(FailureList {
        since: window.since,
        until: window.until,
        items,
    }))
}

/// `GET /api/analytics/steps`
pub async fn steps(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<StepList>, ApiError> {
    params.only(&["workflow", "environment", "since", "until"])?;
    let window = read_window(&state, &params)?;
    let items = state.store().step_figures(&window).await?;
    Ok(Json(StepList {
        since: window.since,
        until: window.until,
        items,
    }))
}

//! `GET /api/overview`: the state of every workflow in every environment (last run, the
//! last 24 hours, schedule), the latest health checks and the number of open alerts: what
//! the dashboard's first screen shows, in one request.
//!
//! The "last 24 hours" are the 24 hourly buckets ending with the current one (from the
//! start of the hour 23 hours ago to now), so that the figures are read from HOUR rollups
//! alone: 24 rows per workflow and environment, whatever the history or the runs per day,
//! kept between computations and brought up to date by the rows that changed.
//! Requests that arrive while an overview is being computed share the next computation
//! (`SharedRead`): fifty dashboards cost about one, and its JSON is written once for all of
//! them.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use serde::Serialize;
use wfmon_model::{ExecutionStatus, SystemHealthCheck, Timestamp};
use wfmon_store::RunStats;

use super::ScheduleView;
use crate::error::ApiError;
use crate::extract::Params;
use crate::state::AppState;

/// The window of the statistics, in hourly buckets (the current one included).
const WINDOW_HOURS: i64 = 24;

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// The answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// When it was computed.
    pub generated_at: Timestamp,
    /// Start of the statistics window: the start of the hour 23 hours before the one of
    /// `generatedAt` (24 hourly buckets).
    pub since: Timestamp,
    /// One entry per workflow and environment: the configured ones in configuration order,
    /// then any other that has a schedule row or ran in the window.
    pub workflows: Vec<WorkflowState>,
    /// The latest check of each health endpoint checked in the window.
    pub health: Vec<SystemHealthCheck>,
    /// Alerts not resolved.
    pub open_alerts: i64,
}

/// One workflow in one environment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowState {
    /// Workflow.
    pub workflow_name: String,
    /// Environment.
    pub environment: String,
    /// Whether the configuration runs this workflow in this environment.
    pub configured: bool,
    /// Status of the last run that ended (not skipped); None if it never ran.
    pub state: Option<ExecutionStatus>,
    /// That run.
    pub last_run: Option<LastRun>,
    /// A run in flight now, if any.
    pub running: Option<Running>,
    /// Runs of the last 24 hourly buckets (from `since`).
    pub last24h: RunStats,
    /// Its schedule row, if it has one.
    pub schedule: Option<ScheduleView>,
}

/// The last run of a workflow in an environment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    /// Run id (`GET /api/executions/{runId}`).
    pub run_id: String,
    /// Start.
    pub started_at: Timestamp,
    /// How it ended.
    pub status: ExecutionStatus,
    /// How long it took.
    pub duration_ms: Option<i32>,
}

/// A run in flight.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Running {
    /// Run id.
    pub run_id: String,
    /// Start.
    pub started_at: Timestamp,
}

/// An overview and, made on first use, its JSON: the callers that share a computation
/// share its answer's bytes too.
#[derive(Debug)]
pub struct Computed {
    /// The overview.
    pub overview: Overview,
    json: OnceLock<Bytes>,
}

impl Computed {
    /// The overview as the API answers it.
    pub fn json(&self) -> Bytes {
        self.json
            .get_or_init(|| {
                Bytes::from(serde_json::to_vec(&self.overview).expect("the overview serialises"))
            })
            .clone()
    }
}

/// `GET /api/overview`
pub async fn overview(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    params.only(&[])?;
    let computed = current(&state).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        computed.json(),
    )
        .into_response())
}

/// The overview as of a moment after this call (the API's answer and the dashboard's first
/// page), computed once for the callers that arrive together.
pub async fn current(state: &AppState) -> Result<Arc<Computed>, ApiError> {
    state
        .overview_reads()
        .get(|| async {
            Ok(Computed {
                overview: compute(state).await?,
                json: OnceLock::new(),
            })
        })
        .await
}

/// Computes the overview now.
async fn compute(state: &AppState) -> Result<Overview, ApiError> {
    let now = Timestamp::now();
    let hour =
        Timestamp::from_unix_millis(now.unix_millis().div_euclid(HOUR_MS) * HOUR_MS).unwrap_or(now);
    let since = hour.minus(TimeDelta::hours(WINDOW_HOURS - 1));
    let configured: Vec<(String, String)> = state
        .config()
        .workflows
        .iter()
        .flat_map(|w| w.environments.iter().map(|e| (w.name.clone(), e.clone())))
        .collect();
    let store = state.store();
    // The end of the current hour: whole HOUR rows only (no run starts in the future; one
    // that starts while this is computed may count).
    let until = hour.plus(TimeDelta::hours(1));
    // The figures come from the HOUR rollups and the latest runs from one indexed lookup
    // per pair (configured, or ran in the window), both kept between computations and
    // brought up to date by what changed (`RecentFigures`), so the cost grows neither with
    // history nor with the runs a day holds.
    let stats_and_latest = store.recent_figures(state.recent_figures(), since, until, &configured);
    let ((stats, latest), running, schedules, health, open_alerts) = tokio::try_join!(
        stats_and_latest,
        store.running_executions(),
        store.schedules(),
        store.latest_health_checks(since),
        store.open_alert_count(),
    )?;

    let mut rows: BTreeMap<(String, String), WorkflowState> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut entry = |key: (String, String), configured: bool| {
        rows.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            WorkflowState {
                workflow_name: key.0,
                environment: key.1,
                configured,
                state: None,
                last_run: None,
                running: None,
                last24h: RunStats::default(),
                schedule: None,
            }
        });
    };
    for key in &configured {
        entry(key.clone(), true);
    }
    let mut others: Vec<(String, String)> = schedules
        .iter()
        .map(|s| (s.workflow_name.clone(), s.environment.clone()))
        .chain(
            stats
                .iter()
                .map(|s| (s.workflow_name.clone(), s.environment.clone())),
        )
        .chain(
            latest
                .iter()
                .map(|e| (e.workflow_name.clone(), e.environment.clone())),
        )
        .collect();
    others.sort();
    for key in others {
        entry(key, false);
    }
    for s in stats {
        if let Some(row) = rows.get_mut(&(s.workflow_name, s.environment)) {
            row.last24h = s.stats;
        }
    }
    for e in latest {
        if let Some(row) = rows.get_mut(&(e.workflow_name, e.environment)) {
            row.state = Some(e.status);
            row.last_run = Some(LastRun {
                run_id: e.run_id,
                started_at: e.started_at,
                status: e.status,
                duration_ms: e.duration_ms,
            });
        }
    }
    for r in running {
        if let Some(row) = rows.get_mut(&(r.workflow_name, r.environment)) {
            let newer = row
                .running
                .as_ref()
                .is_none_or(|current| current.started_at < r.started_at);
            if newer {
                row.running = Some(Running {
                    run_id: r.run_id,
                    started_at: r.started_at,
                });
            }
        }
    }
    for s in &schedules {
        if let Some(row) = rows.get_mut(&(s.workflow_name.clone(), s.environment.clone())) {
            row.schedule = Some(ScheduleView::from(s));
        }
    }
    let workflows = order
        .into_iter()
        .filter_map(|key| rows.remove(&key))
        .collect();
    Ok(Overview {
        generated_at: now,
        since,
        workflows,
        health,
        open_alerts,
    })
}

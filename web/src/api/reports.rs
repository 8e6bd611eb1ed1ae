//! One report in detail, and reports generated on request.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use wfmon_engine::events::Event;
use wfmon_engine::reports::{self, ReportError, ReportRequest};
use wfmon_model::{MonitoringReport, ReportType, Timestamp};
use wfmon_store::{ReportScope, SavedReport};

use crate::error::ApiError;
use crate::extract::{JsonBody, Params, PathParam, parse_instant};
use crate::state::AppState;

/// The body of `POST /api/reports`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// Start of the window: RFC 3339 or an age (`24h`); required.
    pub from: Option<String>,
    /// End of the window (default: now).
    pub to: Option<String>,
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only the configured workflows with one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `GET /api/reports/{reportId}`
pub async fn detail(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    params: Params,
) -> Result<Json<MonitoringReport>, ApiError> {
    params.only(&[])?;
    match state.store().get::<MonitoringReport>(&id).await? {
        Some(report) => Ok(Json(report)),
        None => Err(ApiError::not_found("report", &id)),
    }
}

/// `POST /api/reports`: computes the report of a window, saves it (ON_DEMAND, the window's
/// executions linked to it) and announces it on the live events.
pub async fn generate(
    State(state): State<AppState>,
    params: Params,
    JsonBody(body): JsonBody<GenerateRequest>,
) -> Result<(StatusCode, Json<MonitoringReport>), ApiError> {
    params.only(&[])?;
    let now = Timestamp::now();
    let from = body
        .from
        .as_deref()
        .ok_or_else(|| ApiError::invalid_body("from", "`from` is required"))?;
    let from = parse_instant(from, now).map_err(|m| ApiError::invalid_body("from", m))?;
    let to = match &body.to {
        Some(to) => parse_instant(to, now).map_err(|m| ApiError::invalid_body("to", m))?,
        None => now,
    };
    for (field, value) in [
        ("workflow", &body.workflow),
        ("environment", &body.environment),
    ] {
        if value.as_deref().is_some_and(|v| v.contains('\0')) {
            return Err(ApiError::invalid_body(
                field,
                format!("`{field}` cannot hold NUL characters"),
            ));
        }
    }
    if let Some((n, _)) = body
        .tags
        .iter()
        .enumerate()
        .find(|(_, t)| t.trim().is_empty() || t.contains('\0'))
    {
        return Err(ApiError::invalid_body(
            "tags",
            format!("`tags[{n}]` must be a tag: not empty, without NUL characters"),
        ));
    }
    let workflows = reports::tagged_workflows(state.config(), &body.tags)
        .map_err(|e| ApiError::invalid_body("tags", e.to_string()))?;
    let scope = ReportScope {
        from,
        to,
        workflow: body.workflow,
        environment: body.environment,
        workflows,
    };
    reports::check_request(state.store(), Some(state.config()), &scope)
        .await
        .map_err(|e| match e {
            ReportError::Store(e) => ApiError::from(e),
            e @ (ReportError::Inverted { .. } | ReportError::Absurd { .. }) => {
                ApiError::invalid_body("to", e.to_string())
            }
            e @ ReportError::UnknownWorkflow(_) => {
                ApiError::invalid_body("workflow", e.to_string())
            }
            e @ ReportError::UnknownEnvironment(_) => {
                ApiError::invalid_body("environment", e.to_string())
            }
            e @ ReportError::UnknownTag(_) => ApiError::invalid_body("tags", e.to_string()),
        })?;
    let request = ReportRequest {
        scope,
        report_type: ReportType::OnDemand,
        name: None,
        report_id: None,
        tags: body.tags,
    };
    let failed = |e: ReportError| match e {
        ReportError::Store(e) => ApiError::from(e),
        other => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "report_failed",
            other.to_string(),
        ),
    };
    let report = reports::compute(state.store(), &request)
        .await
        .map_err(failed)?;
    if reports::save(state.store(), &report, &request.scope, &[])
        .await
        .map_err(failed)?
        == SavedReport::Exists
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("report `{}` exists already", report.row.report_id),
        ));
    }
    state.events().publish(Event::ReportGenerated {
        report_id: report.row.report_id.clone(),
        report_type: report.row.report_type,
        start_time: report.row.start_time,
        end_time: report.row.end_time,
        total_runs: report.row.total_runs,
        success_rate: report.metadata.success_rate,
    });
    Ok((StatusCode::CREATED, Json(report.row)))
}

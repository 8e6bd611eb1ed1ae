//! Alerts and reports: simple lists, newest first, with a limit.

use axum::Json;
use axum::extract::State;
use wfmon_model::{Alert, AlertStatus, MonitoringReport, ReportType};
use wfmon_store::AlertFilter;

use super::Items;
use crate::error::ApiError;
use crate::extract::Params;
use crate::state::AppState;

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: u32 = 50;
/// Largest page.
const MAX_LIMIT: u32 = 500;

/// `GET /api/alerts`
pub async fn alerts(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Items<Alert>>, ApiError> {
    params.only(&["status", "workflow", "environment", "limit"])?;
    let filter = AlertFilter {
        status: params.one_of::<AlertStatus>("status")?,
        workflow: params.text("workflow").map(str::to_owned),
        environment: params.text("environment").map(str::to_owned),
        limit: Some(params.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?),
    };
    let items = state.store().list_alerts(&filter).await?;
    Ok(Json(Items { items }))
}

/// `GET /api/reports`
pub async fn reports(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Items<MonitoringReport>>, ApiError> {
    params.only(&["type", "limit"])?;
    let report_type = params.one_of::<ReportType>("type")?;
    let limit = params.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let items = state.store().list_reports(report_type, limit).await?;
    Ok(Json(Items { items }))
}

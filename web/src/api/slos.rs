//! `GET /api/slos` and `GET /api/slos/{name}`: each service level objective of the
//! configuration with its figures now, per environment (attained level, error budget,
//! burn rates), computed by the engine from the store's raw rows with maintenance windows
//! left out.

use axum::Json;
use axum::extract::State;
use wfmon_engine::slo::{SloStatus, slo_status, slo_statuses};
use wfmon_model::Timestamp;

use super::Items;
use crate::error::ApiError;
use crate::extract::{Params, PathParam};
use crate::state::AppState;

/// `GET /api/slos`
pub async fn list(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Items<SloStatus>>, ApiError> {
    params.only(&["workflow"])?;
    let config = state.config();
    let workflow = params.text("workflow");
    if let Some(name) = workflow
        && config.workflow(name).is_none()
    {
        return Err(ApiError::not_found("workflow", name));
    }
    let items = slo_statuses(state.store(), config, workflow, Timestamp::now()).await?;
    Ok(Json(Items { items }))
}

/// `GET /api/slos/{name}`
pub async fn detail(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    params: Params,
) -> Result<Json<SloStatus>, ApiError> {
    params.only(&[])?;
    let config = state.config();
    let Some(slo) = config.slo(&name) else {
        return Err(ApiError::not_found("SLO", &name));
    };
    Ok(Json(
        slo_status(state.store(), config, slo, Timestamp::now()).await?,
    ))
}

//! Executions: a filtered list, newest first, paged by an opaque cursor; and one execution
//! with everything recorded about it.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use wfmon_model::{ExecutionStatus, Timestamp, WorkflowExecution};
use wfmon_store::{ExecutionDetail, ExecutionFilter};

use crate::error::{ApiError, echo};
use crate::extract::{Params, PathParam};
use crate::state::AppState;

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: u32 = 50;
/// Largest page.
pub const MAX_LIMIT: u32 = 500;

/// A page of executions.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPage {
    /// The executions, newest first.
    pub items: Vec<WorkflowExecution>,
    /// Pass as `cursor` for the next page; None on the last page.
    pub next_cursor: Option<String>,
}

/// The cursor after `execution`: its start and run id, in an opaque text.
pub fn encode_cursor(execution: &WorkflowExecution) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}:{}",
        execution.started_at.unix_millis(),
        execution.run_id
    ))
}

/// Reads a cursor made by `encode_cursor`.
pub fn decode_cursor(text: &str) -> Result<(Timestamp, String), String> {
    let bad = || {
        format!(
            "`cursor`: `{}` is not a cursor of this API (pass the `nextCursor` of the previous page)",
            echo(text)
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (millis, run_id) = text.split_once(':').ok_or_else(bad)?;
    let at = millis
        .parse::<i64>()
        .ok()
        .and_then(Timestamp::from_unix_millis)
        .filter(|at| crate::extract::in_range(*at))
        .ok_or_else(bad)?;
    if run_id.is_empty() {
        return Err(bad());
    }
    Ok((at, run_id.to_owned()))
}

/// `GET /api/executions`
pub async fn list(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<ExecutionPage>, ApiError> {
    params.only(&[
        "workflow",
        "environment",
        "status",
        "since",
        "until",
        "limit",
        "cursor",
    ])?;
    let now = Timestamp::now();
    let limit = params.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let since = params.instant("since", now)?;
    let until = params.instant("until", now)?;
    if let (Some(since), Some(until)) = (since, until)
        && until < since
    {
        return Err(ApiError::invalid_parameter(
            "until",
            "`until` is before `since`",
        ));
    }
    let filter = ExecutionFilter {
        workflow: params.text("workflow").map(str::to_owned),
        environment: params.text("environment").map(str::to_owned),
        status: params.one_of::<ExecutionStatus>("status")?,
        since,
        until,
        before: params.parse_with("cursor", decode_cursor)?,
        limit: Some(limit + 1),
    };
    let mut items = state.store().list_executions(&filter).await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(encode_cursor)
    } else {
        None
    };
    Ok(Json(ExecutionPage { items, next_cursor }))
}

/// `GET /api/executions/{runId}`
pub async fn detail(
    State(state): State<AppState>,
    PathParam(run_id): PathParam,
    params: Params,
) -> Result<Json<ExecutionDetail>, ApiError> {
    params.only(&[])?;
    state
        .store()
        .execution_detail(&run_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("execution", &run_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = Timestamp::parse("2026-01-02T03:04:05.678Z").unwrap();
        let text = URL_SAFE_NO_PAD.encode(format!("{}:run_1", at.unix_millis()));
        assert_eq!(decode_cursor(&text).unwrap(), (at, "run_1".to_owned()));
        for bad in [
            "",
            "!!",
            "bm9wZQ",
            &URL_SAFE_NO_PAD.encode("x:run"),
            &URL_SAFE_NO_PAD.encode("5:"),
        ] {
            assert!(decode_cursor(bad).unwrap_err().contains("cursor"), "{bad}");
        }
    }
}

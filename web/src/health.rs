//! Probes for process supervisors and load balancers: `/healthz` (the process answers) and
//! `/readyz` (it can do its work: the database answers, its schema is the one this wfmon
//! needs, and the scheduler's loop ran recently).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::extract::Params;
use crate::state::AppState;

/// How long readiness waits for the database.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: always 200 while the process serves requests.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 with each check's result, or 503 naming the checks that fail.
pub async fn readyz(State(state): State<AppState>, params: Params) -> Response {
    if let Err(error) = params.only(&[]) {
        return error.into_response();
    }
    let mut checks = Map::new();
    let mut failing = Vec::new();
    let mut record = |name: &str, outcome: Result<(), String>| {
        let value = match outcome {
            Ok(()) => json!({ "status": "ok" }),
            Err(reason) => {
                failing.push(name.to_owned());
                json!({ "status": "failing", "reason": reason })
            }
        };
        checks.insert(name.to_owned(), value);
    };
    let store = state.store();
    let answers = tokio::time::timeout(DATABASE_TIMEOUT, store.ping())
        .await
        .unwrap_or(false);
    record(
        "database",
        if answers {
            Ok(())
        } else {
            Err("the database does not answer".into())
        },
    );
    let schema = if !answers {
        Err("not checked: the database does not answer".into())
    } else {
        match tokio::time::timeout(DATABASE_TIMEOUT, store.check_schema()).await {
            Ok(Ok(report)) if report.is_ok() => Ok(()),
            Ok(Ok(report)) => Err(format!(
                "the schema does not match this wfmon ({} problem(s)); {}",
                report.problems.len(),
                report.fix()
            )),
            Ok(Err(e)) => Err(format!("the schema could not be read: {e}")),
            Err(_) => Err("the schema check timed out".into()),
        }
    };
    record("schema", schema);
    if let Some(heartbeat) = state.heartbeat() {
        record("scheduler", heartbeat.check());
    }
    if failing.is_empty() {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": checks })),
        )
            .into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("not ready: {} failing", failing.join(", ")),
        )
        .with_details(json!({ "failing": failing, "checks": checks }))
        .into_response()
    }
}

//! `GET /api/health`: the API answers, and its (simulated) database check says how the
//! in-memory store is doing. Now and then the check reports the database degraded with a
//! 503, deliberately (see `faults`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::Shop;

/// The health report: 200 when every check is ok, 503 otherwise.
pub(crate) async fn check(State(shop): State<Arc<Shop>>) -> (StatusCode, Json<Value>) {
    let (records, took) = shop.database_check();
    let latency_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    if shop.faults.health_degraded() {
        let database = json!({
            "status": "degraded",
            "latencyMs": latency_ms,
            "error": "connection pool exhausted (a deliberate fault of the demo shop)",
        });
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "degraded", "checks": {"database": database}})),
        );
    }
    let database = json!({"status": "ok", "latencyMs": latency_ms, "records": records});
    (
        StatusCode::OK,
        Json(json!({"status": "ok", "checks": {"database": database}})),
    )
}

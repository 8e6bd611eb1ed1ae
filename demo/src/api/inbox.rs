//! The demo's notification inbox: a webhook receiver for `wfmon demo`, so that alerts have
//! somewhere visible to go without any account anywhere. `POST /hooks/wfmon` keeps the JSON
//! body (the last 100); `GET /hooks/wfmon` lists them, newest first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// Notifications kept.
const KEPT: usize = 100;

type Inbox = Arc<Mutex<VecDeque<Value>>>;

/// The inbox's routes, with their own state.
pub(crate) fn router() -> Router {
    let inbox: Inbox = Arc::default();
    Router::new()
        .route("/hooks/wfmon", get(list).post(receive))
        .with_state(inbox)
}

async fn receive(State(inbox): State<Inbox>, Json(body): Json<Value>) -> StatusCode {
    let mut kept = inbox.lock().expect("inbox");
    kept.push_front(json!({
        "receivedAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "notification": body,
    }));
    kept.truncate(KEPT);
    StatusCode::NO_CONTENT
}

async fn list(State(inbox): State<Inbox>) -> Json<Value> {
    let kept = inbox.lock().expect("inbox");
    Json(json!({ "received": kept.iter().collect::<Vec<_>>() }))
}

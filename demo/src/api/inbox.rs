//! The demo's notification inbox: a webhook receiver for `wfmon demo`, so that alerts have
//! somewhere visible to go without any account anywhere. `POST /hooks/wfmon` checks the
//! body's HMAC-SHA256 signature (`X-Wfmon-Signature: sha256=<hex>`, keyed with
//! [`INBOX_SECRET`], the secret the example configuration gives its `inbox` channel) as a
//! real receiver should, refuses what is unsigned or altered with 401, and keeps the JSON body
//! of the rest (the last 100); `GET /hooks/wfmon` lists them, newest first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Notifications kept.
const KEPT: usize = 100;

/// The key the inbox checks signatures with; `examples/wfmon.yaml` signs with the same one.
/// A demo value, public on purpose: a real receiver's secret comes from its environment.
pub const INBOX_SECRET: &str = "demo-inbox-signing-secret";

/// The header carrying the signature.
const SIGNATURE_HEADER: &str = "x-wfmon-signature";

type Inbox = Arc<Mutex<VecDeque<Value>>>;

/// The inbox's routes, with their own state.
pub(crate) fn router() -> Router {
    let inbox: Inbox = Arc::default();
    Router::new()
        .route("/hooks/wfmon", get(list).post(receive))
        .with_state(inbox)
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> Response {
    let refuse = |status: StatusCode, message: &str| {
        (status, Json(json!({ "error": message }))).into_response()
    };
    let Some(signature) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        return refuse(StatusCode::UNAUTHORIZED, "missing X-Wfmon-Signature header");
    };
    if !signed_by_secret(signature, &body) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "X-Wfmon-Signature does not match the body",
        );
    }
    let Ok(notification) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let mut kept = inbox.lock().expect("inbox");
    kept.push_front(json!({
        "receivedAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "signatureVerified": true,
        "notification": notification,
    }));
    kept.truncate(KEPT);
    StatusCode::NO_CONTENT.into_response()
}

/// Whether `header` is `sha256=<hex>` of the body's HMAC under [`INBOX_SECRET`]; the
/// comparison takes the same time wherever the first difference is.
fn signed_by_secret(header: &str, body: &[u8]) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(given) = decode_hex(hex) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(INBOX_SECRET.as_bytes()).expect("any key");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

async fn list(State(inbox): State<Inbox>) -> Json<Value> {
    let kept = inbox.lock().expect("inbox");
    Json(json!({ "received": kept.iter().collect::<Vec<_>>() }))
}

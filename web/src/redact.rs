//! The last guard of "secrets never reach output": every JSON response and every live event
//! has the configuration's secret values (what `${ENV}` references expanded to) replaced by
//! `***` in each of its strings, whatever put them there. Handlers already leave secrets out;
//! this catches what they cannot know about (a stored error message, a future field).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::state::AppState;

/// Largest response body the guard reads; the API's own responses are far smaller.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Replaces secrets in every string of `value` (keys included) with `***`.
pub fn redact_value(value: &mut Value, redact: &impl Fn(&str) -> String) {
    match value {
        Value::String(text) => {
            let clean = redact(text);
            if clean != *text {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, redact)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                redact_value(&mut item, redact);
                map.insert(redact(&key), item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Middleware: redacts JSON responses when the configuration has secrets.
pub async fn redact_json(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if state.config().secrets.is_empty() || !is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        tracing::error!("a response too large to check for secrets was dropped");
        return crate::error::ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the response was too large to send",
        )
        .into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    redact_value(&mut value, &|text| state.redact(text));
    let body = serde_json::to_vec(&value).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_and_key_is_redacted() {
        let mut value = serde_json::json!({
            "message": "login as s3cret-pw failed",
            "nested": [{"s3cret-pw": ["x s3cret-pw"]}],
            "n": 1,
        });
        redact_value(&mut value, &|t| t.replace("s3cret-pw", "***"));
        assert_eq!(
            value,
            serde_json::json!({
                "message": "login as *** failed",
                "nested": [{"***": ["x ***"]}],
                "n": 1,
            })
        );
    }
}

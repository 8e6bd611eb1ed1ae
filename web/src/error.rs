//! API errors: every failure is JSON `{"error": code, "message": text, "details": {...}}` with
//! the status code that fits, including the ones axum would otherwise answer in plain text
//! (unknown route, wrong method, unreadable path or body).

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wfmon_store::StoreError;

/// Longest piece of client input repeated in a message.
const ECHO_LIMIT: usize = 80;

/// A failed request, answered as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable, machine-readable code (`invalid_parameter`, `not_found`, ...).
    pub code: &'static str,
    /// What went wrong and, where it helps, what to send instead.
    pub message: String,
    /// Structured facts (`field`, `allowed`, ...); an empty object when there are none.
    pub details: Value,
    /// Whether a database call failed (counted as `wfmon_store_errors_total`).
    pub(crate) from_store: bool,
}

/// Marks a response answering a failed database call, so that one layer counts them all
/// (`count_store_failures`), JSON answers and pages alike.
#[derive(Debug, Clone, Copy)]
pub struct StoreFailure;

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: json!({}),
            from_store: false,
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    /// 400: a query or path parameter is invalid; `field` names it.
    pub fn invalid_parameter(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
            .with_details(json!({ "field": field }))
    }

    /// 422: the JSON body is well-formed but a field is wrong; `field` is its path.
    pub fn invalid_body(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
            .with_details(json!({ "field": field }))
    }

    /// 404: no such thing; `what` names the kind, `key` the id asked for.
    pub fn not_found(what: &str, key: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {what} `{}`", echo(key)),
        )
        .with_details(json!({ "resource": what }))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.code,
            "message": self.message,
            "details": self.details,
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.from_store {
            response.extensions_mut().insert(StoreFailure);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let mut api_error = if error.is_transient() {
            tracing::warn!("API request failed, database unavailable: {error}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database does not answer; retry later",
            )
        } else {
            tracing::error!("API request failed: {error}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "reading the database failed; the server log has the details",
            )
        };
        api_error.from_store = true;
        api_error
    }
}

/// Client input for a message: at most `ECHO_LIMIT` characters.
pub fn echo(text: &str) -> String {
    if text.chars().count() <= ECHO_LIMIT {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(ECHO_LIMIT).collect();
        format!("{cut}...")
    }
}

/// The answer to a path no route matches.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!(
            "no route `{}`; GET /api/openapi.json lists the API",
            echo(uri.path())
        ),
    )
}

/// The answer to a known path with a method it does not take.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on `{}`; GET /api/openapi.json lists the API",
            echo(method.as_str()),
            echo(uri.path())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_in_messages() {
        let long = "x".repeat(500);
        let error = ApiError::not_found("execution", &long);
        assert!(error.message.len() < 120, "{}", error.message);
        assert_eq!(echo("short"), "short");
    }
}

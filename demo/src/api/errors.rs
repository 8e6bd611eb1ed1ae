//! How refusals look on the wire, and a JSON body extractor whose rejections look the same.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::state::ShopError;

impl IntoResponse for ShopError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ShopError::Invalid(m) => (StatusCode::BAD_REQUEST, m),
            ShopError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "sign in first: POST /api/auth/login".to_owned(),
            ),
            ShopError::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "wrong email or password".to_owned(),
            ),
            ShopError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ShopError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ShopError::Conflict(m) => (StatusCode::CONFLICT, m),
            ShopError::Fault(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        (status, Json(json!({"error": message}))).into_response()
    }
}

/// A JSON request body; a missing, malformed or mistyped body is a 400 with a JSON error.
pub(crate) struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ShopError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| JsonBody(value))
            .map_err(|rejection| ShopError::Invalid(rejection.body_text()))
    }
}

//! Accounts and sessions: sign up, sign in (a `session` cookie, and the same token in the
//! body for clients that prefer a bearer header), who am I, sign out, delete my account.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::JsonBody;
use super::session::{COOKIE_NAME, SignedIn, session_token};
use crate::state::{Registration, Shop, ShopError};

/// A sign-in, as posted.
#[derive(Debug, Deserialize)]
pub(crate) struct Credentials {
    email: Option<String>,
    password: Option<String>,
}

/// `POST /api/auth/register`: 201 with the new user.
pub(crate) async fn register(
    State(shop): State<Arc<Shop>>,
    JsonBody(registration): JsonBody<Registration>,
) -> Result<(StatusCode, Json<Value>), ShopError> {
    let user = shop.register(&registration)?;
    Ok((StatusCode::CREATED, Json(json!({"user": user.json()}))))
}

/// `POST /api/auth/login`: 200 with the user and a session cookie.
pub(crate) async fn login(
    State(shop): State<Arc<Shop>>,
    JsonBody(credentials): JsonBody<Credentials>,
) -> Result<Response, ShopError> {
    let (Some(email), Some(password)) = (credentials.email, credentials.password) else {
        return Err(ShopError::Invalid("email and password are required".into()));
    };
    let (token, user) = shop.login(&email, &password)?;
    let cookie = format!("{COOKIE_NAME}={token}; HttpOnly; Path=/; SameSite=Lax");
    Ok((
        [(SET_COOKIE, cookie)],
        Json(json!({"user": user.json(), "token": token})),
    )
        .into_response())
}

/// `GET /api/auth/me`: the signed-in user.
pub(crate) async fn me(signed_in: SignedIn) -> Json<Value> {
    Json(json!({"user": signed_in.user.json()}))
}

/// `POST /api/auth/logout`: 204, and the session is gone (also when there was none).
pub(crate) async fn logout(State(shop): State<Arc<Shop>>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        shop.logout(&token);
    }
    signed_out()
}

/// `DELETE /api/users/{id}`: deletes the caller's own account (with its farms); 204.
pub(crate) async fn delete_account(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ShopError> {
    shop.delete_user(&signed_in.user, &id)?;
    Ok(signed_out())
}

/// 204 with the session cookie cleared.
fn signed_out() -> Response {
    let cookie = format!("{COOKIE_NAME}=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0");
    (StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response()
}

//! Authentication in front of every route. Who a request is comes from an API token
//! (`Authorization: Bearer wfm_...`) or the dashboard's session cookie; what it may do from
//! the role (GET and HEAD need `read`, anything else `admin`). Requests authenticated by the
//! cookie that change state must carry the session's `X-CSRF-Token`, and a cross-origin
//! `Origin` is refused on every guarded path. `/healthz`, `/readyz`, `/assets/*` and the
//! login itself are open; `/metrics` is open when configured so.
//!
//! A page without a session is redirected to `/login?next=<path>`; an API request without
//! valid credentials gets 401 with `WWW-Authenticate: Bearer`. Handlers read the caller as a
//! `Principal` (an extractor): its name is what actions record as "who", its CSRF token is
//! what a page puts in `<meta name="csrf-token">`.

mod limit;
mod login;

pub use limit::LoginLimiter;
pub(crate) use login::{login_form, login_submit, logout};

use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;
use wfmon_model::{Role, Timestamp};

use crate::{ApiError, AppState};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "wfmon_session";

/// The header state-changing requests of a session carry its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the API and the dashboard authenticate; built from `server.auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// Whether requests must authenticate at all.
    pub enabled: bool,
    /// How long a login lasts (the cookie's Max-Age and the session's expiry).
    pub session_lifetime: Duration,
    /// Whether `/metrics` answers without credentials.
    pub metrics_open: bool,
    /// The public URL people use (`https://...`): the cookie is Secure when it is https, and
    /// its origin counts as the same origin.
    pub public_url: Option<String>,
}

impl AuthSettings {
    /// Everything open (tests that build the state directly, `wfmon demo`).
    pub fn off() -> AuthSettings {
        AuthSettings {
            enabled: false,
            session_lifetime: Duration::from_secs(12 * 3600),
            metrics_open: true,
            public_url: None,
        }
    }

    /// The settings of `server`, with authentication on unless the configuration turns it off.
    pub fn from_config(server: &wfmon_engine::config::ServerConfig) -> AuthSettings {
        AuthSettings {
            enabled: server.auth.enabled.unwrap_or(true),
            session_lifetime: server.auth.session_lifetime,
            metrics_open: server.auth.metrics_open,
            public_url: server.public_url.clone(),
        }
    }

    /// Whether the session cookie must be Secure.
    pub fn secure_cookie(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An API token.
    Token,
    /// The dashboard's session cookie.
    Session,
    /// Nothing: authentication is off.
    Open,
}

/// The caller of a request, for handlers: name (recorded as "who"), role, and the CSRF
/// token of its session (pages render it in `<meta name="csrf-token">`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's or the token's name; `api` when authentication is off.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// How it authenticated.
    pub via: Via,
    /// The session's CSRF token (sessions only).
    pub csrf_token: Option<String>,
}

impl Principal {
    /// The caller when authentication is off: may do everything, recorded as `api`.
    pub fn open() -> Principal {
        Principal {
            name: "api".to_owned(),
            role: Role::Admin,
            via: Via::Open,
            csrf_token: None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Principal, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Principal>()
            .cloned()
            .unwrap_or_else(Principal::open))
    }
}

/// What a path is, for the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    /// Health probes, assets: never guarded.
    Open,
    /// `/login` and `/logout`: open, but a cross-origin form post is refused.
    Login,
    /// `/metrics`.
    Metrics,
    /// `/api/...`.
    Api,
    /// Everything else: dashboard pages.
    Page,
}

fn area(path: &str) -> Area {
    match path {
        "/healthz" | "/readyz" => Area::Open,
        "/login" | "/logout" => Area::Login,
        "/metrics" => Area::Metrics,
        _ if path.starts_with("/assets/") => Area::Open,
        _ if path == "/api" || path.starts_with("/api/") => Area::Api,
        _ => Area::Page,
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: authenticates, checks role, CSRF token and origin, and hands the
/// `Principal` to the handler.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let settings = state.auth();
    if !settings.enabled {
        request.extensions_mut().insert(Principal::open());
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let area = area(&path);
    if area == Area::Open || (area == Area::Metrics && settings.metrics_open) {
        return next.run(request).await;
    }
    if let Err(refused) = same_origin(request.headers(), settings.public_url.as_deref()) {
        return refused.into_response();
    }
    if area == Area::Login {
        return next.run(request).await;
    }
    let principal = match authenticate(&state, request.headers()).await {
        Ok(Some(principal)) => principal,
        Ok(None) if area == Area::Page && is_safe(request.method()) => {
            let wanted = request
                .uri()
                .path_and_query()
                .map_or(path.as_str(), |pq| pq.as_str());
            let mut response =
                Redirect::to(&format!("/login?next={}", percent_encode(wanted))).into_response();
            if cookie(request.headers(), SESSION_COOKIE).is_some() {
                clear_cookie(&mut response, settings);
            }
            return response;
        }
        Ok(None) => return unauthorized("send `Authorization: Bearer <token>` or log in"),
        Err(error) => return error.into_response(),
    };
    let needed = if is_safe(request.method()) {
        Role::Read
    } else {
        Role::Admin
    };
    if !principal.role.allows(needed) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "`{}` has role {}; {} {} needs role {}",
                principal.name,
                principal.role.as_str().to_ascii_lowercase(),
                request.method(),
                crate::error::echo(&path),
                needed.as_str().to_ascii_lowercase()
            ),
        )
        .into_response();
    }
    if principal.via == Via::Session && !is_safe(request.method()) {
        let expected = principal.csrf_token.as_deref().unwrap_or_default();
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "a request of a dashboard session that changes something must carry the \
                 page's CSRF token in the X-CSRF-Token header",
            )
            .into_response();
        }
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The caller from a bearer token or the session cookie. `Ok(None)`: neither was given, or
/// the cookie's session is unknown or expired. A bearer token that is not valid is an error
/// of its own (401), whatever the cookie says.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Response> {
    let now = Timestamp::now();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .unwrap_or_default();
        return match state.store().authenticate_token(token, now).await {
            Ok(Some(found)) => Ok(Some(Principal {
                name: found.name,
                role: found.role,
                via: Via::Token,
                csrf_token: None,
            })),
            Ok(None) => Err(unauthorized(
                "the bearer token is unknown, revoked or expired",
            )),
            Err(e) => Err(ApiError::from(e).into_response()),
        };
    }
    let Some(session_id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    match state.store().find_session(&session_id, now).await {
        Ok(Some(grant)) => Ok(Some(Principal {
            name: grant.record.username,
            role: grant.record.role,
            via: Via::Session,
            csrf_token: Some(grant.csrf_token),
        })),
        Ok(None) => Ok(None),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Refuses an `Origin` that is not this server's own (by the `Host` header, or the public
/// URL). Requests without `Origin` (API clients, same-origin GETs) pass.
fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let own = !host.is_empty()
        && (origin == format!("http://{host}") || origin == format!("https://{host}"));
    let public = public_url.is_some_and(|url| origin_of(url) == origin);
    if own || public {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            format!(
                "requests from origin `{}` are refused: only this server's own pages may call it",
                crate::error::echo(origin)
            ),
        ))
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The `Set-Cookie` value of a new session.
pub(crate) fn session_cookie(session_id: &str, settings: &AuthSettings) -> String {
    format!(
        "{SESSION_COOKIE}={session_id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        settings.session_lifetime.as_secs(),
        if settings.secure_cookie() {
            "; Secure"
        } else {
            ""
        }
    )
}

/// Tells the browser to drop the session cookie.
pub(crate) fn clear_cookie(response: &mut Response, settings: &AuthSettings) {
    let value = format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        if settings.secure_cookie() {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_areas() {
        assert_eq!(area("/healthz"), Area::Open);
        assert_eq!(area("/assets/app.js"), Area::Open);
        assert_eq!(area("/api/overview"), Area::Api);
        assert_eq!(area("/apis"), Area::Page);
        assert_eq!(area("/metrics"), Area::Metrics);
        assert_eq!(area("/login"), Area::Login);
        assert_eq!(area("/workflows/x"), Area::Page);
    }

    #[test]
    fn cookies_and_origins_are_read_exactly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; wfmon_session=abc; x=y"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert_eq!(
            origin_of("https://a.example:8443/x/y"),
            "https://a.example:8443"
        );
        assert_eq!(origin_of("https://a.example"), "https://a.example");
        assert_eq!(percent_encode("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}

//! `GET /login` (a small form), `POST /login` (checks the password, opens a session, sets
//! the cookie, goes back to the local page asked for) and `POST /logout`. Failed logins are
//! limited per client address and per username; an unknown user and a wrong password get
//! the same answer.

use std::net::SocketAddr;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{SESSION_COOKIE, clear_cookie, cookie, session_cookie};
use crate::AppState;
use crate::docs::escape;

/// The content policy of the login page: no scripts, its own inline style, forms to itself.
const LOGIN_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// `GET /login` query.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

/// `POST /login` form.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `next` if it is a path on this server, else `/`: never a redirect elsewhere
/// (`//host`, `/\host`, `https://...`, control characters).
pub(crate) fn local_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= 2048
                && !path.chars().any(|c| c.is_control() || c == '\\') =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn page(status: StatusCode, next: &str, username: &str, message: Option<&str>) -> Response {
    let notice = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Log in · wfmon</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}\
         label,input,button{{display:block;width:100%;box-sizing:border-box;margin:.4rem 0}}\
         input,button{{padding:.5rem;font-size:1rem}}.error{{color:#b00020}}\
         @media (prefers-color-scheme:dark){{body{{background:#111;color:#eee}}.error{{color:#ff8a80}}}}\
         </style></head><body><main><h1>wfmon</h1>{notice}\
         <form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label for=\"username\">Username</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required value=\"{username}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Log in</button></form></main></body></html>\n",
        next = escape(next),
        username = escape(username),
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(LOGIN_POLICY),
    );
    // With `no-referrer` a browser posts the form with `Origin: null`, which the guard
    // refuses; `same-origin` keeps the real origin and still sends nothing elsewhere.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// `GET /login`
pub(crate) async fn login_form(query: Result<Query<LoginQuery>, QueryRejection>) -> Response {
    let next = query.ok().and_then(|Query(q)| q.next);
    page(StatusCode::OK, &local_next(next.as_deref()), "", None)
}

/// `POST /login`
pub(crate) async fn login_submit(
    State(state): State<AppState>,
    extensions: Extensions,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return page(
            StatusCode::BAD_REQUEST,
            "/",
            "",
            Some("send the form's username and password"),
        );
    };
    let next = local_next(form.next.as_deref());
    let address = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(a)| a.ip().to_string());
    let user_key = format!("user:{}", form.username.to_lowercase());
    let keys = [format!("ip:{address}"), user_key.clone()];
    let limiter = state.login_limiter();
    if let Some(wait) = limiter.retry_after(&keys) {
        let seconds = wait.as_secs().max(1);
        let mut response = page(
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &form.username,
            Some(&format!(
                "too many failed logins; try again in {} minute(s)",
                seconds.div_ceil(60)
            )),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let user = match state
        .store()
        .verify_login(&form.username, &form.password)
        .await
    {
        Ok(user) => user,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let Some(user) = user else {
        limiter.failed(&keys);
        tracing::info!(address = %address, "failed dashboard login");
        return page(
            StatusCode::UNAUTHORIZED,
            &next,
            &form.username,
            Some("wrong username or password"),
        );
    };
    limiter.succeeded(&user_key);
    let settings = state.auth();
    let lifetime = chrono::TimeDelta::from_std(settings.session_lifetime)
        .unwrap_or(chrono::TimeDelta::hours(12));
    let grant = match state.store().create_session(&user, lifetime).await {
        Ok(grant) => grant,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    tracing::info!(user = %user.username, "dashboard login");
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&session_cookie(&grant.session_id, settings)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `POST /logout`: ends the session and drops the cookie.
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(session_id) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = state.store().end_session(&session_id).await
    {
        return crate::ApiError::from(e).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    clear_cookie(&mut response, state.auth());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_next(Some("/workflows/x?y=1")), "/workflows/x?y=1");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "/a\\b",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(local_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_next(None), "/");
    }
}

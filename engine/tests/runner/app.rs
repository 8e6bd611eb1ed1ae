//! A small application under test, served on 127.0.0.1: a cookie login that returns a token,
//! an endpoint that needs both, slow, failing, redirecting, non-JSON and oversized answers,
//! and a health endpoint. Plus a TLS server with a self-signed certificate.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use wfmon_engine::config::Config;
use wfmon_engine::runner::{
    NoObserver, RunContext, RunObserver, RunOutcome, StepOutcome, run_workflow,
};
use wfmon_engine::workflow::Step;

pub const TOKEN: &str = "tok-abcdef123";
const SESSION: &str = "s-98765";

/// The running application.
pub struct App {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `METHOD /path` of the requests that change something, in order.
    pub log: Arc<Mutex<Vec<String>>>,
}

type Log = Arc<Mutex<Vec<String>>>;

pub async fn start() -> App {
    let log: Log = Arc::default();
    let router = axum::Router::new()
        .route("/api/login", post(login))
        .route("/api/me", get(me))
        .route("/api/slow", get(slow))
        .route("/api/boom", get(boom))
        .route("/api/redirect", get(redirect))
        .route(
            "/html",
            get(|| async { Html("<html><body>hello</body></html>") }),
        )
        .route(
            "/api/health",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .route(
            "/api/health/down",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route("/api/big", get(|| async { "x".repeat(64 * 1024) }))
        .route("/api/echo", post(echo))
        .route("/api/farms", post(create_farm))
        .route("/api/farms/{id}", delete(delete_farm))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    App { base, log }
}

async fn login(Json(body): Json<Value>) -> Response {
    if body["password"] != "pw" {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad credentials"})),
        )
            .into_response();
    }
    (
        [(SET_COOKIE, format!("session={SESSION}; Path=/; HttpOnly"))],
        Json(json!({"token": TOKEN, "user": {"email": body["email"], "role": "farmer"}})),
    )
        .into_response()
}

async fn me(headers: HeaderMap) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let has_cookie = text(COOKIE).contains(&format!("session={SESSION}"));
    let has_token = text(AUTHORIZATION) == format!("Bearer {TOKEN}");
    if has_cookie && has_token {
        Json(json!({"email": "farmer@example.com", "farms": 2})).into_response()
    } else {
        let body = json!({"error": "not signed in", "cookie": has_cookie, "token": has_token});
        (StatusCode::UNAUTHORIZED, Json(body)).into_response()
    }
}

async fn slow(Query(q): Query<HashMap<String, u64>>) -> Json<Value> {
    let ms = q.get("ms").copied().unwrap_or(1000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({"slept_ms": ms}))
}

async fn boom() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": "boom"})),
    )
        .into_response()
}

async fn redirect() -> Response {
    (StatusCode::FOUND, [(LOCATION, "/api/health")]).into_response()
}

/// Echoes what it received, credentials included (as a careless app would in an error).
async fn echo(headers: HeaderMap, body: String) -> Response {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Json(json!({
        "auth": get(AUTHORIZATION.as_str()),
        "key": get("x-api-key"),
        "content_type": get(CONTENT_TYPE.as_str()),
        "body": body,
    }))
    .into_response()
}

async fn create_farm(State(log): State<Log>, body: String) -> Response {
    log.lock().unwrap().push(format!("POST /api/farms {body}"));
    (StatusCode::CREATED, Json(json!({"id": "farm-42"}))).into_response()
}

async fn delete_farm(State(log): State<Log>, UrlPath(id): UrlPath<String>) -> StatusCode {
    log.lock().unwrap().push(format!("DELETE /api/farms/{id}"));
    StatusCode::NO_CONTENT
}

/// An https server on 127.0.0.1 whose self-signed certificate expires in 30 days; it answers
/// every request with `{"ok":true}`. Returns its base URL.
pub async fn start_tls() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;

    let expires = chrono::Utc::now().date_naive() + chrono::Days::new(30);
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    use chrono::Datelike;
    params.not_after =
        rcgen::date_time_ymd(expires.year(), expires.month() as u8, expires.day() as u8);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake: nothing to serve.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"ok":true}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    base
}

/// A configuration with one environment `test` whose `base_url` is `base`, and the workflow
/// given as YAML (indented as an item of `workflows:`).
pub fn config(base: &str, workflow: &str) -> Config {
    let text = format!(
        "environments:\n  test:\n    variables:\n      base_url: \"{base}\"\nworkflows:\n{workflow}"
    );
    Config::parse(&text, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Runs the first workflow of `config` in `test`.
pub async fn run(config: &Config) -> RunOutcome {
    run_with(
        config,
        &RunContext::new("run-1", config.secrets.clone()),
        &NoObserver,
    )
    .await
}

pub async fn run_with(config: &Config, ctx: &RunContext, observer: &dyn RunObserver) -> RunOutcome {
    run_workflow(
        &config.workflows[0],
        &config.environments["test"],
        ctx,
        observer,
    )
    .await
}

/// Records what a run reports as it goes.
#[derive(Default)]
pub struct StepLog(pub Mutex<Vec<String>>);

impl RunObserver for StepLog {
    fn step_started(&self, order: u32, step: &Step) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {order} {}", step.name));
    }

    fn step_finished(&self, outcome: &StepOutcome) {
        self.0.lock().unwrap().push(format!(
            "finish {} {} {}",
            outcome.order, outcome.name, outcome.status
        ));
    }
}

/// The step called `name`.
pub fn step<'a>(outcome: &'a RunOutcome, name: &str) -> &'a StepOutcome {
    outcome
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name}: {outcome:#?}"))
}

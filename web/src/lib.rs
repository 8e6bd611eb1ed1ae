//! wfmon's HTTP API: the REST endpoints under `/api` (camelCase JSON, the records straight
//! from the model structs), live events over Server-Sent Events and WebSocket, the OpenAPI
//! document and its page, and the `/healthz` and `/readyz` probes.
//!
//! `web` never talks SQL: it asks the store, and reads the configuration for definitions.
//! Every answer, errors included, is JSON with a fitting status code; secrets from the
//! configuration never leave (`redact`). CORS is closed: no cross-origin headers are sent.
//!
//! `routes` is every route of this crate, `router` adds the fallbacks and the layers, and
//! `serve` runs it until a shutdown signal; later features (dashboard, authentication,
//! metrics) add their routes to `routes` and their layers to `router`.

mod api;
pub mod auth;
mod dashboard;
pub(crate) mod docs;
mod error;
mod extract;
mod health;
mod live;
mod metrics;
mod openapi;
mod redact;
mod shared;
mod state;

pub use auth::{AuthSettings, Principal};
pub use error::ApiError;
pub use openapi::document as openapi_document;
pub use state::{AppState, SchedulerHeartbeat};

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;

/// How long a shutdown waits for requests in flight before closing anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Every route of the API, without fallbacks or layers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/openapi.json", get(docs::openapi_json))
        .route("/api/docs", get(docs::docs))
        .route("/api/docs/docs.js", get(docs::script))
        .route("/api/events", get(live::sse))
        .route("/api/ws", get(live::ws))
        .route("/login", get(auth::login_form).post(auth::login_submit))
        .route("/logout", axum::routing::post(auth::logout))
        .route("/metrics", get(metrics::metrics))
        .merge(api::routes())
        .merge(dashboard::routes())
}

/// The whole application: the routes, JSON answers for unknown routes and methods,
/// authentication, redaction of secrets, and security headers.
pub fn router(state: AppState) -> Router {
    routes()
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            redact::redact_json,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_store_failures,
        ))
        .with_state(state)
}

/// Counts the answers to failed database calls (`wfmon_store_errors_total`, operation
/// `api_read`), whichever route or layer they came from.
async fn count_store_failures(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if response.extensions().get::<error::StoreFailure>().is_some() {
        state
            .events()
            .telemetry()
            .store_error(wfmon_engine::telemetry::StoreOperation::ApiRead);
    }
    response
}

/// Serves the API on `listener` until `shutdown` resolves; then live streams end, requests in
/// flight get a few seconds to finish, and it returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let (stopped, stop_seen) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        state.stop_streams();
        let _ = stopped.send(());
    };
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let server = std::future::IntoFuture::into_future(server);
    tokio::pin!(server);
    let deadline = async {
        if stop_seen.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        outcome = &mut server => outcome,
        () = deadline => {
            tracing::warn!(
                "API requests still in flight {}s after the stop signal were cut",
                SHUTDOWN_GRACE.as_secs()
            );
            Ok(())
        }
    }
}

/// Headers every answer carries: no sniffing, no framing, no referrer, no caching, and a
/// strict content policy unless the page sets its own.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::CACHE_CONTROL, "no-store");
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    );
    response
}

//! The shop's HTTP API: JSON in and out, errors as `{"error": "..."}` with a fitting status,
//! and a plain HTML page at `/` that lists the endpoints and the demo accounts. Handlers only
//! translate between HTTP and the shop (`state`); the rules live there.

mod auth;
mod errors;
mod farms;
mod health;
mod home;
pub(crate) mod inbox;
mod orders;
mod products;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::state::{Shop, ShopError};

/// Every route of the shop.
pub(crate) fn router(shop: Arc<Shop>) -> Router {
    Router::new()
        .route("/", get(home::page))
        .route("/api/health", get(health::check))
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/me", get(auth::me))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/users/{id}", delete(auth::delete_account))
        .route("/api/farms", get(farms::list).post(farms::create))
        .route("/api/farms/{id}", get(farms::get).delete(farms::delete))
        .route("/api/farms/{id}/products", post(products::create))
        .route("/api/products", get(products::list))
        .route(
            "/api/products/{id}",
            get(products::get).delete(products::delete),
        )
        .route("/api/cart", get(orders::cart))
        .route("/api/cart/items", post(orders::add_to_cart))
        .route("/api/orders", post(orders::place))
        .route("/api/orders/{id}", get(orders::get))
        .fallback(|| async { ShopError::NotFound("no such endpoint: see / for the list".into()) })
        .with_state(shop)
        .merge(inbox::router())
}

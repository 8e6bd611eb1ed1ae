//! The cart (one per session) and orders. Placing an order is the shop's deliberately
//! failing endpoint (now and then, see `faults`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::errors::JsonBody;
use super::session::SignedIn;
use crate::state::{Shop, ShopError};

/// A cart item, as posted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CartItem {
    product_id: Option<String>,
    quantity: Option<i64>,
}

/// `POST /api/cart/items`: 201 with the whole cart.
pub(crate) async fn add_to_cart(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
    JsonBody(item): JsonBody<CartItem>,
) -> Result<(StatusCode, Json<Value>), ShopError> {
    let cart = shop.add_to_cart(&signed_in.token, item.product_id.as_deref(), item.quantity)?;
    Ok((StatusCode::CREATED, Json(cart)))
}

/// `GET /api/cart`.
pub(crate) async fn cart(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
) -> Result<Json<Value>, ShopError> {
    shop.cart(&signed_in.token).map(Json)
}

/// `POST /api/orders`: checks the cart out; 201 with the order.
pub(crate) async fn place(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
) -> Result<(StatusCode, Json<Value>), ShopError> {
    let order = shop.place_order(&signed_in.token)?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// `GET /api/orders/{id}` (its buyer).
pub(crate) async fn get(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Json<Value>, ShopError> {
    shop.order(&signed_in.user, &id).map(Json)
}

//! Products: a farm's owner adds and deletes them; everyone can list, search and read them.
//! The listing is the shop's deliberately slow endpoint (now and then, see `faults`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::errors::JsonBody;
use super::session::SignedIn;
use crate::state::{DEFAULT_LIMIT, MAX_LIMIT, NewProduct, Shop, ShopError};

/// `POST /api/farms/{id}/products` (the farm's owner): 201 with the product.
pub(crate) async fn create(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
    Path(farm): Path<String>,
    JsonBody(product): JsonBody<NewProduct>,
) -> Result<(StatusCode, Json<Value>), ShopError> {
    let product = shop.add_product(&signed_in.user, &farm, &product)?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// `GET /api/products?search=&limit=`: `{"items": [...], "total": N}`, where `total` counts
/// every match and `items` holds the first `limit` (default 20, at most 100).
pub(crate) async fn list(
    State(shop): State<Arc<Shop>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ShopError> {
    let limit = match params.get("limit").map(|l| l.trim()) {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ShopError::Invalid(format!(
                    "limit `{text}`: write a number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    if shop.faults.slow_listing() {
        tokio::time::sleep(shop.faults.slow_listing_delay).await;
    }
    let search = params.get("search").map_or("", String::as_str);
    let (items, total) = shop.products(search, limit);
    Ok(Json(json!({"items": items, "total": total})))
}

/// `GET /api/products/{id}`.
pub(crate) async fn get(
    State(shop): State<Arc<Shop>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ShopError> {
    shop.product(&id).map(Json)
}

/// `DELETE /api/products/{id}` (the farm's owner): 204.
pub(crate) async fn delete(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ShopError> {
    shop.delete_product(&signed_in.user, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

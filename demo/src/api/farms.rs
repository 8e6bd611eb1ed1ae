//! Farms: farmers create and delete their own; everyone can read them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::errors::JsonBody;
use super::session::SignedIn;
use crate::state::{NewFarm, Shop, ShopError};

/// `POST /api/farms` (a farmer): 201 with the farm.
pub(crate) async fn create(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
    JsonBody(farm): JsonBody<NewFarm>,
) -> Result<(StatusCode, Json<Value>), ShopError> {
    let farm = shop.create_farm(&signed_in.user, &farm)?;
    Ok((StatusCode::CREATED, Json(farm)))
}

/// `GET /api/farms`: every farm.
pub(crate) async fn list(State(shop): State<Arc<Shop>>) -> Json<Value> {
    let items = shop.farms();
    Json(json!({"total": items.len(), "items": items}))
}

/// `GET /api/farms/{id}`: one farm with its products.
pub(crate) async fn get(
    State(shop): State<Arc<Shop>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ShopError> {
    shop.farm(&id).map(Json)
}

/// `DELETE /api/farms/{id}` (its owner): 204; its products go with it.
pub(crate) async fn delete(
    State(shop): State<Arc<Shop>>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ShopError> {
    shop.delete_farm(&signed_in.user, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

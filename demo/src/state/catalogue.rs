//! The catalogue: farms, which farmers create and delete, and their products.

use serde::Deserialize;
use serde_json::Value;

use super::{Farm, Kind, Product, Role, Shop, ShopError, User, money, required};

/// Most products one listing returns.
pub(crate) const MAX_LIMIT: usize = 100;
/// Products a listing returns when it does not say.
pub(crate) const DEFAULT_LIMIT: usize = 20;
/// Highest price, in cents.
const MAX_PRICE_CENTS: u64 = 100_000_000;
/// Most units in stock of one product.
const MAX_STOCK: u32 = 10_000_000;

/// A new farm, as posted.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewFarm {
    pub name: Option<String>,
    pub location: Option<String>,
}

/// A new product, as posted.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewProduct {
    pub name: Option<String>,
    pub price: Option<f64>,
    pub stock: Option<i64>,
}

impl Shop {
    /// Creates a farm owned by `caller`, who must be a farmer.
    pub(crate) fn create_farm(&self, caller: &User, f: &NewFarm) -> Result<Value, ShopError> {
        if caller.role != Role::Farmer {
            return Err(ShopError::Forbidden("only farmers can create farms".into()));
        }
        let name = required(f.name.as_deref(), "name", 100)?;
        let location = required(f.location.as_deref(), "location", 100)?;
        let mut data = self.data();
        let id = data.next_id();
        let farm = Farm {
            id,
            owner: caller.id,
            name,
            location,
        };
        let view = data.farm_json(&farm);
        data.farms.insert(id, farm);
        Ok(view)
    }

    /// Every farm, oldest first.
    pub(crate) fn farms(&self) -> Vec<Value> {
        let data = self.data();
        data.farms.values().map(|f| data.farm_json(f)).collect()
    }

    /// One farm with its products.
    pub(crate) fn farm(&self, id: &str) -> Result<Value, ShopError> {
        let n = Kind::Farm.parse(id)?;
        let data = self.data();
        let farm = data.farms.get(&n).ok_or_else(|| Kind::Farm.not_found(id))?;
        let mut view = data.farm_json(farm);
        view["products"] = data
            .products
            .values()
            .filter(|p| p.farm == n)
            .map(|p| data.product_json(p))
            .collect();
        Ok(view)
    }

    /// Deletes a farm the caller owns, with its products.
    pub(crate) fn delete_farm(&self, caller: &User, id: &str) -> Result<(), ShopError> {
        let mut data = self.data();
        let n = data.owned_farm(caller, id)?.id;
        let products: Vec<u64> = data
            .products
            .values()
            .filter(|p| p.farm == n)
            .map(|p| p.id)
            .collect();
        data.remove_products(&products);
        data.farms.remove(&n);
        Ok(())
    }

    /// Adds a product to a farm the caller owns.
    pub(crate) fn add_product(
        &self,
        caller: &User,
        farm: &str,
        p: &NewProduct,
    ) -> Result<Value, ShopError> {
        let name = required(p.name.as_deref(), "name", 100)?;
        let price = p
            .price
            .ok_or_else(|| ShopError::Invalid("price is required".into()))?;
        let price_cents = (price * 100.0).round();
        if !price_cents.is_finite() || price_cents < 1.0 || price_cents > MAX_PRICE_CENTS as f64 {
            return Err(ShopError::Invalid(format!(
                "price must be between 0.01 and {}",
                money(MAX_PRICE_CENTS)
            )));
        }
        let stock = p.stock.unwrap_or(0);
        let stock = u32::try_from(stock)
            .ok()
            .filter(|s| *s <= MAX_STOCK)
            .ok_or_else(|| ShopError::Invalid(format!("stock must be 0 to {MAX_STOCK}")))?;
        let mut data = self.data();
        let farm = data.owned_farm(caller, farm)?.id;
        let id = data.next_id();
        let product = Product {
            id,
            farm,
            name,
            price_cents: price_cents as u64,
            stock,
        };
        let view = data.product_json(&product);
        data.products.insert(id, product);
        Ok(view)
    }

    /// Products whose name contains `search` (any case), oldest first: at most `limit` of
    /// them, and how many matched in all.
    pub(crate) fn products(&self, search: &str, limit: usize) -> (Vec<Value>, usize) {
        let needle = search.trim().to_lowercase();
        let data = self.data();
        let matching: Vec<&Product> = data
            .products
            .values()
            .filter(|p| needle.is_empty() || p.name.to_lowercase().contains(&needle))
            .collect();
        let items = matching
            .iter()
            .take(limit)
            .map(|p| data.product_json(p))
            .collect();
        (items, matching.len())
    }

    /// One product.
    pub(crate) fn product(&self, id: &str) -> Result<Value, ShopError> {
        let n = Kind::Product.parse(id)?;
        let data = self.data();
        let product = data
            .products
            .get(&n)
            .ok_or_else(|| Kind::Product.not_found(id))?;
        Ok(data.product_json(product))
    }

    /// Deletes a product of a farm the caller owns.
    pub(crate) fn delete_product(&self, caller: &User, id: &str) -> Result<(), ShopError> {
        let n = Kind::Product.parse(id)?;
        let mut data = self.data();
        let farm = data
            .products
            .get(&n)
            .ok_or_else(|| Kind::Product.not_found(id))?
            .farm;
        data.owned_farm(caller, &Kind::Farm.id(farm))
            .map_err(|_| ShopError::Forbidden(format!("product `{id}` is another farmer's")))?;
        data.remove_products(&[n]);
        Ok(())
    }
}

//! Carts (one per session) and orders: checkout takes all of the cart or nothing.

use serde_json::{Value, json};

use super::{CartLine, Data, Kind, Order, OrderLine, Shop, ShopError, User, money};

/// Most units of one product in one cart line.
const MAX_QUANTITY: u32 = 1000;

/// One line of a cart or an order, as the API shows it.
fn line_json(product: u64, name: &str, unit_cents: u64, quantity: u32) -> Value {
    json!({
        "productId": Kind::Product.id(product),
        "name": name,
        "unitPrice": money(unit_cents),
        "quantity": quantity,
        "lineTotal": money(unit_cents * u64::from(quantity)),
    })
}

/// An order, as the API shows it.
fn order_json(order: &Order) -> Value {
    let items: Vec<Value> = order
        .lines
        .iter()
        .map(|l| line_json(l.product, &l.name, l.unit_cents, l.quantity))
        .collect();
    let total: u64 = order
        .lines
        .iter()
        .map(|l| l.unit_cents * u64::from(l.quantity))
        .sum();
    json!({
        "id": Kind::Order.id(order.id),
        "userId": Kind::User.id(order.user),
        "status": "placed",
        "items": items,
        "total": money(total),
        "createdAt": order.created_at,
    })
}

impl Shop {
    /// Puts `quantity` more of a product into the session's cart; returns the cart.
    pub(crate) fn add_to_cart(
        &self,
        token: &str,
        product: Option<&str>,
        quantity: Option<i64>,
    ) -> Result<Value, ShopError> {
        let product = product
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ShopError::Invalid("productId is required".into()))?;
        let quantity = quantity
            .and_then(|q| u32::try_from(q).ok())
            .filter(|q| (1..=MAX_QUANTITY).contains(q))
            .ok_or_else(|| ShopError::Invalid(format!("quantity must be 1 to {MAX_QUANTITY}")))?;
        let n = Kind::Product.parse(product)?;
        let mut data = self.data();
        if !data.products.contains_key(&n) {
            return Err(Kind::Product.not_found(product));
        }
        let cart = &mut data.session(token)?.cart;
        match cart.iter_mut().find(|l| l.product == n) {
            Some(line) => line.quantity = (line.quantity + quantity).min(MAX_QUANTITY),
            None => cart.push(CartLine {
                product: n,
                quantity,
            }),
        }
        Ok(Self::cart_json(&data, token))
    }

    /// The session's cart.
    pub(crate) fn cart(&self, token: &str) -> Result<Value, ShopError> {
        let mut data = self.data();
        data.session(token)?;
        Ok(Self::cart_json(&data, token))
    }

    /// A session's cart, as the API shows it.
    fn cart_json(data: &Data, token: &str) -> Value {
        let lines = data.sessions.get(token).map_or(&[][..], |s| &s.cart);
        let mut total = 0;
        let items: Vec<Value> = lines
            .iter()
            .filter_map(|l| {
                let p = data.products.get(&l.product)?;
                total += p.price_cents * u64::from(l.quantity);
                Some(line_json(p.id, &p.name, p.price_cents, l.quantity))
            })
            .collect();
        json!({"items": items, "total": money(total)})
    }

    /// Turns the session's cart into an order: all of it or nothing. Fails when the cart is
    /// empty, when a product is short of stock, or, now and then, deliberately.
    pub(crate) fn place_order(&self, token: &str) -> Result<Value, ShopError> {
        let mut data = self.data();
        let session = data.session(token)?;
        let (user, cart) = (session.user, session.cart.clone());
        if cart.is_empty() {
            return Err(ShopError::Invalid(
                "the cart is empty: add items with POST /api/cart/items".into(),
            ));
        }
        let mut lines = Vec::with_capacity(cart.len());
        for item in &cart {
            let p = data
                .products
                .get(&item.product)
                .ok_or_else(|| Kind::Product.not_found(&Kind::Product.id(item.product)))?;
            if p.stock < item.quantity {
                return Err(ShopError::Conflict(format!(
                    "`{}` ({}) has {} in stock, the cart holds {}",
                    p.name,
                    Kind::Product.id(p.id),
                    p.stock,
                    item.quantity
                )));
            }
            lines.push(OrderLine {
                product: p.id,
                name: p.name.clone(),
                unit_cents: p.price_cents,
                quantity: item.quantity,
            });
        }
        if self.faults.order_fails() {
            return Err(ShopError::Fault(
                "the payment service did not answer (a deliberate fault of the demo shop)".into(),
            ));
        }
        for line in &lines {
            if let Some(p) = data.products.get_mut(&line.product) {
                p.stock -= line.quantity;
            }
        }
        if let Ok(session) = data.session(token) {
            session.cart.clear();
        }
        let id = data.next_id();
        let order = Order {
            id,
            user,
            lines,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let view = order_json(&order);
        data.orders.insert(id, order);
        Ok(view)
    }

    /// One of the caller's orders (another user's is not found, not forbidden: its
    /// existence is nobody else's business).
    pub(crate) fn order(&self, caller: &User, id: &str) -> Result<Value, ShopError> {
        let n = Kind::Order.parse(id)?;
        let data = self.data();
        data.orders
            .get(&n)
            .filter(|o| o.user == caller.id)
            .map(order_json)
            .ok_or_else(|| Kind::Order.not_found(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{registration, shop};
    use crate::state::{NewFarm, NewProduct};

    #[test]
    fn deleting_a_farm_takes_its_products_out_of_carts() {
        let shop = shop();
        shop.register(&registration("f@example.com", "farmer"))
            .unwrap();
        shop.register(&registration("c@example.com", "customer"))
            .unwrap();
        let (ft, farmer) = shop.login("f@example.com", "long-enough").unwrap();
        let (ct, _) = shop.login("c@example.com", "long-enough").unwrap();
        let farm = shop
            .create_farm(
                &farmer,
                &NewFarm {
                    name: Some("F".into()),
                    location: Some("L".into()),
                },
            )
            .unwrap();
        let farm_id = farm["id"].as_str().unwrap();
        let product = shop
            .add_product(
                &farmer,
                farm_id,
                &NewProduct {
                    name: Some("P".into()),
                    price: Some(1.25),
                    stock: Some(3),
                },
            )
            .unwrap();
        let cart = shop
            .add_to_cart(&ct, product["id"].as_str(), Some(2))
            .unwrap();
        assert_eq!(cart["total"], json!(2.5));
        shop.delete_farm(&farmer, farm_id).unwrap();
        assert_eq!(shop.cart(&ct).unwrap()["items"], json!([]));
        assert!(shop.session_user(&ft).is_ok());
    }
}

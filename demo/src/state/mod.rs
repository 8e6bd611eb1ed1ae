//! The shop's data, all in memory behind one mutex: accounts, sessions (each with its own
//! cart), farms, products and orders. Every operation checks its input and the caller's
//! rights, and fails with a [`ShopError`] that the API turns into a status code. The lock is
//! never held across an `.await`. One file per concern: `accounts` (sign-up, sessions),
//! `catalogue` (farms, products), `orders` (carts, orders).
//!
//! Passwords are kept as keyed hashes and session tokens are unguessable, but this is a demo
//! that forgets everything when it stops, not a place for real accounts.

mod accounts;
mod catalogue;
mod orders;

use std::collections::{BTreeMap, HashMap};
use std::hash::RandomState;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::faults::Faults;

pub(crate) use accounts::Registration;
pub(crate) use catalogue::{DEFAULT_LIMIT, MAX_LIMIT, NewFarm, NewProduct};

/// How long a session lasts after sign-in.
const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// Why an operation was refused; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ShopError {
    /// The request is malformed or a value is out of range (400).
    Invalid(String),
    /// No valid session (401).
    Unauthenticated,
    /// Wrong email or password (401).
    BadCredentials,
    /// Signed in, but not allowed (403).
    Forbidden(String),
    /// No such thing (404).
    NotFound(String),
    /// The request clashes with the current state (409).
    Conflict(String),
    /// A deliberate fault (500).
    Fault(String),
}

/// What a user may do: farmers run farms, customers buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Farmer,
    Customer,
}

impl Role {
    fn parse(text: &str) -> Option<Role> {
        match text.trim().to_ascii_lowercase().as_str() {
            "farmer" => Some(Role::Farmer),
            "customer" => Some(Role::Customer),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Role::Farmer => "farmer",
            Role::Customer => "customer",
        }
    }
}

/// The kinds of records, each with the prefix of its public ids (`farm-3`).
#[derive(Debug, Clone, Copy)]
enum Kind {
    User,
    Farm,
    Product,
    Order,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::User => "user-",
            Kind::Farm => "farm-",
            Kind::Product => "product-",
            Kind::Order => "order-",
        }
    }

    fn id(self, n: u64) -> String {
        format!("{}{n}", self.prefix())
    }

    /// The number inside a public id, or a 404 naming what was not found.
    fn parse(self, text: &str) -> Result<u64, ShopError> {
        text.strip_prefix(self.prefix())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| self.not_found(text))
    }

    fn not_found(self, text: &str) -> ShopError {
        let what = match self {
            Kind::User => "user",
            Kind::Farm => "farm",
            Kind::Product => "product",
            Kind::Order => "order",
        };
        ShopError::NotFound(format!("no {what} `{text}`"))
    }
}

/// An account.
#[derive(Debug, Clone)]
pub(crate) struct User {
    id: u64,
    email: String,
    name: String,
    role: Role,
    password: u64,
}

impl User {
    /// The public view: never the password.
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": Kind::User.id(self.id),
            "email": self.email,
            "name": self.name,
            "role": self.role.as_str(),
        })
    }
}

/// A signed-in session, with its cart.
#[derive(Debug)]
struct Session {
    user: u64,
    cart: Vec<CartLine>,
    started: Instant,
}

/// Units of one product in a cart.
#[derive(Debug, Clone, Copy)]
struct CartLine {
    product: u64,
    quantity: u32,
}

/// A farm and its owner.
#[derive(Debug, Clone)]
struct Farm {
    id: u64,
    owner: u64,
    name: String,
    location: String,
}

/// A product of a farm; prices in cents, so totals add up exactly.
#[derive(Debug, Clone)]
struct Product {
    id: u64,
    farm: u64,
    name: String,
    price_cents: u64,
    stock: u32,
}

/// A placed order.
#[derive(Debug, Clone)]
struct Order {
    id: u64,
    user: u64,
    lines: Vec<OrderLine>,
    created_at: String,
}

/// One product of an order, with the price it was bought at.
#[derive(Debug, Clone)]
struct OrderLine {
    product: u64,
    name: String,
    unit_cents: u64,
    quantity: u32,
}

/// The shop: its data, the keys of its hashes and tokens, and its deliberate faults.
#[derive(Debug)]
pub(crate) struct Shop {
    data: Mutex<Data>,
    keys: RandomState,
    /// The deliberate faults.
    pub faults: Faults,
}

/// Every record, by number; ids of all kinds come from one counter.
#[derive(Debug, Default)]
struct Data {
    next_id: u64,
    users: BTreeMap<u64, User>,
    sessions: HashMap<String, Session>,
    farms: BTreeMap<u64, Farm>,
    products: BTreeMap<u64, Product>,
    orders: BTreeMap<u64, Order>,
}

impl Data {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn farm_json(&self, farm: &Farm) -> Value {
        let products = self.products.values().filter(|p| p.farm == farm.id).count();
        json!({
            "id": Kind::Farm.id(farm.id),
            "name": farm.name,
            "location": farm.location,
            "ownerId": Kind::User.id(farm.owner),
            "productCount": products,
        })
    }

    fn product_json(&self, product: &Product) -> Value {
        let farm_name = self.farms.get(&product.farm).map(|f| f.name.as_str());
        json!({
            "id": Kind::Product.id(product.id),
            "farmId": Kind::Farm.id(product.farm),
            "farmName": farm_name,
            "name": product.name,
            "price": money(product.price_cents),
            "stock": product.stock,
        })
    }

    fn session(&mut self, token: &str) -> Result<&mut Session, ShopError> {
        self.sessions
            .get_mut(token)
            .filter(|s| s.started.elapsed() < SESSION_TTL)
            .ok_or(ShopError::Unauthenticated)
    }

    /// Removes products, and their lines from every cart.
    fn remove_products(&mut self, ids: &[u64]) {
        self.products.retain(|id, _| !ids.contains(id));
        for session in self.sessions.values_mut() {
            session.cart.retain(|line| !ids.contains(&line.product));
        }
    }

    /// The farm, if `user` owns it.
    fn owned_farm(&self, user: &User, id: &str) -> Result<&Farm, ShopError> {
        let farm = Kind::Farm
            .parse(id)
            .ok()
            .and_then(|n| self.farms.get(&n))
            .ok_or_else(|| Kind::Farm.not_found(id))?;
        if farm.owner != user.id {
            return Err(ShopError::Forbidden(format!(
                "farm `{id}` belongs to another farmer"
            )));
        }
        Ok(farm)
    }
}

/// Cents as a price (`350` is `3.5`).
fn money(cents: u64) -> f64 {
    cents as f64 / 100.0
}

/// A required, trimmed text field of at most `max` characters.
fn required(value: Option<&str>, field: &str, max: usize) -> Result<String, ShopError> {
    let text = value.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(ShopError::Invalid(format!("{field} is required")));
    }
    if text.chars().count() > max {
        return Err(ShopError::Invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(text.to_owned())
}

impl Shop {
    /// An empty shop (see `seed` for the demo data).
    pub(crate) fn new(faults: Faults) -> Shop {
        Shop {
            data: Mutex::new(Data::default()),
            keys: RandomState::new(),
            faults,
        }
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        // A panic in another request cannot leave the data half-changed in a way that
        // matters for a demo; keep serving.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The simulated database check: how many records the store holds and how long
    /// reading them took.
    pub(crate) fn database_check(&self) -> (usize, Duration) {
        let started = Instant::now();
        let data = self.data();
        let records = data.users.len() + data.farms.len() + data.products.len() + data.orders.len();
        (records, started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DemoOptions;

    /// A shop without faults, without seed data.
    pub(super) fn shop() -> Shop {
        Shop::new(Faults::new(&DemoOptions::without_faults()))
    }

    /// A valid sign-up.
    pub(super) fn registration(email: &str, role: &str) -> Registration {
        Registration {
            email: Some(email.into()),
            password: Some("long-enough".into()),
            name: Some("Test".into()),
            role: Some(role.into()),
        }
    }

    #[test]
    fn ids_must_have_their_kind_prefix() {
        assert_eq!(Kind::Farm.parse("farm-12"), Ok(12));
        assert!(matches!(
            Kind::Farm.parse("product-12"),
            Err(ShopError::NotFound(_))
        ));
        assert!(Kind::Farm.parse("farm-x").is_err());
    }

    #[test]
    fn prices_are_kept_in_cents() {
        assert_eq!(money(350), 3.5);
        assert_eq!(money(1), 0.01);
    }
}

//! The data the shop starts with, so that read journeys work from the first second: four
//! accounts (a farmer and a customer for each of the example configuration's two
//! environments), one farm and a few products with ample stock.

use crate::state::{NewFarm, NewProduct, Registration, Shop};

/// A seeded account. The passwords are public: the shop is a demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoAccount {
    /// Sign-in email.
    pub email: &'static str,
    /// Sign-in password.
    pub password: &'static str,
    /// Display name.
    pub name: &'static str,
    /// `farmer` (owns the seeded farm, may create farms) or `customer`.
    pub role: &'static str,
}

/// The farmer who owns the seeded farm (the `local` environment's farmer).
pub const DEMO_FARMER: DemoAccount = DemoAccount {
    email: "farmer@example.com",
    password: "demo-farmer",
    name: "Fern Fields",
    role: "farmer",
};

/// A customer (the `local` environment's buyer).
pub const DEMO_CUSTOMER: DemoAccount = DemoAccount {
    email: "customer@example.com",
    password: "demo-customer",
    name: "Casey Cook",
    role: "customer",
};

/// A second farmer, the `staging` environment's.
pub const STAGING_FARMER: DemoAccount = DemoAccount {
    email: "staging-farmer@example.com",
    password: "staging-farmer",
    name: "Sam Sower",
    role: "farmer",
};

/// A second customer, the `staging` environment's.
pub const STAGING_CUSTOMER: DemoAccount = DemoAccount {
    email: "staging-customer@example.com",
    password: "staging-customer",
    name: "Robin Reed",
    role: "customer",
};

/// Every seeded account.
pub const DEMO_ACCOUNTS: [DemoAccount; 4] =
    [DEMO_FARMER, DEMO_CUSTOMER, STAGING_FARMER, STAGING_CUSTOMER];

/// The seeded farm's name.
pub const DEMO_FARM: &str = "Green Valley Farm";

/// The seeded products: name, price, stock. The stock lasts weeks of monitored orders.
pub const DEMO_PRODUCTS: [(&str, f64, i64); 4] = [
    ("Wildflower honey (500 g)", 8.5, 1_000_000),
    ("Free-range eggs (12)", 4.2, 1_000_000),
    ("Heirloom tomatoes (1 kg)", 5.75, 1_000_000),
    ("Sourdough loaf", 6.0, 1_000_000),
];

/// Fills an empty shop with the demo data.
pub(crate) fn seed(shop: &Shop) {
    let mut farmer = None;
    for account in DEMO_ACCOUNTS {
        let user = shop
            .register(&Registration {
                email: Some(account.email.into()),
                password: Some(account.password.into()),
                name: Some(account.name.into()),
                role: Some(account.role.into()),
            })
            .expect("the seeded accounts are valid and distinct");
        if account == DEMO_FARMER {
            farmer = Some(user);
        }
    }
    let farmer = farmer.expect("the demo farmer is seeded");
    let farm = shop
        .create_farm(
            &farmer,
            &NewFarm {
                name: Some(DEMO_FARM.into()),
                location: Some("Springfield".into()),
            },
        )
        .expect("the seeded farm is valid");
    let farm_id = farm["id"].as_str().expect("a farm has an id");
    for (name, price, stock) in DEMO_PRODUCTS {
        shop.add_product(
            &farmer,
            farm_id,
            &NewProduct {
                name: Some(name.into()),
                price: Some(price),
                stock: Some(stock),
            },
        )
        .expect("the seeded products are valid");
    }
}

//! The demo web shop that `wfmon demo` monitors, and the example configuration that monitors
//! it.
//!
//! The shop is a small farm shop with a JSON API: accounts and sessions, farms, products, a
//! cart and orders, and a health endpoint; `GET /` lists every endpoint and the demo accounts.
//! It keeps everything in memory, starts with seed data (the [`DEMO_ACCOUNTS`], one farm and
//! a few products) so that read journeys work from the first second, and misbehaves now and
//! then on purpose (see [`DemoOptions`]) so that a monitor has something to find.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let shop = wfmon_demo::start(wfmon_demo::DEFAULT_ADDR, wfmon_demo::DemoOptions::default()).await?;
//! let config = wfmon_demo::example_config(&shop.base_url());
//! // ... load `config` and run its workflows against the shop ...
//! shop.shutdown().await
//! # }
//! ```

mod api;
mod example;
mod faults;
mod options;
mod seed;
mod server;
mod state;

pub use api::inbox::INBOX_SECRET;
pub use example::{EXAMPLE_BASE_URL, EXAMPLE_CONFIG, example_config};
pub use options::DemoOptions;
pub use seed::{
    DEMO_ACCOUNTS, DEMO_CUSTOMER, DEMO_FARM, DEMO_FARMER, DEMO_PRODUCTS, DemoAccount,
    STAGING_CUSTOMER, STAGING_FARMER,
};
pub use server::{DEFAULT_ADDR, RunningShop, start};

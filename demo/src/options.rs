//! How the shop misbehaves: which deliberate faults happen, how often, and the seed that
//! makes their sequence repeatable.

use std::time::Duration;

/// Options of the demo shop. The default has the faults on at small rates; tests that need
/// every answer to be right use [`DemoOptions::without_faults`].
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOptions {
    /// Whether any deliberate fault happens.
    pub faults: bool,
    /// Seed of the generator that decides the faults: the same seed and the same requests
    /// in the same order give the same faults.
    pub seed: u64,
    /// Share of product listings (`GET /api/products`) that answer slowly (0 to 1).
    pub slow_listing_rate: f64,
    /// How much slower a slow listing answers.
    pub slow_listing_delay: Duration,
    /// Share of orders (`POST /api/orders`) that fail with a 500 and change nothing (0 to 1).
    pub order_failure_rate: f64,
    /// Share of health checks (`GET /api/health`) that report the database degraded with a
    /// 503 (0 to 1).
    pub health_failure_rate: f64,
}

impl Default for DemoOptions {
    /// Faults on: 5% of listings 800 ms slower, 3% of orders failing, 1% of health checks
    /// degraded.
    fn default() -> Self {
        DemoOptions {
            faults: true,
            seed: 0x5eed,
            slow_listing_rate: 0.05,
            slow_listing_delay: Duration::from_millis(800),
            order_failure_rate: 0.03,
            health_failure_rate: 0.01,
        }
    }
}

impl DemoOptions {
    /// The defaults with every fault off: every answer is the right one, at once.
    pub fn without_faults() -> Self {
        DemoOptions {
            faults: false,
            ..DemoOptions::default()
        }
    }
}

//! Deliberate faults: the shop misbehaves now and then (a slow product listing, a failed
//! order, a degraded health check) so that a monitor watching it has something to find.
//! Each decision is drawn from a small seeded generator, so a test that fixes the seed and
//! the order of its requests sees the same faults every time.

use std::sync::Mutex;
use std::time::Duration;

use crate::DemoOptions;

/// Decides, request by request, whether a deliberate fault happens.
#[derive(Debug)]
pub(crate) struct Faults {
    enabled: bool,
    slow_listing_rate: f64,
    /// How much slower a slow product listing answers.
    pub slow_listing_delay: Duration,
    order_failure_rate: f64,
    health_failure_rate: f64,
    rng: Mutex<SplitMix64>,
}

impl Faults {
    /// The faults `options` ask for.
    pub(crate) fn new(options: &DemoOptions) -> Faults {
        Faults {
            enabled: options.faults,
            slow_listing_rate: options.slow_listing_rate,
            slow_listing_delay: options.slow_listing_delay,
            order_failure_rate: options.order_failure_rate,
            health_failure_rate: options.health_failure_rate,
            rng: Mutex::new(SplitMix64(options.seed)),
        }
    }

    /// Whether this product listing is slow.
    pub(crate) fn slow_listing(&self) -> bool {
        self.roll(self.slow_listing_rate)
    }

    /// Whether this order fails.
    pub(crate) fn order_fails(&self) -> bool {
        self.roll(self.order_failure_rate)
    }

    /// Whether this health check reports the database degraded.
    pub(crate) fn health_degraded(&self) -> bool {
        self.roll(self.health_failure_rate)
    }

    /// True with probability `rate` (clamped to 0..=1). Nothing is drawn when faults are
    /// off or the rate is 0, so turning one fault off does not shift the others' sequence.
    fn roll(&self, rate: f64) -> bool {
        if !self.enabled || rate.is_nan() || rate <= 0.0 {
            return false;
        }
        let draw = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .next_unit();
        draw < rate.min(1.0)
    }
}

/// The SplitMix64 generator: tiny, fast, and good enough to decide faults (not for secrets).
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`, from the top 53 bits.
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(options: DemoOptions) -> Faults {
        Faults::new(&options)
    }

    #[test]
    fn no_fault_happens_when_faults_are_off() {
        let f = faults(DemoOptions {
            slow_listing_rate: 1.0,
            order_failure_rate: 1.0,
            health_failure_rate: 1.0,
            ..DemoOptions::without_faults()
        });
        assert!((0..1000).all(|_| !f.slow_listing() && !f.order_fails() && !f.health_degraded()));
    }

    #[test]
    fn rates_of_one_and_zero_are_always_and_never() {
        let f = faults(DemoOptions {
            order_failure_rate: 1.0,
            slow_listing_rate: 0.0,
            health_failure_rate: f64::NAN,
            ..DemoOptions::default()
        });
        assert!((0..1000).all(|_| f.order_fails()));
        assert!((0..1000).all(|_| !f.slow_listing() && !f.health_degraded()));
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let options = DemoOptions {
            seed: 7,
            order_failure_rate: 0.3,
            ..DemoOptions::default()
        };
        let (a, b) = (faults(options.clone()), faults(options));
        let run = |f: &Faults| (0..200).map(|_| f.order_fails()).collect::<Vec<_>>();
        let first = run(&a);
        assert_eq!(first, run(&b));
        // About 30% of 200, far from all or none.
        let count = first.iter().filter(|x| **x).count();
        assert!((30..=90).contains(&count), "{count} failures");
    }

    #[test]
    fn draws_are_spread_over_the_unit_interval() {
        let mut rng = SplitMix64(0);
        let draws: Vec<f64> = (0..10_000).map(|_| rng.next_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let low = draws.iter().filter(|d| **d < 0.5).count();
        assert!((4_700..=5_300).contains(&low), "{low} below 0.5");
    }
}

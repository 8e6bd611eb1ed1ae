//! Service level objectives: the arithmetic of attained level, error budget and burn rate,
//! and the multi-window burn-rate test that decides whether a budget is burning.
//!
//! An objective says which share of runs must be good over a rolling window: for `success`,
//! a good run is one that passed (PASSED or WARNING); for `latency`, one that took at most
//! the threshold. With target `T`, the error budget is the `1 - T` share of runs allowed to
//! be bad. Over any window with `runs` runs of which `bad` are bad:
//!
//! - attained level: `(runs - bad) / runs`;
//! - budget left: `1 - bad / ((1 - T) * runs)` as a fraction (below 0 when overspent), and
//!   `(1 - T) * runs - bad` in runs;
//! - burn rate: `(bad / runs) / (1 - T)`: 1 spends the budget exactly over the window,
//!   14.4 spends a 30-day budget in about two days.
//!
//! Every figure is None without runs, never NaN.
//!
//! `config` reads the `slos:` section and the `burn_rate` condition of alert rules;
//! `status` computes the figures of each objective now through the store.

mod config;
mod status;

use std::time::Duration;

use serde::Serialize;

pub use config::{MAX_SLO_WINDOW_DAYS, Slo};
pub(crate) use config::{
    RawBurnRate, RawSlo, burn_rate as validate_burn_rate, check_burn_rule,
    validate as validate_slos,
};
pub use status::{
    BurnReading, ObjectiveView, SloEnvironmentStatus, SloStatus, maintenance_ranges, read_burn,
    slo_status, slo_statuses,
};

/// What an objective counts as a good run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// `success: 99.5%`: the run passed.
    Success {
        /// Share of good runs required, in (0, 1).
        target: f64,
    },
    /// `latency: {under: 2s, target: 99%}`: the run took at most `threshold_ms`.
    Latency {
        /// Longest good duration, in milliseconds.
        threshold_ms: i64,
        /// Share of good runs required, in (0, 1).
        target: f64,
    },
}

impl Objective {
    /// The share of good runs required.
    pub fn target(&self) -> f64 {
        match self {
            Objective::Success { target } | Objective::Latency { target, .. } => *target,
        }
    }
}

/// Runs of a window and how many of them were good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SloCounts {
    /// Runs counted (runs in maintenance windows are left out by the caller).
    pub runs: i64,
    /// Of which good.
    pub good: i64,
}

impl SloCounts {
    /// Bad runs.
    pub fn bad(&self) -> i64 {
        self.runs - self.good
    }
}

/// The figures of an objective over a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SloFigures {
    /// Runs counted.
    pub runs: i64,
    /// Good runs.
    pub good: i64,
    /// Bad runs.
    pub bad: i64,
    /// Share of good runs required.
    pub target: f64,
    /// Share of good runs attained; None without runs.
    pub attained: Option<f64>,
    /// Error budget of the window, in runs: `(1 - target) * runs`; None without runs.
    pub budget_total_runs: Option<f64>,
    /// Share of the budget spent: `bad / budget` (above 1 when overspent); None without
    /// runs or budget.
    pub budget_used_fraction: Option<f64>,
    /// Error budget left, as a fraction of the budget (below 0 when overspent).
    pub budget_left_fraction: Option<f64>,
    /// Error budget left, in runs (below 0 when overspent).
    pub budget_left_runs: Option<f64>,
    /// Burn rate over the window.
    pub burn_rate: Option<f64>,
}

/// The share of runs allowed to be bad, `1 - target`, rounded to 12 decimals: a target read
/// as 0.997 is not exactly 0.997 in binary, and `1 - 0.997` would be 0.0030000000000000027,
/// which every figure derived from it (budget, burn rate) would carry into the API.
fn error_budget(target: f64) -> f64 {
    ((1.0 - target) * 1e12).round() / 1e12
}

/// The figures of `counts` against `target`.
pub fn figures(target: f64, counts: SloCounts) -> SloFigures {
    let allowed = error_budget(target) * counts.runs as f64;
    let has_runs = counts.runs > 0;
    SloFigures {
        runs: counts.runs,
        good: counts.good,
        bad: counts.bad(),
        target,
        attained: has_runs.then(|| counts.good as f64 / counts.runs as f64),
        budget_total_runs: has_runs.then_some(allowed),
        budget_used_fraction: (has_runs && allowed > 0.0).then(|| counts.bad() as f64 / allowed),
        budget_left_fraction: (has_runs && allowed > 0.0)
            .then(|| 1.0 - counts.bad() as f64 / allowed),
        budget_left_runs: has_runs.then(|| allowed - counts.bad() as f64),
        burn_rate: burn_rate(target, counts),
    }
}

/// `(bad / runs) / (1 - target)`; None without runs or with a target of 100%.
pub fn burn_rate(target: f64, counts: SloCounts) -> Option<f64> {
    let budget = error_budget(target);
    (counts.runs > 0 && budget > 0.0).then(|| (counts.bad() as f64 / counts.runs as f64) / budget)
}

/// A multi-window burn-rate condition: the budget burns faster than `factor` over both the
/// long window (it has been burning for a while) and the short one (it still is).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnCondition {
    /// The long window.
    pub long: Duration,
    /// The short window.
    pub short: Duration,
    /// Burn rate both must exceed.
    pub factor: f64,
    /// Runs the long window must hold before it can burn: with a handful of synthetic runs,
    /// one failure is a huge rate, and a fresh start would page at once.
    pub min_runs: i64,
}

/// Runs a long window needs before a burn-rate rule may fire, unless the rule says otherwise.
pub const DEFAULT_MIN_RUNS: i64 = 10;

/// Fast burn: 2% of a 30-day budget in an hour (14.4x over 1 h and 5 min): page.
pub const FAST_BURN: BurnCondition = BurnCondition {
    long: Duration::from_secs(3600),
    short: Duration::from_secs(300),
    factor: 14.4,
    min_runs: DEFAULT_MIN_RUNS,
};

/// Slow burn: 5% of a 30-day budget in six hours (6x over 6 h and 30 min).
pub const SLOW_BURN: BurnCondition = BurnCondition {
    long: Duration::from_secs(6 * 3600),
    short: Duration::from_secs(1800),
    factor: 6.0,
    min_runs: DEFAULT_MIN_RUNS,
};

impl BurnCondition {
    /// Whether the budget is burning: both windows above the factor, the long one holding at
    /// least `min_runs` runs. A window without runs never burns.
    pub fn burning(&self, target: f64, long: SloCounts, short: SloCounts) -> bool {
        let above = |counts| burn_rate(target, counts).is_some_and(|rate| rate > self.factor);
        long.runs >= self.min_runs && above(long) && above(short)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(runs: i64, good: i64) -> SloCounts {
        SloCounts { runs, good }
    }

    fn close(got: Option<f64>, want: f64) {
        let got = got.expect("a figure");
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    #[test]
    fn figures_match_hand_computed_cases() {
        // 99.5% of 10,000 runs: 50 may fail; 20 did.
        let f = figures(0.995, counts(10_000, 9_980));
        close(f.attained, 0.998);
        close(f.budget_left_fraction, 0.6); // 1 - 20/50
        close(f.budget_left_runs, 30.0); // 50 - 20
        close(f.burn_rate, 0.4); // (20/10000) / 0.005
        close(f.budget_total_runs, 50.0);
        close(f.budget_used_fraction, 0.4); // 20/50
        // 99% of 200 runs: 2 may fail; 5 did: overspent by 3 runs, 150% of the budget.
        let f = figures(0.99, counts(200, 195));
        close(f.budget_left_fraction, -1.5);
        close(f.budget_left_runs, -3.0);
        close(f.burn_rate, 2.5);
        // No binary noise of the target in what the API shows: exactly 0.003, not
        // 0.0029999999999996696; and the burn rate exactly 10, not 10.000000000000009.
        assert_eq!(figures(0.999, counts(3, 2)).budget_total_runs, Some(0.003));
        assert_eq!(
            figures(0.997, counts(1000, 997)).budget_left_runs,
            Some(0.0)
        );
        assert_eq!(burn_rate(0.99, counts(10, 9)), Some(10.0));
    }

    #[test]
    fn no_runs_give_no_figures_and_no_nan() {
        let f = figures(0.995, counts(0, 0));
        assert_eq!(
            (
                f.attained,
                f.budget_left_fraction,
                f.budget_left_runs,
                f.burn_rate
            ),
            (None, None, None, None)
        );
        assert!(!serde_json::to_string(&f).unwrap().contains("NaN"));
        // A 100% target has no budget: nothing to divide by.
        let f = figures(1.0, counts(10, 10));
        assert_eq!((f.budget_left_fraction, f.burn_rate), (None, None));
    }

    #[test]
    fn fast_burn_needs_both_windows_above_the_factor() {
        let target = 0.999; // budget 0.1%: 14.4x is 1.44% of runs failing
        // 1 h: 60 runs, 1 bad = 1.67% -> 16.7x; 5 min: 5 runs, 1 bad = 20% -> 200x.
        assert!(FAST_BURN.burning(target, counts(60, 59), counts(5, 4)));
        // The blip is over: the last 5 minutes are clean.
        assert!(!FAST_BURN.burning(target, counts(60, 59), counts(5, 5)));
        // A single recent failure in a long quiet hour: 1 in 100 = 10x over the hour.
        assert!(!FAST_BURN.burning(target, counts(100, 99), counts(5, 4)));
        // No runs in the short window: not burning.
        assert!(!FAST_BURN.burning(target, counts(60, 50), counts(0, 0)));
        // A fresh start: 1 bad run of 2 is 500x, but too few runs to tell.
        assert!(!FAST_BURN.burning(target, counts(2, 1), counts(2, 1)));
        assert!(FAST_BURN.burning(target, counts(10, 9), counts(2, 1)));
        let eager = BurnCondition {
            min_runs: 1,
            ..FAST_BURN
        };
        assert!(eager.burning(target, counts(2, 1), counts(2, 1)));
    }

    #[test]
    fn slow_burn_fires_on_a_steady_leak() {
        let target = 0.99; // budget 1%: 6x is 6% failing
        // 6 h: 360 runs, 25 bad = 6.9% -> 6.94x; 30 min: 30 runs, 2 bad = 6.7% -> 6.67x.
        assert!(SLOW_BURN.burning(target, counts(360, 335), counts(30, 28)));
        // 5% failing is within 6x.
        assert!(!SLOW_BURN.burning(target, counts(360, 342), counts(30, 28)));
        assert_eq!(SLOW_BURN.long, Duration::from_secs(21_600));
    }
}

//! The figures of each objective now, per environment, read through the store: over the
//! objective's window, and burn rates over the last hour and six hours; and the counts a
//! burn-rate rule compares. Runs that started inside a configured maintenance window are
//! left out of every count (good and total alike).

use chrono::TimeDelta;
use serde::Serialize;
use wfmon_model::Timestamp;
use wfmon_store::{GoodRun, MAX_EXCLUDED_RANGES, SloQuery, Store, StoreError};

use super::{BurnCondition, Objective, SloCounts, SloFigures, burn_rate, config::Slo, figures};
use crate::alerting::MaintenanceWindow;
use crate::config::Config;

/// An objective as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveView {
    /// `success` (a good run passed) or `latency` (a good run took at most `under_ms`).
    pub kind: &'static str,
    /// Share of good runs required, in (0, 1).
    pub target: f64,
    /// Longest good duration in milliseconds (latency objectives); None for success.
    pub under_ms: Option<i64>,
}

impl From<Objective> for ObjectiveView {
    fn from(o: Objective) -> ObjectiveView {
        match o {
            Objective::Success { target } => ObjectiveView {
                kind: "success",
                target,
                under_ms: None,
            },
            Objective::Latency {
                threshold_ms,
                target,
            } => ObjectiveView {
                kind: "latency",
                target,
                under_ms: Some(threshold_ms),
            },
        }
    }
}

/// The figures of one objective in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SloEnvironmentStatus {
    /// Environment.
    pub environment: String,
    /// Start of the window.
    pub since: Timestamp,
    /// End of the window (exclusive): when the figures were computed.
    pub until: Timestamp,
    /// Over the whole window.
    #[serde(flatten)]
    pub figures: SloFigures,
    /// Burn rate over the last hour; None without runs.
    pub burn_rate_1h: Option<f64>,
    /// Burn rate over the last six hours; None without runs.
    pub burn_rate_6h: Option<f64>,
}

/// One objective with its figures in each of its environments.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SloStatus {
    /// Name.
    pub name: String,
    /// What it promises.
    pub description: Option<String>,
    /// Workflow.
    pub workflow_name: String,
    /// The configured environment; None: every environment of the workflow.
    pub environment: Option<String>,
    /// What a good run is and the share required.
    pub objective: ObjectiveView,
    /// Length of the rolling window, in seconds.
    pub window_seconds: u64,
    /// One entry per environment.
    pub environments: Vec<SloEnvironmentStatus>,
}

impl Slo {
    fn good_run(&self) -> GoodRun {
        match self.objective {
            Objective::Success { .. } => GoodRun::Passed,
            Objective::Latency { threshold_ms, .. } => GoodRun::AtMostMs(threshold_ms),
        }
    }
}

/// The time ranges `[start, start + duration)` of the maintenance windows covering the
/// workflow in the environment that overlap `[since, until)`, merged and in order.
pub fn maintenance_ranges(
    windows: &[MaintenanceWindow],
    workflow: &str,
    environment: &str,
    since: Timestamp,
    until: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let mut ranges: Vec<(Timestamp, Timestamp)> = Vec::new();
    for w in windows
        .iter()
        .filter(|w| w.applies_to(workflow, environment))
    {
        let Ok(length) = TimeDelta::from_std(w.duration) else {
            continue;
        };
        // A window that started up to one length before `since` still covers its start.
        let mut after = since.as_datetime() - length;
        let mut found = 0;
        while let Some(start) = w.schedule.next_after(after) {
            if start >= until.as_datetime() {
                break;
            }
            let range = (Timestamp::from(start), Timestamp::from(start + length));
            ranges.push(range);
            after = start;
            found += 1;
            // Beyond this many, the store refuses the read anyway; stop walking the schedule.
            if found > MAX_EXCLUDED_RANGES {
                break;
            }
        }
    }
    ranges.sort();
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// Counts of `slo` in `environment` over each window ending at `now`, maintenance left out.
async fn counts(
    store: &Store,
    config: &Config,
    slo: &Slo,
    environment: &str,
    now: Timestamp,
    lengths: &[TimeDelta],
) -> Result<Vec<SloCounts>, StoreError> {
    let since: Vec<Timestamp> = lengths.iter().map(|l| now.minus(*l)).collect();
    let earliest = since.iter().min().copied().unwrap_or(now);
    let excluded = maintenance_ranges(
        &config.alerts.maintenance,
        &slo.workflow,
        environment,
        earliest,
        now,
    );
    let got = store
        .good_runs(&SloQuery {
            workflow: slo.workflow.clone(),
            environment: environment.to_owned(),
            good: slo.good_run(),
            until: now,
            since,
            excluded,
        })
        .await?;
    Ok(got
        .into_iter()
        .map(|g| SloCounts {
            runs: g.runs,
            good: g.good,
        })
        .collect())
}

fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// The figures of `slo` in each of its environments at `now`.
pub async fn slo_status(
    store: &Store,
    config: &Config,
    slo: &Slo,
    now: Timestamp,
) -> Result<SloStatus, StoreError> {
    let target = slo.objective.target();
    let window = delta(slo.window);
    let mut environments = Vec::new();
    for env in slo.environments(&config.workflows) {
        let lengths = [window, TimeDelta::hours(1), TimeDelta::hours(6)];
        let got = counts(store, config, slo, &env, now, &lengths).await?;
        environments.push(SloEnvironmentStatus {
            environment: env,
            since: now.minus(window),
            until: now,
            figures: figures(target, got[0]),
            burn_rate_1h: burn_rate(target, got[1]),
            burn_rate_6h: burn_rate(target, got[2]),
        });
    }
    Ok(SloStatus {
        name: slo.name.clone(),
        description: slo.description.clone(),
        workflow_name: slo.workflow.clone(),
        environment: slo.environment.clone(),
        objective: slo.objective.into(),
        window_seconds: slo.window.as_secs(),
        environments,
    })
}

/// The figures of every objective of the configuration (in file order), or only of those
/// of one workflow.
pub async fn slo_statuses(
    store: &Store,
    config: &Config,
    workflow: Option<&str>,
    now: Timestamp,
) -> Result<Vec<SloStatus>, StoreError> {
    let mut out = Vec::new();
    for slo in config
        .slos
        .iter()
        .filter(|s| workflow.is_none_or(|w| s.workflow == w))
    {
        out.push(slo_status(store, config, slo, now).await?);
    }
    Ok(out)
}

/// What a burn-rate condition sees now: the long and short windows' counts and whether the
/// budget is burning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnReading {
    /// Counts over the long window.
    pub long: SloCounts,
    /// Counts over the short window.
    pub short: SloCounts,
    /// Both windows burn faster than the factor.
    pub burning: bool,
}

/// Reads `condition` for `slo` in `environment` at `now`.
pub async fn read_burn(
    store: &Store,
    config: &Config,
    slo: &Slo,
    condition: &BurnCondition,
    environment: &str,
    now: Timestamp,
) -> Result<BurnReading, StoreError> {
    let lengths = [delta(condition.long), delta(condition.short)];
    let got = counts(store, config, slo, environment, now, &lengths).await?;
    let target = slo.objective.target();
    Ok(BurnReading {
        long: got[0],
        short: got[1],
        burning: condition.burning(target, got[0], got[1]),
    })
}

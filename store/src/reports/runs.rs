//! The run figures of a report scope, counted in wfmon from one read of the scope's runs:
//! totals, per workflow, per environment, per series bucket (each with exact percentiles),
//! and the flaky runs.
//!
//! The database could count each group itself (it did: one query per grouping, each ranking
//! the window's durations again), but five passes over the window's rows cost more than
//! reading them once. The runs are read a part of the window at a time (whole hours, at most
//! 48 parts: a day's report reads hour by hour), each part as one JSON array (see
//! `records::json_rows_aggregate`), so that memory holds the figures being counted (a
//! duration per run and group) and one part's rows, not the whole window's.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use sqlx::AssertSqlSafe;
use wfmon_model::{ExecutionStatus, RollupBucket, Timestamp};

use super::{GroupFigures, ReportScope, metadata_flag, scope_condition};
use crate::overview::{RunStats, SeriesPoint};
use crate::records::{json_rows_aggregate, parse_json_rows};
use crate::rollups::{bucket_floor, bucket_millis};
use crate::{Store, StoreError};

/// The run figures of a scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeRuns {
    /// All runs as one group (named "").
    pub total: GroupFigures,
    /// Per workflow, by name; workflows without runs left out.
    pub workflows: Vec<GroupFigures>,
    /// Per environment, by name.
    pub environments: Vec<GroupFigures>,
    /// Runs, passed and p95 per bucket, oldest first; buckets without runs left out.
    pub series: Vec<SeriesPoint>,
    /// Run ids of the flaky runs, oldest first, at most the limit asked for.
    pub flaky_run_ids: Vec<String>,
}

/// One run as read: the columns in this order (the names borrowed from the text read).
#[derive(Deserialize)]
struct Run<'a> {
    #[serde(borrow)]
    run_id: Cow<'a, str>,
    #[serde(borrow)]
    workflow_name: Cow<'a, str>,
    #[serde(borrow)]
    environment: Cow<'a, str>,
    status: ExecutionStatus,
    duration_ms: Option<i64>,
    started_at: Timestamp,
    flaky: i64,
}

/// One group being counted.
#[derive(Default)]
struct Tally {
    runs: i64,
    passed: i64,
    warnings: i64,
    flaky: i64,
    duration_sum_ms: i64,
    durations: Vec<i64>,
}

impl Tally {
    fn add(&mut self, run: &Run<'_>) {
        self.runs += 1;
        if run.status.is_success() {
            self.passed += 1;
        }
        if run.status == ExecutionStatus::Warning {
            self.warnings += 1;
        }
        self.flaky += run.flaky;
        if let Some(ms) = run.duration_ms {
            self.duration_sum_ms += ms;
            self.durations.push(ms);
        }
    }

    fn figures(mut self, name: String) -> GroupFigures {
        self.durations.sort_unstable();
        let d = &self.durations;
        GroupFigures {
            name,
            runs: self.runs,
            passed: self.passed,
            warnings: self.warnings,
            failed: self.runs - self.passed,
            flaky: self.flaky,
            duration_sum_ms: self.duration_sum_ms,
            durations: d.len() as i64,
            min_duration_ms: d.first().copied(),
            max_duration_ms: d.last().copied(),
            p50_duration_ms: percentile(d, 50),
            p95_duration_ms: percentile(d, 95),
            p99_duration_ms: percentile(d, 99),
        }
    }
}

/// The `p`th percentile of sorted values, interpolated between the two nearest ranks like
/// `percentile_cont`, in the same integer steps as `stats::grouped_stats_tail`: rank
/// `p * (n - 1) / 100` plus the fraction `(p * (n - 1) % 100) / 100` of the way to the next.
fn percentile(sorted: &[i64], p: usize) -> Option<f64> {
    let steps = p * sorted.len().checked_sub(1)?;
    let low = sorted[steps / 100] as f64;
    Some(match sorted.get(steps / 100 + 1) {
        Some(&high) => low + (steps % 100) as f64 / 100.0 * (high as f64 - low),
        None => low,
    })
}

/// Most queries a window is read in: each reads a whole number of hours, at least one.
const MOST_READS: i64 = 48;

impl Store {
    /// The run figures of `scope`, with the series in `bucket`s (minute or hour) and at most
    /// `flaky_limit` flaky run ids. A run is an execution that ended, was not skipped, and
    /// is not a failed attempt that a retry followed.
    pub async fn report_runs(
        &self,
        scope: &ReportScope,
        bucket: RollupBucket,
        flaky_limit: u32,
    ) -> Result<ScopeRuns, StoreError> {
        let backend = self.backend();
        let values = format!(
            "e.run_id, e.workflow_name, e.environment, e.status, e.duration_ms, e.started_at, {}",
            metadata_flag(backend, "flaky")
        );
        let sql = format!(
            "SELECT {} FROM workflow_executions e WHERE {}",
            json_rows_aggregate(backend, &values, ""),
            scope_condition(backend)
        );
        let mut total = Tally::default();
        let mut workflows: BTreeMap<String, Tally> = BTreeMap::new();
        let mut environments: BTreeMap<String, Tally> = BTreeMap::new();
        let mut series: BTreeMap<Timestamp, Tally> = BTreeMap::new();
        let mut flaky: Vec<(Timestamp, String)> = Vec::new();
        let hour = bucket_millis(RollupBucket::Hour);
        let hours = (scope.to.unix_millis() - scope.from.unix_millis()).div_euclid(hour) + 1;
        let step = hour * (hours + MOST_READS - 1).div_euclid(MOST_READS).max(1);
        let mut from = scope.from;
        while from < scope.to {
            let to = bucket_floor(RollupBucket::Hour, from)
                .plus(chrono::TimeDelta::milliseconds(step))
                .min(scope.to);
            let text = dispatch!(self, pool, Db => {
                sqlx::query_scalar::<Db, Option<String>>(AssertSqlSafe(sql.as_str()))
                    .bind(from)
                    .bind(to)
                    .bind(scope.workflow_param())
                    .bind(scope.environment.clone())
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::query("reading the runs of the report window"))
            })?;
            // PostgreSQL's aggregate of no rows is NULL.
            let text = text.unwrap_or_else(|| "[]".to_owned());
            for run in parse_json_rows::<Run<'_>>(&text, "the runs of the report window")? {
                total.add(&run);
                tally_in(&mut workflows, &run.workflow_name, &run);
                tally_in(&mut environments, &run.environment, &run);
                series
                    .entry(bucket_floor(bucket, run.started_at))
                    .or_default()
                    .add(&run);
                if run.flaky != 0 {
                    flaky.push((run.started_at, run.run_id.into_owned()));
                }
            }
            from = to;
        }
        flaky.sort();
        flaky.truncate(flaky_limit as usize);
        let groups = |tallies: BTreeMap<String, Tally>| {
            tallies
                .into_iter()
                .map(|(name, t)| t.figures(name))
                .collect()
        };
        Ok(ScopeRuns {
            total: total.figures(String::new()),
            workflows: groups(workflows),
            environments: groups(environments),
            series: series
                .into_iter()
                .map(|(bucket_start, t)| {
                    let f = t.figures(String::new());
                    SeriesPoint {
                        bucket_start,
                        stats: RunStats::new(f.runs, f.passed, f.p95_duration_ms),
                    }
                })
                .collect(),
            flaky_run_ids: flaky.into_iter().map(|(_, id)| id).collect(),
        })
    }
}

/// Counts `run` in the group `name` (looked up without allocating when it exists).
fn tally_in(groups: &mut BTreeMap<String, Tally>, name: &str, run: &Run<'_>) {
    match groups.get_mut(name) {
        Some(t) => t.add(run),
        None => groups.entry(name.to_owned()).or_default().add(run),
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_step_between_ranks_like_percentile_cont() {
        assert_eq!(percentile(&[], 95), None);
        assert_eq!(percentile(&[7], 95), Some(7.0));
        // n = 11: p95 sits at rank 9.5, half way from 90 to 100.
        let values: Vec<i64> = (0..=10).map(|i| i * 10).collect();
        assert_eq!(percentile(&values, 95), Some(95.0));
        assert_eq!(percentile(&values, 50), Some(50.0));
        // n = 4: p99 at rank 2.97.
        assert_eq!(percentile(&[1, 2, 3, 103], 99), Some(3.0 + 0.97 * 100.0));
        assert_eq!(percentile(&[5, 9], 50), Some(7.0));
    }
}

//! The figures of a report scope counted in wfmon from one read of the rows they come from:
//! the runs (totals, per workflow, per environment, per series bucket, each with exact
//! percentiles, and the flaky runs; the previous window's totals from a narrower read) and
//! the step results of those runs (per step, and the assertions that failed).
//!
//! Counting each group in the database would rank the window's durations once per group;
//! reading the rows once costs less. The rows are read a part of the window at a time (whole
//! hours), each part as one JSON array (see `records::json_rows_aggregate`), so that memory
//! holds the figures being counted (a duration per run or step and group) and one part's
//! rows, not the whole window's. The parts are as few as that allows: the DAY rollups say
//! about how many runs the window holds, and each part is given about `RUNS_PER_READ` of
//! them (a day of 27,000 runs is read in two parts), since each query has a cost of its own
//! (on PostgreSQL about a millisecond of planning and a round trip).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use sqlx::AssertSqlSafe;
use wfmon_model::{ExecutionStatus, RollupBucket, StepStatus, Timestamp};

use super::{
    AssertionFailures, GroupFigures, ReportScope, ReportStepFigures, metadata_flag, scope_condition,
};
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

/// One run as read by `report_runs`: the columns in this order (text borrowed from the
/// JSON read).
#[derive(Deserialize)]
struct Run<'a> {
    #[serde(borrow)]
    workflow_name: Cow<'a, str>,
    #[serde(borrow)]
    environment: Cow<'a, str>,
    status: ExecutionStatus,
    duration_ms: Option<i64>,
    started_at: Timestamp,
    /// Its run id if it is flaky, else null (the others' are not needed).
    #[serde(borrow)]
    flaky_run_id: Option<Cow<'a, str>>,
}

/// What a group's figures need of a run; all that `report_total` reads.
#[derive(Clone, Copy, Deserialize)]
struct Counted {
    status: ExecutionStatus,
    duration_ms: Option<i64>,
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
    fn add(&mut self, run: &Counted) {
        self.count(run.status.is_success(), run.duration_ms);
        if run.status == ExecutionStatus::Warning {
            self.warnings += 1;
        }
        self.flaky += run.flaky;
    }

    fn count(&mut self, passed: bool, duration_ms: Option<i64>) {
        self.runs += 1;
        if passed {
            self.passed += 1;
        }
        if let Some(ms) = duration_ms {
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

/// About how many runs one query of a window reads, when the rollups say how many there are.
const RUNS_PER_READ: i64 = 20_000;

/// Most hours one query of a window reads, whatever the rollups say (they may be missing,
/// as in a database whose rollups were pruned before its raw rows).
const MOST_HOURS_PER_READ: i64 = 24 * 7;

/// How many parts a window of `hours` whole hours holding about `runs` runs is read in.
fn read_parts(hours: i64, runs: i64) -> i64 {
    let by_runs = (runs + RUNS_PER_READ - 1).div_euclid(RUNS_PER_READ);
    let by_hours = (hours + MOST_HOURS_PER_READ - 1).div_euclid(MOST_HOURS_PER_READ);
    by_runs.max(by_hours).clamp(1, MOST_READS)
}

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
        let values = format!(
            "e.workflow_name, e.environment, e.status, e.duration_ms, e.started_at, \
             CASE WHEN {} = 1 THEN e.run_id END",
            metadata_flag(self.backend(), "flaky")
        );
        let mut total = Tally::default();
        let mut workflows: BTreeMap<String, Tally> = BTreeMap::new();
        let mut environments: BTreeMap<String, Tally> = BTreeMap::new();
        let mut series: BTreeMap<Timestamp, Tally> = BTreeMap::new();
        let mut flaky: Vec<(Timestamp, String)> = Vec::new();
        self.read_runs_in_parts(scope, &values, |text| {
            for run in parse_json_rows::<Run<'_>>(text, "the runs of the report window")? {
                let counted = &Counted {
                    status: run.status,
                    duration_ms: run.duration_ms,
                    flaky: i64::from(run.flaky_run_id.is_some()),
                };
                total.add(counted);
                tally_in(&mut workflows, &run.workflow_name, counted);
                tally_in(&mut environments, &run.environment, counted);
                series
                    .entry(bucket_floor(bucket, run.started_at))
                    .or_default()
                    .add(counted);
                if let Some(id) = run.flaky_run_id {
                    flaky.push((run.started_at, id.into_owned()));
                }
            }
            Ok(())
        })
        .await?;
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

    /// All runs of `scope` as one group (zero figures without runs): `report_runs`'s total,
    /// from a read of only what it needs.
    pub async fn report_total(&self, scope: &ReportScope) -> Result<GroupFigures, StoreError> {
        let values = format!(
            "e.status, e.duration_ms, {}",
            metadata_flag(self.backend(), "flaky")
        );
        let mut total = Tally::default();
        self.read_runs_in_parts(scope, &values, |text| {
            for run in parse_json_rows::<Counted>(text, "the runs of the report window")? {
                total.add(&run);
            }
            Ok(())
        })
        .await?;
        Ok(total.figures(String::new()))
    }

    /// Reads `values` of the runs of `scope` in at most `MOST_READS` parts of whole hours,
    /// handing each part's JSON array of rows to `each`.
    async fn read_runs_in_parts(
        &self,
        scope: &ReportScope,
        values: &str,
        each: impl FnMut(&str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let from = format!(
            "workflow_executions e WHERE {}",
            scope_condition(self.backend())
        );
        self.read_in_parts(scope, values, &from, "the runs of the report window", each)
            .await
    }

    /// Reads `SELECT values FROM from` (a query on the four parameters of the scope) in at
    /// most `MOST_READS` parts of whole hours, handing each part's JSON array of rows to
    /// `each`.
    async fn read_in_parts(
        &self,
        scope: &ReportScope,
        values: &str,
        from_where: &str,
        what: &'static str,
        mut each: impl FnMut(&str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let backend = self.backend();
        let sql = format!(
            "SELECT {} FROM {from_where}",
            json_rows_aggregate(backend, values, ""),
        );
        let hour = bucket_millis(RollupBucket::Hour);
        let hours = (scope.to.unix_millis() - scope.from.unix_millis()).div_euclid(hour) + 1;
        let parts = read_parts(hours, self.estimated_runs(scope).await?);
        let step = hour * (hours + parts - 1).div_euclid(parts).max(1);
        let workflows = scope.workflow_param();
        let mut from = scope.from;
        while from < scope.to {
            let to = bucket_floor(RollupBucket::Hour, from)
                .plus(chrono::TimeDelta::milliseconds(step))
                .min(scope.to);
            let text = dispatch!(self, pool, Db => {
                sqlx::query_scalar::<Db, Option<String>>(AssertSqlSafe(sql.as_str()))
                    .bind(from)
                    .bind(to)
                    .bind(workflows.clone())
                    .bind(scope.environment.clone())
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::query(format!("reading {what}")))
            })?;
            // PostgreSQL's aggregate of no rows is NULL.
            each(text.as_deref().unwrap_or("[]"))?;
            from = to;
        }
        Ok(())
    }
}

impl Store {
    /// About how many runs `scope` holds, from the DAY rollups of the days it overlaps, each
    /// day's runs taken in proportion to the part of the day inside the window.
    async fn estimated_runs(&self, scope: &ReportScope) -> Result<i64, StoreError> {
        let day = bucket_millis(RollupBucket::Day);
        let sql = format!(
            "SELECT bucket_start, CAST(SUM(runs) AS BIGINT) AS runs FROM workflow_rollups \
             WHERE bucket = 'DAY' AND bucket_start >= $1 AND bucket_start < $2 AND {} \
             AND ($4 IS NULL OR environment = $4) GROUP BY bucket_start",
            super::workflow_in(self.backend(), "workflow_name")
        );
        let days: Vec<(Timestamp, i64)> = dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, (Timestamp, i64)>(AssertSqlSafe(sql))
                .bind(bucket_floor(RollupBucket::Day, scope.from))
                .bind(scope.to)
                .bind(scope.workflow_param())
                .bind(scope.environment.clone())
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("estimating the runs of the report window"))
        })?;
        let (from, to) = (scope.from.unix_millis(), scope.to.unix_millis());
        Ok(days
            .into_iter()
            .map(|(start, runs)| {
                let start = start.unix_millis();
                let inside = (to.min(start + day) - from.max(start)).clamp(0, day);
                (i128::from(runs) * i128::from(inside) / i128::from(day)) as i64
            })
            .sum())
    }
}

/// One step result of a run of the window, as read by `report_steps`.
#[derive(Deserialize)]
struct StepRun<'a> {
    #[serde(borrow)]
    workflow_name: Cow<'a, str>,
    #[serde(borrow)]
    step_name: Cow<'a, str>,
    status: StepStatus,
    duration_ms: Option<i64>,
    #[serde(borrow)]
    failed_assertion: Option<Cow<'a, str>>,
}

/// The steps of a report scope's runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeSteps {
    /// Every step that ran (skipped steps left out), by workflow and step, with exact p95.
    pub steps: Vec<ReportStepFigures>,
    /// The assertions that failed first in a step, most failures first, then by workflow,
    /// step and assertion.
    pub assertions: Vec<AssertionFailures>,
}

impl Store {
    /// The steps of `scope`'s runs and, at most `assertion_limit` of them, the assertions
    /// that failed most, from one read of the window's step results.
    pub async fn report_steps(
        &self,
        scope: &ReportScope,
        assertion_limit: u32,
    ) -> Result<ScopeSteps, StoreError> {
        let from = format!(
            "workflow_step_results s JOIN workflow_executions e ON e.run_id = s.execution_id \
             WHERE {}",
            scope_condition(self.backend())
        );
        let values = "e.workflow_name, s.step_name, s.status, s.duration_ms, s.failed_assertion";
        let mut steps: BTreeMap<(String, String), Tally> = BTreeMap::new();
        let mut assertions: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        let what = "the steps of the report window";
        self.read_in_parts(scope, values, &from, what, |text| {
            for step in parse_json_rows::<StepRun<'_>>(text, what)? {
                let (workflow, name) = (step.workflow_name, step.step_name);
                if let Some(assertion) = step.failed_assertion {
                    let key = (
                        workflow.to_string(),
                        name.to_string(),
                        assertion.into_owned(),
                    );
                    *assertions.entry(key).or_default() += 1;
                }
                if step.status == StepStatus::Skipped {
                    continue;
                }
                let passed = matches!(step.status, StepStatus::Passed | StepStatus::Warning);
                steps
                    .entry((workflow.into_owned(), name.into_owned()))
                    .or_default()
                    .count(passed, step.duration_ms);
            }
            Ok(())
        })
        .await?;
        let steps = steps
            .into_iter()
            .map(|((workflow_name, step_name), tally)| {
                let f = tally.figures(String::new());
                ReportStepFigures {
                    workflow_name,
                    step_name,
                    runs: f.runs,
                    failures: f.failed,
                    avg_duration_ms: f.duration_sum_ms as f64 / f.runs.max(1) as f64,
                    p95_duration_ms: f.p95_duration_ms,
                    max_duration_ms: f.max_duration_ms.unwrap_or_default(),
                }
            })
            .collect();
        let mut assertions: Vec<AssertionFailures> = assertions
            .into_iter()
            .map(
                |((workflow_name, step_name, assertion), failures)| AssertionFailures {
                    workflow_name,
                    step_name,
                    assertion,
                    failures,
                },
            )
            .collect();
        // Most failures first; the map's order (workflow, step, assertion) breaks ties.
        assertions.sort_by_key(|a| std::cmp::Reverse(a.failures));
        assertions.truncate(assertion_limit as usize);
        Ok(ScopeSteps { steps, assertions })
    }
}

/// Counts `run` in the group `name` (looked up without allocating when it exists).
fn tally_in(groups: &mut BTreeMap<String, Tally>, name: &str, run: &Counted) {
    match groups.get_mut(name) {
        Some(t) => t.add(run),
        None => groups.entry(name.to_owned()).or_default().add(run),
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn windows_are_read_in_parts_of_about_twenty_thousand_runs() {
        use super::read_parts;
        // A day: one part when the rollups know of few runs, two for 27,000.
        assert_eq!(read_parts(25, 0), 1);
        assert_eq!(read_parts(25, 19_999), 1);
        assert_eq!(read_parts(25, 27_000), 2);
        // A month of 822,000 runs: 42 parts; of no known runs, a part per week at most.
        assert_eq!(read_parts(721, 822_000), 42);
        assert_eq!(read_parts(721, 0), 5);
        // Never more than 48, whatever the runs.
        assert_eq!(read_parts(8_761, 10_000_000), 48);
        assert_eq!(read_parts(1, -5), 1);
    }

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

//! Analytics: figures per workflow and environment over any window, read from the rollups
//! (`workflow_rollups`, written with every execution; see `rollups`), so that a figure costs
//! about the same with a week or five years of history; per-step figures and failures
//! grouped by signature, read from the raw rows of the window.
//!
//! Counting rules are the rollups': a run is an execution that ended and was not skipped;
//! PASSED and WARNING runs pass, FAILED, TIMED_OUT and ABORTED runs fail. Windows are
//! half-open, `[since, until)`, taken to whole minutes (since rounded down, until up), and a
//! run belongs to the window of its start. Rates are ratios in [0, 1], None without runs;
//! no figure is ever NaN.
//!
//! Where the window allows it, whole UTC days are read from DAY rows, the whole hours left
//! at its edges from HOUR rows and only the minutes left from MINUTE rows (`figures`); a
//! 30-day window reads about 30 DAY rows per workflow and environment, not its executions.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sqlx::{AssertSqlSafe, QueryBuilder};
use wfmon_model::{RollupBucket, Timestamp, WorkflowRollup};

use crate::records::select_sql;
use crate::rollups::{RollupTotals, not_run_statuses};
use crate::{Store, StoreError};

mod figures;

const MINUTE_MS: i64 = 60_000;

/// Which rollup rows to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupQuery {
    /// Workflow name; None: every workflow.
    pub workflow: Option<String>,
    /// Environment; None: every environment.
    pub environment: Option<String>,
    /// MINUTE, HOUR or DAY rows.
    pub bucket: RollupBucket,
    /// Rows of buckets starting at or after.
    pub since: Timestamp,
    /// Rows of buckets starting before.
    pub until: Timestamp,
}

/// A window of analytics: which workflows and environments, when, in which buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsWindow {
    /// Workflow name; None: every workflow.
    pub workflow: Option<String>,
    /// Environment; None: every environment.
    pub environment: Option<String>,
    /// Start (inclusive; rounded down to the minute).
    pub since: Timestamp,
    /// End (exclusive; rounded up to the minute).
    pub until: Timestamp,
}

/// The longest analytics window (five years and a bit), in days.
pub const MAX_WINDOW_DAYS: i64 = 1900;

/// Most buckets one series holds.
pub const MAX_POINTS: i64 = 1440;

impl AnalyticsWindow {
    /// Why the window cannot be read, if it cannot: `until` not after `since`, or longer
    /// than `MAX_WINDOW_DAYS`; with `step` (milliseconds), more than `MAX_POINTS` buckets.
    /// The API and the command line refuse the same windows with these words.
    pub fn problem(&self, step: Option<i64>) -> Option<WindowProblem> {
        let span = self.until.unix_millis() - self.since.unix_millis();
        if span <= 0 {
            return Some(WindowProblem::Inverted(format!(
                "`until` ({}) must be after `since` ({})",
                self.until, self.since
            )));
        }
        if span > MAX_WINDOW_DAYS * 86_400_000 {
            return Some(WindowProblem::TooLong(format!(
                "the window is longer than {MAX_WINDOW_DAYS} days; narrow `since`..`until`"
            )));
        }
        let points = step.filter(|s| *s > 0).map(|s| (span + s - 1) / s)?;
        (points > MAX_POINTS).then(|| {
            WindowProblem::TooManyPoints(format!(
                "the window holds {points} buckets of this size; at most {MAX_POINTS} (a \
                 larger `step` or a narrower window)"
            ))
        })
    }
}

/// A window that cannot be read, with the words that say why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowProblem {
    /// `until` is not after `since`.
    Inverted(String),
    /// Longer than `MAX_WINDOW_DAYS`.
    TooLong(String),
    /// More buckets than `MAX_POINTS`.
    TooManyPoints(String),
}

impl WindowProblem {
    /// What is wrong, in words.
    pub fn message(&self) -> &str {
        match self {
            WindowProblem::Inverted(m)
            | WindowProblem::TooLong(m)
            | WindowProblem::TooManyPoints(m) => m,
        }
    }
}

/// The figures of a set of runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFigures {
    /// Runs (ended, not skipped).
    pub runs: i64,
    /// Runs that passed (PASSED or WARNING).
    pub passed: i64,
    /// Runs that failed (FAILED, TIMED_OUT, ABORTED).
    pub failed: i64,
    /// Passed runs with a warning.
    pub warnings: i64,
    /// `passed / runs`, a ratio in [0, 1]; None without runs.
    pub success_rate: Option<f64>,
    /// Sum of the durations, in milliseconds.
    pub total_duration_ms: i64,
    /// Mean duration; None without durations.
    pub avg_duration_ms: Option<f64>,
    /// Shortest duration.
    pub min_duration_ms: Option<i64>,
    /// Longest duration.
    pub max_duration_ms: Option<i64>,
    /// Median duration (within 1%, interpolated like `percentile_cont`).
    pub p50_duration_ms: Option<f64>,
    /// 95th percentile duration (within 1%).
    pub p95_duration_ms: Option<f64>,
    /// 99th percentile duration (within 1%).
    pub p99_duration_ms: Option<f64>,
}

impl RunFigures {
    fn from_totals(t: &RollupTotals) -> RunFigures {
        let timed = t.sketch.count();
        RunFigures {
            runs: t.runs,
            passed: t.passed,
            failed: t.failed,
            warnings: t.warnings,
            success_rate: ratio(t.passed, t.runs),
            total_duration_ms: t.duration_sum_ms,
            avg_duration_ms: (timed > 0).then(|| t.duration_sum_ms as f64 / timed as f64),
            min_duration_ms: t.duration_min_ms,
            max_duration_ms: t.duration_max_ms,
            p50_duration_ms: t.sketch.quantile(0.50),
            p95_duration_ms: t.sketch.quantile(0.95),
            p99_duration_ms: t.sketch.quantile(0.99),
        }
    }
}

/// `part / whole`, None when `whole` is 0.
fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The runs of one bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FiguresPoint {
    /// Start of the bucket.
    pub bucket_start: Timestamp,
    /// Its runs.
    #[serde(flatten)]
    pub figures: RunFigures,
}

/// One workflow in one environment over a window: the whole window, and (for a series) one
/// point per bucket, empty buckets included.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowFigures {
    /// Workflow.
    pub workflow_name: String,
    /// Environment.
    pub environment: String,
    /// The whole window.
    pub total: RunFigures,
    /// One point per bucket, oldest first (empty when no bucket size was asked for).
    pub points: Vec<FiguresPoint>,
}

/// The uptime of one workflow in one environment over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Uptime {
    /// Workflow.
    pub workflow_name: String,
    /// Environment.
    pub environment: String,
    /// Minutes of the window in which it ran.
    pub measured_minutes: i64,
    /// Of which no run failed.
    pub up_minutes: i64,
    /// `100 * up / measured`; None when it did not run.
    pub uptime_percent: Option<f64>,
}

/// One step of one workflow over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepFigures {
    /// Workflow.
    pub workflow_name: String,
    /// Step.
    pub step_name: String,
    /// Times it ran (skipped steps are not counted).
    pub runs: i64,
    /// Of which passed (PASSED or WARNING).
    pub passed: i64,
    /// Of which failed (FAILED or TIMED_OUT).
    pub failed: i64,
    /// `passed / runs`; None without runs.
    pub success_rate: Option<f64>,
    /// 95th percentile duration (exact, interpolated like `percentile_cont`).
    pub p95_duration_ms: Option<f64>,
}

/// Failures that look the same: same step, same failed assertion, same class of error and
/// the same message once numbers and ids are taken out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureGroup {
    /// The failing step; None when the run failed outside any step.
    pub step_name: Option<String>,
    /// The first failed assertion's expression, if an assertion failed.
    pub failed_assertion: Option<String>,
    /// `assertion`, `timeout`, `connection`, `dns`, `tls`, `command`, `http` or `error`.
    pub error_class: &'static str,
    /// The message with numbers and ids replaced by `#` and `…`.
    pub message: String,
    /// Failures with this signature.
    pub count: i64,
    /// Workflows affected, by name.
    pub workflows: Vec<String>,
    /// Environments affected, by name.
    pub environments: Vec<String>,
    /// First failure's start.
    pub first_seen: Timestamp,
    /// Last failure's start.
    pub last_seen: Timestamp,
}

#[derive(sqlx::FromRow)]
struct StepRow {
    k1: String,
    k2: String,
    runs: i64,
    passed: i64,
    p95: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct FailureRow {
    workflow_name: String,
    environment: String,
    started_at: Timestamp,
    step_name: Option<String>,
    step_status: Option<String>,
    failed_assertion: Option<String>,
    error_message: Option<String>,
}

impl Store {
    /// The stored rollup rows matching `query` (rows without runs left out), by workflow,
    /// environment, then bucket start.
    pub async fn rollup_rows(
        &self,
        query: &RollupQuery,
    ) -> Result<Vec<WorkflowRollup>, StoreError> {
        dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new(select_sql::<WorkflowRollup>());
            q.push(" WHERE bucket = ").push_bind(query.bucket);
            q.push(" AND bucket_start >= ").push_bind(query.since);
            q.push(" AND bucket_start < ").push_bind(query.until);
            q.push(" AND runs > 0");
            if let Some(workflow) = &query.workflow {
                q.push(" AND workflow_name = ").push_bind(workflow.clone());
            }
            if let Some(environment) = &query.environment {
                q.push(" AND environment = ").push_bind(environment.clone());
            }
            q.push(" ORDER BY workflow_name, environment, bucket_start");
            q.build_query_as::<WorkflowRollup>()
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("reading rollups"))
        })
    }

    /// Uptime per workflow and environment over the window: the share of the minutes in
    /// which it ran where no run failed (read from the widest rollup rows that fit, as
    /// `figures` does).
    pub async fn uptime(&self, window: &AnalyticsWindow) -> Result<Vec<Uptime>, StoreError> {
        Ok(self.figures_and_uptime(window, None).await?.1)
    }

    /// Per step of each workflow: runs, success rate and p95 duration over the steps of the
    /// runs started in the window (the executions' indexed `started_at` bounds the read),
    /// by workflow then step name.
    pub async fn step_figures(
        &self,
        window: &AnalyticsWindow,
    ) -> Result<Vec<StepFigures>, StoreError> {
        let head = format!(
            "WITH runs AS ( SELECT e.workflow_name AS k1, s.step_name AS k2, s.status, \
             s.duration_ms FROM workflow_executions e \
             JOIN workflow_step_results s ON s.execution_id = e.run_id \
             WHERE s.status <> 'SKIPPED' AND e.status NOT IN ({}) AND e.started_at >= ",
            not_run_statuses()
        );
        let tail = crate::overview::stats_tail();
        let rows = dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new(head);
            q.push_bind(window.since);
            q.push(" AND e.started_at < ").push_bind(window.until);
            if let Some(workflow) = &window.workflow {
                q.push(" AND e.workflow_name = ").push_bind(workflow.clone());
            }
            if let Some(environment) = &window.environment {
                q.push(" AND e.environment = ").push_bind(environment.clone());
            }
            q.push(tail);
            q.build_query_as::<StepRow>()
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("counting step results"))
        })?;
        Ok(rows
            .into_iter()
            .map(|r| StepFigures {
                workflow_name: r.k1,
                step_name: r.k2,
                runs: r.runs,
                passed: r.passed,
                failed: r.runs - r.passed,
                success_rate: ratio(r.passed, r.runs),
                p95_duration_ms: r.p95,
            })
            .collect())
    }

    /// Failures of the runs started in the window grouped by signature (see `FailureGroup`)
    /// across workflows, most frequent first; at most `limit` groups.
    pub async fn failure_groups(
        &self,
        window: &AnalyticsWindow,
        limit: usize,
    ) -> Result<Vec<FailureGroup>, StoreError> {
        let passed = "'PASSED', 'WARNING'";
        // The failed steps of failed runs, and failed runs without a failed step.
        let sql = format!(
            "SELECT e.workflow_name, e.environment, e.started_at, s.step_name, \
             s.status AS step_status, s.failed_assertion, \
             CASE WHEN s.error_message IS NULL THEN e.error_message ELSE s.error_message END \
               AS error_message \
             FROM workflow_executions e \
             JOIN workflow_step_results s ON s.execution_id = e.run_id \
             WHERE s.status IN ('FAILED', 'TIMED_OUT') AND e.status NOT IN ({not_runs}, {passed}) \
             AND e.started_at >= $1 AND e.started_at < $2 \
             AND ($3 IS NULL OR e.workflow_name = $3) AND ($4 IS NULL OR e.environment = $4) \
             UNION ALL \
             SELECT e.workflow_name, e.environment, e.started_at, NULL, NULL, NULL, e.error_message \
             FROM workflow_executions e \
             WHERE e.status NOT IN ({not_runs}, {passed}) \
             AND e.started_at >= $1 AND e.started_at < $2 \
             AND ($3 IS NULL OR e.workflow_name = $3) AND ($4 IS NULL OR e.environment = $4) \
             AND NOT EXISTS (SELECT 1 FROM workflow_step_results s WHERE s.execution_id = e.run_id \
               AND s.status IN ('FAILED', 'TIMED_OUT'))",
            not_runs = not_run_statuses(),
        );
        let rows = dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, FailureRow>(AssertSqlSafe(sql))
                .bind(window.since)
                .bind(window.until)
                .bind(window.workflow.clone())
                .bind(window.environment.clone())
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("grouping failures"))
        })?;
        type Signature = (Option<String>, Option<String>, &'static str, String);
        struct Acc {
            count: i64,
            workflows: BTreeSet<String>,
            environments: BTreeSet<String>,
            first: Timestamp,
            last: Timestamp,
        }
        let mut groups: BTreeMap<Signature, Acc> = BTreeMap::new();
        for row in rows {
            let message = row.error_message.as_deref().unwrap_or("");
            let class = error_class(
                row.step_status.as_deref(),
                row.failed_assertion.is_some(),
                message,
            );
            let key = (
                row.step_name,
                row.failed_assertion,
                class,
                normalise_message(message),
            );
            let acc = groups.entry(key).or_insert_with(|| Acc {
                count: 0,
                workflows: BTreeSet::new(),
                environments: BTreeSet::new(),
                first: row.started_at,
                last: row.started_at,
            });
            acc.count += 1;
            acc.workflows.insert(row.workflow_name);
            acc.environments.insert(row.environment);
            acc.first = acc.first.min(row.started_at);
            acc.last = acc.last.max(row.started_at);
        }
        let mut out: Vec<FailureGroup> = groups
            .into_iter()
            .map(
                |((step_name, failed_assertion, error_class, message), acc)| FailureGroup {
                    step_name,
                    failed_assertion,
                    error_class,
                    message,
                    count: acc.count,
                    workflows: acc.workflows.into_iter().collect(),
                    environments: acc.environments.into_iter().collect(),
                    first_seen: acc.first,
                    last_seen: acc.last,
                },
            )
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
        out.truncate(limit);
        Ok(out)
    }
}

/// The class of a failure, from the step's status, whether an assertion failed, and the
/// words of its message.
fn error_class(step_status: Option<&str>, assertion_failed: bool, message: &str) -> &'static str {
    let lower = message.to_ascii_lowercase();
    if step_status == Some("TIMED_OUT") || lower.contains("timed out") || lower.contains("timeout")
    {
        "timeout"
    } else if assertion_failed {
        "assertion"
    } else if lower.contains("dns") || lower.contains("resolve") || lower.contains("lookup") {
        "dns"
    } else if lower.contains("tls") || lower.contains("certificate") || lower.contains("ssl") {
        "tls"
    } else if lower.contains("connect") || lower.contains("refused") || lower.contains("reset") {
        "connection"
    } else if lower.contains("exit") || lower.contains("cannot start") {
        "command"
    } else if lower.contains("status") || lower.contains("http") {
        "http"
    } else {
        "error"
    }
}

/// The message with what varies between occurrences taken out: each run of letters and
/// digits holding a digit becomes `#` when it is only digits (numbers, ports, addresses) and
/// `…` otherwise (ids, hashes, UUID parts); whitespace is collapsed; at most 200 characters
/// are kept.
pub(crate) fn normalise_message(message: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.chars().any(|c| c.is_ascii_digit()) {
            out.push(if word.chars().all(|c| c.is_ascii_digit()) {
                '#'
            } else {
                '…'
            });
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    let trimmed = out.trim_end();
    trimmed.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_numbers_and_ids() {
        assert_eq!(
            normalise_message("expected status 200, got 503 for order 7f3a9c21-0b4e (took 1.52s)"),
            "expected status #, got # for order …-… (took #.…)"
        );
        assert_eq!(
            normalise_message("connection refused: 10.0.0.12:5432"),
            "connection refused: #.#.#.#:#"
        );
        assert_eq!(normalise_message("  a\n b  "), "a b");
    }

    #[test]
    fn failures_are_classed_by_status_assertion_and_words() {
        assert_eq!(error_class(Some("TIMED_OUT"), false, ""), "timeout");
        assert_eq!(
            error_class(Some("FAILED"), true, "expected 200"),
            "assertion"
        );
        assert_eq!(
            error_class(
                Some("FAILED"),
                false,
                "tcp connect error: Connection refused"
            ),
            "connection"
        );
        assert_eq!(
            error_class(None, false, "dns error: failed to lookup"),
            "dns"
        );
        assert_eq!(
            error_class(None, false, "`false` exited with code 1"),
            "command"
        );
        assert_eq!(
            error_class(None, false, "expected status 200, got 500"),
            "http"
        );
        assert_eq!(error_class(None, false, "boom"), "error");
    }
}

//! Aggregates for the API's overview and charts: run counts, success rate and p95 duration
//! per workflow and environment or per time bucket, the latest run of each workflow and
//! environment, the latest check of each health endpoint, and the alert and report lists.
//!
//! The statistics are one query on both backends, the p95 included (window functions and
//! integer arithmetic both dialects share, interpolating like PostgreSQL's
//! `percentile_cont`), so SQLite and PostgreSQL give the same numbers. Every query that reads
//! executions is bounded by `started_at`, which is indexed (alone, and after workflow and
//! environment).

use serde::Serialize;
use sqlx::{AssertSqlSafe, QueryBuilder};
use wfmon_model::{
    Alert, AlertStatus, MonitoringReport, Record, ReportType, RollupBucket, SystemHealthCheck,
    Timestamp,
};

mod recent;

pub use recent::RecentFigures;

use crate::records::{json_rows_aggregate, read_json_rows, select_sql};
use crate::rollups::RunFacts;
use crate::stats::{grouped_stats_tail, not_runs, passed_statuses};
use crate::{Backend, Store, StoreError};

/// Runs counted over a window. A run is an execution that ended and was not skipped: PASSED
/// and WARNING count as passed; FAILED, TIMED_OUT and ABORTED as failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStats {
    /// Runs that ended.
    pub runs: i64,
    /// Of which passed.
    pub passed: i64,
    /// Of which failed.
    pub failed: i64,
    /// `passed / runs`, a ratio in [0, 1]; None without runs.
    pub success_rate: Option<f64>,
    /// 95th percentile of the runs' durations (linear interpolation between the two nearest
    /// ranks, as `percentile_cont`); None without durations.
    pub p95_duration_ms: Option<f64>,
}

impl RunStats {
    pub(crate) fn new(runs: i64, passed: i64, p95: Option<f64>) -> RunStats {
        RunStats {
            runs,
            passed,
            failed: runs - passed,
            success_rate: (runs > 0).then(|| passed as f64 / runs as f64),
            p95_duration_ms: p95,
        }
    }
}

/// The runs of one workflow in one environment over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStats {
    /// Workflow.
    pub workflow_name: String,
    /// Environment.
    pub environment: String,
    /// Its runs.
    #[serde(flatten)]
    pub stats: RunStats,
}

/// The runs of one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPoint {
    /// Start of the bucket (UTC, on the minute or the hour).
    pub bucket_start: Timestamp,
    /// Its runs.
    #[serde(flatten)]
    pub stats: RunStats,
}

/// Which runs a series counts, and in which buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesQuery {
    /// Workflow name; None: every workflow.
    pub workflow: Option<String>,
    /// Environment; None: every environment.
    pub environment: Option<String>,
    /// Bucket width.
    pub bucket: RollupBucket,
    /// Runs started at or after.
    pub since: Timestamp,
    /// Runs started before.
    pub until: Timestamp,
}

/// Which alerts to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Status.
    pub status: Option<AlertStatus>,
    /// Workflow name.
    pub workflow: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}

/// Pairs looked up per statement by `latest_runs` (SQLite joins at most 500 SELECTs).
const PAIRS_PER_STATEMENT: usize = 100;

#[derive(sqlx::FromRow)]
struct PairRow {
    k1: String,
    k2: String,
    runs: i64,
    passed: i64,
    p95: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct BucketRow {
    k1: Timestamp,
    runs: i64,
    passed: i64,
    p95: Option<f64>,
}

/// The statistics after the `runs` CTE's WHERE clause: counts and the 95th percentile.
pub(crate) fn stats_tail() -> String {
    grouped_stats_tail(&passed_statuses(), "", &[95])
}

/// The start of the bucket holding `started_at`, in the backend's dialect (UTC).
pub(crate) fn bucket_expression(backend: Backend, bucket: RollupBucket) -> &'static str {
    match (backend, bucket) {
        // SQLite keeps fixed-width ISO-8601 text: truncating the text truncates the time.
        (Backend::Sqlite, RollupBucket::Hour) => "substr(started_at, 1, 13) || ':00:00.000Z'",
        (Backend::Sqlite, RollupBucket::Minute) => "substr(started_at, 1, 16) || ':00.000Z'",
        (Backend::Sqlite, RollupBucket::Day) => "substr(started_at, 1, 10) || 'T00:00:00.000Z'",
        (Backend::Postgres, RollupBucket::Hour) => {
            "date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        }
        (Backend::Postgres, RollupBucket::Minute) => {
            "date_trunc('minute', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        }
        (Backend::Postgres, RollupBucket::Day) => {
            "date_trunc('day', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        }
    }
}

impl Store {
    /// Runs of each workflow in each environment started in `[since, until)`, by workflow
    /// then environment.
    pub async fn workflow_stats(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<WorkflowStats>, StoreError> {
        let head = format!(
            "WITH runs AS ( SELECT workflow_name AS k1, environment AS k2, status, duration_ms \
             FROM workflow_executions WHERE status NOT IN ({}) AND started_at >= $1 \
             AND started_at < $2 ",
            not_runs()
        );
        let sql = head + &stats_tail();
        let rows = dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, PairRow>(AssertSqlSafe(sql))
                .bind(since)
                .bind(until)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("counting runs per workflow"))
        })?;
        Ok(rows
            .into_iter()
            .map(|r| WorkflowStats {
                workflow_name: r.k1,
                environment: r.k2,
                stats: RunStats::new(r.runs, r.passed, r.p95),
            })
            .collect())
    }

    /// Runs per time bucket, oldest bucket first; buckets without runs are left out.
    pub async fn run_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError> {
        let head = format!(
            "WITH runs AS ( SELECT {} AS k1, '' AS k2, status, duration_ms \
             FROM workflow_executions WHERE status NOT IN ({}) AND started_at >= ",
            bucket_expression(self.backend(), query.bucket),
            not_runs()
        );
        let tail = stats_tail();
        let rows = dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new(head);
            q.push_bind(query.since);
            q.push(" AND started_at < ").push_bind(query.until);
            if let Some(workflow) = &query.workflow {
                q.push(" AND workflow_name = ").push_bind(workflow.clone());
            }
            if let Some(environment) = &query.environment {
                q.push(" AND environment = ").push_bind(environment.clone());
            }
            q.push(tail);
            q.build_query_as::<BucketRow>()
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("counting runs per time bucket"))
        })?;
        Ok(rows
            .into_iter()
            .map(|r| SeriesPoint {
                bucket_start: r.k1,
                stats: RunStats::new(r.runs, r.passed, r.p95),
            })
            .collect())
    }

    /// The latest run (ended, not skipped) of each `(workflow, environment)` pair asked for
    /// (pairs that never ran are left out), by workflow then environment. One lookup per
    /// pair on the `(workflow_name, environment, started_at)` index, reading back from the
    /// newest row, joined with UNION ALL so that up to `PAIRS_PER_STATEMENT` pairs cost one
    /// statement (whose answer is one JSON array, see `figures`): the cost grows with the
    /// number of pairs, not with history or with how many runs a day holds.
    pub(crate) async fn latest_runs(
        &self,
        pairs: &[(String, String)],
    ) -> Result<Vec<RunFacts>, StoreError> {
        let columns = "run_id, workflow_name, environment, started_at, status, duration_ms";
        let head = format!(
            "SELECT * FROM ( SELECT {columns} FROM workflow_executions WHERE workflow_name = "
        );
        let tail = format!(
            " AND status NOT IN ({}) ORDER BY started_at DESC, run_id DESC LIMIT 1 ) AS l",
            not_runs()
        );
        let aggregate = format!(
            "SELECT {} FROM (",
            json_rows_aggregate(self.backend(), columns, "")
        );
        let mut found = Vec::new();
        for chunk in pairs.chunks(PAIRS_PER_STATEMENT) {
            let text: Option<String> = dispatch!(self, pool, Db => {
                let mut q = QueryBuilder::<Db>::new(aggregate.as_str());
                for (n, (workflow, environment)) in chunk.iter().enumerate() {
                    if n > 0 {
                        q.push(" UNION ALL ");
                    }
                    q.push(&head).push_bind(workflow.clone());
                    q.push(" AND environment = ").push_bind(environment.clone());
                    q.push(&tail);
                }
                q.push(" ) AS latest");
                q.build_query_scalar::<Option<String>>()
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::query("reading the latest runs"))?
            });
            found.extend(read_json_rows::<RunFacts>(text, "reading the latest runs")?);
        }
        found.sort_by(|a, b| {
            (&a.workflow_name, &a.environment).cmp(&(&b.workflow_name, &b.environment))
        });
        found.dedup_by(|a, b| a.workflow_name == b.workflow_name && a.environment == b.environment);
        Ok(found)
    }

    /// The latest check of each health endpoint (check name and endpoint) checked since
    /// `since`, by check name.
    pub async fn latest_health_checks(
        &self,
        since: Timestamp,
    ) -> Result<Vec<SystemHealthCheck>, StoreError> {
        let columns = SystemHealthCheck::column_list();
        let sql = format!(
            "SELECT {columns} FROM ( SELECT {columns}, ROW_NUMBER() OVER ( \
               PARTITION BY check_name, endpoint ORDER BY checked_at DESC, id DESC) AS rn \
             FROM system_health_checks WHERE checked_at >= $1 \
             ) latest WHERE rn = 1 ORDER BY check_name, endpoint"
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, SystemHealthCheck>(AssertSqlSafe(sql))
                .bind(since)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("reading the latest health checks"))
        })
    }

    /// Number of alerts not resolved.
    pub async fn open_alert_count(&self) -> Result<i64, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, i64>("SELECT COUNT(*) FROM alerts WHERE status <> $1")
                .bind(AlertStatus::Resolved)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query("counting open alerts"))
        })
    }

    /// Alerts matching a filter, most recently triggered first.
    pub async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, StoreError> {
        dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new(select_sql::<Alert>());
            q.push(" WHERE 1 = 1");
            if let Some(status) = filter.status {
                q.push(" AND status = ").push_bind(status);
            }
            if let Some(workflow) = &filter.workflow {
                q.push(" AND workflow_name = ").push_bind(workflow.clone());
            }
            if let Some(environment) = &filter.environment {
                q.push(" AND environment = ").push_bind(environment.clone());
            }
            q.push(" ORDER BY last_triggered_at DESC, alert_id DESC LIMIT ");
            q.push(filter.limit.unwrap_or(100));
            q.build_query_as::<Alert>()
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing alerts"))
        })
    }

    /// Reports, of one type or all, most recently generated first.
    pub async fn list_reports(
        &self,
        report_type: Option<ReportType>,
        limit: u32,
    ) -> Result<Vec<MonitoringReport>, StoreError> {
        dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new(select_sql::<MonitoringReport>());
            if let Some(report_type) = report_type {
                q.push(" WHERE report_type = ").push_bind(report_type);
            }
            q.push(" ORDER BY generated_at DESC, report_id DESC LIMIT ");
            q.push(limit);
            q.build_query_as::<MonitoringReport>()
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing reports"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_ratios_and_failures_the_rest() {
        let stats = RunStats::new(4, 3, Some(10.0));
        assert_eq!((stats.failed, stats.success_rate), (1, Some(0.75)));
        assert_eq!(RunStats::new(0, 0, None).success_rate, None);
    }
}

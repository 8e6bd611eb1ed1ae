//! The reads and the write behind monitoring reports. Every figure is computed from the raw
//! rows of the window, with no row cap. `runs` reads the window's runs once and counts the
//! totals, each workflow, each environment and each series bucket (with exact percentiles)
//! and the flaky runs, and reads the step results of those runs once for the steps and the
//! assertions that failed; the alerts of the window are counted here. Saving a report
//! writes its row, links the window's executions to it and queues its notifications in one
//! transaction.
//!
//! Every query takes the window and the scope as the same four parameters: `$1` from
//! (inclusive), `$2` to (exclusive), `$3` the workflows as a JSON array of names and `$4`
//! the environment (NULL: any).

mod runs;

pub use runs::{ScopeRuns, ScopeSteps};

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, QueryBuilder};
use wfmon_model::{Alert, MonitoringReport, NotificationLog, Record, Timestamp};

use crate::records::{OnConflict, begin_write, insert_rows, select_sql};
use crate::stats::not_runs;
use crate::{Backend, Store, StoreError};

/// Which runs a report covers: started in `[from, to)`, of one workflow and environment or
/// of all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportScope {
    /// Runs started at or after.
    pub from: Timestamp,
    /// Runs started before.
    pub to: Timestamp,
    /// Workflow name; None: every workflow.
    pub workflow: Option<String>,
    /// Environment; None: every environment.
    pub environment: Option<String>,
    /// Only these workflows (a tag filter, resolved to names by the caller); None: no such
    /// restriction. With `workflow` too: that workflow if it is one of them, else none.
    pub workflows: Option<Vec<String>>,
}

impl ReportScope {
    /// The workflows the scope allows, as the JSON array bound to `$3`; None: any.
    fn workflow_param(&self) -> Option<String> {
        let names: Vec<&String> = match (&self.workflow, &self.workflows) {
            (None, None) => return None,
            (Some(w), None) => vec![w],
            (None, Some(set)) => set.iter().collect(),
            (Some(w), Some(set)) => set.iter().filter(|s| *s == w).collect(),
        };
        Some(serde_json::to_string(&names).expect("names serialise"))
    }

    /// The window of the same length just before this one, with the same filters.
    pub fn previous(&self) -> ReportScope {
        let length = self.to.as_datetime() - self.from.as_datetime();
        ReportScope {
            from: self.from.minus(length),
            to: self.from,
            ..self.clone()
        }
    }
}

/// The runs of one group (all runs, one workflow, or one environment) in a window. A run is
/// an execution that ended and was not skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupFigures {
    /// The group's name ("" for all runs).
    pub name: String,
    /// Runs that ended.
    pub runs: i64,
    /// Of which PASSED or WARNING.
    pub passed: i64,
    /// Of which WARNING.
    pub warnings: i64,
    /// Of which FAILED, TIMED_OUT or ABORTED.
    pub failed: i64,
    /// Runs marked flaky (passed only after failed attempts).
    pub flaky: i64,
    /// Sum of the durations of the runs that have one.
    pub duration_sum_ms: i64,
    /// How many runs have a duration.
    pub durations: i64,
    /// Shortest duration.
    pub min_duration_ms: Option<i64>,
    /// Longest duration.
    pub max_duration_ms: Option<i64>,
    /// Percentiles of the durations, interpolated like `percentile_cont`.
    pub p50_duration_ms: Option<f64>,
    /// 95th percentile.
    pub p95_duration_ms: Option<f64>,
    /// 99th percentile.
    pub p99_duration_ms: Option<f64>,
}

impl GroupFigures {
    /// `passed / runs`, a ratio in [0, 1]; None without runs.
    pub fn success_rate(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.passed as f64 / self.runs as f64)
    }

    /// Mean duration of the runs that have one; None without durations.
    pub fn avg_duration_ms(&self) -> Option<f64> {
        (self.durations > 0).then(|| self.duration_sum_ms as f64 / self.durations as f64)
    }
}

/// The results of one step of one workflow in a window (skipped steps left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportStepFigures {
    /// Workflow.
    pub workflow_name: String,
    /// Step.
    pub step_name: String,
    /// Times it ran.
    pub runs: i64,
    /// Times it failed or timed out.
    pub failures: i64,
    /// Mean duration.
    pub avg_duration_ms: f64,
    /// 95th percentile of its durations.
    pub p95_duration_ms: Option<f64>,
    /// Longest duration.
    pub max_duration_ms: i64,
}

/// How often one assertion was the first to fail in one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct AssertionFailures {
    /// Workflow.
    pub workflow_name: String,
    /// Step.
    pub step_name: String,
    /// The assertion's expression.
    pub assertion: String,
    /// Runs in which it was the step's first failed assertion.
    pub failures: i64,
}

/// Alerts of a window: counts over all of them, and the first `limit` listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertFigures {
    /// Opened in the window.
    pub opened: i64,
    /// Resolved in the window.
    pub resolved: i64,
    /// Opened before the end of the window and not resolved by then.
    pub open_at_end: i64,
    /// Alerts open at some time in the window, oldest first (at most `limit`).
    pub alerts: Vec<Alert>,
}

/// How saving a report ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedReport {
    /// The row was written; this many executions were linked to it.
    Created {
        /// Executions linked.
        linked: u64,
    },
    /// A report with the same report_id exists (generated by another instance, or earlier):
    /// nothing was written.
    Exists,
}

#[derive(sqlx::FromRow)]
struct AlertCounts {
    opened: i64,
    resolved: i64,
    open_at_end: i64,
}

/// `column` is one of the workflows of `$3` (a JSON array of names; NULL: any), in the
/// backend's dialect.
fn workflow_in(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Sqlite => {
            format!("($3 IS NULL OR {column} IN (SELECT value FROM json_each($3)))")
        }
        Backend::Postgres => format!(
            "($3 IS NULL OR {column} IN (SELECT jsonb_array_elements_text(CAST($3 AS jsonb))))"
        ),
    }
}

/// The executions of the window and filters that ended and were not skipped, aliased `e`
/// (the four parameters): the ones a saved report links.
fn window_condition(backend: Backend) -> String {
    format!(
        "e.started_at >= $1 AND e.started_at < $2 \
         AND {} AND ($4 IS NULL OR e.environment = $4) \
         AND e.status NOT IN ({})",
        workflow_in(backend, "e.workflow_name"),
        not_runs()
    )
}

/// The runs a report counts: the window's executions but the failed attempts that a retry
/// followed (`metadata.retried`), so that a run counts once whatever its retries.
fn scope_condition(backend: Backend) -> String {
    format!(
        "{} AND {} = 0",
        window_condition(backend),
        metadata_flag(backend, "retried")
    )
}

/// 1 for an execution whose metadata sets `key` to true, else 0, in the backend's dialect.
fn metadata_flag(backend: Backend, key: &'static str) -> String {
    match backend {
        // Metadata is JSON text on SQLite; text that is not JSON sets nothing.
        Backend::Sqlite => format!(
            "CASE WHEN json_valid(e.metadata) THEN \
               CASE WHEN json_extract(e.metadata, '$.{key}') = 1 THEN 1 ELSE 0 END ELSE 0 END"
        ),
        Backend::Postgres => format!(
            "CASE WHEN jsonb_typeof(e.metadata) = 'object' AND e.metadata ->> '{key}' = 'true' \
             THEN 1 ELSE 0 END"
        ),
    }
}

impl Store {
    /// Alerts of the scope's workflow and environment open at some time in the window:
    /// exact counts, and the oldest `limit` of them.
    pub async fn report_alerts(
        &self,
        scope: &ReportScope,
        limit: u32,
    ) -> Result<AlertFigures, StoreError> {
        let filter = format!(
            "{} AND ($4 IS NULL OR environment = $4)",
            workflow_in(self.backend(), "workflow_name")
        );
        let counts = format!(
            "SELECT \
               COALESCE(SUM(CASE WHEN triggered_at >= $1 THEN 1 ELSE 0 END), 0) AS opened, \
               COALESCE(SUM(CASE WHEN resolved_at < $2 THEN 1 ELSE 0 END), 0) AS resolved, \
               COALESCE(SUM(CASE WHEN resolved_at IS NULL OR resolved_at >= $2 \
                            THEN 1 ELSE 0 END), 0) AS open_at_end \
             FROM alerts WHERE triggered_at < $2 AND (resolved_at IS NULL OR resolved_at >= $1) \
             AND {filter}"
        );
        let list = format!(
            "{} WHERE triggered_at < $2 AND (resolved_at IS NULL OR resolved_at >= $1) \
             AND {filter} ORDER BY triggered_at, alert_id LIMIT $5",
            select_sql::<Alert>()
        );
        let (counts, alerts) = dispatch!(self, pool, Db => {
            let counts = sqlx::query_as::<Db, AlertCounts>(AssertSqlSafe(counts))
                .bind(scope.from)
                .bind(scope.to)
                .bind(scope.workflow_param())
                .bind(scope.environment.clone())
                .fetch_one(pool)
                .await
                .map_err(StoreError::query("counting the alerts of the report window"))?;
            let alerts = sqlx::query_as::<Db, Alert>(AssertSqlSafe(list))
                .bind(scope.from)
                .bind(scope.to)
                .bind(scope.workflow_param())
                .bind(scope.environment.clone())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing the alerts of the report window"))?;
            Ok::<_, StoreError>((counts, alerts))
        })?;
        Ok(AlertFigures {
            opened: counts.opened,
            resolved: counts.resolved,
            open_at_end: counts.open_at_end,
            alerts,
        })
    }

    /// Whether a workflow ever ran or has a schedule.
    pub async fn knows_workflow(&self, name: &str) -> Result<bool, StoreError> {
        self.knows("workflow_name", name).await
    }

    /// Whether anything ever ran in an environment or is scheduled there.
    pub async fn knows_environment(&self, name: &str) -> Result<bool, StoreError> {
        self.knows("environment", name).await
    }

    async fn knows(&self, column: &'static str, name: &str) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM workflow_executions WHERE {column} = $1) \
               OR EXISTS (SELECT 1 FROM workflow_schedules WHERE {column} = $1) \
             THEN 1 ELSE 0 END"
        );
        let found = dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, i32>(AssertSqlSafe(sql))
                .bind(name)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query(format!("looking up {column} `{name}`")))
        })?;
        Ok(found == 1)
    }

    /// Saves a report in one transaction: its row (unless one with the same report_id
    /// exists: then nothing is written), the window's ended executions (retried attempts
    /// included) not yet in a report linked to it,
    /// and its notifications queued.
    pub async fn save_report(
        &self,
        report: &MonitoringReport,
        scope: &ReportScope,
        notifications: &[NotificationLog],
    ) -> Result<SavedReport, StoreError> {
        let insert = format!(
            "INSERT INTO {} ({}) ",
            MonitoringReport::TABLE,
            MonitoringReport::column_list()
        );
        let link = format!(
            "UPDATE workflow_executions AS e SET report_id = $5 \
             WHERE {} AND e.report_id IS NULL",
            window_condition(self.backend())
        );
        let queued: Vec<&NotificationLog> = notifications.iter().collect();
        let context = format!("saving report {}", report.report_id);
        dispatch!(self, pool, Db => {
            let result: Result<SavedReport, sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                let mut q = QueryBuilder::<Db>::new(insert);
                q.push_values(std::iter::once(report), |mut row, r| {
                    wfmon_model::PushValues::<Db>::push_values(r, &mut row)
                });
                q.push(" ON CONFLICT (report_id) DO NOTHING");
                if q.build().execute(&mut *tx).await?.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(SavedReport::Exists);
                }
                let linked = sqlx::query::<Db>(AssertSqlSafe(link))
                    .bind(scope.from)
                    .bind(scope.to)
                    .bind(scope.workflow_param())
                    .bind(scope.environment.clone())
                    .bind(report.report_id.clone())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                insert_rows::<Db, NotificationLog>(&mut tx, &queued, OnConflict::Fail).await?;
                tx.commit().await?;
                Ok(SavedReport::Created { linked })
            }
            .await;
            result.map_err(StoreError::query(context))
        })
    }

    /// Marks a report as delivered (the first delivery sets `notified_at`). Returns whether
    /// the row changed.
    pub async fn mark_report_notified(
        &self,
        report_id: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        dispatch!(self, pool, Db => {
            let done = sqlx::query::<Db>(
                "UPDATE monitoring_reports SET notified = $1, notified_at = $2 \
                 WHERE report_id = $3 AND notified = $4",
            )
            .bind(true)
            .bind(at)
            .bind(report_id)
            .bind(false)
            .execute(pool)
            .await
            .map_err(StoreError::query(format!("marking report {report_id} notified")))?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Executions linked to a report.
    pub async fn count_report_executions(&self, report_id: &str) -> Result<i64, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, i64>(
                "SELECT COUNT(*) FROM workflow_executions WHERE report_id = $1",
            )
            .bind(report_id)
            .fetch_one(pool)
            .await
            .map_err(StoreError::query(format!("counting the executions of report {report_id}")))
        })
    }
}

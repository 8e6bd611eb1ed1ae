//! Reads that readers (CLI, API, reports) share: an execution with its relations, filtered
//! lists with cursor pagination, and the aggregates of the seed's persistence suite.

use serde::Serialize;
use sqlx::{AssertSqlSafe, QueryBuilder};
use wfmon_model::{
    ExecutionStatus, MonitoringReport, NotificationLog, SystemHealthCheck, Timestamp,
    WorkflowExecution, WorkflowMetric, WorkflowStepResult,
};

use crate::records::{JSON_ROWS_TAIL, json_rows_head, read_json_rows, select_sql};
use crate::{Store, StoreError};

/// An execution with everything linked to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    /// The execution.
    pub execution: WorkflowExecution,
    /// Its step results, in step order.
    pub steps: Vec<WorkflowStepResult>,
    /// Its metrics.
    pub metrics: Vec<WorkflowMetric>,
    /// Its health checks.
    pub health_checks: Vec<SystemHealthCheck>,
    /// The notifications sent about it.
    pub notifications: Vec<NotificationLog>,
    /// The report it is part of.
    pub report: Option<MonitoringReport>,
}

/// Which executions to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// Workflow name.
    pub workflow: Option<String>,
    /// Environment name.
    pub environment: Option<String>,
    /// Status.
    pub status: Option<ExecutionStatus>,
    /// Started at or after.
    pub since: Option<Timestamp>,
    /// Started before.
    pub until: Option<Timestamp>,
    /// Cursor: only executions ordered after this `(started_at, run_id)` (newest first).
    pub before: Option<(Timestamp, String)>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}

/// Count and mean duration of executions of one workflow with one status.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct StatusSummary {
    /// Workflow name.
    pub workflow_name: String,
    /// Status.
    pub status: ExecutionStatus,
    /// Number of executions.
    pub count: i64,
    /// Mean duration over executions that have one.
    pub avg_duration_ms: Option<f64>,
}

impl Store {
    /// An execution by run id, with its steps, metrics, health checks, notifications, report.
    pub async fn execution_detail(
        &self,
        run_id: &str,
    ) -> Result<Option<ExecutionDetail>, StoreError> {
        let Some(execution) = self.get::<WorkflowExecution>(run_id).await? else {
            return Ok(None);
        };
        let steps = self
            .children::<WorkflowStepResult>(run_id, "step_order")
            .await?;
        let metrics = self
            .children::<WorkflowMetric>(run_id, "recorded_at")
            .await?;
        let health_checks = self
            .children::<SystemHealthCheck>(run_id, "checked_at")
            .await?;
        let notifications = self.children::<NotificationLog>(run_id, "sent_at").await?;
        let report = match &execution.report_id {
            Some(report_id) => self.get::<MonitoringReport>(report_id).await?,
            None => None,
        };
        Ok(Some(ExecutionDetail {
            execution,
            steps,
            metrics,
            health_checks,
            notifications,
            report,
        }))
    }

    async fn children<R: crate::StoredRecord>(
        &self,
        run_id: &str,
        order: &str,
    ) -> Result<Vec<R>, StoreError> {
        let sql = format!(
            "{} WHERE execution_id = $1 ORDER BY {order}, id",
            select_sql::<R>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, R>(AssertSqlSafe(sql))
                .bind(run_id)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(format!("reading {} of {run_id}", R::TABLE)))
        })
    }

    /// Executions matching a filter, newest first.
    pub async fn list_executions(
        &self,
        filter: &ExecutionFilter,
    ) -> Result<Vec<WorkflowExecution>, StoreError> {
        let head = json_rows_head::<WorkflowExecution>(self.backend());
        let text = dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new(head);
            q.push(select_sql::<WorkflowExecution>());
            q.push(" WHERE 1 = 1");
            if let Some(workflow) = &filter.workflow {
                q.push(" AND workflow_name = ").push_bind(workflow.clone());
            }
            if let Some(environment) = &filter.environment {
                q.push(" AND environment = ").push_bind(environment.clone());
            }
            if let Some(status) = filter.status {
                q.push(" AND status = ").push_bind(status);
            }
            if let Some(since) = filter.since {
                q.push(" AND started_at >= ").push_bind(since);
            }
            if let Some(until) = filter.until {
                q.push(" AND started_at < ").push_bind(until);
            }
            if let Some((started_at, run_id)) = &filter.before {
                q.push(" AND (started_at < ").push_bind(*started_at);
                q.push(" OR (started_at = ").push_bind(*started_at);
                q.push(" AND run_id < ").push_bind(run_id.clone());
                q.push("))");
            }
            // The limit is a number, written as one: a bound limit would make SQLite
            // prepare the statement again on every run.
            q.push(" ORDER BY started_at DESC, run_id DESC LIMIT ");
            q.push(filter.limit.unwrap_or(100));
            q.push(JSON_ROWS_TAIL);
            q.build_query_scalar::<Option<String>>()
                .fetch_one(pool)
                .await
                .map_err(StoreError::query("listing executions"))?
        });
        let mut rows: Vec<WorkflowExecution> = read_json_rows(text, "listing executions")?;
        rows.sort_by(|a, b| (b.started_at, &b.run_id).cmp(&(a.started_at, &a.run_id)));
        Ok(rows)
    }

    /// Count and mean duration per workflow and status, for executions started since `since`.
    pub async fn status_summary(
        &self,
        since: Option<Timestamp>,
    ) -> Result<Vec<StatusSummary>, StoreError> {
        let since = since.unwrap_or(Timestamp::from_unix_millis(0).expect("epoch"));
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, StatusSummary>(
                "SELECT workflow_name, status, COUNT(*) AS count, \
                        AVG(CAST(duration_ms AS DOUBLE PRECISION)) AS avg_duration_ms \
                 FROM workflow_executions WHERE started_at >= $1 \
                 GROUP BY workflow_name, status ORDER BY workflow_name, status",
            )
            .bind(since)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query("summarising executions"))
        })
    }

    /// Number of executions started at or after `since`.
    pub async fn count_executions_since(&self, since: Timestamp) -> Result<i64, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, i64>("SELECT COUNT(*) FROM workflow_executions WHERE started_at >= $1")
                .bind(since)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query("counting executions"))
        })
    }

    /// Metrics recorded since `since` that were outside their threshold, newest first.
    pub async fn metrics_outside_threshold(
        &self,
        since: Timestamp,
    ) -> Result<Vec<WorkflowMetric>, StoreError> {
        let sql = format!(
            "{} WHERE is_within_threshold = $1 AND recorded_at >= $2 ORDER BY recorded_at DESC, id",
            select_sql::<WorkflowMetric>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, WorkflowMetric>(AssertSqlSafe(sql))
                .bind(false)
                .bind(since)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing metrics outside their threshold"))
        })
    }
}

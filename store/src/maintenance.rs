//! `db stats` and `db prune`: what the database holds, and retention of raw rows (reports,
//! rollups, alerts and schedules are kept; `prune_marks` records how far executions were
//! pruned, so that their rollups are never rebuilt from what is left).

use serde::Serialize;
use sqlx::AssertSqlSafe;
use wfmon_model::{ALL_TABLES, PruneMark, Record, Timestamp, WorkflowExecution, new_id};

use crate::records::begin_write;
use crate::{Backend, Store, StoreError};

/// Row count, time range and size of one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableStats {
    /// Table name.
    pub table: &'static str,
    /// Number of rows.
    pub rows: i64,
    /// Oldest row's time (creation time, or bucket start for rollups).
    pub oldest: Option<Timestamp>,
    /// Newest row's time.
    pub newest: Option<Timestamp>,
    /// Bytes on disk (table and its indexes), where the backend can tell.
    pub size_bytes: Option<i64>,
}

/// What a prune removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    /// Finished executions started before the cut-off.
    pub executions: i64,
    /// Their step results.
    pub step_results: i64,
    /// Their metrics, and metrics of no execution older than the cut-off.
    pub metrics: i64,
    /// Their health checks, and health checks of no execution older than the cut-off.
    pub health_checks: i64,
    /// Notification logs sent before the cut-off.
    pub notification_logs: i64,
}

/// Executions deleted per statement, to keep each transaction short.
const PRUNE_BATCH: i64 = 5_000;

/// Moves a table's prune mark forward to a cut-off ($1 id if new, $2 table, $3 cut-off,
/// $4 now); never back.
const MOVE_PRUNE_MARK: &str = "INSERT INTO prune_marks (id, table_name, pruned_before, updated_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (table_name) DO UPDATE SET \
     pruned_before = CASE WHEN excluded.pruned_before > prune_marks.pruned_before \
     THEN excluded.pruned_before ELSE prune_marks.pruned_before END, \
     updated_at = excluded.updated_at";

/// Reads the cut-off before which executions may have been pruned.
pub(crate) const READ_PRUNE_MARK: &str =
    "SELECT pruned_before FROM prune_marks WHERE table_name = 'workflow_executions'";

fn time_column(columns: &[wfmon_model::Column]) -> &'static str {
    ["created_at", "bucket_start", "updated_at"]
        .into_iter()
        .find(|name| columns.iter().any(|c| c.name == *name))
        .expect("every table has a time column")
}

impl Store {
    /// Row counts, oldest and newest row, and size of every table.
    pub async fn stats(&self) -> Result<Vec<TableStats>, StoreError> {
        let mut out = Vec::new();
        for (table, columns) in ALL_TABLES {
            let time = time_column(columns);
            let sql = format!("SELECT COUNT(*), MIN({time}), MAX({time}) FROM {table}");
            let (rows, oldest, newest) = dispatch!(self, pool, Db => {
                sqlx::query_as::<Db, (i64, Option<Timestamp>, Option<Timestamp>)>(AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::query(format!("reading statistics of {table}")))?
            });
            let size_bytes = self.table_size(table).await;
            out.push(TableStats {
                table,
                rows,
                oldest,
                newest,
                size_bytes,
            });
        }
        Ok(out)
    }

    /// Size of the whole database file (SQLite) or database (PostgreSQL), in bytes.
    pub async fn database_size(&self) -> Result<i64, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            }
            Backend::Postgres => "SELECT pg_database_size(current_database())",
        };
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, i64>(sql)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query("reading the database size"))
        })
    }

    /// Bytes used by a table and its indexes; `None` where the backend cannot tell.
    async fn table_size(&self, table: &str) -> Option<i64> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT SUM(pgsize) FROM dbstat WHERE name = $1 \
                 OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1)"
            }
            Backend::Postgres => "SELECT pg_total_relation_size(CAST($1 AS regclass))",
        };
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, Option<i64>>(sql).bind(table).fetch_one(pool).await.ok().flatten()
        })
    }

    /// The cut-off before which `prune` has deleted executions (`None`: it never deleted
    /// any). Their rollups are kept, so the days before it cannot be rebuilt from raw rows.
    pub async fn executions_pruned_before(&self) -> Result<Option<Timestamp>, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, Timestamp>(READ_PRUNE_MARK)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(format!("reading {}", PruneMark::TABLE)))
        })
    }

    /// Deletes raw rows older than `cutoff`: finished executions (their step results, metrics
    /// and health checks go with them), orphan metrics and health checks, notification logs.
    /// Reports, rollups, alerts and schedules are kept. When executions are deleted, the
    /// prune mark moves forward to `cutoff` with them. With `dry_run`, only counts.
    pub async fn prune(&self, cutoff: Timestamp, dry_run: bool) -> Result<PruneReport, StoreError> {
        let old_runs =
            "SELECT run_id FROM workflow_executions WHERE started_at < $1 AND status <> 'RUNNING'";
        let counts = [
            format!("SELECT COUNT(*) FROM workflow_executions WHERE run_id IN ({old_runs})"),
            format!(
                "SELECT COUNT(*) FROM workflow_step_results WHERE execution_id IN ({old_runs})"
            ),
            format!(
                "SELECT COUNT(*) FROM workflow_metrics WHERE execution_id IN ({old_runs}) \
                 OR (execution_id IS NULL AND recorded_at < $1)"
            ),
            format!(
                "SELECT COUNT(*) FROM system_health_checks WHERE execution_id IN ({old_runs}) \
                 OR (execution_id IS NULL AND checked_at < $1)"
            ),
            "SELECT COUNT(*) FROM notification_logs WHERE sent_at < $1 AND status <> 'PENDING'"
                .to_owned(),
        ];
        let mut n = [0i64; 5];
        for (slot, sql) in n.iter_mut().zip(counts) {
            *slot = dispatch!(self, pool, Db => {
                sqlx::query_scalar::<Db, i64>(AssertSqlSafe(sql))
                    .bind(cutoff)
                    .fetch_one(pool)
                    .await
                    .map_err(StoreError::query("counting rows to prune"))?
            });
        }
        let report = PruneReport {
            executions: n[0],
            step_results: n[1],
            metrics: n[2],
            health_checks: n[3],
            notification_logs: n[4],
        };
        if dry_run {
            return Ok(report);
        }
        let batch = format!(
            "DELETE FROM workflow_executions WHERE id IN \
             (SELECT id FROM workflow_executions WHERE started_at < $1 AND status <> 'RUNNING' LIMIT {PRUNE_BATCH})"
        );
        let singles = [
            "DELETE FROM workflow_metrics WHERE execution_id IS NULL AND recorded_at < $1",
            "DELETE FROM system_health_checks WHERE execution_id IS NULL AND checked_at < $1",
            "DELETE FROM notification_logs WHERE sent_at < $1 AND status <> 'PENDING'",
        ];
        dispatch!(self, pool, Db => {
            loop {
                // The mark moves in the transaction that deletes, so no run is ever gone
                // without it: a rebuild then never recounts a day from what is left of it.
                let deleted = async {
                    let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                    let deleted = sqlx::query::<Db>(AssertSqlSafe(batch.as_str()))
                        .bind(cutoff)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if deleted > 0 {
                        sqlx::query::<Db>(MOVE_PRUNE_MARK)
                            .bind(new_id("pm"))
                            .bind(WorkflowExecution::TABLE)
                            .bind(cutoff)
                            .bind(Timestamp::now())
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok::<u64, sqlx::Error>(deleted)
                }
                .await
                .map_err(StoreError::query("pruning executions"))?;
                if deleted == 0 {
                    break;
                }
            }
            for sql in singles {
                sqlx::query::<Db>(sql)
                    .bind(cutoff)
                    .execute(pool)
                    .await
                    .map_err(StoreError::query("pruning rows"))?;
            }
        });
        Ok(report)
    }
}

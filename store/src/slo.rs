//! The inputs of service level objectives: runs of one workflow in one environment and how
//! many of them were good, over several windows that end at the same time, with given
//! time ranges (maintenance windows) left out.
//!
//! Read from the raw executions, not the rollups: a latency objective needs exact durations
//! (the rollups' sketches are within 1%), and a maintenance window need not start or end on a
//! minute. The read is bounded by the indexed `(workflow_name, environment, started_at)` and
//! the longest window; all windows are counted in one pass.
//!
//! Counting: a run is an execution that ended and was neither skipped nor aborted (an
//! ABORTED run was interrupted by wfmon itself and says nothing about the service); every
//! attempt of a retried run counts, as in the rollups. A run belongs to the window of its
//! start; windows are half-open, `[since, until)`.

use serde::Serialize;
use sqlx::QueryBuilder;
use wfmon_model::{ExecutionStatus, Timestamp};

use crate::stats::{passed_statuses, status_list};
use crate::{Store, StoreError};

/// Most ranges a query may leave out: a bound on the statement's size.
pub const MAX_EXCLUDED_RANGES: usize = 2000;

/// What counts as a good run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoodRun {
    /// The run passed (PASSED or WARNING).
    Passed,
    /// The run took at most this many milliseconds (whatever its status).
    AtMostMs(i64),
}

/// Which runs to count for an objective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloQuery {
    /// Workflow name.
    pub workflow: String,
    /// Environment.
    pub environment: String,
    /// What a good run is.
    pub good: GoodRun,
    /// End of every window (exclusive).
    pub until: Timestamp,
    /// Start of each window (inclusive); one count per entry, in this order.
    pub since: Vec<Timestamp>,
    /// Time ranges `[from, to)` whose runs are left out of every count.
    pub excluded: Vec<(Timestamp, Timestamp)>,
}

/// Runs of a window and how many of them were good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoodRuns {
    /// Runs counted.
    pub runs: i64,
    /// Of which good.
    pub good: i64,
}

impl Store {
    /// Runs and good runs of the query's workflow and environment in each window
    /// `[since[i], until)`, leaving out runs that started in an excluded range.
    pub async fn good_runs(&self, query: &SloQuery) -> Result<Vec<GoodRuns>, StoreError> {
        let Some(earliest) = query.since.iter().min().copied() else {
            return Ok(Vec::new());
        };
        if query.excluded.len() > MAX_EXCLUDED_RANGES {
            return Err(StoreError::Unreadable(format!(
                "{} maintenance ranges to leave out of the figures of {} in {}; at most {}",
                query.excluded.len(),
                query.workflow,
                query.environment,
                MAX_EXCLUDED_RANGES
            )));
        }
        // Status texts come from the enum, never from input.
        let counted = status_list(|s| {
            s.is_final() && !matches!(s, ExecutionStatus::Skipped | ExecutionStatus::Aborted)
        });
        let passed = passed_statuses();
        let row: Vec<Option<i64>> = dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new("SELECT ");
            for (n, since) in query.since.iter().enumerate() {
                if n > 0 {
                    q.push(", ");
                }
                q.push("SUM(CASE WHEN started_at >= ").push_bind(*since);
                q.push(" THEN 1 ELSE 0 END), SUM(CASE WHEN started_at >= ").push_bind(*since);
                match query.good {
                    GoodRun::Passed => {
                        q.push(format!(" AND status IN ({passed})"));
                    }
                    GoodRun::AtMostMs(limit) => {
                        q.push(" AND duration_ms IS NOT NULL AND duration_ms <= ")
                            .push_bind(limit);
                    }
                }
                q.push(" THEN 1 ELSE 0 END)");
            }
            q.push(" FROM workflow_executions WHERE workflow_name = ")
                .push_bind(query.workflow.clone());
            q.push(" AND environment = ").push_bind(query.environment.clone());
            q.push(" AND started_at >= ").push_bind(earliest);
            q.push(" AND started_at < ").push_bind(query.until);
            q.push(format!(" AND status IN ({counted})"));
            for (from, to) in &query.excluded {
                q.push(" AND NOT (started_at >= ").push_bind(*from);
                q.push(" AND started_at < ").push_bind(*to).push(")");
            }
            let sql_row = q
                .build()
                .fetch_one(pool)
                .await
                .map_err(StoreError::query("counting the runs of an objective"))?;
            let mut values = Vec::with_capacity(query.since.len() * 2);
            for i in 0..query.since.len() * 2 {
                values.push(
                    sqlx::Row::try_get::<Option<i64>, _>(&sql_row, i)
                        .map_err(StoreError::query("reading the runs of an objective"))?,
                );
            }
            values
        });
        Ok(row
            .chunks(2)
            .map(|pair| GoodRuns {
                runs: pair[0].unwrap_or(0),
                good: pair[1].unwrap_or(0),
            })
            .collect())
    }
}

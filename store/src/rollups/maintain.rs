//! Rebuilding the rollups of a range from the raw executions, and pruning them by their own
//! retention.
//!
//! A rebuild works on whole UTC days: a DAY row counts every run of its day, so it is never
//! rebuilt from part of it; the range asked for is widened to the days holding its ends and
//! each day is rebuilt in its own transaction (MINUTE, HOUR and DAY rows together).
//!
//! Rollups outlive the raw rows they count: a day from which `prune` deleted runs (the days
//! before the first whole day after its mark in `prune_marks`) is never rebuilt, as that
//! would replace the counts of its pruned runs with counts of what is left.

use sqlx::{AssertSqlSafe, Database};
use wfmon_model::{RollupBucket, Timestamp, WorkflowRollup};

use super::{
    RunFacts, bucket_floor, bucket_millis, ceil_to, count_runs, not_run_statuses, write_rows,
};
use crate::maintenance::READ_PRUNE_MARK;
use crate::records::begin_write;
use crate::{Store, StoreError};

/// What rebuilding one span did.
enum Rebuilt {
    /// Its rollups were replaced by a count of its runs.
    Counted { runs: i64, rows: i64 },
    /// Left alone: runs of it were pruned.
    Pruned { pruned_before: Timestamp },
}

/// What `rebuild_rollups` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildReport {
    /// Start of the rebuilt range (a UTC midnight); `None` when nothing was rebuilt.
    pub from: Option<Timestamp>,
    /// End of the rebuilt range (a UTC midnight, exclusive).
    pub to: Option<Timestamp>,
    /// Runs counted.
    pub runs: i64,
    /// Rollup rows written.
    pub rows: i64,
    /// Start of the days left alone because runs of them were pruned (a UTC midnight);
    /// `None` when none was.
    pub skipped_from: Option<Timestamp>,
    /// End of the days left alone (a UTC midnight, exclusive).
    pub skipped_to: Option<Timestamp>,
    /// The cut-off before which executions were pruned, when it made days be left alone.
    pub pruned_before: Option<Timestamp>,
}

impl RebuildReport {
    fn skip(&mut self, from: Timestamp, to: Timestamp, pruned_before: Timestamp) {
        self.skipped_from = Some(self.skipped_from.map_or(from, |f| f.min(from)));
        self.skipped_to = Some(self.skipped_to.map_or(to, |t| t.max(to)));
        self.pruned_before = Some(pruned_before);
    }
}

/// The first UTC midnight at or after `pruned_before`: every day starting before it may have
/// lost runs to a prune, and its rollups count more than its raw rows hold.
fn first_whole_day(pruned_before: Timestamp) -> Timestamp {
    ceil_to(pruned_before, bucket_millis(RollupBucket::Day))
}

impl Store {
    /// Recomputes the rollups of runs started in `[from, to)` (widened to whole UTC days;
    /// open ends: the oldest and newest execution) from the raw executions, one day per
    /// transaction. Other writers wait while a day is rebuilt, so none of their runs is lost
    /// or counted twice. A day that starts before the first whole day after the prune mark
    /// (`executions_pruned_before`) is left alone: its rollups still count pruned runs,
    /// which its raw rows no longer hold; the report names the days left alone.
    pub async fn rebuild_rollups(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<RebuildReport, StoreError> {
        let (oldest, newest) = dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, (Option<Timestamp>, Option<Timestamp>)>(
                // One subquery each: SQLite answers a lone MIN or MAX from the index's ends,
                // but scans the table for both in one SELECT.
                "SELECT (SELECT MIN(started_at) FROM workflow_executions), \
                 (SELECT MAX(started_at) FROM workflow_executions)",
            )
            .fetch_one(pool)
            .await
            .map_err(StoreError::query("finding the range of executions"))?
        });
        let day = RollupBucket::Day;
        let start = from.or(oldest).map(|t| bucket_floor(day, t));
        let end = to.or_else(|| newest.map(|t| t.plus(chrono::TimeDelta::milliseconds(1))));
        let end = end.map(|t| ceil_to(t, bucket_millis(day)));
        let mut report = RebuildReport::default();
        let (Some(mut start), Some(end)) = (start, end) else {
            return Ok(report);
        };
        if let Some(pruned_before) = self.executions_pruned_before().await? {
            let whole = first_whole_day(pruned_before);
            if start < whole {
                let skip_to = whole.min(end);
                report.skip(start, skip_to, pruned_before);
                start = skip_to;
            }
        }
        let mut from = start;
        while from < end {
            let next = from.plus(chrono::TimeDelta::days(1)).min(end);
            match self.rebuild_span(from, next).await? {
                Rebuilt::Counted { runs, rows } => {
                    report.from = Some(report.from.map_or(from, |f| f.min(from)));
                    report.to = Some(next);
                    report.runs += runs;
                    report.rows += rows;
                }
                // A prune that ran meanwhile reached this day.
                Rebuilt::Pruned { pruned_before } => report.skip(from, next, pruned_before),
            }
            from = next;
        }
        Ok(report)
    }

    async fn rebuild_span(&self, from: Timestamp, to: Timestamp) -> Result<Rebuilt, StoreError> {
        let context = format!("rebuilding the rollups of {from} to {to}");
        let select = format!(
            "SELECT run_id, workflow_name, environment, started_at, status, duration_ms \
             FROM workflow_executions WHERE started_at >= $1 AND started_at < $2 \
             AND status NOT IN ({})",
            not_run_statuses()
        );
        // Naming every bucket lets the `(bucket, bucket_start)` index find the span's rows;
        // without it the whole table is scanned for each day rebuilt.
        let buckets: Vec<String> = RollupBucket::ALL
            .iter()
            .map(|b| format!("'{}'", b.as_str()))
            .collect();
        let delete = format!(
            "DELETE FROM workflow_rollups WHERE bucket IN ({}) \
             AND bucket_start >= $1 AND bucket_start < $2",
            buckets.join(", ")
        );
        dispatch!(self, pool, Db => {
            let result: Result<Rebuilt, sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                if Db::NAME == "PostgreSQL" {
                    // Blocks writers' rollup updates (not readers) until this span is done.
                    sqlx::query::<Db>("LOCK TABLE workflow_rollups IN SHARE ROW EXCLUSIVE MODE")
                        .execute(&mut *tx)
                        .await?;
                }
                let runs = sqlx::query_as::<Db, RunFacts>(AssertSqlSafe(select))
                    .bind(from)
                    .bind(to)
                    .fetch_all(&mut *tx)
                    .await?;
                // Read after the runs: a prune that committed before they were read has moved
                // the mark by now (PostgreSQL reads committed rows statement by statement).
                let pruned_before = sqlx::query_scalar::<Db, Timestamp>(READ_PRUNE_MARK)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(pruned_before) = pruned_before
                    && from < first_whole_day(pruned_before)
                {
                    tx.rollback().await?;
                    return Ok(Rebuilt::Pruned { pruned_before });
                }
                sqlx::query::<Db>(AssertSqlSafe(delete))
                    .bind(from)
                    .bind(to)
                    .execute(&mut *tx)
                    .await?;
                let now = Timestamp::now();
                let rows: Vec<WorkflowRollup> = count_runs(&runs)
                    .into_iter()
                    .map(|(k, t)| t.into_row(&k, now))
                    .collect();
                write_rows::<Db>(&mut tx, &rows).await?;
                tx.commit().await?;
                Ok(Rebuilt::Counted { runs: runs.len() as i64, rows: rows.len() as i64 })
            }
            .await;
            result.map_err(StoreError::query(context))
        })
    }

    /// Deletes rollup rows of buckets (minutes, hours, days) that ended at or before
    /// `cutoff` (with `dry_run`, only counts them). Returns how many.
    pub async fn prune_rollups(&self, cutoff: Timestamp, dry_run: bool) -> Result<i64, StoreError> {
        // Bucket starts are aligned: a bucket ended by `cutoff` starts before the start of
        // the bucket holding it.
        let minute = bucket_floor(RollupBucket::Minute, cutoff);
        let hour = bucket_floor(RollupBucket::Hour, cutoff);
        let day = bucket_floor(RollupBucket::Day, cutoff);
        let filter = "(bucket = 'MINUTE' AND bucket_start < $1) \
             OR (bucket = 'HOUR' AND bucket_start < $2) OR (bucket = 'DAY' AND bucket_start < $3)";
        let sql = if dry_run {
            format!("SELECT COUNT(*) FROM workflow_rollups WHERE {filter}")
        } else {
            format!("DELETE FROM workflow_rollups WHERE {filter}")
        };
        dispatch!(self, pool, Db => {
            let result = if dry_run {
                sqlx::query_scalar::<Db, i64>(AssertSqlSafe(sql))
                    .bind(minute)
                    .bind(hour)
                    .bind(day)
                    .fetch_one(pool)
                    .await
            } else {
                sqlx::query::<Db>(AssertSqlSafe(sql))
                    .bind(minute)
                    .bind(hour)
                    .bind(day)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected() as i64)
            };
            result.map_err(StoreError::query("pruning rollups"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_widen_to_whole_days() {
        let at = |text: &str| Timestamp::parse(text).unwrap();
        let day = RollupBucket::Day;
        assert_eq!(
            ceil_to(at("2026-03-04T05:06:07Z"), bucket_millis(day)),
            at("2026-03-05T00:00:00Z")
        );
        assert_eq!(
            ceil_to(at("2026-03-04T00:00:00Z"), bucket_millis(day)),
            at("2026-03-04T00:00:00Z")
        );
    }
}

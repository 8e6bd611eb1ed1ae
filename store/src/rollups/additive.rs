//! PostgreSQL's rollup write for a batch that only adds runs: `INSERT ... ON CONFLICT DO
//! UPDATE` statements that add the batch's figures to each row in the database itself (counts
//! and sums added, minimum and maximum with `LEAST`/`GREATEST`, sketches merged by the
//! `wfmon_sketch_merge` function of the migrations), instead of creating, locking and reading
//! the rows and writing them back. The upsert locks each row it changes until the transaction
//! ends, so two instances adding to the same row wait for each other and both counts stay.
//!
//! MINUTE rows are written first and return their new runs and failures: less the batch's own,
//! those are the minute's counts before, so each minute's change of state (measured, up) is
//! known and added to the minute counts of its HOUR and DAY rows, written next.
//!
//! A stored sketch the function cannot read comes out NULL; the statement returns the keys of
//! those rows, which are then counted again from the raw rows (as the read-then-write path
//! does), so a damaged row is repaired rather than trusted.

use std::collections::BTreeMap;

use sqlx::{Database, Executor, IntoArguments, QueryBuilder};
use wfmon_model::{PushValues, Record, RollupBucket, Timestamp, WorkflowRollup};

use super::{MinuteShifts, RollupKey, RollupTotals, RunFacts, minute_state, recount, write_rows};

/// Rollup rows per statement (15 parameters each; PostgreSQL takes at most 65,535).
const ROWS_PER_STATEMENT: usize = 2000;

/// The columns naming a rollup row.
const KEY: [&str; 4] = ["bucket", "workflow_name", "environment", "bucket_start"];

/// A row as the upsert left it: its new runs and failures, and whether its stored sketch
/// could not be merged.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UnreadRow {
    bucket: RollupBucket,
    workflow_name: String,
    environment: String,
    bucket_start: Timestamp,
    runs: i64,
    failed: i64,
    unread: bool,
}

impl UnreadRow {
    fn key(&self) -> RollupKey {
        RollupKey {
            bucket: self.bucket,
            workflow_name: self.workflow_name.clone(),
            environment: self.environment.clone(),
            bucket_start: self.bucket_start,
        }
    }
}

/// How the upsert merges `column` of the stored row of `bucket` with the batch's figures, or
/// `Err` with the column's name when no rule is known (a new column must say how it merges).
fn merge_expression(bucket: RollupBucket, column: &str) -> Result<Option<String>, &str> {
    let table = WorkflowRollup::TABLE;
    let minute = bucket == RollupBucket::Minute;
    Ok(match column {
        // The identity of the row and its timestamp (set by the database's trigger).
        "id" | "updated_at" => None,
        c if KEY.contains(&c) => None,
        "runs" | "passed" | "failed" | "warnings" | "duration_sum_ms" => {
            Some(format!("{column} = {table}.{column} + excluded.{column}"))
        }
        // Both ignore NULLs: a row without durations takes the other side's.
        "duration_min_ms" => Some(format!(
            "{column} = LEAST({table}.{column}, excluded.{column})"
        )),
        "duration_max_ms" => Some(format!(
            "{column} = GREATEST({table}.{column}, excluded.{column})"
        )),
        "duration_sketch" => Some(format!(
            "{column} = wfmon_sketch_merge({table}.{column}, excluded.{column})"
        )),
        // A minute's state follows from its counts after the merge (runs > 0 here).
        "minutes_measured" if minute => Some(format!(
            "{column} = CASE WHEN {table}.runs + excluded.runs > 0 THEN 1 ELSE 0 END"
        )),
        "minutes_up" if minute => Some(format!(
            "{column} = CASE WHEN {table}.runs + excluded.runs > 0 \
             AND {table}.failed + excluded.failed = 0 THEN 1 ELSE 0 END"
        )),
        // The batch's figures carry the shift of the hour's or day's minutes.
        "minutes_measured" | "minutes_up" => {
            Some(format!("{column} = {table}.{column} + excluded.{column}"))
        }
        other => return Err(other),
    })
}

/// The `SET` list of the upsert of rows of `bucket`, from `Record::COLUMNS`.
fn set_list(bucket: RollupBucket) -> String {
    WorkflowRollup::COLUMNS
        .iter()
        .filter_map(|c| {
            merge_expression(bucket, c.name).unwrap_or_else(|name| {
                unreachable!("workflow_rollups.{name} has no merge rule in the upsert")
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds `added` (figures of new runs, by row) to the rollup rows in the caller's transaction.
pub(super) async fn add<DB>(
    conn: &mut DB::Connection,
    added: BTreeMap<RollupKey, RollupTotals>,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    WorkflowRollup: PushValues<DB>,
    UnreadRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    RunFacts: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Timestamp: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let now = Timestamp::now();
    // Key order (a BTreeMap's) in every batch, so concurrent writers lock rows in one order:
    // MINUTE rows, then HOUR, then DAY.
    let (minutes, wider): (Vec<_>, Vec<_>) = added
        .into_iter()
        .partition(|(key, _)| key.bucket == RollupBucket::Minute);
    // Rows whose stored sketch could not be merged, counted again from the raw rows: each is
    // locked by its upsert, so its raw rows (this batch's included) are final here.
    let mut repaired = Vec::new();
    let mut shifts = MinuteShifts::default();
    let rows: Vec<WorkflowRollup> = minutes
        .iter()
        .map(|(k, t)| t.clone().into_row(k, now))
        .collect();
    let own: BTreeMap<RollupKey, (i64, i64)> = minutes
        .into_iter()
        .map(|(key, t)| (key, (t.runs, t.failed)))
        .collect();
    for row in upsert::<DB>(conn, RollupBucket::Minute, &rows).await? {
        let key = row.key();
        let (runs, failed) = own.get(&key).copied().unwrap_or_default();
        let before = minute_state(row.runs - runs, row.failed - failed);
        // A recounted minute's hour and day follow the recount, as in `rollups::apply`.
        let after = if row.unread {
            let totals = recount::<DB>(conn, &key).await?;
            let after = minute_state(totals.runs, totals.failed);
            repaired.push(totals.into_row(&key, now));
            after
        } else {
            minute_state(row.runs, row.failed)
        };
        shifts.record(&key, before, after);
    }
    let rows: Vec<WorkflowRollup> = wider
        .into_iter()
        .map(|(key, mut totals)| {
            shifts.apply_to(&key, &mut totals);
            totals.into_row(&key, now)
        })
        .collect();
    // HOUR and DAY rows share one statement: their merge rules are the same.
    for row in upsert::<DB>(conn, RollupBucket::Hour, &rows).await? {
        if row.unread {
            let key = row.key();
            repaired.push(recount::<DB>(conn, &key).await?.into_row(&key, now));
        }
    }
    if repaired.is_empty() {
        return Ok(());
    }
    write_rows::<DB>(conn, &repaired).await
}

/// Upserts `rows` (all MINUTE rows, or all wider ones: `bucket` picks the merge rules) and
/// returns each row as the upsert left it.
async fn upsert<DB>(
    conn: &mut DB::Connection,
    bucket: RollupBucket,
    rows: &[WorkflowRollup],
) -> Result<Vec<UnreadRow>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    WorkflowRollup: PushValues<DB>,
    UnreadRow: for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let head = format!(
        "INSERT INTO {table} ({columns}) ",
        table = WorkflowRollup::TABLE,
        columns = WorkflowRollup::column_list(),
    );
    let tail = format!(
        " ON CONFLICT ({key}) DO UPDATE SET {sets} \
         RETURNING {key}, runs, failed, duration_sketch IS NULL AS unread",
        key = KEY.join(", "),
        sets = set_list(bucket),
    );
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<DB>::new(head.as_str());
        q.push_values(chunk, |mut row, record| record.push_values(&mut row));
        q.push(tail.as_str());
        out.extend(
            q.build_query_as::<UnreadRow>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rollup_column_has_a_merge_rule() {
        for column in WorkflowRollup::COLUMNS {
            for bucket in RollupBucket::ALL {
                assert!(
                    merge_expression(*bucket, column.name).is_ok(),
                    "no merge rule for {}",
                    column.name
                );
            }
        }
        let sets = set_list(RollupBucket::Hour);
        assert!(sets.contains("runs = workflow_rollups.runs + excluded.runs"));
        assert!(sets.contains("LEAST(workflow_rollups.duration_min_ms"));
        assert!(sets.contains("minutes_up = workflow_rollups.minutes_up + excluded.minutes_up"));
        assert!(!sets.contains("updated_at") && !sets.contains("id ="));
        let minute = set_list(RollupBucket::Minute);
        assert!(minute.contains("minutes_up = CASE WHEN"), "{minute}");
        assert_eq!(
            merge_expression(RollupBucket::Day, "new_column"),
            Err("new_column")
        );
    }
}

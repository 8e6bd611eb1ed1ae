//! PostgreSQL's rollup write for a batch that only adds runs: one `INSERT ... ON CONFLICT DO
//! UPDATE` per chunk that adds the batch's figures to each row in the database itself (counts
//! and sums added, minimum and maximum with `LEAST`/`GREATEST`, sketches merged by the
//! `wfmon_sketch_merge` function of the migrations), instead of creating, locking and reading
//! the rows and writing them back. The upsert locks each row it changes until the transaction
//! ends, so two instances adding to the same row wait for each other and both counts stay.
//!
//! A stored sketch the function cannot read comes out NULL; the statement returns the keys of
//! those rows, which are then counted again from the raw rows (as the read-then-write path
//! does), so a damaged row is repaired rather than trusted.

use std::collections::BTreeMap;

use sqlx::{Database, Executor, IntoArguments, QueryBuilder};
use wfmon_model::{PushValues, Record, RollupBucket, Timestamp, WorkflowRollup};

use super::{RollupKey, RollupTotals, recount, write_rows};

/// Rollup rows per statement (13 parameters each; PostgreSQL takes at most 65,535).
const ROWS_PER_STATEMENT: usize = 2000;

/// The columns naming a rollup row.
const KEY: [&str; 4] = ["bucket", "workflow_name", "environment", "bucket_start"];

/// A row whose stored sketch could not be merged.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UnreadRow {
    bucket: RollupBucket,
    workflow_name: String,
    environment: String,
    bucket_start: Timestamp,
}

/// How the upsert merges `column` of the stored row with the batch's figures, or `Err` with
/// the column's name when no rule is known (a new column must say how it merges).
fn merge_expression(column: &str) -> Result<Option<String>, &str> {
    let table = WorkflowRollup::TABLE;
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
        other => return Err(other),
    })
}

/// The `SET` list of the upsert, from `Record::COLUMNS`.
fn set_list() -> String {
    WorkflowRollup::COLUMNS
        .iter()
        .filter_map(|c| {
            merge_expression(c.name).unwrap_or_else(|name| {
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
    (wfmon_model::ExecutionStatus, Option<i32>): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Timestamp: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let now = Timestamp::now();
    // Key order (a BTreeMap's) in every batch, so concurrent writers lock rows in one order.
    let rows: Vec<WorkflowRollup> = added
        .into_iter()
        .map(|(key, totals)| totals.into_row(&key, now))
        .collect();
    let head = format!(
        "WITH written AS (INSERT INTO {table} ({columns}) ",
        table = WorkflowRollup::TABLE,
        columns = WorkflowRollup::column_list(),
    );
    let tail = format!(
        " ON CONFLICT ({key}) DO UPDATE SET {sets} \
         RETURNING {key}, duration_sketch IS NULL AS unread) \
         SELECT {key} FROM written WHERE unread",
        key = KEY.join(", "),
        sets = set_list(),
    );
    let mut unread = Vec::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<DB>::new(head.as_str());
        q.push_values(chunk, |mut row, record| record.push_values(&mut row));
        q.push(tail.as_str());
        unread.extend(
            q.build_query_as::<UnreadRow>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    if unread.is_empty() {
        return Ok(());
    }
    // The row is locked by the upsert: its raw rows (this batch's included) are final here.
    let mut repaired = Vec::with_capacity(unread.len());
    for row in unread {
        let key = RollupKey {
            bucket: row.bucket,
            workflow_name: row.workflow_name,
            environment: row.environment,
            bucket_start: row.bucket_start,
        };
        repaired.push(recount::<DB>(conn, &key).await?.into_row(&key, now));
    }
    write_rows::<DB>(conn, &repaired).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rollup_column_has_a_merge_rule() {
        for column in WorkflowRollup::COLUMNS {
            assert!(
                merge_expression(column.name).is_ok(),
                "no merge rule for {}",
                column.name
            );
        }
        let sets = set_list();
        assert!(sets.contains("runs = workflow_rollups.runs + excluded.runs"));
        assert!(sets.contains("LEAST(workflow_rollups.duration_min_ms"));
        assert!(!sets.contains("updated_at") && !sets.contains("id ="));
        assert_eq!(merge_expression("new_column"), Err("new_column"));
    }
}

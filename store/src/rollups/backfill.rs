//! The DAY rows of a database that had only MINUTE and HOUR rows, made from its HOUR rows
//! (the migration that brings DAY rows runs this in its transaction, after its SQL): per
//! workflow, environment and UTC day, counts and duration sums added, minimum and maximum
//! kept, sketches merged, so that reads over DAY rows answer what they answered over HOUR
//! rows. Raw executions are not read: rollups outlive them.
//!
//! HOUR rows are read a bounded span of whole days at a time, so memory does not grow with
//! history. A day holding an HOUR row whose sketch cannot be read keeps that sketch as its
//! own: the DAY row is as unreadable as the hour it comes from, so reads name it, the next
//! write of the day counts it again from raw rows, and `wfmon db rebuild-rollups` repairs it,
//! as for the hour.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Database, Executor, IntoArguments};
use wfmon_model::{PushValues, RollupBucket, Timestamp, WorkflowRollup, json};

use super::{RollupKey, RollupTotals, SKETCH_ROW_VALUES, SketchRow, bucket_floor, write_rows};

/// Days of HOUR rows read per statement.
const DAYS_PER_CHUNK: i64 = 31;

/// One day being summed: its figures, and the stored text of the first sketch that could
/// not be read, if any.
#[derive(Default)]
struct Day {
    totals: RollupTotals,
    unreadable: Option<String>,
}

/// Writes the DAY rows of every day that has HOUR rows with runs; returns how many.
pub(crate) async fn day_rows<DB>(conn: &mut DB::Connection) -> Result<i64, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    WorkflowRollup: PushValues<DB>,
    SketchRow: for<'r> sqlx::FromRow<'r, DB::Row>,
    (Option<Timestamp>, Option<Timestamp>): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> Timestamp: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let (oldest, newest) = sqlx::query_as::<DB, (Option<Timestamp>, Option<Timestamp>)>(
        "SELECT MIN(bucket_start), MAX(bucket_start) FROM workflow_rollups \
         WHERE bucket = 'HOUR' AND runs > 0",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (Some(oldest), Some(newest)) = (oldest, newest) else {
        return Ok(0);
    };
    let select = format!(
        "SELECT {SKETCH_ROW_VALUES} AS sketch FROM workflow_rollups \
         WHERE bucket = 'HOUR' AND runs > 0 AND bucket_start >= $1 AND bucket_start < $2"
    );
    let mut written = 0;
    let mut from = bucket_floor(RollupBucket::Day, oldest);
    while from <= newest {
        // Whole days: every HOUR row of a day is in the same span.
        let to = from.plus(chrono::TimeDelta::days(DAYS_PER_CHUNK));
        let hours = sqlx::query_as::<DB, SketchRow>(AssertSqlSafe(select.clone()))
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
        let mut days: BTreeMap<RollupKey, Day> = BTreeMap::new();
        for hour in hours {
            let key = RollupKey {
                bucket: RollupBucket::Day,
                workflow_name: hour.workflow_name.clone(),
                environment: hour.environment.clone(),
                bucket_start: bucket_floor(RollupBucket::Day, hour.bucket_start),
            };
            let day = days.entry(key).or_default();
            match hour.totals() {
                Ok(totals) => day.totals.merge(&totals),
                Err(_) => {
                    day.totals.merge(&hour.counts());
                    if day.unreadable.is_none() {
                        day.unreadable = hour.sketch.clone();
                    }
                }
            }
        }
        let now = Timestamp::now();
        let rows: Vec<WorkflowRollup> = days
            .into_iter()
            .map(|(key, day)| {
                let mut row = day.totals.into_row(&key, now);
                if let Some(text) = day.unreadable {
                    let value =
                        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                    row.duration_sketch = Some(json(value));
                }
                row
            })
            .collect();
        write_rows::<DB>(conn, &rows).await?;
        written += rows.len() as i64;
        from = to;
    }
    Ok(written)
}

//! Generic writes and reads of whole records. The SQL is built from `Record::COLUMNS`, so a
//! column can only be named here if the struct has the field.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{
    AssertSqlSafe, Database, Executor, FromRow, IntoArguments, Postgres, QueryBuilder, Sqlite,
};
use wfmon_model::{Column, ColumnKind, PushValues, Record};

use crate::{Backend, Store, StoreError};

/// A record the store can write and read on both backends.
pub trait StoredRecord:
    Record
    + PushValues<Sqlite>
    + PushValues<Postgres>
    + for<'r> FromRow<'r, SqliteRow>
    + for<'r> FromRow<'r, PgRow>
    + Send
    + Sync
    + Unpin
    + 'static
{
}

impl<T> StoredRecord for T where
    T: Record
        + PushValues<Sqlite>
        + PushValues<Postgres>
        + for<'r> FromRow<'r, SqliteRow>
        + for<'r> FromRow<'r, PgRow>
        + Send
        + Sync
        + Unpin
        + 'static
{
}

/// Columns an upsert never overwrites: identity, creation time, and `updated_at`, which the
/// database maintains.
const NOT_UPDATED: &[&str] = &["id", "created_at", "updated_at"];

/// What to do when a row with the same business key exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// Fail (plain INSERT).
    Fail,
    /// Overwrite every column but identity and timestamps.
    Update,
    /// Keep the existing row.
    Ignore,
}

/// The bind-parameter limit of one statement, with room to spare.
fn max_params<DB: Database>() -> usize {
    if DB::NAME == "PostgreSQL" {
        65_000
    } else {
        32_000
    }
}

/// The statement that opens a write transaction. On SQLite, `BEGIN IMMEDIATE` takes the write
/// lock up front, so a concurrent writer waits (busy timeout) instead of failing when a
/// deferred read transaction tries to upgrade.
pub(crate) fn begin_write<DB: Database>() -> &'static str {
    if DB::NAME == "SQLite" {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    }
}

/// `SELECT <columns> FROM <table>` for a record.
pub(crate) fn select_sql<R: Record>() -> String {
    format!("SELECT {} FROM {}", R::column_list(), R::TABLE)
}

/// The start of a read that returns the rows of a `SELECT` of `R`'s columns (pushed after
/// it, then `JSON_ROWS_TAIL`) as one JSON array built by the database (in no promised
/// order: the caller sorts what it reads): one
/// value crosses from the database to wfmon instead of one per row and column (on SQLite
/// each of those is copied and handed from the database's thread to the caller's). Each
/// row is an array of `R`'s columns in `Record::COLUMNS` order, which is the struct's field
/// order, so that serde reads it into the struct by position (`read_json_rows`).
pub(crate) fn json_rows_head<R: Record>(backend: Backend) -> String {
    let values = R::COLUMNS
        .iter()
        .map(|c| json_value(backend, c))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {} FROM (",
        json_rows_aggregate(backend, &values, "")
    )
}

/// The aggregate that returns the rows of a query as one JSON array of arrays of `values`
/// (`filter`: an aggregate `FILTER (WHERE ...)` clause, or empty), as text: NULL
/// (PostgreSQL) or `[]` (SQLite) when there are none. `read_json_rows` reads it.
pub(crate) fn json_rows_aggregate(backend: Backend, values: &str, filter: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_group_array(json_array({values})) {filter}"),
        Backend::Postgres => {
            format!("CAST(json_agg(json_build_array({values})) {filter} AS TEXT)")
        }
    }
}

/// The end of a read begun by `json_rows_head`.
pub(crate) const JSON_ROWS_TAIL: &str = ") AS r";

/// A column as JSON reads it back into its field. SQLite holds JSON documents as text
/// (`json()` embeds them as documents) and booleans as 0 and 1; PostgreSQL's types map onto
/// JSON as they are (timestamps as RFC 3339 text).
fn json_value(backend: Backend, column: &Column) -> String {
    let name = column.name;
    match (backend, column.kind) {
        (Backend::Sqlite, ColumnKind::Json) => format!("json({name})"),
        (Backend::Sqlite, ColumnKind::Bool) => format!(
            "CASE WHEN {name} IS NULL THEN NULL WHEN {name} THEN json('true') ELSE json('false') END"
        ),
        _ => name.to_owned(),
    }
}

/// The rows of a `json_rows_aggregate` (PostgreSQL's aggregate of no rows is NULL).
pub(crate) fn read_json_rows<R: serde::de::DeserializeOwned>(
    text: Option<String>,
    what: &str,
) -> Result<Vec<R>, StoreError> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => parse_json_rows(&text, what),
    }
}

/// The rows of a `json_rows_aggregate`'s text, which they may borrow from.
pub(crate) fn parse_json_rows<'a, R: serde::Deserialize<'a>>(
    text: &'a str,
    what: &str,
) -> Result<Vec<R>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Unreadable(format!("{what}: {e}")))
}

/// Inserts rows in as few multi-row statements as the parameter limit allows. The statement
/// shapes repeat (full chunks, then one remainder), so prepared statements are reused.
/// Returns the number of rows written.
pub(crate) async fn insert_rows<DB, R>(
    conn: &mut DB::Connection,
    rows: &[&R],
    on_conflict: OnConflict,
) -> Result<u64, sqlx::Error>
where
    DB: Database,
    R: Record + PushValues<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    let per_statement = (max_params::<DB>() / R::COLUMNS.len()).clamp(1, 1000);
    let prefix = format!("INSERT INTO {} ({}) ", R::TABLE, R::column_list());
    let suffix = match on_conflict {
        OnConflict::Fail => String::new(),
        OnConflict::Ignore => " ON CONFLICT DO NOTHING".to_string(),
        OnConflict::Update => {
            let sets: Vec<String> = R::COLUMNS
                .iter()
                .filter(|c| c.name != R::KEY && !NOT_UPDATED.contains(&c.name))
                .map(|c| format!("{0} = excluded.{0}", c.name))
                .collect();
            format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                R::KEY,
                sets.join(", ")
            )
        }
    };
    for chunk in rows.chunks(per_statement) {
        let mut builder = QueryBuilder::<DB>::new(prefix.as_str());
        builder.push_values(chunk.iter(), |mut row, record| record.push_values(&mut row));
        builder.push(suffix.as_str());
        builder.build().execute(&mut *conn).await?;
    }
    Ok(rows.len() as u64)
}

impl Store {
    /// Inserts new rows (in one transaction); fails if a business key exists.
    pub async fn insert<R: StoredRecord>(&self, rows: &[R]) -> Result<u64, StoreError> {
        self.write_rows(rows, OnConflict::Fail).await
    }

    /// Inserts rows, or overwrites the existing row with the same business key.
    pub async fn upsert<R: StoredRecord>(&self, rows: &[R]) -> Result<u64, StoreError> {
        self.write_rows(rows, OnConflict::Update).await
    }

    async fn write_rows<R: StoredRecord>(
        &self,
        rows: &[R],
        on_conflict: OnConflict,
    ) -> Result<u64, StoreError> {
        let refs: Vec<&R> = rows.iter().collect();
        let context = || format!("writing {} row(s) to {}", rows.len(), R::TABLE);
        dispatch!(self, pool, Db => {
            let mut tx = pool
                .begin_with(begin_write::<Db>())
                .await
                .map_err(StoreError::query(context()))?;
            let n = insert_rows::<Db, R>(&mut tx, &refs, on_conflict)
                .await
                .map_err(StoreError::query(context()))?;
            tx.commit().await.map_err(StoreError::query(context()))?;
            Ok(n)
        })
    }

    /// Fetches one row by its business key.
    pub async fn get<R: StoredRecord>(&self, key: &str) -> Result<Option<R>, StoreError> {
        let sql = format!("{} WHERE {} = $1", select_sql::<R>(), R::KEY);
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, R>(AssertSqlSafe(sql))
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(format!("reading {} {key}", R::TABLE)))
        })
    }

    /// Deletes one row by its business key; foreign-key rules apply. Returns whether it existed.
    pub async fn delete<R: StoredRecord>(&self, key: &str) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM {} WHERE {} = $1", R::TABLE, R::KEY);
        dispatch!(self, pool, Db => {
            let done = sqlx::query::<Db>(AssertSqlSafe(sql))
                .bind(key)
                .execute(pool)
                .await
                .map_err(StoreError::query(format!("deleting {} {key}", R::TABLE)))?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Counts the rows of a table.
    pub async fn count<R: StoredRecord>(&self) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", R::TABLE);
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, i64>(AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .map_err(StoreError::query(format!("counting {}", R::TABLE)))
        })
    }
}

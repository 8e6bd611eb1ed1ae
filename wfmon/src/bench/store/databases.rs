//! Fresh places for each measurement, and the baseline's raw writes.
//!
//! Every measurement gets its own empty database migrated by the store: a new SQLite file in a
//! directory under the system's temporary directory, or a new schema of the PostgreSQL
//! database. `Scratch::remove` deletes all of them.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{
    AssertSqlSafe, ConnectOptions, Connection, Database, Executor, IntoArguments, PgPool, Pool,
    QueryBuilder, SqlitePool,
};
use wfmon_model::{
    PushValues, Record, SystemHealthCheck, WorkflowExecution, WorkflowMetric, WorkflowStepResult,
    new_id,
};
use wfmon_store::{Backend, DatabaseUrl, ExecutionRecord};

use crate::exit::Failure;

/// How long to wait for a PostgreSQL connection (the store waits as long).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The bind-parameter limit of one statement: SQLite's SQLITE_MAX_VARIABLE_NUMBER (32766
/// since 3.32) and PostgreSQL's 16-bit parameter count.
fn max_params(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 32_766,
        Backend::Postgres => 65_535,
    }
}

/// Where one benchmark run keeps its databases.
pub enum Scratch {
    /// A directory of SQLite files.
    Sqlite {
        /// The directory, created by `Scratch::sqlite` and removed by `Scratch::remove`.
        dir: PathBuf,
    },
    /// Schemas of one PostgreSQL database.
    Postgres {
        /// The database the schemas are created in.
        base: DatabaseUrl,
        /// The unique prefix of this run's schema names.
        prefix: String,
        /// The schemas created so far.
        schemas: Vec<String>,
    },
}

impl Scratch {
    /// A new, empty directory under the system's temporary directory.
    pub fn sqlite() -> Result<Scratch, Failure> {
        let dir = std::env::temp_dir().join(format!("wfmon-bench-{}", unique()));
        std::fs::create_dir(&dir).map_err(|e| {
            Failure::new(format!(
                "cannot create the benchmark directory {}: {e}",
                dir.display()
            ))
        })?;
        Ok(Scratch::Sqlite { dir })
    }

    /// Checks that the PostgreSQL database at `base` is reachable; schemas come later.
    pub async fn postgres(base: &str) -> Result<Scratch, Failure> {
        let base = DatabaseUrl::parse(base)?;
        if base.backend() != Backend::Postgres {
            return Err(Failure::new(format!(
                "--postgres-url must be a postgres:// URL, not {}",
                base.redacted()
            )));
        }
        admin_connection(&base).await?.close().await.ok();
        Ok(Scratch::Postgres {
            base,
            prefix: format!("wfmon_bench_{}", unique()),
            schemas: Vec::new(),
        })
    }

    /// A URL for a new, empty database called `name` (a SQLite file, or a PostgreSQL schema).
    pub async fn fresh(&mut self, name: &str) -> Result<DatabaseUrl, Failure> {
        match self {
            Scratch::Sqlite { dir } => {
                let path = dir.join(format!("{name}.db"));
                Ok(DatabaseUrl::parse(&format!("sqlite://{}", path.display()))?)
            }
            Scratch::Postgres {
                base,
                prefix,
                schemas,
            } => {
                let schema = format!("{prefix}_{name}");
                let mut admin = admin_connection(base).await?;
                let created = sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await;
                admin.close().await.ok();
                created.map_err(|e| {
                    Failure::new(format!(
                        "cannot create schema {schema} in {}: {e}",
                        base.redacted()
                    ))
                })?;
                schemas.push(schema.clone());
                let separator = if base.as_str().contains('?') {
                    '&'
                } else {
                    '?'
                };
                Ok(DatabaseUrl::parse(&format!(
                    "{}{separator}options=-c%20search_path%3D{schema}",
                    base.as_str()
                ))?)
            }
        }
    }

    /// Deletes every database this run created (the SQLite directory, or the schemas).
    pub async fn remove(self) -> Result<(), Failure> {
        match self {
            Scratch::Sqlite { dir } => std::fs::remove_dir_all(&dir).map_err(|e| {
                Failure::new(format!(
                    "cannot remove the benchmark directory {}: {e}",
                    dir.display()
                ))
            }),
            Scratch::Postgres { base, schemas, .. } => {
                if schemas.is_empty() {
                    return Ok(());
                }
                let mut admin = admin_connection(&base).await?;
                let mut failed = Vec::new();
                for schema in &schemas {
                    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await {
                        failed.push(format!("{schema} ({e})"));
                    }
                }
                admin.close().await.ok();
                if failed.is_empty() {
                    Ok(())
                } else {
                    Err(Failure::new(format!(
                        "cannot drop benchmark schema(s) in {}: {}",
                        base.redacted(),
                        failed.join(", ")
                    )))
                }
            }
        }
    }

    /// Where the databases are, for messages.
    pub fn describe(&self) -> String {
        match self {
            Scratch::Sqlite { dir } => format!("files in {}", dir.display()),
            Scratch::Postgres { base, prefix, .. } => {
                format!("schemas {prefix}_* of {}", base.redacted())
            }
        }
    }
}

/// A unique, lower-case, time-ordered token for file and schema names.
fn unique() -> String {
    new_id("b").trim_start_matches("b_").to_owned()
}

async fn admin_connection(base: &DatabaseUrl) -> Result<sqlx::PgConnection, Failure> {
    let unreachable = |reason: String| {
        Failure::new(format!(
            "cannot connect to PostgreSQL at {}: {reason} (set --postgres-url or \
             WFMON_BENCH_POSTGRES_URL, or run with --backend sqlite)",
            base.redacted()
        ))
    };
    let options =
        PgConnectOptions::from_str(base.as_str()).map_err(|e| unreachable(e.to_string()))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// A plain sqlx pool on a database the store has migrated, with the store's connection
/// settings (SQLite: WAL, synchronous NORMAL, foreign keys on), for the baseline.
pub enum RawPool {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl RawPool {
    /// Connects to `url` and opens one connection, so that timing starts on a warm pool.
    /// Its statements are not logged: they are bulk writes and scans, slow by design, and
    /// sqlx would warn about each.
    pub async fn connect(url: &DatabaseUrl) -> Result<RawPool, sqlx::Error> {
        let pool = match url.backend() {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url.as_str())?
                    .create_if_missing(false)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .disable_statement_logging();
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await?;
                sqlx::query("SELECT 1").execute(&pool).await?;
                RawPool::Sqlite(pool)
            }
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(url.as_str())?.disable_statement_logging();
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await?;
                sqlx::query("SELECT 1").execute(&pool).await?;
                RawPool::Postgres(pool)
            }
        };
        Ok(pool)
    }

    /// Writes `records` with plain multi-row INSERTs (no upsert), `batch` executions per
    /// transaction, each table's rows in as few statements as the parameter limit allows.
    pub async fn insert_batches(
        &self,
        records: &[ExecutionRecord],
        batch: usize,
    ) -> Result<(), sqlx::Error> {
        match self {
            RawPool::Sqlite(pool) => {
                insert_batches(pool, records, batch, max_params(Backend::Sqlite)).await
            }
            RawPool::Postgres(pool) => {
                insert_batches(pool, records, batch, max_params(Backend::Postgres)).await
            }
        }
    }

    /// Runs one statement in a transaction of its own.
    pub async fn execute(&self, sql: sqlx::AssertSqlSafe<String>) -> Result<u64, sqlx::Error> {
        Ok(match self {
            RawPool::Sqlite(pool) => sqlx::query(sql).execute(pool).await?.rows_affected(),
            RawPool::Postgres(pool) => sqlx::query(sql).execute(pool).await?.rows_affected(),
        })
    }

    /// Rows in the four tables the benchmark writes.
    pub async fn count_rows(&self) -> Result<i64, sqlx::Error> {
        let sql = [
            WorkflowExecution::TABLE,
            WorkflowStepResult::TABLE,
            WorkflowMetric::TABLE,
            SystemHealthCheck::TABLE,
        ]
        .map(|t| format!("(SELECT COUNT(*) FROM {t})"))
        .join(" + ");
        let sql = AssertSqlSafe(format!("SELECT {sql}"));
        match self {
            RawPool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            RawPool::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            RawPool::Sqlite(pool) => pool.close().await,
            RawPool::Postgres(pool) => pool.close().await,
        }
    }
}

async fn insert_batches<DB>(
    pool: &Pool<DB>,
    records: &[ExecutionRecord],
    batch: usize,
    max_params: usize,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    WorkflowExecution: PushValues<DB>,
    WorkflowStepResult: PushValues<DB>,
    WorkflowMetric: PushValues<DB>,
    SystemHealthCheck: PushValues<DB>,
{
    for chunk in records.chunks(batch) {
        let executions: Vec<&WorkflowExecution> = chunk.iter().map(|r| &r.execution).collect();
        let steps: Vec<&WorkflowStepResult> = chunk.iter().flat_map(|r| &r.steps).collect();
        let metrics: Vec<&WorkflowMetric> = chunk.iter().flat_map(|r| &r.metrics).collect();
        let checks: Vec<&SystemHealthCheck> = chunk.iter().flat_map(|r| &r.health_checks).collect();
        let mut tx = pool.begin().await?;
        insert_plain::<DB, _>(&mut tx, &executions, max_params).await?;
        insert_plain::<DB, _>(&mut tx, &steps, max_params).await?;
        insert_plain::<DB, _>(&mut tx, &metrics, max_params).await?;
        insert_plain::<DB, _>(&mut tx, &checks, max_params).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// `INSERT INTO t (columns) VALUES (...), (...)`, split only where the parameter limit says.
async fn insert_plain<DB, R>(
    conn: &mut DB::Connection,
    rows: &[&R],
    max_params: usize,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    R: Record + PushValues<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    let prefix = format!("INSERT INTO {} ({}) ", R::TABLE, R::column_list());
    let per_statement = (max_params / R::COLUMNS.len()).max(1);
    for chunk in rows.chunks(per_statement) {
        let mut builder = QueryBuilder::<DB>::new(prefix.as_str());
        builder.push_values(chunk.iter(), |mut row, record| record.push_values(&mut row));
        builder.build().execute(&mut *conn).await?;
    }
    Ok(())
}

//! wfmon's storage: one `Store` over two real backends, SQLite (the embedded default) and
//! PostgreSQL. Every query is written once where the two dialects agree (`$n` parameters,
//! standard SQL) and run through `dispatch!`, which gives the body the backend's pool.
//!
//! All column lists come from `wfmon_model::Record::COLUMNS`, so the SQL written here can
//! only name columns the structs have, and `schema::check` proves at start-up that the live
//! database has them too.

#[macro_use]
mod dispatch;
mod alerts;
mod analytics;
mod auth;
mod error;
mod maintenance;
mod migrate;
mod outbox;
mod overview;
mod queries;
mod recorder;
mod records;
mod reports;
mod rollups;
mod schedules;
mod schema;
mod slo;
mod stats;
mod url;

pub use alerts::AlertChange;
pub use analytics::{
    AnalyticsWindow, FailureGroup, FiguresPoint, MAX_POINTS, MAX_WINDOW_DAYS, RollupQuery,
    RunFigures, StepFigures, Uptime, WindowProblem, WorkflowFigures,
};
pub use auth::{
    MIN_PASSWORD_LEN, NewToken, Revocation, SessionGrant, TOKEN_PREFIX, check_name, check_password,
    sha256_hex,
};
pub use error::StoreError;
pub use maintenance::{PruneReport, TableStats};
pub use migrate::{MIGRATIONS_TABLE, MigrationOutcome, latest_version};
pub use outbox::DeliveryOutcome;
pub use overview::{AlertFilter, RecentFigures, RunStats, SeriesPoint, SeriesQuery, WorkflowStats};
pub use queries::{ExecutionDetail, ExecutionFilter, StatusSummary};
pub use recorder::ExecutionRecord;
pub use records::StoredRecord;
pub use reports::{
    AlertFigures, AssertionFailures, GroupFigures, ReportScope, ReportStepFigures, SavedReport,
    ScopeRuns, ScopeSteps,
};
pub use rollups::{RebuildReport, RunFacts};
pub use schedules::{
    Advance, ClaimedRun, RunningExecution, ScheduleSpec, ScheduleTally, SyncReport, is_paused,
};
pub use schema::{SchemaProblem, SchemaReport};
pub use slo::{GoodRun, GoodRuns, MAX_EXCLUDED_RANGES, SloQuery};
pub use url::{Backend, DatabaseUrl};

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, PgPool, SqlitePool};

/// How long to wait for a connection before giving up with a clear error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether opening may create the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the SQLite file if it does not exist (first start, `db migrate`).
    Create,
    /// The database must exist; open it for reading and writing.
    Existing,
    /// The database must exist; never write to it (`db check`).
    ReadOnly,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection pool to wfmon's database, on SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    url: DatabaseUrl,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url.redacted())
            .finish()
    }
}

impl Store {
    /// Connects to the database without checking its schema (for `db migrate` and `db check`).
    pub async fn connect(url: &DatabaseUrl, mode: OpenMode) -> Result<Store, StoreError> {
        let pool = match url.backend() {
            Backend::Sqlite => Pool::Sqlite(connect_sqlite(url, mode).await?),
            Backend::Postgres => Pool::Postgres(connect_postgres(url).await?),
        };
        Ok(Store {
            pool,
            url: url.clone(),
        })
    }

    /// Connects and refuses a database whose schema is not exactly what this binary needs.
    /// An empty database is migrated first when `mode` is `Create` (first start).
    pub async fn open(url: &DatabaseUrl, mode: OpenMode) -> Result<Store, StoreError> {
        let store = Store::connect(url, mode).await?;
        if mode == OpenMode::Create && store.is_empty().await? {
            store.migrate().await?;
        }
        let report = store.check_schema().await?;
        if !report.is_ok() {
            return Err(StoreError::Drift(report));
        }
        Ok(store)
    }

    /// Which backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// The database URL with any password removed, for messages.
    pub fn redacted_url(&self) -> String {
        self.url.redacted()
    }

    /// Closes every connection (waits for checked-out ones to come back).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

async fn connect_sqlite(url: &DatabaseUrl, mode: OpenMode) -> Result<SqlitePool, StoreError> {
    let connect_error = |source| StoreError::Connect {
        url: url.redacted(),
        source,
    };
    let mut options = SqliteConnectOptions::from_str(url.as_str()).map_err(connect_error)?;
    if mode != OpenMode::Create {
        let path = options.get_filename();
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.display().to_string(),
            });
        }
    }
    options = options
        .create_if_missing(mode == OpenMode::Create)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    if mode == OpenMode::ReadOnly || url.is_sqlite_read_only() {
        options = options.read_only(true);
    } else {
        options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
    }
    SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::classify(e, url))
}

async fn connect_postgres(url: &DatabaseUrl) -> Result<PgPool, StoreError> {
    let options =
        PgConnectOptions::from_str(url.as_str()).map_err(|source| StoreError::Connect {
            url: url.redacted(),
            source,
        })?;
    // One direct attempt first: the pool would retry until its timeout and report only that,
    // hiding the reason (refused, unknown host, authentication failed, no such database).
    let probe = tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await;
    match probe {
        Ok(Ok(conn)) => drop(conn.close().await),
        Ok(Err(source)) => {
            return Err(StoreError::Connect {
                url: url.redacted(),
                source,
            });
        }
        Err(_) => {
            return Err(StoreError::Connect {
                url: url.redacted(),
                source: sqlx::Error::PoolTimedOut,
            });
        }
    }
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::classify(e, url))
}

//! Store errors: each says what happened, where, and what to do.

use crate::{DatabaseUrl, SchemaReport};

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not one wfmon understands.
    #[error("invalid database URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },

    /// The database could not be reached or opened.
    #[error("cannot open database {url}: {}", describe(source))]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    /// A SQLite file that must exist does not.
    #[error("database file {path} does not exist (run `wfmon db migrate` to create it)")]
    Missing { path: String },

    /// A write was refused because the database is read-only.
    #[error("database {url} is read-only: {action} needs write access")]
    ReadOnly { url: String, action: &'static str },

    /// The database was migrated by a newer wfmon.
    #[error(
        "database schema is at version {found}, newer than this wfmon knows (up to {known}); \
         upgrade wfmon before using this database"
    )]
    SchemaTooNew { found: i64, known: i64 },

    /// The live schema does not match the records.
    #[error("{0}")]
    Drift(SchemaReport),

    /// A migration failed; nothing of it was applied.
    #[error(
        "migration {version} ({name}) failed, nothing was changed: {}",
        describe(source)
    )]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// A query failed.
    #[error("{context}: {}", describe(source))]
    Query {
        context: String,
        #[source]
        source: sqlx::Error,
    },

    /// A name that must be unique is taken; nothing was changed.
    #[error("{what} `{key}` already exists")]
    Duplicate { what: &'static str, key: String },

    /// A value given to the store breaks a rule (a name, a password); nothing was changed.
    #[error("{0}")]
    Invalid(String),

    /// A row that must exist does not.
    #[error("{what} `{key}` not found")]
    NotFound { what: &'static str, key: String },

    /// A stored value cannot be read (the message says which and how to repair it).
    #[error("{0}")]
    Unreadable(String),
}

impl StoreError {
    /// Maps a connection-time sqlx error to the clearest variant.
    pub(crate) fn classify(source: sqlx::Error, url: &DatabaseUrl) -> StoreError {
        if is_read_only(&source) {
            return StoreError::ReadOnly {
                url: url.redacted(),
                action: "opening",
            };
        }
        StoreError::Connect {
            url: url.redacted(),
            source,
        }
    }

    /// Wraps a query error with what was being done.
    pub(crate) fn query(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Query { context, source }
    }
}

/// A database error as a user reads it. PostgreSQL's errors come with the server's detail
/// and hint when it gives them, but without the line of the server's own source code that
/// the driver appends (`at line 948`), which reads as if it were a line of the user's.
fn describe(error: &sqlx::Error) -> String {
    let sqlx::Error::Database(db) = error else {
        return error.to_string();
    };
    let mut text = format!("error returned from database: {}", db.message());
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        if let Some(detail) = pg.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = pg.hint() {
            text.push_str(&format!(" (hint: {hint})"));
        }
    }
    text
}

/// Whether sqlx reports SQLite's SQLITE_READONLY (code 8 and its extended codes).
pub(crate) fn is_read_only(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.code()
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| c & 0xff == 8)
                || db.message().contains("readonly database")
        }
        _ => false,
    }
}

impl StoreError {
    /// Whether the error says the database is (for now) out of reach or busy, so the same
    /// write may succeed later: connection lost or refused, pool timeout, SQLite busy or out
    /// of disk, PostgreSQL shutting down, out of resources, or a serialisation conflict.
    /// Any other error (a constraint, a type) would fail again and is not worth retrying.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Query { source, .. } | StoreError::Migration { source, .. } => {
                is_transient_sqlx(source)
            }
            _ => false,
        }
    }
}

fn is_transient_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite: BUSY 5, LOCKED 6, IOERR 10, FULL 13, CANTOPEN 14 (extended codes keep
            // the primary code in the low byte).
            if let Ok(n) = code.parse::<i64>() {
                return matches!(n & 0xff, 5 | 6 | 10 | 13 | 14);
            }
            // PostgreSQL SQLSTATE: connection exceptions, insufficient resources, operator
            // intervention (shutdown), serialisation failure and deadlock.
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
        }
        _ => false,
    }
}

//! Migrations embedded in the binary, one list per dialect, applied in one transaction under
//! a lock (PostgreSQL advisory lock, SQLite `BEGIN IMMEDIATE`), so that two instances starting
//! at once apply each migration exactly once and a failure leaves nothing half-done.
//!
//! A migration may carry a Rust step (the DAY rollups made from the HOUR ones), for work the
//! SQL of both dialects cannot do. Steps use today's records, so they run in the same
//! transaction after the SQL of every migration being applied, when the schema is today's
//! (`migrate_up_to` an older version with a step pending is for versions that have today's
//! rollup columns).
//!
//! On PostgreSQL, version 1 lays the legacy bot's six tables (a no-op on a database that has
//! them) and version 2 upgrades them: fresh and adopted databases take the same path.

use sqlx::Row;

use crate::error::is_read_only;
use crate::{Backend, Store, StoreError};

/// The table recording which migrations were applied.
pub const MIGRATIONS_TABLE: &str = "wfmon_migrations";

/// An advisory-lock key private to wfmon's migrations.
const PG_MIGRATION_LOCK: i64 = 0x7766_6d6f_6e00_0001;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
    /// Run in the same transaction, after the SQL of every migration being applied.
    step: Option<Step>,
}

/// Work of a migration that SQL of both dialects cannot do.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The DAY rollups of the existing HOUR rollups (`rollups::backfill`).
    DayRollups,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "schema",
        sql: include_str!("../migrations/sqlite/0001_schema.sql"),
        step: None,
    },
    Migration {
        version: 2,
        name: "alerting",
        sql: include_str!("../migrations/sqlite/0002_alerting.sql"),
        step: None,
    },
    Migration {
        version: 3,
        name: "auth",
        sql: include_str!("../migrations/sqlite/0003_auth.sql"),
        step: None,
    },
    Migration {
        version: 4,
        name: "recording",
        sql: include_str!("../migrations/sqlite/0004_recording.sql"),
        step: None,
    },
    Migration {
        version: 5,
        name: "day_rollups",
        sql: include_str!("../migrations/sqlite/0005_day_rollups.sql"),
        step: Some(Step::DayRollups),
    },
    Migration {
        version: 6,
        name: "uptime_minutes",
        sql: include_str!("../migrations/sqlite/0006_uptime_minutes.sql"),
        step: None,
    },
    Migration {
        version: 7,
        name: "prune_marks",
        sql: include_str!("../migrations/sqlite/0007_prune_marks.sql"),
        step: None,
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "legacy_baseline",
        sql: include_str!("../migrations/postgres/0001_legacy_baseline.sql"),
        step: None,
    },
    Migration {
        version: 2,
        name: "wfmon_layout",
        sql: include_str!("../migrations/postgres/0002_wfmon_layout.sql"),
        step: None,
    },
    Migration {
        version: 3,
        name: "alerting",
        sql: include_str!("../migrations/postgres/0003_alerting.sql"),
        step: None,
    },
    Migration {
        version: 4,
        name: "auth",
        sql: include_str!("../migrations/postgres/0004_auth.sql"),
        step: None,
    },
    Migration {
        version: 5,
        name: "recording",
        sql: include_str!("../migrations/postgres/0005_recording.sql"),
        step: None,
    },
    Migration {
        version: 6,
        name: "day_rollups",
        sql: include_str!("../migrations/postgres/0006_day_rollups.sql"),
        step: Some(Step::DayRollups),
    },
    Migration {
        version: 7,
        name: "uptime_minutes",
        sql: include_str!("../migrations/postgres/0007_uptime_minutes.sql"),
        step: None,
    },
    Migration {
        version: 8,
        name: "prune_marks",
        sql: include_str!("../migrations/postgres/0008_prune_marks.sql"),
        step: None,
    },
];

fn migrations(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// The schema version this binary brings the given backend to.
pub fn latest_version(backend: Backend) -> i64 {
    migrations(backend).last().map_or(0, |m| m.version)
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationOutcome {
    /// Version before.
    pub from: i64,
    /// Version after.
    pub to: i64,
    /// `(version, name)` of each migration applied now.
    pub applied: Vec<(i64, &'static str)>,
}

const SQLITE_CREATE: &str = "CREATE TABLE IF NOT EXISTS wfmon_migrations (
    version INTEGER NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))";

const POSTGRES_CREATE: &str = "CREATE TABLE IF NOT EXISTS wfmon_migrations (
    version BIGINT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP)";

impl Store {
    /// Applies every pending migration. Safe to run from several processes at once; running
    /// it again changes nothing.
    pub async fn migrate(&self) -> Result<MigrationOutcome, StoreError> {
        self.migrate_up_to(latest_version(self.backend())).await
    }

    /// Applies the pending migrations up to `version` only, leaving the schema at an older
    /// version (to test an upgrade from it; `migrate` applies every one).
    #[doc(hidden)]
    pub async fn migrate_up_to(&self, version: i64) -> Result<MigrationOutcome, StoreError> {
        let backend = self.backend();
        let url = self.redacted_url();
        let read_only = |e: sqlx::Error| {
            if is_read_only(&e) {
                StoreError::ReadOnly {
                    url: url.clone(),
                    action: "migrating",
                }
            } else {
                StoreError::query("preparing migrations")(e)
            }
        };
        dispatch!(self, pool, Db => {
            let mut tx = match backend {
                Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await.map_err(read_only)?,
                Backend::Postgres => pool.begin().await.map_err(read_only)?,
            };
            if backend == Backend::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(read_only)?;
            }
            let create = match backend {
                Backend::Sqlite => SQLITE_CREATE,
                Backend::Postgres => POSTGRES_CREATE,
            };
            sqlx::raw_sql(create).execute(&mut *tx).await.map_err(read_only)?;
            let from: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM wfmon_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(read_only)?
                .try_get("v")
                .map_err(read_only)?;
            let latest = latest_version(backend);
            if from > latest {
                return Err(StoreError::SchemaTooNew { found: from, known: latest });
            }
            let mut applied = Vec::new();
            let mut steps = Vec::new();
            for m in migrations(backend).iter().filter(|m| m.version > from && m.version <= version) {
                let failed = |source| StoreError::Migration { version: m.version, name: m.name, source };
                sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(failed)?;
                sqlx::query("INSERT INTO wfmon_migrations (version, name) VALUES ($1, $2)")
                    .bind(m.version)
                    .bind(m.name)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                applied.push((m.version, m.name));
                if let Some(step) = m.step {
                    steps.push((m, step));
                }
            }
            // Rust steps read and write rows through today's records, so they run once the
            // schema is today's: after the SQL of every migration applied here.
            for (m, step) in steps {
                let failed = |source| StoreError::Migration { version: m.version, name: m.name, source };
                match step {
                    Step::DayRollups => {
                        crate::rollups::backfill::day_rows::<Db>(&mut tx).await.map_err(failed)?;
                    }
                }
            }
            tx.commit().await.map_err(read_only)?;
            let to = applied.last().map_or(from, |(v, _)| *v);
            Ok(MigrationOutcome { from, to, applied })
        })
    }

    /// The applied schema version, or `None` when the database has no migrations table.
    pub async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        if !self.has_table(crate::MIGRATIONS_TABLE).await? {
            return Ok(None);
        }
        dispatch!(self, pool, Db => {
            let v: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM wfmon_migrations")
                .fetch_one(pool)
                .await
                .map_err(StoreError::query("reading the schema version"))?;
            Ok(Some(v))
        })
    }

    /// Whether the database holds neither wfmon's tables nor the legacy bot's.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        for table in [
            MIGRATIONS_TABLE,
            "workflow_executions",
            "monitoring_reports",
        ] {
            if self.has_table(table).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(crate) async fn has_table(&self, table: &str) -> Result<bool, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        dispatch!(self, pool, Db => {
            let n: i64 = sqlx::query_scalar(sql)
                .bind(table)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query(format!("looking for table {table}")))?;
            Ok(n > 0)
        })
    }
}

//! The drift check: compares the columns every record needs with the live database and names
//! each table, column and type that differs, with the command that fixes it.

use std::collections::HashMap;
use std::fmt;

use wfmon_model::{ALL_TABLES, Column};

use crate::{Backend, Store, StoreError, latest_version};

/// One way the live schema differs from what this binary needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaProblem {
    /// No wfmon migrations table: an empty database, or one the legacy bot created.
    NotManaged,
    /// Migrations this binary has that the database lacks.
    Pending { found: i64, latest: i64 },
    /// The database was migrated by a newer wfmon.
    TooNew { found: i64, latest: i64 },
    /// A table is missing.
    MissingTable { table: &'static str },
    /// A column is missing.
    MissingColumn {
        table: &'static str,
        column: &'static str,
        expected: String,
    },
    /// A column has a type the record cannot read.
    WrongType {
        table: &'static str,
        column: &'static str,
        expected: String,
        found: String,
    },
    /// A column allows NULL where the record requires a value.
    Nullable {
        table: &'static str,
        column: &'static str,
    },
    /// A column wfmon does not know (added by another tool) is NOT NULL without a default:
    /// wfmon never writes it, so every insert into the table fails.
    UnknownRequired { table: &'static str, column: String },
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaProblem::NotManaged => {
                write!(
                    f,
                    "no {} table: the database is empty or was created by another tool",
                    crate::MIGRATIONS_TABLE
                )
            }
            SchemaProblem::Pending { found, latest } => {
                write!(f, "schema version {found}, this wfmon needs {latest}")
            }
            SchemaProblem::TooNew { found, latest } => {
                write!(
                    f,
                    "schema version {found} is newer than this wfmon knows ({latest})"
                )
            }
            SchemaProblem::MissingTable { table } => write!(f, "table {table} is missing"),
            SchemaProblem::MissingColumn {
                table,
                column,
                expected,
            } => {
                write!(
                    f,
                    "column {table}.{column} is missing (expected {expected})"
                )
            }
            SchemaProblem::WrongType {
                table,
                column,
                expected,
                found,
            } => {
                write!(
                    f,
                    "column {table}.{column} has type {found}, expected {expected}"
                )
            }
            SchemaProblem::Nullable { table, column } => {
                write!(f, "column {table}.{column} allows NULL, expected NOT NULL")
            }
            SchemaProblem::UnknownRequired { table, column } => {
                write!(
                    f,
                    "column {table}.{column} is not wfmon's and is NOT NULL without a default, \
                     so wfmon cannot insert into {table}: give it a default or drop its NOT NULL"
                )
            }
        }
    }
}

/// The outcome of a schema check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaReport {
    /// The backend checked.
    pub backend: Backend,
    /// Applied schema version (`None`: no migrations table).
    pub version: Option<i64>,
    /// The version this binary needs.
    pub latest: i64,
    /// Every difference found; empty when the schema is current.
    pub problems: Vec<SchemaProblem>,
}

impl SchemaReport {
    /// Whether the schema is exactly what this binary needs.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// What fixes the problems.
    pub fn fix(&self) -> &'static str {
        let foreign = |p: &SchemaProblem| matches!(p, SchemaProblem::UnknownRequired { .. });
        if self
            .problems
            .iter()
            .any(|p| matches!(p, SchemaProblem::TooNew { .. }))
        {
            "upgrade wfmon to a version that knows this schema"
        } else if self.problems.iter().all(foreign) {
            "give each column named a default, or drop its NOT NULL (`wfmon db migrate` does \
             not touch columns that are not wfmon's)"
        } else if self.problems.iter().any(foreign) {
            "run `wfmon db migrate`, and give each column named that is not wfmon's a default, \
             or drop its NOT NULL"
        } else {
            "run `wfmon db migrate`"
        }
    }
}

impl fmt::Display for SchemaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(
                f,
                "{} schema is current (version {})",
                self.backend, self.latest
            );
        }
        write!(
            f,
            "{} schema does not match this wfmon ({} problem{}):",
            self.backend,
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        write!(f, "\nfix: {}", self.fix())
    }
}

/// A column as the database declares it.
struct LiveColumn {
    declared: String,
    nullable: bool,
    /// Whether an insert that leaves it out gets a value (a default, an identity or
    /// generated column, SQLite's rowid).
    filled: bool,
}

impl Store {
    /// Compares the live schema with every record's columns. Reads only.
    pub async fn check_schema(&self) -> Result<SchemaReport, StoreError> {
        let backend = self.backend();
        let latest = latest_version(backend);
        let version = self.schema_version().await?;
        let mut problems = Vec::new();
        match version {
            None => problems.push(SchemaProblem::NotManaged),
            Some(found) if found < latest => {
                problems.push(SchemaProblem::Pending { found, latest })
            }
            Some(found) if found > latest => problems.push(SchemaProblem::TooNew { found, latest }),
            Some(_) => {}
        }
        let live = self.live_columns().await?;
        for (table, columns) in ALL_TABLES {
            match live.get(*table) {
                None => problems.push(SchemaProblem::MissingTable { table }),
                Some(existing) => compare_table(backend, table, columns, existing, &mut problems),
            }
        }
        Ok(SchemaReport {
            backend,
            version,
            latest,
            problems,
        })
    }

    async fn live_columns(
        &self,
    ) -> Result<HashMap<String, HashMap<String, LiveColumn>>, StoreError> {
        let mut tables: HashMap<String, HashMap<String, LiveColumn>> = HashMap::new();
        match &self.pool {
            crate::Pool::Postgres(pool) => {
                let rows: Vec<(String, String, String, String, bool)> = sqlx::query_as(
                    "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
                     column_default IS NOT NULL OR is_identity = 'YES' OR is_generated <> 'NEVER' \
                     FROM information_schema.columns WHERE table_schema = current_schema()",
                )
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("reading information_schema.columns"))?;
                for (table, column, data_type, nullable, filled) in rows {
                    tables.entry(table).or_default().insert(
                        column,
                        LiveColumn {
                            declared: data_type,
                            nullable: nullable == "YES",
                            filled,
                        },
                    );
                }
            }
            crate::Pool::Sqlite(pool) => {
                for (table, _) in ALL_TABLES {
                    let rows: Vec<(String, String, bool, i64, bool)> = sqlx::query_as(
                        "SELECT name, type, \"notnull\", pk, dflt_value IS NOT NULL \
                         FROM pragma_table_info($1)",
                    )
                    .bind(*table)
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::query(format!("reading the columns of {table}")))?;
                    if rows.is_empty() {
                        continue;
                    }
                    let columns = tables.entry((*table).to_owned()).or_default();
                    // A lone INTEGER PRIMARY KEY is the rowid, filled by every insert.
                    let rowid = rows.iter().filter(|r| r.3 > 0).count() == 1;
                    for (column, declared, not_null, pk, has_default) in rows {
                        let is_rowid = rowid && pk > 0 && declared.eq_ignore_ascii_case("INTEGER");
                        columns.insert(
                            column,
                            LiveColumn {
                                declared,
                                nullable: !not_null,
                                filled: has_default || is_rowid,
                            },
                        );
                    }
                }
            }
        }
        Ok(tables)
    }
}

fn compare_table(
    backend: Backend,
    table: &'static str,
    columns: &[Column],
    live: &HashMap<String, LiveColumn>,
    problems: &mut Vec<SchemaProblem>,
) {
    for column in columns {
        let expected_type = match backend {
            Backend::Sqlite => column.kind.sqlite_type(),
            Backend::Postgres => column.kind.postgres_type(),
        };
        let Some(found) = live.get(column.name) else {
            let null = if column.nullable { "NULL" } else { "NOT NULL" };
            problems.push(SchemaProblem::MissingColumn {
                table,
                column: column.name,
                expected: format!("{expected_type} {null}"),
            });
            continue;
        };
        let type_ok = match backend {
            Backend::Sqlite => column.kind.accepts_sqlite(&found.declared),
            Backend::Postgres => column.kind.accepts_postgres(&found.declared),
        };
        if !type_ok {
            problems.push(SchemaProblem::WrongType {
                table,
                column: column.name,
                expected: expected_type.to_owned(),
                found: found.declared.clone(),
            });
        }
        if found.nullable && !column.nullable {
            problems.push(SchemaProblem::Nullable {
                table,
                column: column.name,
            });
        }
    }
    // wfmon inserts into every table it knows, naming only its own columns.
    let mut foreign: Vec<&String> = live
        .iter()
        .filter(|(name, c)| {
            !c.nullable && !c.filled && !columns.iter().any(|known| known.name == name.as_str())
        })
        .map(|(name, _)| name)
        .collect();
    foreign.sort();
    for column in foreign {
        problems.push(SchemaProblem::UnknownRequired {
            table,
            column: column.clone(),
        });
    }
}

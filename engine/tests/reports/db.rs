//! A fresh database per test (a SQLite file, or a new schema of the PostgreSQL test
//! database), and a macro that runs one test body on both.

use wfmon_model::new_id;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

/// A migrated store and what keeps its files alive.
pub struct TestDb {
    /// The store.
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh SQLite file.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("reports.db").display()
        ))
        .unwrap();
        let store = Store::open(&url, OpenMode::Create).await.unwrap();
        TestDb {
            store,
            _dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL schema, or None (with a note) when PostgreSQL is unreachable
    /// outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let url = postgres_schema_url().await?;
        let store = Store::open(&url, OpenMode::Create).await.unwrap();
        Some(TestDb { store, _dir: None })
    }
}

/// The URL of a new, empty schema of the PostgreSQL test database (`WFMON_TEST_POSTGRES_URL`).
pub async fn postgres_schema_url() -> Option<DatabaseUrl> {
    use sqlx::{ConnectOptions, Connection};
    let base = std::env::var("WFMON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/wfmon_test".to_owned());
    let options: sqlx::postgres::PgConnectOptions = base.parse().unwrap();
    let mut conn = match options.connect().await {
        Ok(conn) => conn,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping PostgreSQL test: cannot connect to {base}: {e}");
            return None;
        }
        Err(e) => panic!("CI is set but PostgreSQL at {base} is unreachable: {e}"),
    };
    let schema = format!("t_{}", new_id("s").trim_start_matches("s_"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(
        DatabaseUrl::parse(&format!(
            "{base}{separator}options=-c%20search_path%3D{schema}"
        ))
        .unwrap(),
    )
}

/// Declares each listed `async fn name(db: TestDb)` as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::db::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = $crate::db::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

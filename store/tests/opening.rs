//! Opening and migrating databases: first start, concurrent start-up, read-only files,
//! missing files, bad URLs. Each bad case gets one clear error and writes nothing.

mod common;

use common::*;
use wfmon_store::{DatabaseUrl, OpenMode, Store, StoreError, latest_version};

/// Two instances migrating one empty database at the same moment: the migrations are applied
/// exactly once, both succeed, and the schema is current.
async fn concurrent_migrations_apply_once(url: DatabaseUrl) {
    let a = Store::connect(&url, OpenMode::Create).await.unwrap();
    let b = Store::connect(&url, OpenMode::Create).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let latest = latest_version(a.backend());
    let applied = ra.applied.len() + rb.applied.len();
    assert_eq!(
        applied as i64, latest,
        "each migration applied once: {ra:?} {rb:?}"
    );
    assert_eq!((ra.to, rb.to), (latest, latest));
    assert!(a.check_schema().await.unwrap().is_ok());
    // A third run changes nothing.
    assert!(a.migrate().await.unwrap().applied.is_empty());
    assert_eq!(a.schema_version().await.unwrap(), Some(latest));
}

#[tokio::test]
async fn sqlite_concurrent_migrations_apply_once() {
    let (url, _dir) = sqlite_url();
    concurrent_migrations_apply_once(url).await;
}

#[tokio::test]
async fn postgres_concurrent_migrations_apply_once() {
    if let Some(url) = postgres_url().await {
        concurrent_migrations_apply_once(url).await;
    }
}

#[tokio::test]
async fn first_start_creates_and_migrates_a_sqlite_file() {
    let (url, dir) = sqlite_url();
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    assert!(dir.path().join("wfmon.db").exists());
    assert!(store.check_schema().await.unwrap().is_ok());
}

#[tokio::test]
async fn a_missing_sqlite_file_is_an_error_and_is_not_created() {
    let (url, dir) = sqlite_url();
    for mode in [OpenMode::Existing, OpenMode::ReadOnly] {
        let err = Store::open(&url, mode).await.unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("wfmon db migrate"), "{err}");
    }
    assert!(!dir.path().join("wfmon.db").exists());
}

#[tokio::test]
async fn a_read_only_sqlite_database_refuses_migration_and_stays_unchanged() {
    let (url, dir) = sqlite_url();
    let path = dir.path().join("wfmon.db");
    std::fs::write(&path, b"").unwrap();
    let ro = DatabaseUrl::parse(&format!("{}?mode=ro", url.as_str())).unwrap();
    let store = Store::connect(&ro, OpenMode::Existing).await.unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        0,
        "nothing was written"
    );
    // Opening it for use refuses the empty, unmigrated database instead of creating tables.
    assert!(matches!(
        Store::open(&ro, OpenMode::Create).await,
        Err(StoreError::Drift(_)) | Err(StoreError::ReadOnly { .. })
    ));
}

#[tokio::test]
async fn an_unreachable_postgres_is_one_clear_error_without_the_password() {
    let url = DatabaseUrl::parse("postgres://wfmon:hunter2@127.0.0.1:1/wfmon").unwrap();
    let err = Store::open(&url, OpenMode::Create).await.unwrap_err();
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(text.contains("refused"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!format!("{err:?}").contains("hunter2"));
}

#[tokio::test]
async fn a_missing_postgres_database_is_named_without_the_servers_source_line() {
    // Only the server's answer matters here: skip when no PostgreSQL is configured.
    if postgres_url().await.is_none() {
        return;
    }
    let base = postgres_base_url();
    let Some((server, _)) = base.rsplit_once('/') else {
        panic!("no database in {base}");
    };
    let missing = format!("wfmon_missing_{}", std::process::id());
    let url = DatabaseUrl::parse(&format!("{server}/{missing}")).unwrap();
    let err = Store::open(&url, OpenMode::Existing).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(
        text.contains(&format!("database \"{missing}\" does not exist")),
        "{text}"
    );
    assert!(!text.contains(" at line "), "{text}");
}

#[tokio::test]
async fn an_unmigrated_database_is_refused_by_open_existing() {
    let (url, _dir) = sqlite_url();
    Store::connect(&url, OpenMode::Create)
        .await
        .unwrap()
        .close()
        .await;
    match Store::open(&url, OpenMode::Existing).await {
        Err(StoreError::Drift(report)) => {
            assert!(
                report
                    .problems
                    .contains(&wfmon_store::SchemaProblem::NotManaged)
            );
            assert!(report.to_string().contains("wfmon db migrate"));
        }
        other => panic!("expected drift, got {other:?}"),
    }
}

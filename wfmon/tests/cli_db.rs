//! `wfmon db ...` as a user runs it: the real binary, a real SQLite file, exit codes and the
//! words on screen.

mod common;

use common::{text, wfmon};

use std::process::Command;

#[test]
fn migrate_check_stats_prune_on_the_default_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let out = wfmon(d, &["db", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not exist"), "{}", text(&out));
    assert!(
        !d.join("wfmon.db").exists(),
        "check never creates the database"
    );

    let out = wfmon(d, &["db", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("applied migration 1"), "{}", text(&out));
    assert!(d.join("wfmon.db").exists());

    let out = wfmon(d, &["db", "migrate"]);
    assert!(text(&out).contains("up to date"), "{}", text(&out));

    let out = wfmon(d, &["db", "check", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["backend"], "SQLite");

    let out = wfmon(d, &["db", "stats", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = stats["tables"].as_array().unwrap();
    assert_eq!(
        tables.len(),
        wfmon_model::ALL_TABLES.len(),
        "one line per table"
    );
    assert!(
        tables
            .iter()
            .any(|t| t["table"] == "workflow_executions" && t["rows"] == 0)
    );

    let out = wfmon(d, &["db", "prune", "--older-than", "30d", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("would delete"), "{}", text(&out));
}

#[test]
fn drift_exits_2_naming_table_column_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(wfmon(d, &["db", "migrate"]).status.success());
    let status = Command::new("sqlite3")
        .arg(d.join("wfmon.db"))
        .arg("ALTER TABLE workflow_executions RENAME COLUMN workflow_name TO workflowName;")
        .status();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        // Without the sqlite3 shell, break the schema through the library instead.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let url = format!("sqlite://{}", d.join("wfmon.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(
                "ALTER TABLE workflow_executions RENAME COLUMN workflow_name TO workflowName",
            )
            .execute(&mut conn)
            .await
            .unwrap();
        });
    }
    for args in [
        &["db", "check"][..],
        &["db", "stats"],
        &["db", "prune", "--older-than", "1d"],
    ] {
        let out = wfmon(d, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let t = text(&out);
        assert!(t.contains("workflow_executions.workflow_name"), "{t}");
        assert!(t.contains("wfmon db migrate"), "{t}");
    }
}

#[test]
fn database_is_chosen_by_flag_then_env_then_config_then_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("wfmon.yaml"),
        "storage:\n  url: sqlite://from-config.db\n",
    )
    .unwrap();
    assert!(wfmon(d, &["db", "migrate"]).status.success());
    assert!(d.join("from-config.db").exists());

    let out = Command::new(env!("CARGO_BIN_EXE_wfmon"))
        .args(["db", "migrate"])
        .current_dir(d)
        .env("WFMON_DATABASE_URL", "sqlite://from-env.db")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(d.join("from-env.db").exists());

    assert!(
        wfmon(d, &["--database", "sqlite://from-flag.db", "db", "migrate"])
            .status
            .success()
    );
    assert!(d.join("from-flag.db").exists());

    std::fs::write(
        d.join("other.yaml"),
        "storage:\n  url: sqlite://${WFMON_TEST_DB_NAME}.db\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wfmon"))
        .args(["-c", "other.yaml", "db", "migrate"])
        .current_dir(d)
        .env("WFMON_TEST_DB_NAME", "expanded")
        .env_remove("WFMON_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(d.join("expanded.db").exists());
    assert!(
        !d.join("wfmon.db").exists(),
        "the default is used only when nothing else names a database"
    );
}

#[test]
fn bad_input_gets_one_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let out = wfmon(
        d,
        &["--database", "mysql://root:hunter2@db/x", "db", "migrate"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("invalid database URL"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("hunter2"), "{}", text(&out));

    // A SQLite URL without a file, or in memory, would keep nothing: refused, nothing made.
    for url in ["sqlite://", "sqlite::memory:"] {
        let out = wfmon(d, &["--database", url, "db", "migrate"]);
        assert_eq!(out.status.code(), Some(1), "{url}: {}", text(&out));
        assert!(
            text(&out).contains("invalid database URL"),
            "{url}: {}",
            text(&out)
        );
        assert!(!text(&out).contains("migrated"), "{url}: {}", text(&out));
    }

    let out = wfmon(
        d,
        &[
            "--database",
            "postgres://wfmon:hunter2@127.0.0.1:1/wfmon",
            "db",
            "check",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("refused"), "{}", text(&out));
    assert!(!text(&out).contains("hunter2"), "{}", text(&out));

    let out = wfmon(d, &["db", "prune", "--older-than", "thirty days"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("not a duration"), "{}", text(&out));

    // An age too long to subtract from now is refused, not read as "now" (which would
    // delete every finished result).
    let out = wfmon(d, &["db", "prune", "--older-than", "99999999999d"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("longer than 100 years"),
        "{}",
        text(&out)
    );

    std::fs::write(d.join("bad.yaml"), "storage:\n  uri: sqlite://x.db\n").unwrap();
    let out = wfmon(d, &["-c", "bad.yaml", "db", "migrate"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("bad.yaml") && t.contains("uri"), "{t}");

    let out = wfmon(d, &["-c", "missing.yaml", "db", "migrate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("missing.yaml"), "{}", text(&out));

    let out = wfmon(d, &["db", "frobnicate"]);
    assert_eq!(out.status.code(), Some(64));

    let names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names.iter().any(|n| n.to_string_lossy().ends_with(".db")),
        "no database created: {names:?}"
    );
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["db", "--help"],
        &["db", "migrate", "--help"],
        &["db", "check", "--help"],
        &["db", "stats", "--help"],
        &["db", "prune", "--help"],
        &["bench", "--help"],
    ] {
        let out = wfmon(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn rollups_are_rebuilt_and_pruned_by_their_own_retention() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(wfmon(d, &["db", "migrate"]).status.success());

    let out = wfmon(d, &["db", "rebuild-rollups"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing to rebuild"), "{}", text(&out));
    let out = wfmon(d, &["db", "rebuild-rollups", "--from", "1d", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runs"], 0);

    let out = wfmon(d, &["db", "rebuild-rollups", "--from", "1d", "--to", "2d"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("--from"), "{}", text(&out));
    let out = wfmon(d, &["db", "rebuild-rollups", "--from", "yesterday"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("RFC 3339"), "{}", text(&out));

    let out = wfmon(
        d,
        &[
            "db",
            "prune",
            "--older-than",
            "30d",
            "--rollups-older-than",
            "7d",
        ],
    );
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("at least --older-than"),
        "{}",
        text(&out)
    );
    let out = wfmon(
        d,
        &["db", "prune", "--rollups-older-than", "400d", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["deletedRollups"], 0);
    assert!(report["deleted"].is_null(), "raw rows are kept: {report}");
    let out = wfmon(d, &["db", "prune"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
}

/// Records one passed run every two hours over the last four days, with its rollups.
async fn record_four_days_of_runs(db: &std::path::Path) {
    use wfmon_model::{ExecutionStatus, Timestamp, TriggeredBy, WorkflowExecution, new_id};
    use wfmon_store::{DatabaseUrl, ExecutionRecord, OpenMode, Store};
    let url = DatabaseUrl::parse(&format!("sqlite://{}", db.display())).unwrap();
    let store = Store::open(&url, OpenMode::Existing).await.unwrap();
    let now = Timestamp::now();
    let records: Vec<ExecutionRecord> = (1..48)
        .map(|i| {
            let started_at = now.minus(chrono::TimeDelta::hours(i * 2));
            ExecutionRecord {
                execution: WorkflowExecution {
                    id: new_id("exe"),
                    run_id: new_id("run"),
                    workflow_name: "login".to_owned(),
                    status: ExecutionStatus::Passed,
                    started_at,
                    completed_at: Some(started_at.plus(chrono::TimeDelta::milliseconds(120))),
                    duration_ms: Some(120),
                    tests_passed: 1,
                    tests_failed: 0,
                    tests_total: 1,
                    error_message: None,
                    error_stack: None,
                    triggered_by: TriggeredBy::Scheduled,
                    environment: "production".to_owned(),
                    metadata: None,
                    report_id: None,
                    attempt: 1,
                    first_run_id: None,
                    schedule_id: None,
                    instance_id: None,
                    created_at: started_at,
                    updated_at: started_at,
                },
                steps: Vec::new(),
                metrics: Vec::new(),
                health_checks: Vec::new(),
            }
        })
        .collect();
    store.record_executions(&records).await.unwrap();
    store.close().await;
}

/// Runs counted by the DAY rollups and by the HOUR rollups.
async fn rollup_runs(db: &std::path::Path) -> (i64, i64) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let sum = |bucket: &'static str| {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(SUM(runs), 0) FROM workflow_rollups WHERE bucket = '{bucket}'"
        )))
    };
    let day = sum("DAY").fetch_one(&mut conn).await.unwrap();
    let hour = sum("HOUR").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    (day, hour)
}

#[tokio::test]
async fn a_rebuild_after_a_prune_keeps_the_rollups_of_pruned_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(wfmon(d, &["db", "migrate"]).status.success());
    let db = d.join("wfmon.db");
    record_four_days_of_runs(&db).await;
    assert_eq!(rollup_runs(&db).await, (47, 47));

    let out = wfmon(d, &["db", "prune", "--older-than", "2d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rollup_runs(&db).await, (47, 47), "prune keeps rollups");

    let out = wfmon(d, &["db", "rebuild-rollups"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("skipped"), "{t}");
    assert!(t.contains("were pruned"), "{t}");
    assert!(t.contains("rebuilt the rollups of"), "{t}");
    assert_eq!(rollup_runs(&db).await, (47, 47), "{t}");

    // An explicit range over pruned days, asked for in JSON.
    let out = wfmon(d, &["db", "rebuild-rollups", "--from", "10d", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["skippedFrom"].is_string(), "{report}");
    assert!(report["skippedTo"].is_string(), "{report}");
    assert!(report["prunedBefore"].is_string(), "{report}");
    assert_eq!(rollup_runs(&db).await, (47, 47), "{report}");

    // Once every raw run is pruned, nothing is rebuilt and nothing is lost.
    let out = wfmon(d, &["db", "prune", "--older-than", "1s"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tomorrow = wfmon_model::Timestamp::now()
        .plus(chrono::TimeDelta::days(1))
        .to_string();
    let out = wfmon(
        d,
        &["db", "rebuild-rollups", "--from", "10d", "--to", &tomorrow],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("skipped"), "{t}");
    assert!(t.contains(": 0 runs"), "{t}");
    assert_eq!(rollup_runs(&db).await, (47, 47));
}

#[test]
fn check_names_a_foreign_not_null_column_without_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(wfmon(d, &["db", "migrate"]).status.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", d.join("wfmon.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        // SQLite adds no NOT NULL column without a default: the table is made again.
        sqlx::raw_sql(
            "DROP TABLE prune_marks; CREATE TABLE prune_marks (id TEXT NOT NULL PRIMARY KEY, \
             table_name TEXT NOT NULL UNIQUE, pruned_before TEXT NOT NULL, \
             updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, browser TEXT NOT NULL)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    });
    let out = wfmon(d, &["db", "check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("prune_marks.browser"), "{t}");
    assert!(t.contains("give it a default or drop its NOT NULL"), "{t}");
    let out = wfmon(d, &["db", "check", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert!(
        report["fix"].as_str().unwrap().contains("default"),
        "{report}"
    );
}

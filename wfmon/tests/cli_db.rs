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

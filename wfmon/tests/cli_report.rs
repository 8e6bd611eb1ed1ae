//! `wfmon report`: the real binary over a real SQLite file, in every format, saved, and
//! refusing bad input with a message that names it (changing nothing).

mod common;

use std::path::Path;

use common::{text, wfmon};
use wfmon_model::*;
use wfmon_store::{DatabaseUrl, ExecutionRecord, OpenMode, Store};

const FROM: &str = "2026-03-01T10:00:00Z";
const TO: &str = "2026-03-01T11:00:00Z";

fn database(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("wfmon.db").display())
}

async fn store(dir: &Path) -> Store {
    Store::open(
        &DatabaseUrl::parse(&database(dir)).unwrap(),
        OpenMode::Create,
    )
    .await
    .unwrap()
}

fn run(workflow: &str, status: ExecutionStatus, minute: i64, ms: i32) -> ExecutionRecord {
    let started_at = Timestamp::parse(FROM)
        .unwrap()
        .plus(chrono::TimeDelta::minutes(minute));
    let now = Timestamp::now();
    ExecutionRecord {
        execution: WorkflowExecution {
            id: new_id("exe"),
            run_id: new_id("run"),
            workflow_name: workflow.to_owned(),
            status,
            started_at,
            completed_at: Some(started_at.plus(chrono::TimeDelta::milliseconds(ms.into()))),
            duration_ms: Some(ms),
            tests_passed: 0,
            tests_failed: 0,
            tests_total: 0,
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
            created_at: now,
            updated_at: now,
        },
        steps: Vec::new(),
        metrics: Vec::new(),
        health_checks: Vec::new(),
    }
}

/// checkout: PASSED 100, PASSED 300, FAILED 200 (p95 of 100 200 300: 200 + 0.9 * 100 = 290);
/// a run named like markup, and one run after the window.
async fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    store
        .record_executions(&[
            run("checkout", ExecutionStatus::Passed, 1, 100),
            run("checkout", ExecutionStatus::Passed, 2, 300),
            run("checkout", ExecutionStatus::Failed, 3, 200),
            run("<b>bold</b>", ExecutionStatus::Passed, 4, 50),
            run("checkout", ExecutionStatus::Passed, 61, 100),
        ])
        .await
        .unwrap();
    (dir, store)
}

fn report(dir: &Path, extra: &[&str]) -> std::process::Output {
    let db = database(dir);
    let mut args = vec!["report", "--database", &db, "--from", FROM, "--to", TO];
    args.extend_from_slice(extra);
    wfmon(dir, &args)
}

#[tokio::test]
async fn every_format_prints_the_same_figures() {
    let (dir, _store) = seeded().await;
    let dir = dir.path();

    let out = report(dir, &["--workflow", "checkout", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["totalRuns"], 3);
    assert_eq!(json["failedRuns"], 1);
    assert_eq!(json["totalDurationMs"], 600);
    assert_eq!(json["avgDurationMs"], 200.0);
    assert!((json["successRate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((json["metadata"]["p95DurationMs"].as_f64().unwrap() - 290.0).abs() < 1e-9);
    assert_eq!(json["reportType"], "ON_DEMAND");

    let out = report(dir, &["--workflow", "checkout"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("3 runs: 2 passed, 1 failed (66.7% success)"),
        "{table}"
    );
    assert!(table.contains("p95 duration"), "{table}");

    let out = report(dir, &["--workflow", "checkout", "--format", "csv"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("group,name,runs,passed,failed"),
        "{csv}"
    );
    assert!(lines[1].starts_with("total,,3,2,1,"), "{csv}");
    assert!(lines[2].starts_with("workflow,checkout,3,2,1,"), "{csv}");

    let out = report(dir, &["--format", "markdown"]);
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(markdown.starts_with("# ON\\_DEMAND report"), "{markdown}");
    assert!(markdown.contains("| Runs | 4 |"), "{markdown}");
    assert!(markdown.contains("&lt;b&gt;bold&lt;/b&gt;"), "{markdown}");

    let out = report(dir, &["--format", "html"]);
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>bold"), "{html}");
    assert_eq!(html.matches("<svg").count(), 2);
}

#[tokio::test]
async fn save_stores_the_report_and_links_its_runs() {
    let (dir, store) = seeded().await;
    let out = report(dir.path(), &["--save", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("saved report"), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = json["reportId"].as_str().unwrap();
    let saved = store.get::<MonitoringReport>(id).await.unwrap().unwrap();
    assert_eq!(saved.total_runs, 4);
    assert_eq!(store.count_report_executions(id).await.unwrap(), 4);
}

#[tokio::test]
async fn bad_input_is_refused_by_name_and_changes_nothing() {
    let (dir, store) = seeded().await;
    let dir = dir.path();
    let db = database(dir);

    let inverted = wfmon(
        dir,
        &[
            "report",
            "--database",
            &db,
            "--from",
            TO,
            "--to",
            FROM,
            "--save",
        ],
    );
    assert_eq!(inverted.status.code(), Some(1), "{}", text(&inverted));
    assert!(text(&inverted).contains("inverted"), "{}", text(&inverted));

    let long = wfmon(
        dir,
        &[
            "report",
            "--database",
            &db,
            "--from",
            "2020-01-01",
            "--to",
            TO,
        ],
    );
    assert_eq!(long.status.code(), Some(1), "{}", text(&long));
    assert!(
        text(&long).contains("longer than 400 days"),
        "{}",
        text(&long)
    );

    let unknown = report(dir, &["--workflow", "nope", "--save"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("unknown workflow `nope`"),
        "{}",
        text(&unknown)
    );

    let format = report(dir, &["--format", "pdf"]);
    assert_eq!(format.status.code(), Some(64), "{}", text(&format));
    assert!(
        text(&format).contains("unknown report format `pdf`"),
        "{}",
        text(&format)
    );

    let time = wfmon(dir, &["report", "--database", &db, "--from", "yesterday"]);
    assert_eq!(time.status.code(), Some(64), "{}", text(&time));
    assert!(
        text(&time).contains("`yesterday` is not a time"),
        "{}",
        text(&time)
    );

    assert_eq!(store.count::<MonitoringReport>().await.unwrap(), 0);
}

#[tokio::test]
async fn a_tag_covers_its_workflows_and_an_unknown_tag_is_refused() {
    let (dir, store) = seeded().await;
    let dir = dir.path();
    std::fs::write(
        dir.join("wfmon.yaml"),
        "environments:\n  production: {}\nworkflows:\n  - name: checkout\n    tags: [shop]\n    \
         steps:\n      - name: cart\n        health: {url: \"http://127.0.0.1:9/cart\"}\n",
    )
    .unwrap();
    let db = database(dir);
    let args = |tag: &'static str| {
        vec![
            "-c",
            "wfmon.yaml",
            "report",
            "--database",
            &db,
            "--from",
            FROM,
            "--to",
            TO,
            "--tag",
            tag,
            "--format",
            "json",
        ]
    };
    let out = wfmon(dir, &args("shop"));
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["totalRuns"], 3, "the markup-named workflow has no tag");
    assert_eq!(json["metadata"]["tags"], serde_json::json!(["shop"]));

    let out = wfmon(dir, &args("nope"));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unknown tag `nope`: no workflow in the configuration has it"),
        "{}",
        text(&out)
    );
    assert_eq!(store.count::<MonitoringReport>().await.unwrap(), 0);
}

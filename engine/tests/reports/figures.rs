//! Reports over a fixture whose every figure is computed by hand.
//!
//! Window [10:00, 11:00) on 2026-03-01. Runs counted (ended, not skipped), duration in ms:
//!
//! | run | workflow | environment | status    | ms   | notes                         |
//! |-----|----------|-------------|-----------|------|-------------------------------|
//! | e1  | checkout | production  | PASSED    | 100  | steps cart 30, pay 60         |
//! | e2  | checkout | production  | PASSED    | 200  |                               |
//! | e3  | checkout | production  | FAILED    | 300  | cart 20, pay 250 FAILED, skip |
//! | e4  | checkout | production  | WARNING   | 400  |                               |
//! | e5  | login    | staging     | PASSED    | 50   | flaky (passed on attempt 2)   |
//! | e6  | login    | staging     | TIMED_OUT | 1000 | submit 900 TIMED_OUT          |
//! | e10 | login    | production  | PASSED    | 10   | starts exactly at 10:00       |
//!
//! Not counted: a RUNNING and a SKIPPED run in the window, a PASSED run at 11:00 exactly,
//! and the failed first attempt of e5 (a retry followed it: the run counts once). Saving
//! links the seven runs and that attempt.
//! The previous window [09:00, 10:00) holds checkout PASSED 100 ms and FAILED 500 ms.
//!
//! Percentiles interpolate between ranks (`percentile_cont`): of n sorted durations, the
//! p-th is at rank p(n-1)/100. All seven: 10 50 100 200 300 400 1000, so p50 = 200,
//! p95 = 400 + 0.70 * 600 = 820, p99 = 400 + 0.94 * 600 = 964.

use chrono::TimeDelta;
use serde_json::Value;
use wfmon_engine::reports::{self, ReportFormat, ReportRequest};
use wfmon_model::*;
use wfmon_store::{ExecutionRecord, ReportScope, SavedReport, Store};

use crate::db::TestDb;
use crate::on_both_backends;

on_both_backends!(
    figures_match_the_hand_computed_answers,
    filters_narrow_to_one_workflow_or_environment,
    an_empty_window_says_so_without_nan,
    a_long_window_read_in_parts_counts_each_run_once,
    saving_links_the_window_s_runs_once,
    concurrent_generators_of_one_scheduled_report_write_it_once,
    html_is_escaped_and_self_contained,
);

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

pub fn window() -> ReportScope {
    ReportScope {
        from: at("2026-03-01T10:00:00Z"),
        to: at("2026-03-01T11:00:00Z"),
        workflow: None,
        environment: None,
        workflows: None,
    }
}

pub fn request(scope: ReportScope) -> ReportRequest {
    ReportRequest {
        scope,
        report_type: ReportType::OnDemand,
        name: None,
        report_id: None,
        tags: Vec::new(),
    }
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-9
}

macro_rules! assert_close {
    ($actual:expr, $expected:expr) => {{
        let actual: f64 = $actual;
        assert!(
            close(actual, $expected),
            "{} = {actual}, expected {}",
            stringify!($actual),
            $expected
        );
    }};
}

/// An execution started `minutes` after 10:00 (negative: before).
pub fn run(
    workflow: &str,
    environment: &str,
    status: ExecutionStatus,
    minutes: i64,
    ms: i32,
) -> WorkflowExecution {
    let started_at = at("2026-03-01T10:00:00Z").plus(TimeDelta::minutes(minutes));
    let now = Timestamp::now();
    WorkflowExecution {
        id: new_id("exe"),
        run_id: new_id("run"),
        workflow_name: workflow.to_owned(),
        status,
        started_at,
        completed_at: status
            .is_final()
            .then(|| started_at.plus(TimeDelta::milliseconds(ms.into()))),
        duration_ms: status.is_final().then_some(ms),
        tests_passed: 0,
        tests_failed: 0,
        tests_total: 0,
        error_message: None,
        error_stack: None,
        triggered_by: TriggeredBy::Scheduled,
        environment: environment.to_owned(),
        metadata: None,
        report_id: None,
        attempt: 1,
        first_run_id: None,
        schedule_id: None,
        instance_id: None,
        created_at: now,
        updated_at: now,
    }
}

fn step(
    e: &WorkflowExecution,
    order: i32,
    name: &str,
    status: StepStatus,
    ms: i32,
    failed_assertion: Option<&str>,
) -> WorkflowStepResult {
    WorkflowStepResult {
        id: new_id("stp"),
        step_result_id: new_id("step"),
        execution_id: e.run_id.clone(),
        step_name: name.to_owned(),
        step_order: order,
        step_kind: "http".to_owned(),
        status,
        started_at: e.started_at,
        duration_ms: ms,
        assertions_passed: 0,
        assertions_failed: i32::from(failed_assertion.is_some()),
        failed_assertion: failed_assertion.map(str::to_owned),
        assertions: None,
        captured: None,
        error_message: None,
        created_at: Timestamp::now(),
    }
}

fn record(execution: WorkflowExecution, steps: Vec<WorkflowStepResult>) -> ExecutionRecord {
    ExecutionRecord {
        execution,
        steps,
        metrics: Vec::new(),
        health_checks: Vec::new(),
    }
}

fn alert(fingerprint: &str, triggered: &str, resolved: Option<&str>) -> Alert {
    let now = Timestamp::now();
    Alert {
        id: new_id("alr"),
        alert_id: new_id("alert"),
        rule_id: "checkout-failing".into(),
        workflow_name: "checkout".into(),
        environment: "production".into(),
        severity: AlertSeverity::Critical,
        status: if resolved.is_some() {
            AlertStatus::Resolved
        } else {
            AlertStatus::Active
        },
        fingerprint: fingerprint.into(),
        message: "checkout failed".into(),
        triggered_at: at(triggered),
        last_triggered_at: at(triggered),
        occurrences: 1,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: resolved.map(at),
        resolved_by: resolved.map(|_| "auto".to_owned()),
        escalated_at: None,
        last_notified_at: None,
        metadata: None,
        created_at: now,
        updated_at: now,
    }
}

/// Writes the fixture.
pub async fn fixture(store: &Store) {
    use ExecutionStatus::*;
    let e1 = run("checkout", "production", Passed, 1, 100);
    let e1_steps = vec![
        step(&e1, 0, "cart", StepStatus::Passed, 30, None),
        step(&e1, 1, "pay", StepStatus::Passed, 60, None),
    ];
    let e3 = run("checkout", "production", Failed, 3, 300);
    let e3_steps = vec![
        step(&e3, 0, "cart", StepStatus::Passed, 20, None),
        step(
            &e3,
            1,
            "pay",
            StepStatus::Failed,
            250,
            Some("status == 200"),
        ),
        step(&e3, 2, "confirm", StepStatus::Skipped, 0, None),
    ];
    let mut first_attempt = run("login", "staging", Failed, 4, 30);
    first_attempt.metadata = Some(json(serde_json::json!({"retried": true})));
    let mut e5 = run("login", "staging", Passed, 5, 50);
    e5.attempt = 2;
    e5.first_run_id = Some(first_attempt.run_id.clone());
    e5.metadata = Some(json(serde_json::json!({"flaky": true})));
    let e6 = run("login", "staging", TimedOut, 6, 1000);
    let e6_steps = vec![step(&e6, 0, "submit", StepStatus::TimedOut, 900, None)];
    let batch = vec![
        record(e1, e1_steps),
        record(run("checkout", "production", Passed, 2, 200), vec![]),
        record(e3, e3_steps),
        record(run("checkout", "production", Warning, 4, 400), vec![]),
        record(first_attempt, vec![]),
        record(e5, vec![]),
        record(e6, e6_steps),
        record(run("login", "production", Passed, 0, 10), vec![]),
        // Not counted.
        record(run("checkout", "production", Skipped, 7, 0), vec![]),
        record(run("login", "production", Passed, 60, 5), vec![]),
        // The previous window.
        record(run("checkout", "production", Passed, -30, 100), vec![]),
        record(run("checkout", "production", Failed, -20, 500), vec![]),
    ];
    store.record_executions(&batch).await.unwrap();
    store
        .start_execution(&run("checkout", "production", Running, 8, 0))
        .await
        .unwrap();
    store
        .insert(&[
            alert("a1", "2026-03-01T08:00:00Z", Some("2026-03-01T10:10:00Z")),
            alert("a2", "2026-03-01T10:20:00Z", None),
            alert("a3", "2026-03-01T07:00:00Z", Some("2026-03-01T09:00:00Z")),
            alert("a4", "2026-03-01T10:30:00Z", Some("2026-03-01T12:00:00Z")),
        ])
        .await
        .unwrap();
}

async fn figures_match_the_hand_computed_answers(db: TestDb) {
    fixture(&db.store).await;
    let report = reports::compute(&db.store, &request(window()))
        .await
        .unwrap();
    let row = &report.row;
    assert_eq!(
        (row.total_runs, row.successful_runs, row.failed_runs),
        (7, 5, 2)
    );
    assert_eq!(row.total_duration_ms, 2060);
    assert_close!(row.avg_duration_ms, 2060.0 / 7.0);
    assert_close!(row.success_rate, 5.0 / 7.0);
    assert_eq!(row.report_type, ReportType::OnDemand);
    assert_eq!(row.status, ReportStatus::Completed);
    assert_eq!((row.start_time, row.end_time), (window().from, window().to));

    let m = &report.metadata;
    assert!(!m.empty);
    assert_eq!(m.p50_duration_ms, Some(200.0));
    assert_close!(m.p95_duration_ms.unwrap(), 820.0);
    assert_close!(m.p99_duration_ms.unwrap(), 964.0);
    assert_eq!(
        (m.min_duration_ms, m.max_duration_ms),
        (Some(10), Some(1000))
    );
    assert_eq!((m.warnings, m.flaky_runs, m.flaky_run_ids.len()), (1, 1, 1));

    // Per workflow: checkout 100 200 300 400; login 10 50 1000.
    let names: Vec<&str> = m.workflows.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["checkout", "login"]);
    let checkout = &m.workflows[0];
    assert_eq!((checkout.runs, checkout.passed, checkout.failed), (4, 3, 1));
    assert_eq!(checkout.total_duration_ms, 1000);
    assert_eq!(checkout.avg_duration_ms, Some(250.0));
    assert_close!(checkout.p50_duration_ms.unwrap(), 250.0);
    assert_close!(checkout.p95_duration_ms.unwrap(), 385.0);
    assert_close!(checkout.p99_duration_ms.unwrap(), 397.0);
    assert_eq!(checkout.success_rate, Some(0.75));
    let login = &m.workflows[1];
    assert_eq!(
        (login.runs, login.passed, login.failed, login.flaky),
        (3, 2, 1, 1)
    );
    assert_eq!(login.p50_duration_ms, Some(50.0));
    assert_close!(login.p95_duration_ms.unwrap(), 905.0);

    // Per environment: production 10 100 200 300 400; staging 50 1000.
    let names: Vec<&str> = m.environments.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["production", "staging"]);
    let production = &m.environments[0];
    assert_eq!((production.runs, production.passed), (5, 4));
    assert_close!(production.p95_duration_ms.unwrap(), 380.0);
    let staging = &m.environments[1];
    assert_eq!((staging.runs, staging.passed), (2, 1));
    assert_close!(staging.p95_duration_ms.unwrap(), 952.5);

    // Steps (skipped ones left out): submit 900; pay 60 250; cart 20 30.
    let slowest: Vec<(&str, &str)> = m
        .slowest_steps
        .iter()
        .map(|s| (s.workflow.as_str(), s.step.as_str()))
        .collect();
    assert_eq!(
        slowest,
        [
            ("login", "submit"),
            ("checkout", "pay"),
            ("checkout", "cart")
        ]
    );
    assert_close!(m.slowest_steps[1].p95_duration_ms.unwrap(), 240.5);
    assert_close!(m.slowest_steps[1].avg_duration_ms, 155.0);
    assert_close!(m.slowest_steps[2].p95_duration_ms.unwrap(), 29.5);
    let failing: Vec<(&str, i64)> = m
        .failing_steps
        .iter()
        .map(|s| (s.step.as_str(), s.failures))
        .collect();
    assert_eq!(failing, [("pay", 1), ("submit", 1)]);
    assert_eq!(m.failing_assertions.len(), 1);
    assert_eq!(m.failing_assertions[0].assertion, "status == 200");
    assert_eq!(m.failing_assertions[0].failures, 1);

    // Alerts: a1 resolved in the window, a2 and a4 opened in it and open at its end.
    assert_eq!(
        (m.alerts.opened, m.alerts.resolved, m.alerts.open_at_end),
        (2, 1, 2)
    );
    assert_eq!(m.alerts.items.len(), 3);

    // Previous window: 100 PASSED, 500 FAILED.
    assert_eq!((m.previous.runs, m.previous.failed), (2, 1));
    assert_eq!(m.previous.success_rate, Some(0.5));
    assert_close!(m.previous.p95_duration_ms.unwrap(), 480.0);
    assert_eq!((m.change.runs, m.change.failed), (5, 1));
    assert_close!(m.change.success_rate.unwrap(), 5.0 / 7.0 - 0.5);
    assert_close!(m.change.avg_duration_ms.unwrap(), 2060.0 / 7.0 - 300.0);
    assert_close!(m.change.p95_duration_ms.unwrap(), 340.0);

    // The series for the charts: minute buckets, one per run.
    assert_eq!(m.series_bucket, "MINUTE");
    assert_eq!(m.series.iter().map(|p| p.runs).sum::<i64>(), 7);

    // The row's metadata is the same, as JSON.
    let stored: Value = row.metadata.as_ref().unwrap().0.clone();
    assert_eq!(stored["workflows"][0]["name"], "checkout");
    assert_eq!(stored["change"]["runs"], 5);

    // The CSV has the total, both workflows and both environments.
    let csv = reports::render(&report, ReportFormat::Csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(lines[1].starts_with("total,,7,5,2,"), "{csv}");
    assert!(
        lines[2].starts_with("workflow,checkout,4,3,1,0.75,1000,250,250,385,397"),
        "{csv}"
    );
}

async fn filters_narrow_to_one_workflow_or_environment(db: TestDb) {
    fixture(&db.store).await;
    let mut scope = window();
    scope.workflow = Some("login".into());
    let login = reports::compute(&db.store, &request(scope.clone()))
        .await
        .unwrap();
    assert_eq!((login.row.total_runs, login.row.failed_runs), (3, 1));
    assert_eq!(login.metadata.workflows.len(), 1);
    assert_eq!(login.metadata.previous.runs, 0);
    assert_eq!(login.metadata.change.success_rate, None);
    assert_eq!(
        login.metadata.alerts.items.len(),
        0,
        "alerts are of checkout"
    );
    scope.environment = Some("staging".into());
    let staging = reports::compute(&db.store, &request(scope.clone()))
        .await
        .unwrap();
    assert_eq!(staging.row.total_runs, 2);
    assert_eq!(staging.metadata.flaky_runs, 1);

    // Unknown names are errors naming them; known ones pass.
    reports::check_request(&db.store, None, &scope)
        .await
        .unwrap();
    scope.workflow = Some("nope".into());
    let err = reports::check_request(&db.store, None, &scope)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown workflow `nope`"), "{err}");
    scope.workflow = None;
    scope.environment = Some("moon".into());
    let err = reports::check_request(&db.store, None, &scope)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown environment `moon`"), "{err}");
    let inverted = ReportScope {
        from: window().to,
        to: window().from,
        workflow: None,
        environment: None,
        workflows: None,
    };
    let err = reports::check_request(&db.store, None, &inverted)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("inverted"), "{err}");
}

async fn an_empty_window_says_so_without_nan(db: TestDb) {
    fixture(&db.store).await;
    let scope = ReportScope {
        from: at("2026-02-01T00:00:00Z"),
        to: at("2026-02-02T00:00:00Z"),
        workflow: None,
        environment: None,
        workflows: None,
    };
    let report = reports::compute(&db.store, &request(scope.clone()))
        .await
        .unwrap();
    assert_eq!(report.row.total_runs, 0);
    assert_eq!(report.row.success_rate, 0.0);
    assert_eq!(report.row.avg_duration_ms, 0.0);
    let m = &report.metadata;
    assert!(m.empty);
    assert!(m.summary.starts_with("No runs"), "{}", m.summary);
    assert_eq!(m.success_rate, None);
    assert_eq!(m.p95_duration_ms, None);
    assert_eq!(m.series_bucket, "HOUR");
    for format in ReportFormat::ALL.map(|(_, f)| f) {
        let text = reports::render(&report, format);
        assert!(
            !text.contains("NaN") && !text.contains("inf"),
            "{format:?}: {text}"
        );
    }
    let json = reports::render(&report, ReportFormat::Json);
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["metadata"]["successRate"], Value::Null);
    assert_eq!(value["metadata"]["empty"], true);
    assert_eq!(value["successRate"], 0.0);
    // It saves, links nothing, and reads back.
    let saved = reports::save(&db.store, &report, &scope, &[])
        .await
        .unwrap();
    assert_eq!(saved, SavedReport::Created { linked: 0 });
    let back = db
        .store
        .get::<MonitoringReport>(&report.row.report_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.metadata.unwrap().0["empty"], true);
}

/// A window of three days and three quarters of an hour is read in parts of two whole hours
/// (the first from 09:30 to 11:00): runs on and next to the parts' edges count once.
async fn a_long_window_read_in_parts_counts_each_run_once(db: TestDb) {
    use ExecutionStatus::*;
    let scope = ReportScope {
        from: at("2026-03-01T09:30:00Z"),
        to: at("2026-03-04T10:15:00Z"),
        workflow: None,
        environment: None,
        workflows: None,
    };
    let at_time = |text: &str, status: ExecutionStatus, ms: i32| {
        let mut e = run("checkout", "production", status, 0, ms);
        e.started_at = at(text);
        e.completed_at = Some(e.started_at.plus(TimeDelta::milliseconds(ms.into())));
        record(e, vec![])
    };
    let batch = vec![
        at_time("2026-03-01T09:30:00Z", Passed, 10),
        at_time("2026-03-01T10:59:59.999Z", Passed, 20),
        at_time("2026-03-01T11:00:00Z", Failed, 30),
        at_time("2026-03-02T13:00:00Z", Passed, 40),
        at_time("2026-03-04T10:14:59.999Z", Passed, 50),
        // Outside: just before and at the end.
        at_time("2026-03-01T09:29:59.999Z", Passed, 1),
        at_time("2026-03-04T10:15:00Z", Passed, 1),
    ];
    db.store.record_executions(&batch).await.unwrap();
    let report = reports::compute(&db.store, &request(scope)).await.unwrap();
    let row = &report.row;
    assert_eq!(
        (row.total_runs, row.successful_runs, row.failed_runs),
        (5, 4, 1)
    );
    assert_eq!(row.total_duration_ms, 150);
    let m = &report.metadata;
    assert_eq!(m.p50_duration_ms, Some(30.0));
    assert_eq!((m.min_duration_ms, m.max_duration_ms), (Some(10), Some(50)));
    assert_eq!(m.series_bucket, "HOUR");
    let series: Vec<(String, i64)> = m
        .series
        .iter()
        .map(|p| (p.bucket_start.to_string(), p.runs))
        .collect();
    assert_eq!(
        series,
        [
            ("2026-03-01T09:00:00.000Z".to_owned(), 1),
            ("2026-03-01T10:00:00.000Z".to_owned(), 1),
            ("2026-03-01T11:00:00.000Z".to_owned(), 1),
            ("2026-03-02T13:00:00.000Z".to_owned(), 1),
            ("2026-03-04T10:00:00.000Z".to_owned(), 1),
        ]
    );
}

async fn saving_links_the_window_s_runs_once(db: TestDb) {
    fixture(&db.store).await;
    let report = reports::compute(&db.store, &request(window()))
        .await
        .unwrap();
    let saved = reports::save(&db.store, &report, &window(), &[])
        .await
        .unwrap();
    assert_eq!(saved, SavedReport::Created { linked: 8 });
    let id = &report.row.report_id;
    assert_eq!(db.store.count_report_executions(id).await.unwrap(), 8);
    let back = db.store.get::<MonitoringReport>(id).await.unwrap().unwrap();
    assert_eq!(back.total_runs, 7);
    assert_eq!(back.success_rate, report.row.success_rate);

    // The same id again writes nothing.
    let again = reports::save(&db.store, &report, &window(), &[])
        .await
        .unwrap();
    assert_eq!(again, SavedReport::Exists);
    // A second report over the same window keeps the runs with the first.
    let second = reports::compute(&db.store, &request(window()))
        .await
        .unwrap();
    let saved = reports::save(&db.store, &second, &window(), &[])
        .await
        .unwrap();
    assert_eq!(saved, SavedReport::Created { linked: 0 });
    assert_eq!(db.store.count_report_executions(id).await.unwrap(), 8);
    assert_eq!(db.store.count::<MonitoringReport>().await.unwrap(), 2);
}

async fn concurrent_generators_of_one_scheduled_report_write_it_once(db: TestDb) {
    fixture(&db.store).await;
    let id = reports::scheduled_report_id("hourly", window().from, window().to);
    let generate = |store: Store, id: String| async move {
        let request = ReportRequest {
            scope: window(),
            report_type: ReportType::Hourly,
            name: Some("hourly".into()),
            report_id: Some(id),
            tags: Vec::new(),
        };
        let report = reports::compute(&store, &request).await.unwrap();
        reports::save(&store, &report, &request.scope, &[])
            .await
            .unwrap()
    };
    let (a, b) = tokio::join!(
        tokio::spawn(generate(db.store.clone(), id.clone())),
        tokio::spawn(generate(db.store.clone(), id.clone()))
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, SavedReport::Exists));
    assert_eq!(
        outcomes,
        [SavedReport::Created { linked: 8 }, SavedReport::Exists]
    );
    assert_eq!(db.store.count::<MonitoringReport>().await.unwrap(), 1);
    assert_eq!(db.store.count_report_executions(&id).await.unwrap(), 8);
}

async fn html_is_escaped_and_self_contained(db: TestDb) {
    let evil = "<script>alert('x')</script>";
    let batch = vec![record(
        run(evil, "production", ExecutionStatus::Failed, 5, 120),
        vec![],
    )];
    db.store.record_executions(&batch).await.unwrap();
    let report = reports::compute(&db.store, &request(window()))
        .await
        .unwrap();
    let page = reports::render(&report, ReportFormat::Html);
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<svg").count(), 2, "two charts");
    assert!(page.contains("<polyline"), "the charts have a line");
    assert!(
        !page.contains("src=") && !page.contains("href="),
        "nothing external"
    );
    let markdown = reports::render(&report, ReportFormat::Markdown);
    assert!(!markdown.contains("<script"), "{markdown}");
}

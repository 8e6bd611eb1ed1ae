//! Analytics read from rollups and the window's raw rows, on both backends, against fixtures
//! with hand-computed answers and against the exact figures computed from raw rows.

mod common;

use chrono::TimeDelta;
use common::*;
use wfmon_model::*;
use wfmon_store::{AnalyticsWindow, ExecutionRecord, SeriesQuery};

on_both_backends!(
    figures_over_a_window_match_hand_computed_answers,
    any_window_and_bucket_size_agrees_with_raw_rows,
    whole_days_are_read_from_day_rows,
    an_empty_window_has_no_rates_and_no_nan,
    uptime_is_the_share_of_measured_minutes_without_failures,
    steps_have_success_rate_and_p95,
    failures_group_by_signature_across_workflows,
);

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn window(since: &str, until: &str) -> AnalyticsWindow {
    AnalyticsWindow {
        workflow: None,
        environment: None,
        since: at(since),
        until: at(until),
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

async fn figures_over_a_window_match_hand_computed_answers(db: TestDb) {
    let s = &db.store;
    let base = at("2026-02-01T00:00:00Z");
    // 10 runs of login over 10 hours: durations 100..1000, the 4th and 8th fail, the 5th
    // warns; plus a skipped and a running one that do not count.
    let mut batch = Vec::new();
    for i in 0..10i64 {
        let status = match i {
            3 | 7 => ExecutionStatus::Failed,
            4 => ExecutionStatus::Warning,
            _ => ExecutionStatus::Passed,
        };
        let e = execution(
            "login",
            status,
            base.plus(TimeDelta::minutes(i * 60 + 5)),
            (i as i32 + 1) * 100,
        );
        batch.push(record(e, Vec::new()));
    }
    batch.push(record(
        execution("login", ExecutionStatus::Skipped, base, 0),
        Vec::new(),
    ));
    s.record_executions(&batch).await.unwrap();
    let found = s
        .figures(
            &window("2026-02-01T00:00:00Z", "2026-02-01T10:00:00Z"),
            Some(3_600_000 * 5),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(
        (f.workflow_name.as_str(), f.environment.as_str()),
        ("login", "production")
    );
    let t = &f.total;
    assert_eq!((t.runs, t.passed, t.failed, t.warnings), (10, 8, 2, 1));
    assert_eq!(t.success_rate, Some(0.8));
    assert_eq!(t.total_duration_ms, 5500);
    assert_eq!(t.avg_duration_ms, Some(550.0));
    assert_eq!(
        (t.min_duration_ms, t.max_duration_ms),
        (Some(100), Some(1000))
    );
    // percentile_cont: p50 = 500 + 0.5 * 100 = 550; p95 = 900 + 0.55 * 100 = 955.
    let near = |got: Option<f64>, want: f64| {
        let got = got.unwrap();
        assert!((got - want).abs() <= want * 0.01, "{got} vs {want}");
    };
    near(t.p50_duration_ms, 550.0);
    near(t.p95_duration_ms, 955.0);
    // Two points of five hours: runs 1-5 (one failure, one warning), runs 6-10.
    assert_eq!(f.points.len(), 2);
    assert_eq!(f.points[0].bucket_start, base);
    assert_eq!(
        (f.points[0].figures.runs, f.points[0].figures.failed),
        (5, 1)
    );
    assert_eq!(f.points[1].figures.success_rate, Some(0.8));
    assert_eq!(f.points[1].figures.min_duration_ms, Some(600));
}

async fn any_window_and_bucket_size_agrees_with_raw_rows(db: TestDb) {
    let s = &db.store;
    let base = at("2026-03-10T00:00:00Z");
    let mut seed = 7u64;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut batch = Vec::new();
    for _ in 0..400 {
        let status = if next(10) == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        let started = base.plus(TimeDelta::seconds(next(3 * 86_400) as i64));
        let workflow = ["a", "b"][next(2) as usize];
        batch.push(record(
            execution(workflow, status, started, 50 + next(4000) as i32),
            Vec::new(),
        ));
    }
    s.record_executions(&batch).await.unwrap();
    // Unaligned windows (a whole day, hours and minutes at the edges), aligned ones (days,
    // hours), and series whose points are days, hours or neither.
    for (since, until, step) in [
        ("2026-03-10T05:17:00Z", "2026-03-12T19:43:00Z", None),
        ("2026-03-09T22:30:00Z", "2026-03-13T01:01:00Z", None),
        (
            "2026-03-10T00:00:00Z",
            "2026-03-12T13:30:00Z",
            Some(86_400_000),
        ),
        (
            "2026-03-10T06:00:00Z",
            "2026-03-12T18:00:00Z",
            Some(86_400_000),
        ),
        (
            "2026-03-10T00:00:00Z",
            "2026-03-12T23:07:00Z",
            Some(6 * 3_600_000),
        ),
        (
            "2026-03-10T00:00:00Z",
            "2026-03-13T00:00:00Z",
            Some(86_400_000),
        ),
        (
            "2026-03-10T05:17:00Z",
            "2026-03-11T05:17:00Z",
            Some(15 * 60_000),
        ),
    ] {
        let w = window(since, until);
        let found = s.figures(&w, step).await.unwrap();
        let exact = s.workflow_stats(w.since, w.until).await.unwrap();
        assert_eq!(found.len(), exact.len());
        for (f, e) in found.iter().zip(&exact) {
            assert_eq!(f.workflow_name, e.workflow_name);
            assert_eq!(
                (f.total.runs, f.total.passed),
                (e.stats.runs, e.stats.passed)
            );
            let (got, want) = (
                f.total.p95_duration_ms.unwrap(),
                e.stats.p95_duration_ms.unwrap(),
            );
            assert!(
                (got - want).abs() <= want * 0.011,
                "{since}: p95 {got} vs exact {want}"
            );
            if let Some(step) = step {
                // Every point agrees with the raw rows of its bucket.
                for p in &f.points {
                    let end = p
                        .bucket_start
                        .plus(TimeDelta::milliseconds(step))
                        .min(w.until);
                    let raw = s
                        .run_series(&SeriesQuery {
                            workflow: Some(f.workflow_name.clone()),
                            environment: None,
                            bucket: RollupBucket::Hour,
                            since: p.bucket_start,
                            until: end,
                        })
                        .await
                        .unwrap();
                    let runs: i64 = raw.iter().map(|r| r.stats.runs).sum();
                    assert_eq!(
                        p.figures.runs, runs,
                        "{since} step {step} at {}",
                        p.bucket_start
                    );
                }
                let sum: i64 = f.points.iter().map(|p| p.figures.runs).sum();
                assert_eq!(sum, f.total.runs);
            }
        }
    }
}

async fn whole_days_are_read_from_day_rows(db: TestDb) {
    let s = &db.store;
    let base = at("2026-03-10T00:00:00Z");
    let mut batch = Vec::new();
    for i in 0..72i64 {
        let status = if i % 6 == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        let started = base.plus(TimeDelta::minutes(i * 60 + 13));
        batch.push(record(
            execution("a", status, started, 100 + i as i32 * 10),
            Vec::new(),
        ));
    }
    s.record_executions(&batch).await.unwrap();
    let cases = [
        ("2026-03-09T21:50:00Z", "2026-03-12T02:20:00Z", None),
        (
            "2026-03-10T00:00:00Z",
            "2026-03-13T00:00:00Z",
            Some(86_400_000),
        ),
    ];
    let mut want = Vec::new();
    for (since, until, step) in cases {
        want.push(s.figures(&window(since, until), step).await.unwrap());
    }
    // The MINUTE and HOUR rows of 11 March gone: only its DAY row can answer for it.
    db.exec(
        "DELETE FROM workflow_rollups WHERE bucket <> 'DAY' \
         AND bucket_start >= '2026-03-11T00:00:00.000Z' AND bucket_start < '2026-03-12T00:00:00.000Z'",
    )
    .await
    .unwrap();
    for ((since, until, step), want) in cases.into_iter().zip(want) {
        let got = s.figures(&window(since, until), step).await.unwrap();
        assert_eq!(got, want, "{since} to {until}");
    }
    // Points of six hours cannot use a day's row: 11 March is now missing from them.
    let w = window("2026-03-10T00:00:00Z", "2026-03-13T00:00:00Z");
    let quarter = s.figures(&w, Some(6 * 3_600_000)).await.unwrap();
    assert_eq!(quarter[0].total.runs, 48);
    assert_eq!(quarter[0].points[4].figures.runs, 0);
}

async fn an_empty_window_has_no_rates_and_no_nan(db: TestDb) {
    let s = &db.store;
    let e = execution(
        "login",
        ExecutionStatus::Passed,
        at("2026-01-01T10:00:00Z"),
        100,
    );
    s.record_executions(&[record(e, Vec::new())]).await.unwrap();
    let w = AnalyticsWindow {
        workflow: Some("login".into()),
        ..window("2026-01-01T10:00:00Z", "2026-01-01T14:00:00Z")
    };
    let found = s.figures(&w, Some(3_600_000)).await.unwrap();
    let points = &found[0].points;
    assert_eq!(points.len(), 4);
    assert_eq!(points[1].figures.runs, 0);
    assert_eq!(points[1].figures.success_rate, None);
    assert_eq!(points[1].figures.p95_duration_ms, None);
    let json = serde_json::to_string(&found).unwrap();
    assert!(!json.contains("NaN"), "{json}");
    assert!(
        s.figures(
            &window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
            None
        )
        .await
        .unwrap()
        .is_empty()
    );
    assert!(
        s.uptime(&window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn uptime_is_the_share_of_measured_minutes_without_failures(db: TestDb) {
    let s = &db.store;
    let base = at("2026-01-01T00:00:00Z");
    let mut batch = Vec::new();
    // 8 measured minutes; minutes 2 and 5 have a failure (minute 5 also a pass).
    for minute in 0..8i64 {
        let status = if minute == 2 || minute == 5 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        let started = base.plus(TimeDelta::minutes(minute * 10));
        batch.push(record(
            execution("search", status, started, 100),
            Vec::new(),
        ));
    }
    batch.push(record(
        execution(
            "search",
            ExecutionStatus::Passed,
            base.plus(TimeDelta::seconds(50 * 60 + 30)),
            100,
        ),
        Vec::new(),
    ));
    s.record_executions(&batch).await.unwrap();
    let up = s
        .uptime(&window("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(up.len(), 1);
    assert_eq!((up[0].measured_minutes, up[0].up_minutes), (8, 6));
    assert_eq!(up[0].uptime_percent, Some(75.0));
}

async fn steps_have_success_rate_and_p95(db: TestDb) {
    let s = &db.store;
    let base = at("2026-01-01T00:00:00Z");
    let mut batch = Vec::new();
    for i in 0..4i64 {
        let status = if i == 3 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        let e = execution("checkout", status, base.plus(TimeDelta::minutes(i)), 500);
        let mut first = step(&e, 0);
        first.step_name = "login".into();
        first.duration_ms = (i as i32 + 1) * 10;
        let mut second = step(&e, 1);
        second.step_name = "pay".into();
        if i == 3 {
            second.status = StepStatus::Failed;
        }
        let mut skipped = step(&e, 2);
        skipped.step_name = "receipt".into();
        skipped.status = StepStatus::Skipped;
        batch.push(record(e, vec![first, second, skipped]));
    }
    s.record_executions(&batch).await.unwrap();
    let steps = s
        .step_figures(&window("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"))
        .await
        .unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s.step_name.as_str()).collect();
    assert_eq!(names, ["login", "pay"], "skipped steps are not runs");
    assert_eq!((steps[0].runs, steps[0].success_rate), (4, Some(1.0)));
    // percentile_cont of 10, 20, 30, 40: 30 + 0.85 * 10 = 38.5.
    assert_eq!(steps[0].p95_duration_ms, Some(38.5));
    assert_eq!((steps[1].failed, steps[1].success_rate), (1, Some(0.75)));
}

async fn failures_group_by_signature_across_workflows(db: TestDb) {
    let s = &db.store;
    let base = at("2026-01-01T00:00:00Z");
    let mut batch = Vec::new();
    // One broken dependency: the `auth` step of three workflows fails the same way, with a
    // different port and request id each time.
    for (i, workflow) in ["login", "search", "checkout", "login"].iter().enumerate() {
        let e = execution(
            workflow,
            ExecutionStatus::Failed,
            base.plus(TimeDelta::minutes(i as i64)),
            100,
        );
        let mut auth = step(&e, 0);
        auth.step_name = "auth".into();
        auth.status = StepStatus::Failed;
        auth.error_message = Some(format!(
            "connection refused: auth.internal:{} request {}a9f",
            8000 + i,
            i
        ));
        batch.push(record(e, vec![auth]));
    }
    // An assertion failure, and a run that failed outside any step.
    let e = execution(
        "search",
        ExecutionStatus::Failed,
        base.plus(TimeDelta::minutes(10)),
        100,
    );
    let mut results = step(&e, 1);
    results.step_name = "results".into();
    results.status = StepStatus::Failed;
    results.failed_assertion = Some("size(body.items) > 0".into());
    results.error_message = Some("expected > 0, got 0".into());
    batch.push(record(e, vec![results]));
    let mut bare = execution(
        "checkout",
        ExecutionStatus::TimedOut,
        base.plus(TimeDelta::minutes(20)),
        100,
    );
    bare.error_message = Some("workflow timed out after 30000 ms".into());
    batch.push(record(bare, Vec::new()));
    // A pass is never a failure.
    batch.push(record(
        execution("login", ExecutionStatus::Passed, base, 100),
        Vec::new(),
    ));
    s.record_executions(&batch).await.unwrap();

    let groups = s
        .failure_groups(&window("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(groups.len(), 3, "{groups:#?}");
    let auth = &groups[0];
    assert_eq!(auth.count, 4);
    assert_eq!(auth.step_name.as_deref(), Some("auth"));
    assert_eq!(auth.error_class, "connection");
    assert_eq!(
        auth.message,
        "connection refused: auth.internal:# request …"
    );
    assert_eq!(auth.workflows, ["checkout", "login", "search"]);
    assert_eq!(auth.first_seen, base);
    assert_eq!(auth.last_seen, base.plus(TimeDelta::minutes(3)));
    let assertion = groups
        .iter()
        .find(|g| g.error_class == "assertion")
        .unwrap();
    assert_eq!(
        assertion.failed_assertion.as_deref(),
        Some("size(body.items) > 0")
    );
    let timeout = groups.iter().find(|g| g.step_name.is_none()).unwrap();
    assert_eq!((timeout.error_class, timeout.count), ("timeout", 1));
    assert_eq!(timeout.message, "workflow timed out after # ms");
    let one = AnalyticsWindow {
        workflow: Some("search".into()),
        ..window("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    };
    let only = s.failure_groups(&one, 1).await.unwrap();
    assert_eq!(only.len(), 1, "the limit holds");
}

//! The analytics API on both backends: figures per workflow and bucket from the rollups,
//! failures grouped by signature, per-step figures, and bad parameters refused naming the
//! field.

mod common;

use chrono::TimeDelta;
use common::*;
use wfmon_model::*;
use wfmon_store::ExecutionRecord;

on_both_backends!(
    series_failures_and_steps_answer_from_recorded_runs,
    bad_windows_and_steps_are_refused_naming_the_field,
);

fn hour_ago(h: i64) -> Timestamp {
    let now = Timestamp::now().unix_millis();
    Timestamp::from_unix_millis(now - now.rem_euclid(3_600_000) - h * 3_600_000).unwrap()
}

async fn series_failures_and_steps_answer_from_recorded_runs(api: TestApi) {
    let mut records = Vec::new();
    // Three hours ago: 4 runs of quick (one failed in its step); one hour ago: 1 run.
    for i in 0..4i64 {
        let status = if i == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        let e = execution(
            "quick",
            "production",
            status,
            hour_ago(3).plus(TimeDelta::minutes(i * 7)),
            Some(100 * (i as i32 + 1)),
        );
        let mut s = step(&e, 0);
        if i == 0 {
            s.status = StepStatus::Failed;
            s.error_message = Some("connection refused: 127.0.0.1:9".into());
        }
        records.push(ExecutionRecord {
            execution: e,
            steps: vec![s],
            metrics: vec![],
            health_checks: vec![],
        });
    }
    let e = execution(
        "quick",
        "production",
        ExecutionStatus::Passed,
        hour_ago(1).plus(TimeDelta::seconds(5)),
        Some(50),
    );
    records.push(ExecutionRecord {
        execution: e,
        steps: vec![],
        metrics: vec![],
        health_checks: vec![],
    });
    api.store.record_executions(&records).await.unwrap();

    let since = hour_ago(4).to_sqlite_text();
    let until = hour_ago(0).to_sqlite_text();
    let (status, body) = api
        .get(&format!(
            "/api/analytics/series?workflow=quick&since={since}&until={until}&step=1h"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stepSeconds"], 3600);
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{body}");
    assert_eq!(series[0]["total"]["runs"], 5);
    assert_eq!(series[0]["total"]["successRate"], 0.8);
    let points = series[0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(points[1]["runs"], 4);
    assert_eq!(points[0]["runs"], 0);
    assert!(points[0]["successRate"].is_null());
    let p95 = points[1]["p95DurationMs"].as_f64().unwrap();
    assert!((p95 - 385.0).abs() <= 3.85, "p95 {p95}");
    assert_eq!(body["uptime"][0]["measuredMinutes"], 5);
    assert_eq!(body["uptime"][0]["upMinutes"], 4);

    let (status, body) = api
        .get(&format!("/api/analytics/failures?since={since}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["errorClass"], "connection");
    assert_eq!(items[0]["message"], "connection refused: #.#.#.#:#");
    assert_eq!(items[0]["workflows"][0], "quick");

    let (status, body) = api
        .get(&format!(
            "/api/analytics/steps?workflow=quick&since={since}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["runs"], 4);
    assert_eq!(body["items"][0]["successRate"], 0.75);
}

async fn bad_windows_and_steps_are_refused_naming_the_field(api: TestApi) {
    for (path, status, field) in [
        ("/api/analytics/series?since=1h&until=2h", 400, "until"),
        ("/api/analytics/series?since=3000d", 400, "since"),
        ("/api/analytics/series?since=yesterday", 400, "since"),
        ("/api/analytics/series?step=30s", 400, "step"),
        ("/api/analytics/series?step=1m&since=30d", 400, "step"),
        ("/api/analytics/series?bucket=hour", 400, "bucket"),
        ("/api/analytics/failures?limit=0", 400, "limit"),
        (
            "/api/analytics/steps?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            400,
            "until",
        ),
    ] {
        let (got, body) = api.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["details"]["field"], field, "{path}: {body}");
    }
    let (got, body) = api.get("/api/analytics/steps?workflow=nope").await;
    assert_eq!(got, 404, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nope"), "{body}");
}

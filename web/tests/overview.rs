//! The aggregates and probes through the API, the same test bodies on SQLite and PostgreSQL:
//! the overview of the last day, time series with p95, alert and report lists, readiness.

mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::*;
use serde_json::Value;
use wfmon_model::*;

on_both_backends!(
    overview_counts_the_last_day_per_workflow_and_environment,
    series_fill_every_bucket_with_counts_and_p95,
    alerts_and_reports_are_listed_newest_first,
    readiness_names_the_failing_check,
    overview_figures_from_rollups_equal_the_raw_rows,
);

async fn overview_counts_the_last_day_per_workflow_and_environment(api: TestApi) {
    // quick@production: 20 runs of 100..=2000 ms in the last day, 15 passed; plus a skipped
    // run and one in flight, which are not runs; plus one run two days ago, outside.
    let mut rows = Vec::new();
    for i in 1..=20 {
        let status = if i % 4 == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        rows.push(execution(
            "quick",
            "production",
            status,
            minutes_ago(600 - i * 10),
            Some(i as i32 * 100),
        ));
    }
    let newest = execution(
        "quick",
        "production",
        ExecutionStatus::Warning,
        minutes_ago(30),
        None,
    );
    rows.push(newest.clone());
    rows.push(execution(
        "quick",
        "production",
        ExecutionStatus::Skipped,
        minutes_ago(20),
        Some(0),
    ));
    let running = execution(
        "quick",
        "production",
        ExecutionStatus::Running,
        minutes_ago(1),
        None,
    );
    rows.push(running.clone());
    rows.push(execution(
        "quick",
        "production",
        ExecutionStatus::Failed,
        minutes_ago(2 * 24 * 60),
        Some(5),
    ));
    // broken last ran three days ago; a legacy workflow ran an hour ago.
    let old = execution(
        "broken",
        "production",
        ExecutionStatus::Failed,
        minutes_ago(3 * 24 * 60),
        Some(7),
    );
    rows.push(old.clone());
    rows.push(execution(
        "legacy-bot",
        "production",
        ExecutionStatus::Passed,
        minutes_ago(60),
        Some(9),
    ));
    api.store.insert(&rows).await.unwrap();
    // Raw inserts bypass the recorder, which keeps the rollups the overview's figures read.
    api.store.rebuild_rollups(None, None).await.unwrap();
    api.store
        .insert(&[
            health_check(
                None,
                "http://a/health",
                HealthStatus::Healthy,
                minutes_ago(50),
            ),
            health_check(
                None,
                "http://a/health",
                HealthStatus::Unhealthy,
                minutes_ago(5),
            ),
            health_check(
                None,
                "http://b/health",
                HealthStatus::Degraded,
                minutes_ago(7),
            ),
        ])
        .await
        .unwrap();
    api.store
        .insert(&[
            alert("quick", AlertStatus::Active),
            alert("broken", AlertStatus::Resolved),
        ])
        .await
        .unwrap();

    let (status, body) = api.get("/api/overview").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["openAlerts"], 1);
    let entry = |workflow: &str, environment: &str| {
        body["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["workflowName"] == workflow && w["environment"] == environment)
            .unwrap_or_else(|| panic!("no {workflow}@{environment} in {body}"))
            .clone()
    };
    let quick = entry("quick", "production");
    assert_eq!(quick["configured"], true);
    let stats = &quick["last24h"];
    assert_eq!(
        (
            stats["runs"].as_i64(),
            stats["passed"].as_i64(),
            stats["failed"].as_i64()
        ),
        (Some(21), Some(16), Some(5))
    );
    assert!((stats["successRate"].as_f64().unwrap() - 16.0 / 21.0).abs() < 1e-9);
    // percentile_cont(0.95) of 100, 200, ..., 2000: rank 0.95 * 19 = 18.05 between 1900 and
    // 2000. The overview's p95 is the rollup sketch's, within 1% of it.
    assert!(
        (stats["p95DurationMs"].as_f64().unwrap() - 1905.0).abs() <= 1905.0 * 0.01,
        "{stats}"
    );
    assert_eq!(quick["state"], "WARNING", "the newest run that ended");
    assert_eq!(quick["lastRun"]["runId"], newest.run_id.as_str());
    assert!(quick["lastRun"]["durationMs"].is_null());
    assert_eq!(quick["running"]["runId"], running.run_id.as_str());
    assert_eq!(quick["schedule"]["scheduleId"], "quick@production");
    assert_eq!(quick["schedule"]["cron"], "*/5 * * * *");
    assert!(quick["schedule"]["nextRunAt"].is_string());

    let broken = entry("broken", "production");
    assert_eq!(
        broken["state"], "FAILED",
        "older than a day, still the last run"
    );
    assert_eq!(broken["lastRun"]["runId"], old.run_id.as_str());
    assert_eq!(broken["last24h"]["runs"], 0);
    assert!(broken["last24h"]["successRate"].is_null());
    let never = entry("secretive", "production");
    assert!(never["state"].is_null() && never["lastRun"].is_null());
    assert!(never["schedule"].is_null(), "on demand only");
    let legacy = entry("legacy-bot", "production");
    assert_eq!(legacy["configured"], false);
    assert_eq!(legacy["last24h"]["runs"], 1);
    let order: Vec<String> = body["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{}@{}",
                w["workflowName"].as_str().unwrap(),
                w["environment"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            "quick@production",
            "quick@staging",
            "broken@production",
            "secretive@production",
            "legacy-bot@production"
        ],
        "configured first, in configuration order"
    );

    let health = body["health"].as_array().unwrap();
    assert_eq!(health.len(), 2, "the latest per endpoint: {health:?}");
    let a = health
        .iter()
        .find(|h| h["endpoint"] == "http://a/health")
        .unwrap();
    assert_eq!(a["status"], "UNHEALTHY");
}
async fn series_fill_every_bucket_with_counts_and_p95(api: TestApi) {
    let hour = |h: i64| {
        let now = Timestamp::now().unix_millis();
        Timestamp::from_unix_millis(now - now.rem_euclid(3_600_000) - h * 3_600_000).unwrap()
    };
    let mut rows = Vec::new();
    // Three hours ago: 4 runs (one failed) of 10, 20, 30, 40 ms; one hour ago: 1 run.
    for (i, d) in [10, 20, 30, 40].into_iter().enumerate() {
        let status = if i == 0 {
            ExecutionStatus::TimedOut
        } else {
            ExecutionStatus::Passed
        };
        rows.push(execution(
            "quick",
            "production",
            status,
            hour(3).plus(TimeDelta::minutes(i as i64 * 7)),
            Some(d),
        ));
    }
    rows.push(execution(
        "quick",
        "staging",
        ExecutionStatus::Passed,
        hour(1).plus(TimeDelta::seconds(5)),
        Some(99),
    ));
    rows.push(execution(
        "broken",
        "production",
        ExecutionStatus::Failed,
        hour(1),
        Some(1),
    ));
    api.store.insert(&rows).await.unwrap();

    let (status, body) = api
        .get("/api/series?workflow=quick&bucket=hour&since=5h")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["bucket"], "hour");
    let points = body["points"].as_array().unwrap();
    assert!(points.len() == 6, "every hour of the window: {points:?}");
    let at = |t: Timestamp| {
        points
            .iter()
            .find(|p| Timestamp::parse(p["bucketStart"].as_str().unwrap()).unwrap() == t)
            .unwrap_or_else(|| panic!("no bucket {t}: {points:?}"))
    };
    let three = at(hour(3));
    assert_eq!(
        (
            three["runs"].as_i64(),
            three["passed"].as_i64(),
            three["failed"].as_i64()
        ),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(three["successRate"], 0.75);
    // rank 0.95 * 3 = 2.85: 30 + 0.85 * (40 - 30).
    assert!(
        (three["p95DurationMs"].as_f64().unwrap() - 38.5).abs() < 1e-9,
        "{three}"
    );
    assert_eq!(
        at(hour(1))["runs"],
        1,
        "the workflow filter leaves broken out"
    );
    let empty = at(hour(2));
    assert_eq!(empty["runs"], 0);
    assert!(empty["successRate"].is_null() && empty["p95DurationMs"].is_null());

    let (_, body) = api
        .get("/api/series?environment=production&bucket=minute&since=4h")
        .await;
    let total: i64 = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["runs"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 5, "production only");
    assert_eq!(body["points"].as_array().unwrap().len(), 240 + 1);

    // UTC days, 30 of them by default: the same runs as the hours of that window.
    let (status, days) = api.get("/api/series?workflow=quick&bucket=day").await;
    assert_eq!(status, 200, "{days}");
    assert_eq!(days["bucket"], "day");
    let points = days["points"].as_array().unwrap();
    assert!((30..=31).contains(&points.len()), "{}", points.len());
    for p in points {
        let start = Timestamp::parse(p["bucketStart"].as_str().unwrap()).unwrap();
        assert_eq!(
            start.unix_millis() % 86_400_000,
            0,
            "{start} is not a UTC midnight"
        );
    }
    let runs = |body: &serde_json::Value| -> i64 {
        body["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["runs"].as_i64().unwrap())
            .sum()
    };
    let since = days["since"].as_str().unwrap().to_owned();
    let until = days["until"].as_str().unwrap().to_owned();
    let (_, hours) = api
        .get(&format!(
            "/api/series?workflow=quick&bucket=hour&since={since}&until={until}"
        ))
        .await;
    assert!(runs(&days) > 0);
    assert_eq!(runs(&days), runs(&hours));
    let (status, body) = api.get("/api/series?bucket=week").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("day"), "{body}");
}
async fn alerts_and_reports_are_listed_newest_first(api: TestApi) {
    let (status, body) = api.get("/api/alerts").await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (status, body) = api.get("/api/reports").await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let first = alert("quick", AlertStatus::Resolved);
    api.store
        .insert(std::slice::from_ref(&first))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = alert("broken", AlertStatus::Active);
    api.store
        .insert(std::slice::from_ref(&second))
        .await
        .unwrap();
    let (_, body) = api.get("/api/alerts").await;
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alertId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.alert_id.as_str(), first.alert_id.as_str()]);
    let (_, body) = api.get("/api/alerts?status=active").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (_, body) = api.get("/api/alerts?limit=1&workflow=quick").await;
    assert_eq!(body["items"][0]["alertId"], first.alert_id.as_str());
}
async fn readiness_names_the_failing_check(mut api: TestApi) {
    let (status, body) = api.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["schema"]["status"], "ok");
    assert_eq!(body["checks"]["scheduler"]["status"], "ok");

    api.heartbeat.stop();
    let (status, body) = api.get("/readyz").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("not_ready")),
        "{body}"
    );
    assert_eq!(body["details"]["failing"], serde_json::json!(["scheduler"]));

    api.store.close().await;
    let (status, body) = api.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    let failing = body["details"]["failing"].as_array().unwrap();
    assert!(failing.contains(&Value::from("database")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("database"));
    let (status, body) = api.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = api.get("/api/executions").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("database_unavailable")),
        "{body}"
    );
    api.shutdown().await;
}

async fn overview_figures_from_rollups_equal_the_raw_rows(api: TestApi) {
    // Runs spread over the last 25 hours (so the window's edges cut hours and minutes), in
    // three pairs, written by the recorder, which keeps the rollups.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    let mut batch = Vec::new();
    for _ in 0..1500 {
        let (workflow, environment) = [
            ("quick", "production"),
            ("quick", "staging"),
            ("legacy-bot", "production"),
        ][next(3) as usize];
        let status = match next(10) {
            0 => ExecutionStatus::Failed,
            1 => ExecutionStatus::TimedOut,
            2 => ExecutionStatus::Warning,
            _ => ExecutionStatus::Passed,
        };
        let started = Timestamp::now().minus(TimeDelta::seconds(next(25 * 3600) as i64 + 120));
        batch.push(wfmon_store::ExecutionRecord {
            execution: execution(
                workflow,
                environment,
                status,
                started,
                Some(20 + next(5000) as i32),
            ),
            steps: Vec::new(),
            metrics: Vec::new(),
            health_checks: Vec::new(),
        });
    }
    api.store.record_executions(&batch).await.unwrap();

    let (status, body) = api.get("/api/overview").await;
    assert_eq!(status, 200, "{body}");
    // The window is the 24 hourly buckets ending with the current one.
    let since = Timestamp::parse(body["since"].as_str().unwrap()).unwrap();
    let generated = Timestamp::parse(body["generatedAt"].as_str().unwrap()).unwrap();
    assert_eq!(since.unix_millis() % 3_600_000, 0, "{since}");
    let span = generated.unix_millis() - since.unix_millis();
    assert!(
        span > 23 * 3_600_000 && span <= 24 * 3_600_000,
        "{since} to {generated}"
    );
    let exact = api
        .store
        .workflow_stats(since, Timestamp::now().plus(TimeDelta::minutes(1)))
        .await
        .unwrap();
    assert_eq!(exact.len(), 3, "{exact:?}");
    for e in &exact {
        let entry = body["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["workflowName"] == e.workflow_name && w["environment"] == e.environment)
            .unwrap_or_else(|| panic!("no {}@{} in {body}", e.workflow_name, e.environment));
        let got = &entry["last24h"];
        assert_eq!(
            (
                got["runs"].as_i64(),
                got["passed"].as_i64(),
                got["failed"].as_i64()
            ),
            (
                Some(e.stats.runs),
                Some(e.stats.passed),
                Some(e.stats.failed)
            ),
            "{}@{}",
            e.workflow_name,
            e.environment
        );
        assert!(e.stats.runs > 300 && e.stats.failed > 0, "{e:?}");
        let (p95, want) = (
            got["p95DurationMs"].as_f64().unwrap(),
            e.stats.p95_duration_ms.unwrap(),
        );
        assert!(
            (p95 - want).abs() <= want * 0.01,
            "{}@{}: p95 {p95} vs exact {want}",
            e.workflow_name,
            e.environment
        );
        // The latest run is the newest raw row of the pair.
        let newest = batch
            .iter()
            .map(|r| &r.execution)
            .filter(|x| x.workflow_name == e.workflow_name && x.environment == e.environment)
            .max_by_key(|x| x.started_at)
            .unwrap();
        assert_eq!(entry["lastRun"]["runId"], newest.run_id.as_str());
    }
}

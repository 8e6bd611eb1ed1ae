//! `GET /api/slos` and `GET /api/slos/{name}` on both backends: figures of the test
//! configuration's objectives over recorded runs, checked against hand-computed answers, and
//! unknown names and parameters refused.

mod common;

use common::*;
use serde_json::Value;
use wfmon_model::*;
use wfmon_store::ExecutionRecord;

on_both_backends!(
    objectives_answer_hand_computed_figures,
    unknown_objectives_workflows_and_parameters_are_refused,
);

fn record(execution: WorkflowExecution) -> ExecutionRecord {
    ExecutionRecord {
        execution,
        steps: vec![],
        metrics: vec![],
        health_checks: vec![],
    }
}

fn close(value: &Value, want: f64) {
    let got = value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"));
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
}

async fn objectives_answer_hand_computed_figures(api: TestApi) {
    let mut records = Vec::new();
    // quick in production: 10 runs 30 minutes apart, from 10 to 280 minutes ago, lasting
    // 50, 150, ... 950 ms; the most recent one failed.
    for i in 0..10i64 {
        let status = if i == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        let e = execution(
            "quick",
            "production",
            status,
            minutes_ago(30 * i + 10),
            Some(i as i32 * 100 + 50),
        );
        records.push(record(e));
    }
    // Outside every window: two days ago. Not a run: aborted by wfmon itself.
    records.push(record(execution(
        "quick",
        "production",
        ExecutionStatus::Failed,
        minutes_ago(2 * 24 * 60),
        Some(10),
    )));
    records.push(record(execution(
        "quick",
        "production",
        ExecutionStatus::Aborted,
        minutes_ago(20),
        Some(10),
    )));
    api.store.record_executions(&records).await.unwrap();

    let (status, body) = api.get("/api/slos/quick-availability").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["workflowName"], "quick");
    assert!(body["environment"].is_null());
    assert_eq!(body["objective"]["kind"], "success");
    close(&body["objective"]["target"], 0.99);
    assert_eq!(body["windowSeconds"], 86_400);
    let envs = body["environments"].as_array().unwrap();
    let names: Vec<&str> = envs
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["production", "staging"],
        "each environment of quick"
    );
    let p = &envs[0];
    assert_eq!(
        (p["runs"].as_i64(), p["good"].as_i64()),
        (Some(10), Some(9))
    );
    close(&p["attained"], 0.9);
    // A 1% budget of 10 runs is 0.1 run; 1 bad run spends it ten times over.
    close(&p["budgetTotalRuns"], 0.1);
    close(&p["budgetUsedFraction"], 10.0);
    close(&p["budgetLeftFraction"], -9.0);
    close(&p["budgetLeftRuns"], -0.9);
    close(&p["burnRate"], 10.0); // (1/10) / 0.01
    close(&p["burnRate1h"], 50.0); // 2 runs in the last hour, 1 bad: (1/2) / 0.01
    close(&p["burnRate6h"], 10.0);
    let s = &envs[1];
    assert_eq!(s["runs"], 0);
    for field in ["attained", "budgetLeftFraction", "burnRate", "burnRate1h"] {
        assert!(s[field].is_null(), "{field} without runs: {s}");
    }

    let (status, body) = api.get("/api/slos/quick-latency").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["objective"]["kind"], "latency");
    assert_eq!(body["objective"]["underMs"], 500);
    let envs = body["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 1, "only production: {body}");
    let p = &envs[0];
    // At most 500 ms: 50..450, five runs, the failed one included (latency counts time).
    assert_eq!(
        (p["runs"].as_i64(), p["good"].as_i64()),
        (Some(10), Some(5))
    );
    close(&p["attained"], 0.5);
    close(&p["budgetTotalRuns"], 1.0);
    close(&p["budgetLeftRuns"], -4.0);
    close(&p["burnRate"], 5.0); // (5/10) / 0.1
    close(&p["burnRate1h"], 0.0); // 50 and 150 ms

    let (status, body) = api.get("/api/slos").await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["quick-availability", "quick-latency"]);
    let (status, body) = api.get("/api/slos?workflow=broken").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], serde_json::json!([]));
}

async fn unknown_objectives_workflows_and_parameters_are_refused(api: TestApi) {
    let (status, body) = api.get("/api/slos/nope").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nope"), "{body}");
    let (status, body) = api.get("/api/slos?workflow=nope").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api.get("/api/slos?window=1d").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"]["field"], "window", "{body}");
}

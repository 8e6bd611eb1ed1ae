//! The inputs of service level objectives on both backends: runs and good runs over several
//! windows ending together, from raw rows, with maintenance ranges left out, against a
//! fixture with hand-computed answers.

mod common;

use chrono::TimeDelta;
use common::*;
use wfmon_model::*;
use wfmon_store::{ExecutionRecord, GoodRun, GoodRuns, MAX_EXCLUDED_RANGES, SloQuery};

on_both_backends!(
    good_runs_count_passes_or_exact_latency_and_leave_out_ranges,
    aborted_skipped_and_running_executions_are_not_runs,
    too_many_excluded_ranges_are_refused,
);

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn record(execution: WorkflowExecution) -> ExecutionRecord {
    ExecutionRecord {
        execution,
        steps: Vec::new(),
        metrics: Vec::new(),
        health_checks: Vec::new(),
    }
}

fn runs(runs: i64, good: i64) -> GoodRuns {
    GoodRuns { runs, good }
}

async fn good_runs_count_passes_or_exact_latency_and_leave_out_ranges(db: TestDb) {
    let s = &db.store;
    let base = at("2026-01-01T00:00:00Z");
    // Ten runs a minute apart (started at :30 of each minute): 1000, 1001, ... 1009 ms; the
    // 3rd fails. Another environment and another workflow must not count.
    let mut batch = Vec::new();
    for i in 0..10i64 {
        let status = if i == 2 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        let start = base.plus(TimeDelta::seconds(i * 60 + 30));
        batch.push(record(execution("login", status, start, 1000 + i as i32)));
        let mut other = execution("login", ExecutionStatus::Failed, start, 1);
        other.environment = "staging".into();
        batch.push(record(other));
        batch.push(record(execution(
            "search",
            ExecutionStatus::Failed,
            start,
            1,
        )));
    }
    s.record_executions(&batch).await.unwrap();
    let until = at("2026-01-01T00:10:00Z");
    let query = |good, excluded: Vec<(Timestamp, Timestamp)>| SloQuery {
        workflow: "login".into(),
        environment: "production".into(),
        good,
        until,
        // The whole window, the last 5 minutes, the last minute.
        since: vec![base, at("2026-01-01T00:05:00Z"), at("2026-01-01T00:09:00Z")],
        excluded,
    };
    let got = s.good_runs(&query(GoodRun::Passed, vec![])).await.unwrap();
    assert_eq!(got, vec![runs(10, 9), runs(5, 5), runs(1, 1)]);
    // At most 1004 ms: exactly five runs (1000..=1004), the failed one included; a sketch
    // within 1% could not tell 1004 from 1005.
    let got = s
        .good_runs(&query(GoodRun::AtMostMs(1004), vec![]))
        .await
        .unwrap();
    assert_eq!(got, vec![runs(10, 5), runs(5, 0), runs(1, 0)]);
    // A maintenance range of 30 s from 00:02:15 covers the failed run (00:02:30) only; one
    // from 00:08:45 to 00:09:45 covers the 10th run (00:09:30), not the 9th (00:08:30).
    let excluded = vec![
        (at("2026-01-01T00:02:15Z"), at("2026-01-01T00:02:45Z")),
        (at("2026-01-01T00:08:45Z"), at("2026-01-01T00:09:45Z")),
    ];
    let got = s
        .good_runs(&query(GoodRun::Passed, excluded.clone()))
        .await
        .unwrap();
    assert_eq!(got, vec![runs(8, 8), runs(4, 4), runs(0, 0)]);
    // A range ending exactly at a run's start does not cover it (half-open).
    let touching = vec![(at("2026-01-01T00:01:00Z"), at("2026-01-01T00:02:30Z"))];
    let got = s
        .good_runs(&query(GoodRun::Passed, touching))
        .await
        .unwrap();
    assert_eq!(got[0], runs(9, 8), "only the run at 00:01:30 is left out");
}

async fn aborted_skipped_and_running_executions_are_not_runs(db: TestDb) {
    let s = &db.store;
    let base = at("2026-01-01T00:00:00Z");
    let mut batch = Vec::new();
    for (i, status) in [
        ExecutionStatus::Passed,
        ExecutionStatus::Warning,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
        ExecutionStatus::Skipped,
        ExecutionStatus::Running,
    ]
    .into_iter()
    .enumerate()
    {
        let start = base.plus(TimeDelta::minutes(i as i64));
        batch.push(record(execution("login", status, start, 100)));
    }
    s.record_executions(&batch).await.unwrap();
    let got = s
        .good_runs(&SloQuery {
            workflow: "login".into(),
            environment: "production".into(),
            good: GoodRun::Passed,
            until: at("2026-01-01T01:00:00Z"),
            since: vec![base],
            excluded: vec![],
        })
        .await
        .unwrap();
    assert_eq!(got, vec![runs(4, 2)], "passed, warning, failed, timed out");
}

async fn too_many_excluded_ranges_are_refused(db: TestDb) {
    let base = at("2026-01-01T00:00:00Z");
    let excluded = (0..=MAX_EXCLUDED_RANGES as i64)
        .map(|i| {
            let from = base.plus(TimeDelta::seconds(i * 2));
            (from, from.plus(TimeDelta::seconds(1)))
        })
        .collect();
    let err = db
        .store
        .good_runs(&SloQuery {
            workflow: "login".into(),
            environment: "production".into(),
            good: GoodRun::Passed,
            until: at("2026-01-02T00:00:00Z"),
            since: vec![base],
            excluded,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("maintenance ranges"), "{err}");
}

//! Rollups as the tests see them: what the store holds, and what it should hold counted
//! here from the executions, independently of the store.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use wfmon_model::*;
use wfmon_store::{RollupQuery, Store};

/// The figures of one rollup row: runs, passed, failed, warnings, duration sum, min and
/// max, sketch, minutes measured and minutes up.
pub type Row = (
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    DurationSketch,
    i64,
    i64,
);

/// Every rollup row with runs, keyed by bucket, workflow, environment and start.
pub type Figures = BTreeMap<(RollupBucket, String, String, Timestamp), Row>;

/// A row of no runs, to add to.
pub fn empty() -> Row {
    (0, 0, 0, 0, 0, None, None, DurationSketch::new(), 0, 0)
}

pub async fn stored(store: &Store) -> Figures {
    let mut out = Figures::new();
    for bucket in [RollupBucket::Minute, RollupBucket::Hour, RollupBucket::Day] {
        let query = RollupQuery {
            workflow: None,
            environment: None,
            bucket,
            since: Timestamp::from_unix_millis(0).unwrap(),
            until: Timestamp::now().plus(TimeDelta::days(1)),
        };
        for r in store.rollup_rows(&query).await.unwrap() {
            let sketch = DurationSketch::from_json(&r.duration_sketch.unwrap().0).unwrap();
            out.insert(
                (r.bucket, r.workflow_name, r.environment, r.bucket_start),
                (
                    r.runs,
                    r.passed,
                    r.failed,
                    r.warnings,
                    r.duration_sum_ms,
                    r.duration_min_ms,
                    r.duration_max_ms,
                    sketch,
                    r.minutes_measured,
                    r.minutes_up,
                ),
            );
        }
    }
    out
}

/// The rollups of `executions` counted here, independently of the store: runs are ended
/// executions that were not skipped; PASSED and WARNING pass; a minute is measured when it
/// has runs and up when none failed, and an hour or a day counts its minutes.
pub fn recount<'a>(executions: impl IntoIterator<Item = &'a WorkflowExecution>) -> Figures {
    let mut out = Figures::new();
    for e in executions {
        if matches!(
            e.status,
            ExecutionStatus::Running | ExecutionStatus::Skipped
        ) {
            continue;
        }
        for (bucket, width) in [
            (RollupBucket::Minute, 60_000),
            (RollupBucket::Hour, 3_600_000),
            (RollupBucket::Day, 86_400_000),
        ] {
            let start =
                Timestamp::from_unix_millis(e.started_at.unix_millis() / width * width).unwrap();
            let f = out
                .entry((
                    bucket,
                    e.workflow_name.clone(),
                    e.environment.clone(),
                    start,
                ))
                .or_insert_with(empty);
            f.0 += 1;
            let passed = matches!(e.status, ExecutionStatus::Passed | ExecutionStatus::Warning);
            if passed {
                f.1 += 1;
            } else {
                f.2 += 1;
            }
            if e.status == ExecutionStatus::Warning {
                f.3 += 1;
            }
            if let Some(d) = e.duration_ms.map(i64::from) {
                f.4 += d;
                f.5 = Some(f.5.map_or(d, |m: i64| m.min(d)));
                f.6 = Some(f.6.map_or(d, |m: i64| m.max(d)));
                f.7.add(d);
            }
        }
    }
    let minutes: Vec<_> = out
        .iter()
        .filter(|(k, _)| k.0 == RollupBucket::Minute)
        .map(|(k, f)| (k.clone(), f.2 == 0))
        .collect();
    for ((_, workflow, environment, start), up) in minutes {
        for (bucket, width) in [
            (RollupBucket::Hour, 3_600_000),
            (RollupBucket::Day, 86_400_000),
        ] {
            let wide = Timestamp::from_unix_millis(start.unix_millis() / width * width).unwrap();
            let f = out
                .get_mut(&(bucket, workflow.clone(), environment.clone(), wide))
                .unwrap();
            f.8 += 1;
            f.9 += i64::from(up);
        }
    }
    for ((bucket, ..), f) in out.iter_mut() {
        if *bucket == RollupBucket::Minute {
            (f.8, f.9) = (1, i64::from(f.2 == 0));
        }
    }
    out
}

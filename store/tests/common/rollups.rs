//! Rollups as the tests see them: what the store holds, and what it should hold counted
//! here from the executions, independently of the store.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use wfmon_model::*;
use wfmon_store::{RollupQuery, Store};

/// Every rollup row with runs, keyed by bucket, workflow, environment and start.
pub type Figures = BTreeMap<
    (RollupBucket, String, String, Timestamp),
    (
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        DurationSketch,
    ),
>;

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
                ),
            );
        }
    }
    out
}

/// The rollups of `executions` counted here, independently of the store: runs are ended
/// executions that were not skipped; PASSED and WARNING pass.
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
                .or_insert((0, 0, 0, 0, 0, None, None, DurationSketch::new()));
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
    out
}

//! The migrations that bring DAY rollups and the minute counts of uptime, on both backends:
//! a store from before DAY rollups, with MINUTE and HOUR rollups only, gets DAY rows equal to
//! its merged HOUR rows (over more than one of the backfill's spans) and the minute counts of
//! every row, answers the same figures, keeps the table's indexes, trigger, unique key and
//! CHECK, and a second migration changes nothing. A day holding an HOUR row whose sketch
//! cannot be read stays unreadable rather than losing runs. A store with DAY rows but no
//! minute counts gets them from its MINUTE rows, and uptime read from its wide rows equals
//! uptime counted minute by minute; an hour whose minutes were pruned counts none.

mod common;

use chrono::TimeDelta;
use common::rollups::{Figures, empty, recount, stored};
use common::*;
use wfmon_model::*;
use wfmon_store::{
    AnalyticsWindow, Backend, ExecutionRecord, OpenMode, RollupQuery, Store, latest_version,
};

on_both_backends!(
    day_rows_are_made_from_hour_rows_when_migrating,
    a_day_with_an_unreadable_hour_stays_unreadable,
    minute_counts_are_made_from_minute_rows_when_migrating,
);

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The version that brought DAY rollups (the one before minute counts, which came before
/// prune marks).
fn day_rollups_version(backend: Backend) -> i64 {
    latest_version(backend) - 2
}

/// A fresh database of `like`'s backend at `version`.
async fn at_version(like: &TestDb, version: fn(Backend) -> i64) -> Option<TestDb> {
    let db = TestDb::unmigrated(like.store.backend()).await?;
    let version = version(db.store.backend());
    let outcome = db.store.migrate_up_to(version).await.unwrap();
    assert_eq!(outcome.to, version);
    Some(db)
}

/// A fresh database of `like`'s backend at the version before DAY rollups.
async fn previous_version(like: &TestDb) -> Option<TestDb> {
    at_version(like, |b| day_rollups_version(b) - 1).await
}

/// Stores `runs` and the rollups a store of an older version holds for them: MINUTE and HOUR
/// rows, and DAY rows when `days`, without minute counts (written in SQL: the columns of
/// today's records are not all there); `edit` may change a row before it is written.
async fn fill_rows(
    db: &TestDb,
    runs: &[WorkflowExecution],
    days: bool,
    edit: impl Fn(&mut WorkflowRollup),
) {
    db.store.insert(runs).await.unwrap();
    let now = Timestamp::now();
    let rows: Vec<WorkflowRollup> = recount(runs)
        .into_iter()
        .filter(|(k, _)| days || k.0 != RollupBucket::Day)
        .map(|((bucket, workflow_name, environment, bucket_start), f)| {
            let mut row = WorkflowRollup {
                id: new_id("rol"),
                bucket,
                bucket_start,
                workflow_name,
                environment,
                runs: f.0,
                passed: f.1,
                failed: f.2,
                warnings: f.3,
                duration_sum_ms: f.4,
                duration_min_ms: f.5,
                duration_max_ms: f.6,
                duration_sketch: Some(json(f.7.to_json())),
                minutes_measured: 0,
                minutes_up: 0,
                updated_at: now,
            };
            edit(&mut row);
            row
        })
        .collect();
    let text = |v: Option<i64>| v.map_or("NULL".to_owned(), |v| v.to_string());
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "('{}', '{}', '{}', '{}', '{}', {}, {}, {}, {}, {}, {}, {}, '{}')",
                r.id,
                r.bucket.as_str(),
                r.bucket_start,
                r.workflow_name,
                r.environment,
                r.runs,
                r.passed,
                r.failed,
                r.warnings,
                r.duration_sum_ms,
                text(r.duration_min_ms),
                text(r.duration_max_ms),
                r.duration_sketch.as_ref().unwrap().0,
            )
        })
        .collect();
    db.exec(&format!(
        "INSERT INTO workflow_rollups (id, bucket, bucket_start, workflow_name, environment, \
         runs, passed, failed, warnings, duration_sum_ms, duration_min_ms, duration_max_ms, \
         duration_sketch) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
}

/// `fill_rows` for a store from before DAY rollups.
async fn fill(db: &TestDb, runs: &[WorkflowExecution], edit: impl Fn(&mut WorkflowRollup)) {
    fill_rows(db, runs, false, edit).await
}

/// The table's indexes and triggers, by name.
async fn table_objects(db: &TestDb) -> Vec<String> {
    db.strings(match db.store.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE tbl_name = 'workflow_rollups' \
             AND type IN ('index', 'trigger') ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename = 'workflow_rollups' UNION ALL \
             SELECT tgname::text FROM pg_trigger \
             WHERE tgrelid = 'workflow_rollups'::regclass AND NOT tgisinternal ORDER BY 1"
        }
    })
    .await
}

/// The DAY rows the HOUR rows of `figures` add up to.
fn merged_hours(figures: &Figures) -> Figures {
    let mut out = Figures::new();
    for ((bucket, workflow, environment, start), f) in figures {
        if *bucket != RollupBucket::Hour {
            continue;
        }
        let day = Timestamp::from_unix_millis(start.unix_millis() / DAY_MS * DAY_MS).unwrap();
        let d = out
            .entry((
                RollupBucket::Day,
                workflow.clone(),
                environment.clone(),
                day,
            ))
            .or_insert_with(empty);
        d.0 += f.0;
        d.1 += f.1;
        d.2 += f.2;
        d.3 += f.3;
        d.4 += f.4;
        d.5 = d.5.into_iter().chain(f.5).min();
        d.6 = d.6.into_iter().chain(f.6).max();
        d.7.merge(&f.7);
        d.8 += f.8;
        d.9 += f.9;
    }
    out
}

fn window(workflow: &str, since: &str, until: &str) -> AnalyticsWindow {
    AnalyticsWindow {
        workflow: Some(workflow.to_owned()),
        environment: None,
        since: Timestamp::parse(since).unwrap(),
        until: Timestamp::parse(until).unwrap(),
    }
}

async fn day_rows_are_made_from_hour_rows_when_migrating(like: TestDb) {
    let Some(db) = previous_version(&like).await else {
        return;
    };
    let s = &db.store;
    // 75 days of runs, one every 7 h 13 min: more than two of the backfill's spans.
    let base = Timestamp::parse("2026-01-01T03:00:00Z").unwrap();
    let runs: Vec<WorkflowExecution> = (0..250i64)
        .map(|i| {
            let status = match i % 11 {
                0 | 4 => ExecutionStatus::Failed,
                7 => ExecutionStatus::Warning,
                _ => ExecutionStatus::Passed,
            };
            let at = base.plus(TimeDelta::minutes(i * 433));
            let mut e = execution(
                ["login", "search"][i as usize % 2],
                status,
                at,
                50 + (i as i32 * 37) % 3000,
            );
            if i % 3 == 0 {
                e.environment = "staging".into();
            }
            e
        })
        .collect();
    fill(&db, &runs, |_| {}).await;
    let objects = table_objects(&db).await;
    let windows = [
        ("2026-01-03T05:00:00Z", "2026-03-10T19:43:00Z"),
        ("2026-01-01T00:00:00Z", "2026-03-20T00:00:00Z"),
        ("2026-02-10T11:00:00Z", "2026-02-13T00:17:00Z"),
    ];
    let outcome = s.migrate().await.unwrap();
    let latest = latest_version(s.backend());
    assert_eq!(
        outcome.applied,
        [
            (latest - 2, "day_rollups"),
            (latest - 1, "uptime_minutes"),
            (latest, "prune_marks")
        ]
    );
    Store::open(&db.url, OpenMode::Existing)
        .await
        .expect("the migrated schema matches")
        .close()
        .await;
    let figures = stored(s).await;
    assert_eq!(figures, recount(&runs), "DAY rows added, the others kept");
    let days: Figures = figures
        .clone()
        .into_iter()
        .filter(|(k, _)| k.0 == RollupBucket::Day)
        .collect();
    assert!(days.len() > 100, "{} DAY rows", days.len());
    assert_eq!(days, merged_hours(&figures));

    // The same answers, whichever rows are read: points of an hour read the HOUR and MINUTE
    // rows the store had before (today's code does not read the older schema itself).
    let mut before = Vec::new();
    for workflow in ["login", "search"] {
        for (since, until) in windows {
            let w = window(workflow, since, until);
            before.push(s.figures(&w, Some(HOUR_MS)).await.unwrap());
        }
    }
    let mut n = 0;
    for workflow in ["login", "search"] {
        for (since, until) in windows {
            let w = window(workflow, since, until);
            let whole = s.figures(&w, None).await.unwrap();
            let totals = |f: &[wfmon_store::WorkflowFigures]| {
                f.iter()
                    .map(|f| (f.environment.clone(), f.total.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(totals(&whole), totals(&before[n]), "{workflow} {since}");
            n += 1;
        }
    }
    let w = window("login", "2026-01-01T00:00:00Z", "2026-03-20T00:00:00Z");
    let by_day = s.figures(&w, Some(DAY_MS)).await.unwrap();
    for f in &by_day {
        assert_eq!(f.points.len(), 78);
        let runs: i64 = f.points.iter().map(|p| p.figures.runs).sum();
        assert_eq!(runs, f.total.runs);
    }

    // The table keeps its indexes, trigger and CHECK, and its unique key takes new runs.
    assert_eq!(table_objects(&db).await, objects);
    assert!(
        db.exec(
            "INSERT INTO workflow_rollups (id, bucket, bucket_start, workflow_name, environment) \
             VALUES ('x', 'WEEK', '2026-01-05T00:00:00.000Z', 'w', 'e')"
        )
        .await
        .is_err(),
        "a bucket that is not MINUTE, HOUR or DAY is refused"
    );
    let more = execution(
        "login",
        ExecutionStatus::Failed,
        base.plus(TimeDelta::minutes(5)),
        1234,
    );
    s.record_executions(&[alone(&more)]).await.unwrap();
    let all: Vec<WorkflowExecution> = runs.iter().cloned().chain([more]).collect();
    assert_eq!(stored(s).await, recount(&all));

    // Migrating again changes nothing.
    let again = s.migrate().await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(stored(s).await, recount(&all));
}

async fn a_day_with_an_unreadable_hour_stays_unreadable(like: TestDb) {
    let Some(db) = previous_version(&like).await else {
        return;
    };
    let s = &db.store;
    let day = Timestamp::parse("2026-04-02T00:00:00Z").unwrap();
    let runs: Vec<WorkflowExecution> = [3, 9, 9, 15]
        .iter()
        .map(|h| {
            execution(
                "search",
                ExecutionStatus::Passed,
                day.plus(TimeDelta::hours(*h)),
                100 * *h as i32,
            )
        })
        .collect();
    let damaged = r#"{"v":9,"z":0,"b":"x"}"#;
    let nine = day.plus(TimeDelta::hours(9));
    fill(&db, &runs, |row| {
        if row.bucket == RollupBucket::Hour && row.bucket_start == nine {
            row.duration_sketch = Some(json(serde_json::from_str(damaged).unwrap()));
        }
    })
    .await;
    s.migrate().await.unwrap();
    let rows = s
        .rollup_rows(&RollupQuery {
            workflow: None,
            environment: None,
            bucket: RollupBucket::Day,
            since: day,
            until: day.plus(TimeDelta::days(1)),
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    // Every run counted, and the sketch as unreadable as the hour's.
    assert_eq!((rows[0].runs, rows[0].duration_sum_ms), (4, 3600));
    assert_eq!(
        rows[0].duration_sketch.as_ref().unwrap().0,
        serde_json::from_str::<serde_json::Value>(damaged).unwrap()
    );
    let w = window("search", "2026-04-01T00:00:00Z", "2026-04-05T00:00:00Z");
    let err = s.figures(&w, None).await.unwrap_err().to_string();
    assert!(err.contains("rebuild-rollups"), "{err}");
    // The next run of the day counts it again from the raw rows.
    let more = execution(
        "search",
        ExecutionStatus::Failed,
        day.plus(TimeDelta::hours(20)),
        50,
    );
    s.record_executions(&[alone(&more)]).await.unwrap();
    let found = s.figures(&w, None).await.unwrap();
    assert_eq!(found[0].total.runs, 5);
}

async fn minute_counts_are_made_from_minute_rows_when_migrating(like: TestDb) {
    let Some(db) = at_version(&like, day_rollups_version).await else {
        return;
    };
    let s = &db.store;
    // Three days of runs every 17 minutes, a second run in every fifth minute, a failure in
    // every seventh run.
    let base = Timestamp::parse("2026-05-01T00:00:00Z").unwrap();
    let mut runs = Vec::new();
    for i in 0..254i64 {
        let at = base.plus(TimeDelta::minutes(i * 17));
        let status = if i % 7 == 3 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        runs.push(execution("login", status, at, 100 + i as i32));
        if i % 5 == 0 {
            let again = if i % 10 == 0 {
                ExecutionStatus::Failed
            } else {
                ExecutionStatus::Warning
            };
            runs.push(execution(
                "login",
                again,
                at.plus(TimeDelta::seconds(20)),
                90,
            ));
        }
    }
    fill_rows(&db, &runs, true, |_| {}).await;
    // The MINUTE rows of one hour were pruned already.
    let pruned = Timestamp::parse("2026-05-02T07:00:00Z").unwrap();
    db.exec(&format!(
        "DELETE FROM workflow_rollups WHERE bucket = 'MINUTE' AND bucket_start >= '{pruned}' \
         AND bucket_start < '{}'",
        pruned.plus(TimeDelta::hours(1))
    ))
    .await
    .unwrap();

    let outcome = s.migrate().await.unwrap();
    let latest = latest_version(s.backend());
    assert_eq!(
        outcome.applied,
        [(latest - 1, "uptime_minutes"), (latest, "prune_marks")]
    );
    Store::open(&db.url, OpenMode::Existing)
        .await
        .expect("the migrated schema matches")
        .close()
        .await;

    // Expected: every row's minutes, less those of the pruned hour.
    let mut expected = recount(&runs);
    let in_pruned = |t: &Timestamp| {
        t.unix_millis() >= pruned.unix_millis() && t.unix_millis() < pruned.unix_millis() + HOUR_MS
    };
    expected.retain(|k, _| k.0 != RollupBucket::Minute || !in_pruned(&k.3));
    let hour_key = (
        RollupBucket::Hour,
        "login".to_owned(),
        "production".to_owned(),
        pruned,
    );
    let lost = {
        let hour = expected
            .get_mut(&hour_key)
            .expect("the pruned hour had runs");
        let lost = (hour.8, hour.9);
        (hour.8, hour.9) = (0, 0);
        lost
    };
    assert!(lost.0 > 0);
    let day = Timestamp::from_unix_millis(pruned.unix_millis() / DAY_MS * DAY_MS).unwrap();
    let day_row = expected
        .get_mut(&(
            RollupBucket::Day,
            "login".to_owned(),
            "production".to_owned(),
            day,
        ))
        .unwrap();
    day_row.8 -= lost.0;
    day_row.9 -= lost.1;
    assert_eq!(stored(s).await, expected);

    // Uptime from wide rows equals uptime counted minute by minute, for windows on and off
    // the hours and days.
    let minutes: Vec<(Timestamp, bool)> = expected
        .iter()
        .filter(|(k, _)| k.0 == RollupBucket::Minute)
        .map(|(k, f)| (k.3, f.9 == 1))
        .collect();
    for (since, until) in [
        ("2026-05-01T00:00:00Z", "2026-05-04T00:00:00Z"),
        ("2026-04-30T22:13:00Z", "2026-05-03T11:47:30Z"),
        ("2026-05-02T05:59:00Z", "2026-05-02T09:01:00Z"),
    ] {
        let w = window("login", since, until);
        let (from, to) = (
            w.since.unix_millis() / 60_000 * 60_000,
            w.until.unix_millis(),
        );
        let inside: Vec<bool> = minutes
            .iter()
            .filter(|(t, _)| t.unix_millis() >= from && t.unix_millis() < to)
            .map(|(_, up)| *up)
            .collect();
        let up = s.uptime(&w).await.unwrap();
        assert_eq!(up.len(), 1, "{since}");
        assert_eq!(
            (up[0].measured_minutes, up[0].up_minutes),
            (
                inside.len() as i64,
                inside.iter().filter(|u| **u).count() as i64
            ),
            "{since} to {until}"
        );
    }

    // New runs move the counts: a failure in a minute that was up, a run in a new minute.
    let up_minute = minutes.iter().find(|(_, up)| *up).unwrap().0;
    let more = [
        execution(
            "login",
            ExecutionStatus::Failed,
            up_minute.plus(TimeDelta::seconds(45)),
            70,
        ),
        execution(
            "login",
            ExecutionStatus::Passed,
            base.plus(TimeDelta::days(3)).plus(TimeDelta::minutes(2)),
            70,
        ),
    ];
    let w = window("login", "2026-05-01T00:00:00Z", "2026-05-05T00:00:00Z");
    let counts = |u: Vec<wfmon_store::Uptime>| (u[0].measured_minutes, u[0].up_minutes);
    let (measured, up) = counts(s.uptime(&w).await.unwrap());
    s.record_executions(&[alone(&more[0])]).await.unwrap();
    assert_eq!(
        counts(s.uptime(&w).await.unwrap()),
        (measured, up - 1),
        "a failure in a minute that was up"
    );
    s.record_executions(&[alone(&more[1])]).await.unwrap();
    assert_eq!(
        counts(s.uptime(&w).await.unwrap()),
        (measured + 1, up),
        "a passing run in a new minute"
    );
}

/// An execution recorded without steps, metrics or health checks.
fn alone(execution: &WorkflowExecution) -> ExecutionRecord {
    ExecutionRecord {
        execution: execution.clone(),
        steps: Vec::new(),
        metrics: Vec::new(),
        health_checks: Vec::new(),
    }
}

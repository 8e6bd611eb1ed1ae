//! Rollups written with every execution, on both backends: counted once, whatever the order
//! of starts, completions, retries and prunes, and always equal to a recount of what was
//! recorded (MINUTE, HOUR and DAY rows); rebuilt from raw rows by whole days; pruned by
//! their own retention; never losing counts when two stores write at once.

mod common;

use std::collections::BTreeMap;

use chrono::TimeDelta;
use common::rollups::{Figures, recount, stored};
use common::*;
use wfmon_model::*;
use wfmon_store::{ExecutionRecord, RecentFigures, RunningExecution, Store};

on_both_backends!(
    a_running_row_that_completes_is_counted_once,
    runs_are_counted_by_status_with_durations_and_sketch,
    rollups_equal_a_recount_after_random_inserts_retries_and_prunes,
    rebuild_recomputes_from_raw_rows,
    a_rebuild_from_mid_day_rebuilds_the_whole_day,
    a_rebuild_leaves_alone_the_days_whose_runs_were_pruned,
    a_database_pruned_before_the_mark_existed_is_given_one,
    prune_keeps_rollups_by_their_own_retention,
    two_stores_writing_at_once_lose_no_counts,
    a_stored_sketch_that_cannot_be_read_is_counted_again,
    the_overviews_kept_figures_follow_new_runs_rebuilds_and_deletions,
);

fn record(execution: WorkflowExecution) -> ExecutionRecord {
    ExecutionRecord {
        execution,
        steps: Vec::new(),
        metrics: Vec::new(),
        health_checks: Vec::new(),
    }
}

fn running(mut execution: WorkflowExecution) -> WorkflowExecution {
    execution.status = ExecutionStatus::Running;
    execution.completed_at = None;
    execution.duration_ms = None;
    execution
}

async fn a_running_row_that_completes_is_counted_once(db: TestDb) {
    let s = &db.store;
    let done = execution("login", ExecutionStatus::Passed, minutes_ago(3), 250);
    let started = running(done.clone());
    s.start_execution(&started).await.unwrap();
    assert!(stored(s).await.is_empty(), "a RUNNING row is not a run");
    let rec = record(done.clone());
    s.record_executions(std::slice::from_ref(&rec))
        .await
        .unwrap();
    // The same batch again (a writer retrying after an unanswered commit) counts nothing new.
    s.record_executions(std::slice::from_ref(&rec))
        .await
        .unwrap();
    // Started and finished in the same batch, as the daemon's writer may send them.
    let other = execution("login", ExecutionStatus::Failed, minutes_ago(3), 900);
    let other_rec = record(other.clone());
    s.write_results(&[&running(other.clone())], &[&other_rec], &[])
        .await
        .unwrap();
    let figures = stored(s).await;
    assert_eq!(figures, recount([&done, &other]));
    let hour = figures
        .iter()
        .find(|(k, _)| k.0 == RollupBucket::Hour)
        .unwrap()
        .1;
    assert_eq!((hour.0, hour.1, hour.2), (2, 1, 1));
}

async fn runs_are_counted_by_status_with_durations_and_sketch(db: TestDb) {
    let s = &db.store;
    let base = Timestamp::parse("2026-01-05T10:00:00Z").unwrap();
    let at = |minute: i64| base.plus(TimeDelta::seconds(minute * 60 + 7));
    let mut batch = vec![
        execution("checkout", ExecutionStatus::Passed, at(0), 100),
        execution("checkout", ExecutionStatus::Warning, at(0), 300),
        execution("checkout", ExecutionStatus::Failed, at(1), 2000),
        execution("checkout", ExecutionStatus::TimedOut, at(1), 30_000),
        execution("checkout", ExecutionStatus::Skipped, at(2), 0),
        running(execution("checkout", ExecutionStatus::Passed, at(2), 0)),
    ];
    let mut aborted = execution("checkout", ExecutionStatus::Aborted, at(59), 5);
    aborted.duration_ms = None;
    batch.push(aborted);
    let records: Vec<ExecutionRecord> = batch.into_iter().map(record).collect();
    s.record_executions(&records).await.unwrap();
    let figures = stored(s).await;
    let hour = &figures[&(
        RollupBucket::Hour,
        "checkout".to_owned(),
        "production".to_owned(),
        base,
    )];
    assert_eq!((hour.0, hour.1, hour.2, hour.3), (5, 2, 3, 1));
    assert_eq!((hour.4, hour.5, hour.6), (32_400, Some(100), Some(30_000)));
    assert_eq!(hour.7.count(), 4);
    let minute0 = &figures[&(
        RollupBucket::Minute,
        "checkout".to_owned(),
        "production".to_owned(),
        base,
    )];
    assert_eq!((minute0.0, minute0.1, minute0.3), (2, 2, 1));
    // Minutes without runs have no row: 0, 1 and 59.
    assert_eq!(
        figures
            .keys()
            .filter(|k| k.0 == RollupBucket::Minute)
            .count(),
        3
    );
    // Interpolated like percentile_cont: 2000 + 0.85 * (30000 - 2000) = 25800, within 1%.
    let p95 = hour.7.quantile(0.95).unwrap();
    assert!((p95 - 25_800.0).abs() <= 258.0, "p95 {p95}");
}

/// A small deterministic generator, so a failure can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

async fn rollups_equal_a_recount_after_random_inserts_retries_and_prunes(db: TestDb) {
    let s = &db.store;
    let seed = 0x5eed_0001;
    let mut rng = Lcg(seed);
    // Three days, so that runs fall in several DAY rows as well as hours and minutes.
    let origin = Timestamp::now().minus(TimeDelta::days(3));
    // What was recorded, as the test knows it (pruning raw rows does not remove it: rollups
    // keep counting pruned runs).
    let mut recorded: BTreeMap<String, WorkflowExecution> = BTreeMap::new();
    let mut pruned_before = origin;
    let statuses = [
        ExecutionStatus::Passed,
        ExecutionStatus::Passed,
        ExecutionStatus::Passed,
        ExecutionStatus::Warning,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
        ExecutionStatus::Skipped,
    ];
    for round in 0..40 {
        let action = rng.next(10);
        let (mut started, mut finished) = (Vec::new(), Vec::new());
        match action {
            // New runs, some started first, some still RUNNING.
            0..=4 => {
                for _ in 0..1 + rng.next(12) {
                    let workflow = ["login", "search", "checkout"][rng.next(3) as usize];
                    let at = origin.plus(TimeDelta::seconds(rng.next(3 * 86_400) as i64));
                    let mut e = execution(
                        workflow,
                        statuses[rng.next(statuses.len() as u64) as usize],
                        at,
                        rng.next(5000) as i32,
                    );
                    if rng.next(4) == 0 {
                        e.environment = "staging".into();
                    }
                    if rng.next(10) == 0 {
                        e.duration_ms = None;
                    }
                    match rng.next(4) {
                        0 => started.push(running(e)),
                        1 => {
                            started.push(running(e.clone()));
                            finished.push(e);
                        }
                        _ => finished.push(e),
                    }
                }
            }
            // Retries: failed runs attempted again, as new executions linked to the first.
            5 => {
                let failed: Vec<WorkflowExecution> = recorded
                    .values()
                    .filter(|e| {
                        e.status == ExecutionStatus::Failed && e.started_at >= pruned_before
                    })
                    .take(3)
                    .cloned()
                    .collect();
                for first in failed {
                    let mut retry = execution(
                        &first.workflow_name,
                        ExecutionStatus::Passed,
                        first.started_at.plus(TimeDelta::seconds(30)),
                        rng.next(3000) as i32,
                    );
                    retry.attempt = 2;
                    retry.first_run_id = Some(first.run_id.clone());
                    retry.triggered_by = TriggeredBy::Retry;
                    retry.environment = first.environment.clone();
                    finished.push(retry);
                }
            }
            // A writer retrying batches it already wrote, and RUNNING rows completing.
            6 => {
                let ids: Vec<String> = recorded.keys().take(5).cloned().collect();
                for id in ids {
                    let mut e = recorded[&id].clone();
                    if e.started_at < pruned_before {
                        continue;
                    }
                    if e.status == ExecutionStatus::Running {
                        e.status = ExecutionStatus::Passed;
                        e.duration_ms = Some(rng.next(2000) as i32);
                    }
                    finished.push(e);
                }
            }
            // A finished run recorded again with another outcome (recounted from raw rows).
            7 => {
                // Only where no raw row was pruned: after the day holding the cut-off (its
                // MINUTE, HOUR and DAY rows are counted again from raw rows).
                let day = Timestamp::from_unix_millis(
                    (pruned_before.unix_millis() / 86_400_000 + 1) * 86_400_000,
                )
                .unwrap();
                if let Some(mut e) = recorded
                    .values()
                    .find(|e| {
                        e.status.is_final()
                            && e.status != ExecutionStatus::Skipped
                            && e.started_at >= day
                    })
                    .cloned()
                {
                    e.status = ExecutionStatus::Failed;
                    e.duration_ms = Some(7777);
                    finished.push(e);
                }
            }
            // Runs left RUNNING by a vanished instance are closed as ABORTED.
            8 => {
                let stuck: Vec<RunningExecution> = s
                    .running_executions()
                    .await
                    .unwrap()
                    .into_iter()
                    .take(3)
                    .collect();
                let at = Timestamp::now();
                s.abort_executions(&stuck, "instance gone", at)
                    .await
                    .unwrap();
                for run in stuck {
                    let e = recorded.get_mut(&run.run_id).unwrap();
                    e.status = ExecutionStatus::Aborted;
                    e.duration_ms = Some(
                        i32::try_from((at.unix_millis() - e.started_at.unix_millis()).max(0))
                            .unwrap(),
                    );
                }
            }
            // Raw rows pruned; rollups keep them.
            _ => {
                pruned_before = pruned_before.plus(TimeDelta::minutes(rng.next(40) as i64));
                s.prune(pruned_before, false).await.unwrap();
            }
        }
        let records: Vec<ExecutionRecord> = finished.iter().cloned().map(record).collect();
        let refs: Vec<&ExecutionRecord> = records.iter().collect();
        let starts: Vec<&WorkflowExecution> = started.iter().collect();
        s.write_results(&starts, &refs, &[]).await.unwrap();
        for e in started {
            recorded.entry(e.run_id.clone()).or_insert(e);
        }
        for e in finished {
            recorded.insert(e.run_id.clone(), e);
        }
        assert_eq!(
            stored(s).await,
            recount(recorded.values()),
            "seed {seed:#x}, round {round}, action {action}"
        );
    }
    assert!(
        recorded.len() > 50,
        "the test recorded {} runs",
        recorded.len()
    );
}

async fn rebuild_recomputes_from_raw_rows(db: TestDb) {
    let s = &db.store;
    let runs: Vec<WorkflowExecution> = (0..30)
        .map(|i| {
            let status = if i % 4 == 0 {
                ExecutionStatus::Failed
            } else {
                ExecutionStatus::Passed
            };
            execution("search", status, minutes_ago(i * 7), 100 + i as i32 * 10)
        })
        .collect();
    // Rows written around the recorder (an adopted database) have no rollups yet.
    s.insert(&runs).await.unwrap();
    assert!(stored(s).await.is_empty());
    let report = s.rebuild_rollups(None, None).await.unwrap();
    assert_eq!(report.runs, 30);
    assert_eq!(stored(s).await, recount(&runs));
    // Rebuilding a range replaces it and leaves the rest.
    let before = stored(s).await;
    let from = minutes_ago(60);
    s.rebuild_rollups(Some(from), None).await.unwrap();
    assert_eq!(stored(s).await, before);
    let again = s.rebuild_rollups(None, None).await.unwrap();
    assert_eq!(again.runs, 30);
    assert_eq!(stored(s).await, before);
}

/// Two runs an hour, one passed and one failed, from `first` for `hours` hours.
fn runs_every_half_hour(workflow: &str, first: Timestamp, hours: i64) -> Vec<WorkflowExecution> {
    (0..hours * 2)
        .map(|i| {
            let status = if i % 2 == 0 {
                ExecutionStatus::Passed
            } else {
                ExecutionStatus::Failed
            };
            let at = first.plus(TimeDelta::minutes(i * 30 + 1));
            execution(workflow, status, at, 100 + i as i32)
        })
        .collect()
}

async fn a_rebuild_leaves_alone_the_days_whose_runs_were_pruned(db: TestDb) {
    let s = &db.store;
    let at = |text: &str| Timestamp::parse(text).unwrap();
    // Three whole days of runs, recorded with their rollups.
    let recorded = runs_every_half_hour("login", at("2026-03-01T00:00:00Z"), 72);
    let records: Vec<ExecutionRecord> = recorded.iter().cloned().map(record).collect();
    s.record_executions(&records).await.unwrap();
    assert_eq!(s.executions_pruned_before().await.unwrap(), None);
    // Runs before noon of the second day are pruned; their rollups stay.
    let cutoff = at("2026-03-02T12:00:00Z");
    let pruned = s.prune(cutoff, false).await.unwrap();
    assert_eq!(pruned.executions, 72);
    assert_eq!(s.executions_pruned_before().await.unwrap(), Some(cutoff));
    // A prune by an earlier cut-off does not move the mark back.
    s.prune(at("2026-03-01T06:00:00Z"), false).await.unwrap();
    assert_eq!(s.executions_pruned_before().await.unwrap(), Some(cutoff));
    let all = recount(&recorded);
    assert_eq!(stored(s).await, all);

    // Runs of the third day written around the recorder: only a rebuild counts them.
    let late = runs_every_half_hour("search", at("2026-03-03T00:00:00Z"), 24);
    s.insert(&late).await.unwrap();
    let mut everything = recorded.clone();
    everything.extend(late.iter().cloned());

    // The default range starts at the oldest raw run, on the partly pruned second day.
    let report = s.rebuild_rollups(None, None).await.unwrap();
    assert_eq!(report.skipped_from, Some(at("2026-03-02T00:00:00Z")));
    assert_eq!(report.skipped_to, Some(at("2026-03-03T00:00:00Z")));
    assert_eq!(report.pruned_before, Some(cutoff));
    assert_eq!(report.from, Some(at("2026-03-03T00:00:00Z")));
    assert_eq!(report.to, Some(at("2026-03-04T00:00:00Z")));
    assert_eq!(report.runs, 48 + 48);
    assert_eq!(stored(s).await, recount(&everything));

    // An explicit range over the pruned days leaves them alone too.
    let report = s
        .rebuild_rollups(
            Some(at("2026-02-27T00:00:00Z")),
            Some(at("2026-03-02T18:00:00Z")),
        )
        .await
        .unwrap();
    assert_eq!(report.skipped_from, Some(at("2026-02-27T00:00:00Z")));
    assert_eq!(report.skipped_to, Some(at("2026-03-03T00:00:00Z")));
    assert_eq!((report.from, report.to, report.runs), (None, None, 0));
    assert_eq!(stored(s).await, recount(&everything));

    // Once every raw run is pruned, nothing is rebuilt and nothing is lost.
    s.prune(at("2026-03-05T00:00:00Z"), false).await.unwrap();
    let report = s.rebuild_rollups(None, None).await.unwrap();
    assert_eq!(report.runs, 0);
    let report = s
        .rebuild_rollups(
            Some(at("2026-03-01T00:00:00Z")),
            Some(at("2026-03-06T00:00:00Z")),
        )
        .await
        .unwrap();
    assert_eq!(report.skipped_from, Some(at("2026-03-01T00:00:00Z")));
    assert_eq!(report.skipped_to, Some(at("2026-03-05T00:00:00Z")));
    assert_eq!(report.from, Some(at("2026-03-05T00:00:00Z")));
    assert_eq!(report.runs, 0);
    assert_eq!(stored(s).await, recount(&everything));
}

async fn a_database_pruned_before_the_mark_existed_is_given_one(db: TestDb) {
    let Some(old) = TestDb::unmigrated(db.store.backend()).await else {
        return;
    };
    let s = &old.store;
    let latest = wfmon_store::latest_version(s.backend());
    s.migrate_up_to(latest - 1).await.unwrap();
    let at = |text: &str| Timestamp::parse(text).unwrap();
    let recorded = runs_every_half_hour("login", at("2026-04-01T00:00:00Z"), 72);
    let records: Vec<ExecutionRecord> = recorded.iter().cloned().map(record).collect();
    s.record_executions(&records).await.unwrap();
    // Pruned by a wfmon that kept no mark: everything before 10:00 on the second day.
    old.exec("DELETE FROM workflow_executions WHERE started_at < '2026-04-02T10:00:00.000Z'")
        .await
        .unwrap();

    s.migrate().await.unwrap();
    // The last day whose rollups count runs its raw rows lack is the second one.
    assert_eq!(
        s.executions_pruned_before().await.unwrap(),
        Some(at("2026-04-03T00:00:00Z"))
    );
    let report = s.rebuild_rollups(None, None).await.unwrap();
    assert_eq!(report.skipped_from, Some(at("2026-04-02T00:00:00Z")));
    assert_eq!(report.from, Some(at("2026-04-03T00:00:00Z")));
    assert_eq!(stored(s).await, recount(&recorded));

    // A database never pruned gets no mark, so its first day can be rebuilt.
    let Some(fresh) = TestDb::unmigrated(db.store.backend()).await else {
        return;
    };
    fresh.store.migrate_up_to(latest - 1).await.unwrap();
    fresh.store.record_executions(&records).await.unwrap();
    fresh.store.migrate().await.unwrap();
    assert_eq!(fresh.store.executions_pruned_before().await.unwrap(), None);
}

async fn a_rebuild_from_mid_day_rebuilds_the_whole_day(db: TestDb) {
    let s = &db.store;
    let day = Timestamp::parse("2026-02-03T00:00:00Z").unwrap();
    let runs: Vec<WorkflowExecution> = (0..24)
        .map(|h| {
            let status = if h % 5 == 0 {
                ExecutionStatus::Failed
            } else {
                ExecutionStatus::Passed
            };
            let at = day.plus(TimeDelta::hours(h) + TimeDelta::minutes(7));
            execution("search", status, at, 100 + h as i32 * 10)
        })
        .collect();
    let before = execution(
        "search",
        ExecutionStatus::Passed,
        day.minus(TimeDelta::minutes(1)),
        50,
    );
    let after = execution(
        "search",
        ExecutionStatus::Passed,
        day.plus(TimeDelta::days(1)),
        60,
    );
    let all: Vec<ExecutionRecord> = runs
        .iter()
        .chain([&before, &after])
        .cloned()
        .map(record)
        .collect();
    s.record_executions(&all).await.unwrap();
    // Every row damaged, then a range inside one afternoon rebuilt.
    db.exec("UPDATE workflow_rollups SET runs = 999")
        .await
        .unwrap();
    let report = s
        .rebuild_rollups(
            Some(day.plus(TimeDelta::minutes(15 * 60 + 30))),
            Some(day.plus(TimeDelta::minutes(16 * 60 + 10))),
        )
        .await
        .unwrap();
    let next = day.plus(TimeDelta::days(1));
    assert_eq!((report.from, report.to), (Some(day), Some(next)));
    assert_eq!(report.runs, 24, "every run of the day, none of the others");
    let (inside, outside): (Figures, Figures) = stored(s)
        .await
        .into_iter()
        .partition(|(k, _)| k.3 >= day && k.3 < next);
    assert_eq!(
        inside,
        recount(&runs),
        "the whole day, its DAY row included"
    );
    assert_eq!(outside.len(), 6);
    assert!(outside.values().all(|f| f.0 == 999), "other days untouched");
}

async fn prune_keeps_rollups_by_their_own_retention(db: TestDb) {
    let s = &db.store;
    let old = execution(
        "login",
        ExecutionStatus::Passed,
        minutes_ago(60 * 24 * 10),
        100,
    );
    // Yesterday at noon (UTC), so that an hour later is still the same day.
    let noon = Timestamp::from_unix_millis(
        Timestamp::now().unix_millis() / 86_400_000 * 86_400_000 - 12 * 3_600_000,
    )
    .unwrap();
    let new = execution("login", ExecutionStatus::Failed, noon, 200);
    s.record_executions(&[record(old.clone()), record(new.clone())])
        .await
        .unwrap();
    s.prune(minutes_ago(60 * 24 * 5), false).await.unwrap();
    assert_eq!(s.count::<WorkflowExecution>().await.unwrap(), 1);
    assert_eq!(
        stored(s).await,
        recount([&old, &new]),
        "rollups outlive raw rows"
    );
    let cutoff = minutes_ago(60 * 24 * 2);
    assert_eq!(s.prune_rollups(cutoff, true).await.unwrap(), 3);
    assert_eq!(stored(s).await.len(), 6, "a dry run deletes nothing");
    assert_eq!(s.prune_rollups(cutoff, false).await.unwrap(), 3);
    assert_eq!(stored(s).await, recount([&new]));
    // A day is pruned once it has ended by the cutoff, not before: with a cutoff inside the
    // day of `new`, its MINUTE and HOUR rows that ended go, its DAY row stays.
    let midnight =
        Timestamp::from_unix_millis(new.started_at.unix_millis() / 86_400_000 * 86_400_000)
            .unwrap();
    let ended = new.started_at.plus(TimeDelta::hours(1));
    let day_only = s.prune_rollups(ended, false).await.unwrap();
    assert_eq!(day_only, 2);
    let left: Vec<_> = stored(s).await.into_keys().collect();
    assert_eq!(
        left,
        [(
            RollupBucket::Day,
            "login".to_owned(),
            "production".to_owned(),
            midnight
        )]
    );
    s.prune_rollups(midnight.plus(TimeDelta::days(1)), false)
        .await
        .unwrap();
    assert!(stored(s).await.is_empty());
}

async fn two_stores_writing_at_once_lose_no_counts(db: TestDb) {
    let other = Store::open(&db.url, wfmon_store::OpenMode::Existing)
        .await
        .unwrap();
    // Every run in the same minute, so both writers update the same two rows.
    let at = Timestamp::now().minus(TimeDelta::minutes(2));
    let make = |n: usize| -> Vec<Vec<ExecutionRecord>> {
        (0..20)
            .map(|_| {
                (0..n)
                    .map(|i| {
                        record(execution(
                            "checkout",
                            ExecutionStatus::Passed,
                            at,
                            10 + i as i32,
                        ))
                    })
                    .collect()
            })
            .collect()
    };
    let (a, b) = (make(3), make(4));
    let all: Vec<WorkflowExecution> = a
        .iter()
        .chain(&b)
        .flatten()
        .map(|r| r.execution.clone())
        .collect();
    let write = |store: Store, batches: Vec<Vec<ExecutionRecord>>| async move {
        for batch in batches {
            store.record_executions(&batch).await.unwrap();
        }
    };
    let one = tokio::spawn(write(db.store.clone(), a));
    let two = tokio::spawn(write(other.clone(), b));
    one.await.unwrap();
    two.await.unwrap();
    let figures = stored(&db.store).await;
    assert_eq!(figures, recount(&all));
    assert!(figures.values().all(|f| f.0 == 140));
    other.close().await;
}

async fn a_stored_sketch_that_cannot_be_read_is_counted_again(db: TestDb) {
    let s = &db.store;
    let at = minutes_ago(4);
    let first = execution("search", ExecutionStatus::Passed, at, 120);
    let second = execution("search", ExecutionStatus::Failed, at, 480);
    s.record_executions(&[record(first.clone()), record(second.clone())])
        .await
        .unwrap();
    // A damaged row: its sketch is in no form the store reads, and its counts are wrong.
    db.exec(r#"UPDATE workflow_rollups SET runs = 99, duration_sketch = '{"v":9,"z":0,"b":"x"}'"#)
        .await
        .unwrap();
    let third = execution("search", ExecutionStatus::Passed, at, 300);
    s.record_executions(&[record(third.clone())]).await.unwrap();
    // Adding to it would keep the damage: the row is counted again from the raw rows.
    assert_eq!(stored(s).await, recount([&first, &second, &third]));
}

/// Per pair: runs, passed, and the latest run's id.
type Seen = BTreeMap<String, (i64, i64, Option<String>)>;

async fn recent(s: &Store, kept: &RecentFigures, pairs: &[(String, String)]) -> Seen {
    let hour = Timestamp::from_unix_millis(
        Timestamp::now().unix_millis().div_euclid(3_600_000) * 3_600_000,
    )
    .unwrap();
    let (since, until) = (
        hour.minus(TimeDelta::hours(23)),
        hour.plus(TimeDelta::hours(1)),
    );
    let (stats, latest) = s.recent_figures(kept, since, until, pairs).await.unwrap();
    let mut seen = Seen::new();
    for w in stats {
        assert_eq!(w.environment, "production");
        seen.insert(w.workflow_name, (w.stats.runs, w.stats.passed, None));
    }
    for run in latest {
        seen.entry(run.workflow_name).or_default().2 = Some(run.run_id);
    }
    seen
}

async fn the_overviews_kept_figures_follow_new_runs_rebuilds_and_deletions(db: TestDb) {
    let s = &db.store;
    let pairs: Vec<(String, String)> = ["login", "signup", "never"]
        .iter()
        .map(|w| (w.to_string(), "production".to_owned()))
        .collect();
    let login = execution("login", ExecutionStatus::Passed, minutes_ago(40), 200);
    let signup = execution("signup", ExecutionStatus::Failed, minutes_ago(30), 300);
    // Older than the window: the latest run, but not in the figures.
    let old = execution("never", ExecutionStatus::Passed, minutes_ago(60 * 30), 100);
    s.record_executions(&[
        record(login.clone()),
        record(signup.clone()),
        record(old.clone()),
    ])
    .await
    .unwrap();
    let kept = RecentFigures::new();
    let first = recent(s, &kept, &pairs).await;
    assert_eq!(first["login"], (1, 1, Some(login.run_id.clone())));
    assert_eq!(first["signup"], (1, 0, Some(signup.run_id.clone())));
    assert_eq!(first["never"], (0, 0, Some(old.run_id.clone())));

    // A newer run is seen by the next read: its pair's figures and latest run change.
    let again = execution("login", ExecutionStatus::Failed, minutes_ago(5), 900);
    s.record_executions(&[record(again.clone())]).await.unwrap();
    let second = recent(s, &kept, &pairs).await;
    assert_eq!(second["login"], (2, 1, Some(again.run_id.clone())));
    assert_eq!(second["signup"], first["signup"]);
    assert_eq!(second, recent(s, &RecentFigures::new(), &pairs).await);

    // An execution deleted and the rollups rebuilt: its hour's row goes away, and so do
    // its figures and its latest run.
    assert!(s.delete::<WorkflowExecution>(&signup.run_id).await.unwrap());
    s.rebuild_rollups(None, None).await.unwrap();
    let third = recent(s, &kept, &pairs).await;
    assert!(!third.contains_key("signup"), "{third:?}");
    assert_eq!(third["login"], second["login"]);
    assert_eq!(third, recent(s, &RecentFigures::new(), &pairs).await);
}

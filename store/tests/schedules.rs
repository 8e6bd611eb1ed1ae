//! The scheduler's shared state, the same test bodies on SQLite and on PostgreSQL: syncing
//! schedules from the configuration, claiming each due run once (also under concurrent
//! claimers), advancing, counting, leases, and closing interrupted runs.

mod common;

use std::collections::BTreeSet;

use chrono::TimeDelta;
use common::*;
use wfmon_model::*;
use wfmon_store::{Advance, ExecutionRecord, ScheduleSpec, ScheduleTally, Store};

on_both_backends!(
    sync_adds_updates_and_disables_and_keeps_counts,
    a_due_run_is_claimed_once_and_only_when_due,
    concurrent_claimers_never_claim_the_same_run,
    advancing_needs_the_lease,
    the_count_is_written_with_the_result_and_releases_the_lease,
    expired_leases_can_be_claimed_and_renewed_ones_cannot,
    only_the_leases_named_are_renewed,
    an_aborted_scheduled_run_counts_as_a_failure_of_its_schedule,
    interrupted_runs_are_listed_and_closed_once,
    schedules_move_forward_only,
    a_paused_schedule_stays_paused_across_syncs_until_resumed,
);

fn spec(workflow: &str, env: &str, cron: &str, next: Option<Timestamp>) -> ScheduleSpec {
    ScheduleSpec {
        schedule_id: format!("{workflow}@{env}"),
        workflow_name: workflow.into(),
        environment: env.into(),
        cron_expression: cron.into(),
        timezone: "UTC".into(),
        description: None,
        tags: None,
        next_run_at: next,
    }
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

async fn schedule(store: &Store, id: &str) -> WorkflowSchedule {
    store.get::<WorkflowSchedule>(id).await.unwrap().unwrap()
}

async fn sync_adds_updates_and_disables_and_keeps_counts(db: TestDb) {
    let s = &db.store;
    let t0 = Timestamp::now().plus(secs(60));
    let report = s
        .sync_schedules(&[
            spec("login", "prod", "* * * * *", Some(t0)),
            spec("login", "staging", "* * * * *", Some(t0)),
        ])
        .await
        .unwrap();
    assert_eq!((report.added, report.updated, report.disabled), (2, 0, 0));
    // Give one schedule some history, then sync again with the same specs: nothing changes.
    s.write_results(
        &[],
        &[],
        &[&ScheduleTally {
            schedule_id: "login@prod".into(),
            run_id: None,
            owner: "a".into(),
            passed: true,
            next_run_at: None,
        }],
    )
    .await
    .unwrap();
    let again = s
        .sync_schedules(&[
            spec("login", "prod", "* * * * *", Some(t0.plus(secs(5)))),
            spec("login", "staging", "* * * * *", Some(t0.plus(secs(5)))),
        ])
        .await
        .unwrap();
    assert_eq!(again.unchanged, 2, "{again:?}");
    assert_eq!(schedule(s, "login@prod").await.next_run_at, Some(t0));

    // A new expression resets the next due time; a schedule gone from the config is disabled
    // and keeps its counts.
    let t1 = Timestamp::now().plus(secs(300));
    let changed = s
        .sync_schedules(&[spec("login", "staging", "*/5 * * * *", Some(t1))])
        .await
        .unwrap();
    assert_eq!((changed.updated, changed.disabled), (1, 1), "{changed:?}");
    let staging = schedule(s, "login@staging").await;
    assert_eq!(staging.cron_expression, "*/5 * * * *");
    assert_eq!(staging.next_run_at, Some(t1));
    let prod = schedule(s, "login@prod").await;
    assert!(!prod.enabled);
    assert_eq!((prod.run_count, prod.success_count), (1, 1));

    // A disabled schedule is never claimed, even when due.
    let claims = s
        .claim_due(
            "a",
            t1.plus(secs(3600)),
            Timestamp::now(),
            t1.plus(secs(3600)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        claims
            .iter()
            .map(|c| c.schedule_id.as_str())
            .collect::<Vec<_>>(),
        ["login@staging"]
    );

    // Configured again: enabled, with a fresh due time.
    s.sync_schedules(&[spec("login", "prod", "* * * * *", Some(t1))])
        .await
        .unwrap();
    let prod = schedule(s, "login@prod").await;
    assert!(prod.enabled);
    assert_eq!(prod.next_run_at, Some(t1));
}

async fn a_due_run_is_claimed_once_and_only_when_due(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    s.sync_schedules(&[
        spec("due", "prod", "* * * * *", Some(now.minus(secs(1)))),
        spec("soon", "prod", "* * * * *", Some(now.plus(secs(1)))),
        spec("later", "prod", "* * * * *", Some(now.plus(secs(60)))),
    ])
    .await
    .unwrap();
    assert_eq!(s.next_due(now).await.unwrap(), Some(now.minus(secs(1))));
    let lease = now.plus(secs(30));
    let claims = s.claim_due("a", now, now, lease, 10).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].schedule_id, "due@prod");
    assert_eq!(claims[0].due_at, now.minus(secs(1)));
    let row = schedule(s, "due@prod").await;
    assert_eq!(row.lease_owner.as_deref(), Some("a"));
    assert_eq!(row.lease_expires_at, Some(lease));
    // Claimed: nobody else (nor the same owner) gets it again.
    assert!(
        s.claim_due("b", now, now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.claim_due("a", now, now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The lookahead claims what is due within it, up to the limit, earliest first.
    let ahead = s
        .claim_due("b", now.plus(secs(120)), now, lease, 1)
        .await
        .unwrap();
    assert_eq!(ahead.len(), 1);
    assert_eq!(ahead[0].schedule_id, "soon@prod");
    assert_eq!(s.next_due(now).await.unwrap(), Some(now.plus(secs(60))));
    assert!(
        s.claim_due("b", now, now, lease, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_claimers_never_claim_the_same_run(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    let specs: Vec<ScheduleSpec> = (0..60)
        .map(|i| {
            spec(
                &format!("w{i:02}"),
                "prod",
                "* * * * *",
                Some(now.minus(secs(1))),
            )
        })
        .collect();
    s.sync_schedules(&specs).await.unwrap();
    let lease = now.plus(secs(30));
    // Six claimers race, each taking at most 7 per round, until nothing is left.
    let claimers = (0..6).map(|i| {
        let store = s.clone();
        tokio::spawn(async move {
            let owner = format!("instance-{i}");
            let mut mine = Vec::new();
            loop {
                let got = store.claim_due(&owner, now, now, lease, 7).await.unwrap();
                if got.is_empty() {
                    return (owner, mine);
                }
                mine.extend(got.into_iter().map(|c| c.schedule_id));
            }
        })
    });
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for claimer in claimers {
        let (owner, mine) = claimer.await.unwrap();
        for id in mine {
            total += 1;
            assert!(seen.insert(id.clone()), "{id} claimed twice");
            assert_eq!(
                schedule(s, &id).await.lease_owner.as_deref(),
                Some(owner.as_str())
            );
        }
    }
    assert_eq!(total, 60, "every due run claimed exactly once");
}

async fn advancing_needs_the_lease(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    s.sync_schedules(&[spec("w", "prod", "* * * * *", Some(now.minus(secs(1))))])
        .await
        .unwrap();
    s.claim_due("a", now, now, now.plus(secs(30)), 10)
        .await
        .unwrap();
    let next = now.plus(secs(59));
    let advance = Advance {
        schedule_id: "w@prod".into(),
        last_run_at: Some(now),
        next_run_at: Some(next),
    };
    assert_eq!(
        s.advance_schedules("b", std::slice::from_ref(&advance))
            .await
            .unwrap(),
        0,
        "another instance cannot move a schedule it does not hold"
    );
    assert_eq!(
        schedule(s, "w@prod").await.next_run_at,
        Some(now.minus(secs(1)))
    );
    assert_eq!(s.advance_schedules("a", &[advance]).await.unwrap(), 1);
    let row = schedule(s, "w@prod").await;
    assert_eq!((row.last_run_at, row.next_run_at), (Some(now), Some(next)));
    // A skipped due time moves next_run_at and leaves last_run_at.
    s.advance_schedules(
        "a",
        &[Advance {
            schedule_id: "w@prod".into(),
            last_run_at: None,
            next_run_at: Some(next.plus(secs(60))),
        }],
    )
    .await
    .unwrap();
    let row = schedule(s, "w@prod").await;
    assert_eq!(
        (row.last_run_at, row.next_run_at),
        (Some(now), Some(next.plus(secs(60))))
    );
    // A late call (made before the one above, landing after it) does not move it back.
    let late = Advance {
        schedule_id: "w@prod".into(),
        last_run_at: Some(now.minus(secs(30))),
        next_run_at: Some(next),
    };
    assert_eq!(s.advance_schedules("a", &[late]).await.unwrap(), 0);
    let row = schedule(s, "w@prod").await;
    assert_eq!(
        (row.last_run_at, row.next_run_at),
        (Some(now), Some(next.plus(secs(60))))
    );
}

async fn the_count_is_written_with_the_result_and_releases_the_lease(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    s.sync_schedules(&[spec("w", "prod", "* * * * *", Some(now.minus(secs(1))))])
        .await
        .unwrap();
    s.claim_due("a", now, now, now.plus(secs(30)), 10)
        .await
        .unwrap();
    let mut started = execution("w", ExecutionStatus::Running, now, 0);
    started.schedule_id = Some("w@prod".into());
    started.completed_at = None;
    started.duration_ms = None;
    s.write_results(&[&started], &[], &[]).await.unwrap();
    // Writing the RUNNING row twice (a retried batch) is harmless.
    s.write_results(&[&started], &[], &[]).await.unwrap();

    let mut done = started.clone();
    done.status = ExecutionStatus::Failed;
    done.completed_at = Some(now.plus(secs(1)));
    let record = ExecutionRecord {
        execution: done,
        steps: Vec::new(),
        metrics: Vec::new(),
        health_checks: Vec::new(),
    };
    let next = now.plus(secs(59));
    let tally = ScheduleTally {
        schedule_id: "w@prod".into(),
        run_id: None,
        owner: "a".into(),
        passed: false,
        next_run_at: Some(next),
    };
    s.write_results(&[], &[&record], &[&tally]).await.unwrap();
    let row = schedule(s, "w@prod").await;
    assert_eq!(
        (row.run_count, row.success_count, row.failure_count),
        (1, 0, 1)
    );
    assert_eq!(row.next_run_at, Some(next));
    assert_eq!((row.lease_owner, row.lease_expires_at), (None, None));
    let stored = s
        .get::<WorkflowExecution>(&started.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ExecutionStatus::Failed);

    // The count of an instance that lost its lease still counts, but neither moves the
    // schedule nor releases the new holder's lease.
    s.claim_due("b", next, next, next.plus(secs(30)), 10)
        .await
        .unwrap();
    let late = ScheduleTally {
        schedule_id: "w@prod".into(),
        run_id: None,
        owner: "a".into(),
        passed: true,
        next_run_at: Some(now.plus(secs(3600))),
    };
    s.write_results(&[], &[], &[&late]).await.unwrap();
    let row = schedule(s, "w@prod").await;
    assert_eq!(
        (row.run_count, row.success_count, row.failure_count),
        (2, 1, 1)
    );
    assert_eq!(row.next_run_at, Some(next));
    assert_eq!(row.lease_owner.as_deref(), Some("b"));

    // A failed write counts nothing: the count is in the result's transaction.
    let mut orphan = record.clone();
    orphan.execution.run_id = new_id("run");
    orphan.execution.id = new_id("exe");
    let mut bad_step = step(&orphan.execution, 0);
    bad_step.execution_id = "run_missing".into();
    orphan.steps.push(bad_step);
    let counted = ScheduleTally {
        owner: "b".into(),
        ..tally
    };
    assert!(s.write_results(&[], &[&orphan], &[&counted]).await.is_err());
    let row = schedule(s, "w@prod").await;
    assert_eq!(row.run_count, 2);
    assert_eq!(row.lease_owner.as_deref(), Some("b"));
}

async fn expired_leases_can_be_claimed_and_renewed_ones_cannot(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    s.sync_schedules(&[
        spec("x", "prod", "* * * * *", Some(now.minus(secs(10)))),
        spec("y", "prod", "* * * * *", Some(now.minus(secs(10)))),
    ])
    .await
    .unwrap();
    let short = now.plus(secs(5));
    assert_eq!(
        s.claim_due("a", now, now, short, 10).await.unwrap().len(),
        2
    );
    // Later, before expiry: nothing to claim. "a" renews; at a time past the first
    // expiry, still nothing; once the renewed lease expires, another instance takes over.
    let later = now.plus(secs(6));
    let both = ["x@prod".to_string(), "y@prod".to_string()];
    assert_eq!(
        s.renew_leases("a", &both, now.plus(secs(20)))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.renew_leases("b", &both, now.plus(secs(40)))
            .await
            .unwrap(),
        0,
        "only the holder renews"
    );
    assert!(
        s.claim_due("b", later, later, later.plus(secs(30)), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let expired = now.plus(secs(21));
    let taken = s
        .claim_due("b", expired, expired, expired.plus(secs(30)), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    assert_eq!(s.lease_owners().await.unwrap(), ["b"]);
    assert_eq!(s.release_leases("b").await.unwrap(), 2);
    assert!(s.lease_owners().await.unwrap().is_empty());
}

async fn only_the_leases_named_are_renewed(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    s.sync_schedules(&[
        spec("x", "prod", "* * * * *", Some(now.minus(secs(10)))),
        spec("y", "prod", "* * * * *", Some(now.minus(secs(10)))),
    ])
    .await
    .unwrap();
    s.claim_due("a", now, now, now.plus(secs(5)), 10)
        .await
        .unwrap();
    // "a" runs x only (it could not start y): y's lease is left to expire.
    assert_eq!(
        s.renew_leases("a", &["x@prod".to_string()], now.plus(secs(60)))
            .await
            .unwrap(),
        1
    );
    let expired = now.plus(secs(6));
    let taken = s
        .claim_due("b", expired, expired, expired.plus(secs(30)), 10)
        .await
        .unwrap();
    assert_eq!(
        taken
            .iter()
            .map(|c| c.schedule_id.as_str())
            .collect::<Vec<_>>(),
        ["y@prod"]
    );
    assert_eq!(
        schedule(s, "x@prod").await.lease_owner.as_deref(),
        Some("a")
    );
}

async fn an_aborted_scheduled_run_counts_as_a_failure_of_its_schedule(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    s.sync_schedules(&[spec("w", "prod", "* * * * *", Some(now.minus(secs(1))))])
        .await
        .unwrap();
    s.claim_due("b", now, now, now.plus(secs(30)), 10)
        .await
        .unwrap();
    let mut runs = Vec::new();
    for age in [5, 4] {
        let mut run = execution("w", ExecutionStatus::Running, now.minus(secs(age)), 0);
        run.schedule_id = Some("w@prod".into());
        run.instance_id = Some("a".into());
        runs.push(run);
    }
    let manual = execution("w", ExecutionStatus::Running, now.minus(secs(3)), 0);
    s.insert(&[runs[0].clone(), runs[1].clone(), manual])
        .await
        .unwrap();
    let running = s.running_executions().await.unwrap();
    assert_eq!(running.len(), 3);
    assert_eq!(
        s.abort_executions(&running, "aborted: instance a is gone", now)
            .await
            .unwrap(),
        3
    );
    let row = schedule(s, "w@prod").await;
    assert_eq!(
        (row.run_count, row.success_count, row.failure_count),
        (2, 0, 2),
        "{row:?}"
    );
    assert_eq!(
        row.lease_owner.as_deref(),
        Some("b"),
        "another instance's lease is left alone"
    );
    // Closed once, counted once.
    assert_eq!(s.abort_executions(&running, "again", now).await.unwrap(), 0);
    let row = schedule(s, "w@prod").await;
    assert_eq!((row.run_count, row.failure_count), (2, 2), "{row:?}");

    // The first run's own instance was cut off, not gone: its result arrives after the sweep.
    // The run was counted (as a failure) when it was closed; it now moves to a success, and
    // a batch written twice moves nothing.
    let mut done = runs[0].clone();
    done.status = ExecutionStatus::Passed;
    done.completed_at = Some(now);
    done.duration_ms = Some(5);
    let record = ExecutionRecord {
        execution: done,
        steps: Vec::new(),
        metrics: Vec::new(),
        health_checks: Vec::new(),
    };
    let tally = ScheduleTally {
        schedule_id: "w@prod".into(),
        run_id: Some(runs[0].run_id.clone()),
        owner: "a".into(),
        passed: true,
        next_run_at: None,
    };
    for _ in 0..2 {
        s.write_results(&[], &[&record], &[&tally]).await.unwrap();
        let row = schedule(s, "w@prod").await;
        assert_eq!(
            (row.run_count, row.success_count, row.failure_count),
            (2, 1, 1),
            "{row:?}"
        );
    }
}

async fn interrupted_runs_are_listed_and_closed_once(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    s.sync_schedules(&[spec("w", "prod", "* * * * *", Some(now.minus(secs(1))))])
        .await
        .unwrap();
    s.claim_due("a", now, now, now.plus(secs(30)), 10)
        .await
        .unwrap();
    let mut scheduled = execution("w", ExecutionStatus::Running, now.minus(secs(3)), 0);
    scheduled.schedule_id = Some("w@prod".into());
    scheduled.instance_id = Some("a".into());
    let mut manual = execution("w", ExecutionStatus::Running, now.minus(secs(2)), 0);
    manual.instance_id = Some("cli".into());
    let finished = execution("w", ExecutionStatus::Passed, now.minus(secs(9)), 10);
    s.insert(&[scheduled.clone(), manual.clone(), finished])
        .await
        .unwrap();

    let running = s.running_executions().await.unwrap();
    assert_eq!(
        running
            .iter()
            .map(|r| r.run_id.as_str())
            .collect::<Vec<_>>(),
        [scheduled.run_id.as_str(), manual.run_id.as_str()]
    );
    assert_eq!(running[0].lease_owner.as_deref(), Some("a"));
    assert_eq!(running[1].lease_owner, None);

    let closed = s
        .abort_executions(&running, "aborted: instance gone", now)
        .await
        .unwrap();
    assert_eq!(closed, 2);
    let row = s
        .get::<WorkflowExecution>(&scheduled.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, ExecutionStatus::Aborted);
    assert_eq!(row.error_message.as_deref(), Some("aborted: instance gone"));
    assert_eq!(row.duration_ms, Some(3000));
    assert_eq!(row.completed_at, Some(now));
    // Closing again changes nothing: only RUNNING rows are closed.
    assert_eq!(s.abort_executions(&running, "again", now).await.unwrap(), 0);
    assert!(s.running_executions().await.unwrap().is_empty());
}

async fn schedules_move_forward_only(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    s.sync_schedules(&[
        spec("a", "prod", "* * * * *", Some(now)),
        spec("b", "prod", "* * * * *", Some(now)),
    ])
    .await
    .unwrap();
    s.claim_due("holder", now, now, now.plus(secs(30)), 1)
        .await
        .unwrap();
    let changed = s
        .forward_schedules(&[
            ("a@prod".into(), now.plus(secs(5))),
            ("b@prod".into(), now.minus(secs(5))),
            ("missing@prod".into(), now.plus(secs(5))),
        ])
        .await
        .unwrap();
    assert_eq!(
        changed, 1,
        "only a later due time moves a schedule, held or not"
    );
    assert_eq!(
        schedule(s, "a@prod").await.next_run_at,
        Some(now.plus(secs(5)))
    );
    assert_eq!(schedule(s, "b@prod").await.next_run_at, Some(now));
}

async fn a_paused_schedule_stays_paused_across_syncs_until_resumed(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    let specs = [spec("w", "prod", "* * * * *", Some(now))];
    s.sync_schedules(&specs).await.unwrap();
    let paused = s
        .set_paused("w@prod", true, "alice", None)
        .await
        .unwrap()
        .unwrap();
    assert!(!paused.enabled);
    assert!(wfmon_store::is_paused(&paused));
    assert_eq!(paused.metadata.as_ref().unwrap().0["pausedBy"], "alice");
    assert!(
        s.claim_due("a", now, now, now.plus(secs(30)), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A restart syncs the configuration again: still paused.
    s.sync_schedules(&specs).await.unwrap();
    assert!(!schedule(s, "w@prod").await.enabled);
    let later = now.plus(secs(60));
    let resumed = s
        .set_paused("w@prod", false, "bob", Some(later))
        .await
        .unwrap()
        .unwrap();
    assert!(resumed.enabled && !wfmon_store::is_paused(&resumed));
    assert_eq!(resumed.next_run_at, Some(later));
    assert_eq!(resumed.metadata.as_ref().unwrap().0["resumedBy"], "bob");
    assert!(
        s.set_paused("nope@prod", true, "x", None)
            .await
            .unwrap()
            .is_none()
    );
}

//! Alert state and the notification outbox, on both backends.

mod common;

use common::*;
use wfmon_model::*;
use wfmon_store::{AlertChange, DeliveryOutcome};

on_both_backends!(
    a_fingerprint_has_one_open_episode_that_retriggers,
    concurrent_triggers_open_one_episode,
    changes_are_compare_and_set_and_queue_their_notifications_once,
    silences_are_kept_with_who_why_and_until,
    the_outbox_hands_each_notification_to_one_sender,
    history_reads_skip_runs_that_say_nothing,
);

fn candidate(fingerprint: &str) -> Alert {
    let now = Timestamp::now();
    Alert {
        id: new_id("alr"),
        alert_id: new_id("alert"),
        rule_id: "login-failing".into(),
        workflow_name: "user-login".into(),
        environment: "production".into(),
        severity: AlertSeverity::Critical,
        status: AlertStatus::Active,
        fingerprint: fingerprint.into(),
        message: "3 consecutive failures".into(),
        triggered_at: now,
        last_triggered_at: now,
        occurrences: 1,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        escalated_at: None,
        last_notified_at: None,
        metadata: None,
        created_at: now,
        updated_at: now,
    }
}

fn pending(kind: NotificationType) -> NotificationLog {
    NotificationLog {
        id: new_id("ntf"),
        log_id: new_id("log"),
        channel: NotificationChannel::Webhook,
        notification_type: kind,
        status: NotificationStatus::Pending,
        message: "user-login failing".into(),
        recipient: Some("webhook http://127.0.0.1/…".into()),
        subject: None,
        sent_at: Timestamp::now(),
        delivery_status: None,
        error_message: None,
        retry_count: 0,
        metadata: None,
        execution_id: None,
        report_id: None,
        alert_id: None,
        channel_name: Some("hook".into()),
        next_attempt_at: None,
        claimed_by: None,
        claimed_until: None,
        created_at: Timestamp::now(),
    }
}

async fn a_fingerprint_has_one_open_episode_that_retriggers(db: TestDb) {
    let s = &db.store;
    let first = candidate("login-failing/user-login/production");
    let opened = s.trigger_alert(&first).await.unwrap();
    assert!(matches!(opened, AlertChange::Opened(_)), "{opened:?}");
    let again = Alert {
        message: "4 consecutive failures".into(),
        ..candidate(&first.fingerprint)
    };
    let AlertChange::Retriggered(alert) = s.trigger_alert(&again).await.unwrap() else {
        panic!("expected a re-trigger");
    };
    assert_eq!(alert.alert_id, first.alert_id, "same episode");
    assert_eq!(alert.occurrences, 2);
    assert_eq!(alert.message, "4 consecutive failures");
    assert!(alert.last_triggered_at >= first.last_triggered_at);
    assert_eq!(s.count::<Alert>().await.unwrap(), 1);

    let resolved = s
        .resolve_alert(&first.alert_id, "wfmon", Timestamp::now(), &[])
        .await
        .unwrap()
        .expect("open");
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some("wfmon"));
    let third = candidate(&first.fingerprint);
    let AlertChange::Opened(new_episode) = s.trigger_alert(&third).await.unwrap() else {
        panic!("a resolved episode does not block a new one");
    };
    assert_ne!(new_episode.alert_id, first.alert_id);
    assert_eq!(new_episode.occurrences, 1);
    assert_eq!(
        s.open_alert(&first.fingerprint)
            .await
            .unwrap()
            .unwrap()
            .alert_id,
        new_episode.alert_id
    );
    assert_eq!(s.open_alerts().await.unwrap().len(), 1);
    assert_eq!(s.recent_alerts(false, 10).await.unwrap().len(), 2);
}

async fn concurrent_triggers_open_one_episode(db: TestDb) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            store.trigger_alert(&candidate("race/w/e")).await.unwrap()
        }));
    }
    let mut opened = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), AlertChange::Opened(_)) {
            opened += 1;
        }
    }
    assert_eq!(opened, 1);
    let alert = db.store.open_alert("race/w/e").await.unwrap().unwrap();
    assert_eq!(alert.occurrences, 8);
}

async fn changes_are_compare_and_set_and_queue_their_notifications_once(db: TestDb) {
    let s = &db.store;
    let a = candidate("cas/w/e");
    s.trigger_alert(&a).await.unwrap();
    let t1 = Timestamp::now();
    let rows = [pending(NotificationType::Alert)];
    assert!(s.notify_alert(&a.alert_id, None, t1, &rows).await.unwrap());
    let again = [pending(NotificationType::Alert)];
    assert!(
        !s.notify_alert(&a.alert_id, None, t1, &again).await.unwrap(),
        "a second first notification loses"
    );
    let queued = s
        .recent_notifications(None, Some(&a.alert_id), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].alert_id.as_deref(), Some(a.alert_id.as_str()));
    let alert = s.get::<Alert>(&a.alert_id).await.unwrap().unwrap();
    assert_eq!(alert.last_notified_at, Some(t1));
    // A reminder must name the last notification it follows.
    let t2 = t1.plus(chrono::TimeDelta::seconds(1));
    assert!(
        !s.notify_alert(
            &a.alert_id,
            Some(t2),
            t2,
            &[pending(NotificationType::Reminder)]
        )
        .await
        .unwrap()
    );
    assert!(
        s.notify_alert(
            &a.alert_id,
            Some(t1),
            t2,
            &[pending(NotificationType::Reminder)]
        )
        .await
        .unwrap()
    );

    let escalated = s
        .escalate_alert(
            &a.alert_id,
            Timestamp::now(),
            &[pending(NotificationType::Escalation)],
        )
        .await
        .unwrap()
        .expect("active");
    assert_eq!(escalated.status, AlertStatus::Escalated);
    assert!(escalated.escalated_at.is_some());
    assert!(
        s.escalate_alert(
            &a.alert_id,
            Timestamp::now(),
            &[pending(NotificationType::Escalation)]
        )
        .await
        .unwrap()
        .is_none(),
        "escalates once"
    );
    let acked = s
        .acknowledge_alert(&a.alert_id, "alice", Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    assert_eq!(acked.acknowledged_by.as_deref(), Some("alice"));
    assert!(
        s.acknowledge_alert(&a.alert_id, "bob", Timestamp::now())
            .await
            .unwrap()
            .is_none()
    );

    let recovery = [pending(NotificationType::Recovery)];
    assert!(
        s.resolve_alert(&a.alert_id, "bob", Timestamp::now(), &recovery)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.resolve_alert(
            &a.alert_id,
            "bob",
            Timestamp::now(),
            &[pending(NotificationType::Recovery)]
        )
        .await
        .unwrap()
        .is_none(),
        "resolves once"
    );
    let kinds: Vec<NotificationType> = s
        .recent_notifications(None, Some(&a.alert_id), 10)
        .await
        .unwrap()
        .iter()
        .map(|n| n.notification_type)
        .collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    for kind in [
        NotificationType::Alert,
        NotificationType::Reminder,
        NotificationType::Escalation,
        NotificationType::Recovery,
    ] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kind}");
    }
}

async fn silences_are_kept_with_who_why_and_until(db: TestDb) {
    let s = &db.store;
    let a = candidate("silence/w/e");
    s.trigger_alert(&a).await.unwrap();
    let until = Timestamp::now().plus(chrono::TimeDelta::hours(2));
    let silenced = s
        .silence_alert(&a.alert_id, until, "deploying", "carol")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(silenced.status, AlertStatus::Silenced);
    let meta = silenced.metadata.unwrap().0;
    assert_eq!(meta["silencedBy"], "carol");
    assert_eq!(meta["silenceReason"], "deploying");
    assert_eq!(meta["silencedUntil"], until.to_string());
    let back = s.unsilence_alert(&a.alert_id).await.unwrap().unwrap();
    assert_eq!(back.status, AlertStatus::Active);
    assert!(s.unsilence_alert(&a.alert_id).await.unwrap().is_none());
}

async fn the_outbox_hands_each_notification_to_one_sender(db: TestDb) {
    let s = &db.store;
    let rows = [
        pending(NotificationType::Alert),
        pending(NotificationType::Test),
    ];
    s.enqueue_notifications(&rows).await.unwrap();
    let now = Timestamp::now();
    let lease = now.plus(chrono::TimeDelta::seconds(30));
    let claimed = s.claim_notifications("a", now, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|n| n.claimed_by.as_deref() == Some("a")));
    assert!(
        s.claim_notifications("b", now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let first = &claimed[0].log_id;
    let later = now.plus(chrono::TimeDelta::seconds(5));
    let retry = DeliveryOutcome::Retry {
        error: "HTTP 500".into(),
        next_attempt_at: later,
    };
    assert!(
        s.complete_notification(first, "a", &retry, now)
            .await
            .unwrap()
    );
    assert!(
        !s.complete_notification(first, "b", &DeliveryOutcome::Sent, now)
            .await
            .unwrap(),
        "only the holder completes"
    );
    assert!(
        s.claim_notifications("b", now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    assert_eq!(s.next_notification_due(now).await.unwrap(), Some(later));
    let again = s
        .claim_notifications("b", later, later.plus(chrono::TimeDelta::seconds(30)), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].retry_count, 1);
    assert_eq!(again[0].delivery_status, Some(DeliveryStatus::Retrying));
    assert!(
        s.complete_notification(first, "b", &DeliveryOutcome::Sent, later)
            .await
            .unwrap()
    );
    let sent = s.get::<NotificationLog>(first).await.unwrap().unwrap();
    assert_eq!(sent.status, NotificationStatus::Sent);
    assert_eq!(sent.delivery_status, Some(DeliveryStatus::Delivered));
    assert_eq!(sent.retry_count, 1, "the log shows the retry");
    assert_eq!(sent.error_message.as_deref(), Some("HTTP 500"));
    assert_eq!(sent.claimed_by, None);

    // The second is held by `a`, which dies: its claim expires and `b` takes it over.
    let second = &claimed[1].log_id;
    let expired = lease.plus(chrono::TimeDelta::seconds(1));
    let taken = s
        .claim_notifications(
            "b",
            expired,
            expired.plus(chrono::TimeDelta::seconds(30)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(&taken[0].log_id, second);
    let failed = DeliveryOutcome::Failed {
        error: "HTTP 404".into(),
    };
    assert!(
        !s.complete_notification(second, "a", &failed, expired)
            .await
            .unwrap()
    );
    assert!(
        s.complete_notification(second, "b", &failed, expired)
            .await
            .unwrap()
    );
    let row = s.get::<NotificationLog>(second).await.unwrap().unwrap();
    assert_eq!(row.status, NotificationStatus::Failed);
    assert_eq!(row.delivery_status, Some(DeliveryStatus::Undelivered));
    assert_eq!(
        s.recent_notifications(Some(NotificationStatus::Failed), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    s.enqueue_notifications(&[pending(NotificationType::Alert)])
        .await
        .unwrap();
    let held = s.claim_notifications("c", now, lease, 10).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(s.release_notification_claims("c").await.unwrap(), 1);
    assert_eq!(
        s.claim_notifications("d", now, lease, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn history_reads_skip_runs_that_say_nothing(db: TestDb) {
    let s = &db.store;
    let mut rows = Vec::new();
    for (minutes, status) in [
        (50, ExecutionStatus::Passed),
        (40, ExecutionStatus::Failed),
        (30, ExecutionStatus::Skipped),
        (20, ExecutionStatus::TimedOut),
        (10, ExecutionStatus::Aborted),
    ] {
        rows.push(execution(
            "user-login",
            status,
            minutes_ago(minutes),
            100 + minutes as i32,
        ));
    }
    let records: Vec<wfmon_store::ExecutionRecord> = rows
        .iter()
        .map(|e| wfmon_store::ExecutionRecord {
            execution: e.clone(),
            steps: vec![],
            metrics: vec![metric(
                e,
                "response_ms",
                e.duration_ms.unwrap() as f64,
                None,
            )],
            health_checks: vec![],
        })
        .collect();
    s.record_executions(&records).await.unwrap();
    let recent = s.recent_runs("user-login", "production", 10).await.unwrap();
    let statuses: Vec<ExecutionStatus> = recent.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            ExecutionStatus::TimedOut,
            ExecutionStatus::Failed,
            ExecutionStatus::Passed
        ]
    );
    assert_eq!(
        s.recent_runs("user-login", "staging", 10)
            .await
            .unwrap()
            .len(),
        0
    );
    let window = s
        .runs_since("user-login", "production", minutes_ago(45))
        .await
        .unwrap();
    assert_eq!(window.len(), 2);
    let mut values = s
        .metric_values_since("user-login", "production", "response_ms", minutes_ago(45))
        .await
        .unwrap();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, [110.0, 120.0, 130.0, 140.0]);
    let last = s
        .last_run_started("user-login", "production")
        .await
        .unwrap();
    assert_eq!(last, Some(rows[4].started_at));
    assert_eq!(
        s.last_run_started("nope", "production").await.unwrap(),
        None
    );
}

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
    a_silence_ends_in_the_status_the_alert_had,
    a_dependency_silence_suppresses_what_no_sender_holds,
    an_acknowledgement_is_given_once_and_stops_escalation,
    recipients_are_the_channels_that_were_sent_a_notification,
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

/// Silences `alert_id` by hand until `until`, as carol, for "deploying".
async fn silence(
    s: &wfmon_store::Store,
    alert_id: &str,
    until: Timestamp,
) -> Option<(Alert, Vec<NotificationLog>)> {
    s.silence_alert(
        alert_id,
        until,
        "deploying",
        "carol",
        "silenced by carol",
        Timestamp::now(),
    )
    .await
    .unwrap()
}

async fn silences_are_kept_with_who_why_and_until(db: TestDb) {
    let s = &db.store;
    let a = candidate("silence/w/e");
    s.trigger_alert(&a).await.unwrap();
    let until = Timestamp::now().plus(chrono::TimeDelta::hours(2));
    let (silenced, withdrawn) = silence(s, &a.alert_id, until).await.unwrap();
    assert!(withdrawn.is_empty());
    assert_eq!(silenced.status, AlertStatus::Silenced);
    let meta = silenced.metadata.unwrap().0;
    assert_eq!(meta["silencedBy"], "carol");
    assert_eq!(meta["silenceReason"], "deploying");
    assert_eq!(meta["silencedUntil"], until.to_string());
    // Not before its time.
    assert!(
        s.unsilence_alert(&a.alert_id, Timestamp::now())
            .await
            .unwrap()
            .is_none()
    );
    let back = s
        .unsilence_alert(&a.alert_id, until)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.status, AlertStatus::Active);
    let meta = back.metadata.unwrap().0;
    assert!(meta.get("silencedUntil").is_none(), "{meta}");
    assert_eq!(
        meta["silencedBy"], "carol",
        "who silenced it stays on record"
    );
    assert!(
        s.unsilence_alert(&a.alert_id, until)
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_silence_ends_in_the_status_the_alert_had(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    let until = now.plus(chrono::TimeDelta::minutes(5));
    let later = until.plus(chrono::TimeDelta::seconds(1));

    let escalated = candidate("back/escalated/e");
    s.trigger_alert(&escalated).await.unwrap();
    s.escalate_alert(&escalated.alert_id, now, &[])
        .await
        .unwrap()
        .unwrap();

    let acked = candidate("back/acked/e");
    s.trigger_alert(&acked).await.unwrap();
    s.escalate_alert(&acked.alert_id, now, &[])
        .await
        .unwrap()
        .unwrap();
    s.acknowledge_alert(&acked.alert_id, "alice", now)
        .await
        .unwrap()
        .unwrap();

    for (alert, expected) in [
        (&escalated, AlertStatus::Escalated),
        (&acked, AlertStatus::Acknowledged),
    ] {
        let (silenced, _) = silence(s, &alert.alert_id, until).await.unwrap();
        assert_eq!(silenced.status, AlertStatus::Silenced);
        let back = s
            .unsilence_alert(&alert.alert_id, later)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.status, expected, "{}", alert.fingerprint);
    }
    let back = s.get::<Alert>(&acked.alert_id).await.unwrap().unwrap();
    assert_eq!(back.acknowledged_by.as_deref(), Some("alice"));
    assert!(
        s.escalate_alert(&acked.alert_id, later, &[])
            .await
            .unwrap()
            .is_none(),
        "an acknowledged alert never escalates"
    );

    // A silence set again before the first one was ended is the one that counts.
    silence(s, &escalated.alert_id, until).await.unwrap();
    silence(
        s,
        &escalated.alert_id,
        later.plus(chrono::TimeDelta::hours(1)),
    )
    .await
    .unwrap();
    assert!(
        s.unsilence_alert(&escalated.alert_id, later)
            .await
            .unwrap()
            .is_none()
    );

    // A record left ACTIVE with an acknowledgement is brought back to ACKNOWLEDGED.
    let legacy = Alert {
        acknowledged_at: Some(now),
        acknowledged_by: Some("bob".into()),
        ..candidate("back/legacy/e")
    };
    s.trigger_alert(&legacy).await.unwrap();
    let back = s
        .unsilence_alert(&legacy.alert_id, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.status, AlertStatus::Acknowledged);
    assert_eq!(back.acknowledged_by.as_deref(), Some("bob"));
}

async fn a_dependency_silence_suppresses_what_no_sender_holds(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    let a = candidate("dep/w/e");
    s.trigger_alert(&a).await.unwrap();
    let alert_row = pending(NotificationType::Alert);
    let held_row = pending(NotificationType::Alert);
    assert!(
        s.notify_alert(&a.alert_id, None, now, std::slice::from_ref(&held_row))
            .await
            .unwrap()
    );
    let claimed = s
        .claim_notifications("sender", now, now.plus(chrono::TimeDelta::seconds(30)), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "a sender holds the first");
    assert!(
        s.notify_alert(
            &a.alert_id,
            Some(now),
            now.plus(chrono::TimeDelta::seconds(1)),
            std::slice::from_ref(&alert_row)
        )
        .await
        .unwrap()
    );

    let (silenced, withdrawn) = s
        .silence_alert_for_dependency(&a.alert_id, "api-down is open", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(silenced.status, AlertStatus::Silenced);
    assert_eq!(
        silenced.metadata.as_ref().unwrap().0["silencedReason"],
        "api-down is open"
    );
    let withdrawn: Vec<&str> = withdrawn.iter().map(|r| r.log_id.as_str()).collect();
    assert_eq!(withdrawn, [alert_row.log_id.as_str()], "not the one held");
    let row = s
        .get::<NotificationLog>(&alert_row.log_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, NotificationStatus::Suppressed);
    assert_eq!(row.error_message.as_deref(), Some("api-down is open"));
    assert_eq!(
        s.get::<NotificationLog>(&held_row.log_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        NotificationStatus::Pending
    );
    assert!(
        silenced.last_notified_at.is_some(),
        "the held one may be delivered: it was told"
    );
    assert!(
        s.silence_alert_for_dependency(&a.alert_id, "again", now)
            .await
            .unwrap()
            .is_none(),
        "already silenced"
    );
    // A dependency's silence has no time: it ends when asked.
    let back = s.unsilence_alert(&a.alert_id, now).await.unwrap().unwrap();
    assert_eq!(back.status, AlertStatus::Active);
    assert!(back.metadata.unwrap().0.get("silencedReason").is_none());

    // Everything withdrawn: nobody was told, so it counts as never notified.
    let b = candidate("dep/w2/e");
    s.trigger_alert(&b).await.unwrap();
    s.notify_alert(&b.alert_id, None, now, &[pending(NotificationType::Alert)])
        .await
        .unwrap();
    let (silenced, withdrawn) = s
        .silence_alert_for_dependency(&b.alert_id, "api-down is open", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(silenced.last_notified_at, None);

    // Acknowledged alerts are left alone.
    let c = candidate("dep/w3/e");
    s.trigger_alert(&c).await.unwrap();
    s.acknowledge_alert(&c.alert_id, "alice", now)
        .await
        .unwrap()
        .unwrap();
    assert!(
        s.silence_alert_for_dependency(&c.alert_id, "api-down is open", now)
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_acknowledgement_is_given_once_and_stops_escalation(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    let a = candidate("ack/w/e");
    s.trigger_alert(&a).await.unwrap();
    s.acknowledge_alert(&a.alert_id, "alice", now)
        .await
        .unwrap()
        .unwrap();
    let (silenced, _) = silence(s, &a.alert_id, now.plus(chrono::TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_eq!(silenced.status, AlertStatus::Silenced);
    assert!(
        s.acknowledge_alert(&a.alert_id, "bob", now)
            .await
            .unwrap()
            .is_none(),
        "a silenced alert already acknowledged is not acknowledged again"
    );
    let stored = s.get::<Alert>(&a.alert_id).await.unwrap().unwrap();
    assert_eq!(stored.acknowledged_by.as_deref(), Some("alice"));

    // Acknowledging a silenced alert nobody acknowledged ends its silence.
    let b = candidate("ack/w2/e");
    s.trigger_alert(&b).await.unwrap();
    silence(s, &b.alert_id, now.plus(chrono::TimeDelta::hours(1)))
        .await
        .unwrap();
    let acked = s
        .acknowledge_alert(&b.alert_id, "bob", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.status, AlertStatus::Acknowledged);
}

async fn recipients_are_the_channels_that_were_sent_a_notification(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    let a = candidate("told/w/e");
    s.trigger_alert(&a).await.unwrap();
    let to = |channel: &str, kind: NotificationType, status: NotificationStatus| NotificationLog {
        channel_name: Some(channel.into()),
        status,
        ..pending(kind)
    };
    s.notify_alert(
        &a.alert_id,
        None,
        now,
        &[
            to("hook", NotificationType::Alert, NotificationStatus::Pending),
            to(
                "quiet",
                NotificationType::Alert,
                NotificationStatus::Suppressed,
            ),
        ],
    )
    .await
    .unwrap();
    s.escalate_alert(
        &a.alert_id,
        now.plus(chrono::TimeDelta::seconds(1)),
        &[to(
            "pager",
            NotificationType::Escalation,
            NotificationStatus::Pending,
        )],
    )
    .await
    .unwrap()
    .unwrap();
    s.notify_alert(
        &a.alert_id,
        Some(now.plus(chrono::TimeDelta::seconds(1))),
        now.plus(chrono::TimeDelta::seconds(2)),
        &[to(
            "hook",
            NotificationType::Reminder,
            NotificationStatus::Pending,
        )],
    )
    .await
    .unwrap();
    assert_eq!(
        s.alert_recipients(&a.alert_id).await.unwrap(),
        ["hook", "pager"]
    );
    assert!(s.alert_recipients("alert_none").await.unwrap().is_empty());

    // An escalation whose notifications are all suppressed does not count as notifying.
    let b = candidate("told/w2/e");
    s.trigger_alert(&b).await.unwrap();
    let escalated = s
        .escalate_alert(
            &b.alert_id,
            now,
            &[to(
                "pager",
                NotificationType::Escalation,
                NotificationStatus::Suppressed,
            )],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(escalated.last_notified_at, None);
    assert!(s.alert_recipients(&b.alert_id).await.unwrap().is_empty());
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

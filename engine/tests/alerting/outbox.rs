//! The outbox sender on a real database (SQLite file) with real webhook receivers: channels
//! are independent of each other, each gets its notifications one at a time and oldest
//! first, and what a receiver answers is recorded without the channel's secrets.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use wfmon_engine::config::Config;
use wfmon_engine::notify::sender::OutboxSender;
use wfmon_engine::notify::{Channel, Notice, build_channel};
use wfmon_model::*;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

use crate::receivers::{Answer, HttpReceiver};

/// A store and a configuration whose channels are given as `name: {body}` lines, with
/// delivery as given; and a sender on them that a `Notify` wakes.
struct Outbox {
    store: Store,
    config: Arc<Config>,
    nudge: Arc<Notify>,
    _dir: tempfile::TempDir,
}

async fn outbox(delivery: &str, channels: &[String]) -> Outbox {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("o.db").display())).unwrap();
    let text = format!(
        "notifications:\n  delivery: {{{delivery}}}\n  channels:\n{}",
        channels
            .iter()
            .map(|c| format!("    {c}\n"))
            .collect::<String>()
    );
    let config = Arc::new(Config::parse(&text, Path::new("wfmon.yaml")).unwrap());
    Outbox {
        store: Store::open(&url, OpenMode::Create).await.unwrap(),
        config,
        nudge: Arc::new(Notify::new()),
        _dir: dir,
    }
}

impl Outbox {
    fn sender(&self) -> Arc<OutboxSender> {
        let settings = self.config.notifications.delivery;
        let channels = self
            .config
            .notifications
            .channels
            .iter()
            .map(|(n, c)| (n.clone(), build_channel(c, settings.timeout)))
            .collect::<std::collections::BTreeMap<String, Arc<dyn Channel>>>();
        Arc::new(OutboxSender::new(
            self.store.clone(),
            channels,
            settings,
            "test".to_owned(),
            self.nudge.clone(),
            self.config.secrets.clone(),
        ))
    }

    /// Queues a notification of `kind` to `channel` (PENDING, due now).
    async fn queue(&self, channel: &str, kind: NotificationType) -> String {
        let mut notice = Notice::test(channel);
        notice.kind = kind;
        notice.title = format!("{kind} to {channel}");
        let now = Timestamp::now();
        let row = NotificationLog {
            id: new_id("ntf"),
            log_id: new_id("ntf"),
            channel: NotificationChannel::Webhook,
            notification_type: kind,
            status: NotificationStatus::Pending,
            message: notice.text(),
            recipient: Some("webhook".into()),
            subject: Some(notice.title.clone()),
            sent_at: now,
            delivery_status: None,
            error_message: None,
            retry_count: 0,
            metadata: Some(json(serde_json::json!({ "notice": notice }))),
            execution_id: None,
            report_id: None,
            alert_id: None,
            channel_name: Some(channel.into()),
            next_attempt_at: None,
            claimed_by: None,
            claimed_until: None,
            created_at: now,
        };
        self.store
            .enqueue_notifications(std::slice::from_ref(&row))
            .await
            .unwrap();
        row.log_id
    }

    async fn row(&self, log_id: &str) -> NotificationLog {
        self.store
            .get::<NotificationLog>(log_id)
            .await
            .unwrap()
            .unwrap()
    }
}

/// A receiver that never answers holds up only its own channel: notifications to another
/// channel go out at once, those queued before the sender started (behind more than a
/// claim's worth of the stuck channel's) and those queued while its attempt hangs.
#[tokio::test]
async fn a_channel_that_never_answers_does_not_hold_up_the_others() {
    let stuck = HttpReceiver::start().await;
    let rx = HttpReceiver::start().await;
    stuck.answer(&[Answer::Hang; 30]);
    let o = outbox(
        "timeout: 3s, attempts: 5, backoff: 1s",
        &[
            format!("stuck: {{webhook: {{url: \"{}\"}}}}", stuck.url("/stuck")),
            format!("hook: {{webhook: {{url: \"{}\"}}}}", rx.url("/hook")),
        ],
    )
    .await;
    for _ in 0..20 {
        o.queue("stuck", NotificationType::Alert).await;
    }
    let first = o.queue("hook", NotificationType::Alert).await;
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(o.sender().run(stopped));
    rx.wait_for(1).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the first notification to `hook` waited {:?}",
        started.elapsed()
    );
    stuck.wait_for(1).await;
    let second = o.queue("hook", NotificationType::Reminder).await;
    o.nudge.notify_one();
    let queued = Instant::now();
    rx.wait_for(2).await;
    assert!(
        queued.elapsed() < Duration::from_secs(1),
        "the second notification to `hook` waited {:?}",
        queued.elapsed()
    );
    assert_eq!(
        stuck.received().len(),
        1,
        "one attempt at a time per channel"
    );
    assert!(stuck.received()[0].answered.lock().unwrap().is_none());

    // Stopping lets the hanging attempt end at its timeout, then releases the rest.
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(6), task)
        .await
        .expect("the sender stops once the attempt in flight timed out")
        .unwrap();
    for id in [&first, &second] {
        assert_eq!(o.row(id).await.status, NotificationStatus::Sent);
    }
    let rows = o.store.recent_notifications(None, None, 100).await.unwrap();
    let stuck_rows: Vec<&NotificationLog> = rows
        .iter()
        .filter(|r| r.channel_name.as_deref() == Some("stuck"))
        .collect();
    assert_eq!(stuck_rows.len(), 20);
    assert!(
        stuck_rows
            .iter()
            .all(|r| r.status == NotificationStatus::Pending
                && r.claimed_by.is_none()
                && r.retry_count <= 1)
    );
    assert_eq!(
        stuck_rows.iter().filter(|r| r.retry_count == 1).count(),
        1,
        "one failed attempt: the one that timed out"
    );
}

/// One channel gets its notifications one after the other, oldest first: a receiver sees an
/// alert before its reminder and its recovery, never two at once.
#[tokio::test]
async fn a_channel_gets_its_notifications_one_at_a_time_oldest_first() {
    let rx = HttpReceiver::start().await;
    rx.answer(&[Answer::Slow(300), Answer::Slow(300), Answer::Slow(300)]);
    let o = outbox(
        "timeout: 3s",
        &[format!(
            "hook: {{webhook: {{url: \"{}\"}}}}",
            rx.url("/hook")
        )],
    )
    .await;
    for kind in [
        NotificationType::Alert,
        NotificationType::Reminder,
        NotificationType::Recovery,
    ] {
        o.queue("hook", kind).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(o.sender().run(stopped));
    let got = rx.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let _ = stop.send(true);
    task.await.unwrap();
    let types: Vec<String> = got
        .iter()
        .map(|g| g.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["ALERT", "REMINDER", "RECOVERY"]);
    for pair in got.windows(2) {
        let answered = pair[0].answered.lock().unwrap().expect("answered");
        assert!(
            pair[1].arrived >= answered,
            "a second request arrived while the first was in flight"
        );
    }
}

/// The error a receiver gives, quoting the channel's URL back, is recorded and logged
/// without the URL's token; `retry_count` counts the failed attempts, also for a
/// notification refused at the first one.
#[tokio::test]
async fn the_outbox_records_a_receivers_error_without_the_channels_token() {
    let rx = HttpReceiver::start().await;
    rx.answer(&[Answer::Echo(500), Answer::Echo(404)]);
    let o = outbox(
        "timeout: 3s, attempts: 3, backoff: 50ms, max_backoff: 100ms",
        &[format!(
            "hook: {{webhook: {{url: \"{}\"}}}}",
            rx.url("/hooks/T0KEN-IN-PATH?sig=S1GNATURE")
        )],
    )
    .await;
    let id = o.queue("hook", NotificationType::Alert).await;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(o.sender().run(stopped));
    rx.wait_for(2).await;
    let mut row = o.row(&id).await;
    for _ in 0..100 {
        if row.status != NotificationStatus::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        row = o.row(&id).await;
    }
    let _ = stop.send(true);
    task.await.unwrap();
    assert_eq!(row.status, NotificationStatus::Failed);
    assert_eq!(row.retry_count, 2, "two failed attempts");
    let error = row.error_message.unwrap();
    assert!(error.starts_with("HTTP 404: Cannot POST ***"), "{error}");
    for secret in ["T0KEN", "S1GNATURE"] {
        assert!(!error.contains(secret), "{error}");
    }
}

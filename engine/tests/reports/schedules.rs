//! Scheduled reports: the `reports:` section validated with file:line:column, generation
//! once across concurrent generators, delivery through the outbox to a real HTTP receiver
//! on 127.0.0.1 (marking the report notified), and the `report.generated` event.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tokio::sync::Notify;
use wfmon_engine::config::Config;
use wfmon_engine::events::{Event, EventBus};
use wfmon_engine::notify::sender::OutboxSender;
use wfmon_engine::notify::{Channel, build_channel};
use wfmon_engine::reports::Reporter;
use wfmon_model::*;
use wfmon_store::DeliveryOutcome;

use crate::db::TestDb;
use crate::figures::{at, fixture};
use crate::on_both_backends;

on_both_backends!(a_scheduled_report_is_generated_once_and_delivered);

const WORKFLOWS: &str = r#"
environments:
  production: {}
  staging: {}
workflows:
  - name: checkout
    steps:
      - name: cart
        health: {url: "http://127.0.0.1:9/cart"}
  - name: login
    steps:
      - name: submit
        health: {url: "http://127.0.0.1:9/login"}
"#;

fn config(receiver: &str, reports: &str) -> Result<Config, String> {
    let text = format!(
        "{WORKFLOWS}\nnotifications:\n  delivery: {{timeout: 2s, attempts: 2, backoff: 50ms}}\n  \
         channels:\n    hook: {{webhook: {{url: \"{receiver}\"}}}}\n{reports}"
    );
    Config::parse(&text, Path::new("wfmon.yaml")).map_err(|e| e.to_string())
}

#[test]
fn the_reports_section_is_validated_with_positions() {
    let ok = config(
        "http://127.0.0.1:9/hook",
        "reports:\n  - {name: ops, schedule: daily, timezone: Europe/Paris, channels: [hook]}\n  \
         - {name: checkout-4h, schedule: \"0 */4 * * *\", window: 4h, workflow: checkout, \
         environment: production}\n",
    )
    .unwrap();
    assert_eq!(ok.reports.len(), 2);
    assert_eq!(ok.reports[0].report_type, ReportType::Daily);
    assert_eq!(ok.reports[1].report_type, ReportType::Periodic);
    assert_eq!(ok.reports[1].workflow.as_deref(), Some("checkout"));

    let err = config(
        "http://127.0.0.1:9/hook",
        "reports:\n  - name: bad\n    schedule: \"every day\"\n    workflow: nope\n    \
         environment: moon\n    channels: [pager]\n    timezone: Mars/Olympus\n  \
         - {name: cron-only, schedule: \"0 * * * *\"}\n  \
         - {name: bad, schedule: hourly, window: 0s}\n",
    )
    .unwrap_err();
    for expected in [
        "wfmon.yaml:21:15: reports[0].schedule: `every day`",
        "or write hourly, daily, weekly or monthly",
        "wfmon.yaml:22:15: reports[0].workflow: unknown workflow `nope`",
        "reports[0].environment: unknown environment `moon`",
        "reports[0].channels[0]",
        "reports[0].timezone: `Mars/Olympus` is not an IANA time zone",
        "reports[1].window: a cron schedule needs a window",
        "reports[2].name: report `bad` is already defined",
        "reports[2].window",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
}

/// An HTTP receiver on 127.0.0.1 that answers 200 and keeps every body.
async fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or_default());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

async fn a_scheduled_report_is_generated_once_and_delivered(db: TestDb) {
    fixture(&db.store).await;
    let (url, bodies) = receiver().await;
    let config = Arc::new(
        config(
            &url,
            "reports:\n  - {name: hourly-ops, schedule: hourly, channels: [hook]}\n",
        )
        .unwrap(),
    );
    let schedule = config.reports[0].clone();
    let due = schedule
        .last_due(at("2026-03-01T11:20:00Z"))
        .expect("an hourly schedule is due every hour");
    assert_eq!(due, at("2026-03-01T11:00:00Z"));
    let bus = EventBus::new();
    let mut events = bus.subscribe();

    // Two instances generate the same due report at once: one writes it.
    let one = Reporter::new(
        db.store.clone(),
        config.clone(),
        bus.clone(),
        Arc::new(Notify::new()),
    );
    let two = Reporter::new(
        db.store.clone(),
        config.clone(),
        bus.clone(),
        Arc::new(Notify::new()),
    );
    let (a, b) = tokio::join!(
        one.generate_due(&schedule, due),
        two.generate_due(&schedule, due)
    );
    let written: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(written.len(), 1, "exactly one generator writes the report");
    let report = &written[0];
    assert_eq!(report.row.report_type, ReportType::Hourly);
    assert_eq!(report.row.total_runs, 7);
    assert_eq!(
        report.row.report_id,
        "report_hourly-ops_20260301T100000Z_20260301T110000Z"
    );
    assert!(one.generate_due(&schedule, due).await.unwrap().is_none());
    assert_eq!(db.store.count::<MonitoringReport>().await.unwrap(), 1);
    assert_eq!(
        db.store
            .count_report_executions(&report.row.report_id)
            .await
            .unwrap(),
        8
    );
    match events.try_recv().unwrap() {
        Event::ReportGenerated {
            report_id,
            total_runs,
            ..
        } => assert_eq!(
            (report_id.as_str(), total_runs),
            (report.row.report_id.as_str(), 7)
        ),
        other => panic!("expected report.generated, got {other:?}"),
    }
    assert!(events.try_recv().is_err(), "one event for one report");

    // One notification was queued, for the report; the sender delivers it.
    let settings = config.notifications.delivery;
    let channels = config
        .notifications
        .channels
        .iter()
        .map(|(n, c)| (n.clone(), build_channel(c, settings.timeout)))
        .collect::<std::collections::BTreeMap<String, Arc<dyn Channel>>>();
    let sender = OutboxSender::new(
        db.store.clone(),
        channels,
        settings,
        "test".into(),
        Arc::new(Notify::new()),
        config.secrets.clone(),
    );
    let now = Timestamp::now();
    let claimed = db
        .store
        .claim_notifications("test", now, now.plus(chrono::TimeDelta::seconds(30)), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].notification_type, NotificationType::Report);
    assert_eq!(
        claimed[0].report_id.as_deref(),
        Some(report.row.report_id.as_str())
    );
    assert!(
        !claimed[0]
            .recipient
            .as_deref()
            .unwrap_or("")
            .contains("/hook"),
        "no URL stored"
    );
    let outcome = sender.deliver(claimed[0].clone()).await;
    assert_eq!(outcome, DeliveryOutcome::Sent);

    let received = bodies.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let body = received[0].to_string();
    assert!(body.contains("HOURLY report hourly-ops"), "{body}");
    assert!(body.contains("7 runs: 5 passed, 2 failed"), "{body}");
    let row = db
        .store
        .get::<MonitoringReport>(&report.row.report_id)
        .await
        .unwrap()
        .unwrap();
    assert!(row.notified);
    assert!(row.notified_at.is_some());
    let log = db
        .store
        .get::<NotificationLog>(&claimed[0].log_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log.status, NotificationStatus::Sent);
}

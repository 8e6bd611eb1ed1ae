//! How a scheduled report looks where it is delivered: Slack Block Kit sections checked on
//! a real HTTP receiver, and a multipart email (text and HTML) on a real SMTP listener, both
//! with the fixture's hand-computed figures and a link to the report's dashboard page.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Notify;
use wfmon_engine::config::Config;
use wfmon_engine::events::EventBus;
use wfmon_engine::notify::sender::OutboxSender;
use wfmon_engine::notify::{Channel, build_channel};
use wfmon_engine::reports::Reporter;
use wfmon_model::*;
use wfmon_store::DeliveryOutcome;

use crate::db::TestDb;
use crate::figures::{at, fixture};
use crate::receivers::{HttpReceiver, SmtpReceiver};

/// The fixture's hourly report of [10:00, 11:00), sent to Slack and by email.
#[tokio::test]
async fn a_report_reaches_slack_as_sections_and_email_as_html() {
    let db = TestDb::sqlite().await;
    fixture(&db.store).await;
    let slack = HttpReceiver::start().await;
    let smtp = SmtpReceiver::start().await;
    let text = format!(
        "environments:\n  production: {{}}\n  staging: {{}}\n\
         server:\n  public_url: \"https://wfmon.example.com/\"\n\
         notifications:\n  delivery: {{timeout: 5s, attempts: 2, backoff: 50ms}}\n  channels:\n    \
         ops: {{slack: {{webhook_url: \"{}\"}}}}\n    \
         mail: {{email: {{host: 127.0.0.1, port: {}, tls: none, from: wfmon@example.com, \
         to: [ops@example.com]}}}}\n\
         reports:\n  - {{name: hourly-ops, schedule: hourly, channels: [ops, mail]}}\n",
        slack.url("/services/T000/B000/s3cr3t"),
        smtp.port
    );
    let config = Arc::new(Config::parse(&text, Path::new("wfmon.yaml")).unwrap());
    let schedule = config.reports[0].clone();
    let reporter = Reporter::new(
        db.store.clone(),
        config.clone(),
        EventBus::new(),
        Arc::new(Notify::new()),
    );
    let report = reporter
        .generate_due(&schedule, at("2026-03-01T11:00:00Z"))
        .await
        .unwrap()
        .expect("the report is new");
    let link = format!("https://wfmon.example.com/reports/{}", report.row.report_id);

    let settings = config.notifications.delivery;
    let channels: BTreeMap<String, Arc<dyn Channel>> = config
        .notifications
        .channels
        .iter()
        .map(|(n, c)| (n.clone(), build_channel(c, settings.timeout)))
        .collect();
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
    assert_eq!(claimed.len(), 2);
    for row in &claimed {
        assert!(
            !row.message.contains("s3cr3t") && !row.recipient.clone().unwrap().contains("s3cr3t"),
            "no webhook URL in the outbox: {row:?}"
        );
        assert_eq!(sender.deliver(row.clone()).await, DeliveryOutcome::Sent);
    }

    // Slack: a header, the summary, window and scope, figures, the two lists, a button.
    let received = slack.wait_for(1).await;
    let body = received[0].json();
    let blocks = body["blocks"].as_array().unwrap();
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "header", "section", "context", "section", "section", "section", "actions"
        ]
    );
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("HOURLY report hourly-ops"),
        "{body}"
    );
    assert!(
        blocks[1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("7 runs: 5 passed, 2 failed"),
        "{body}"
    );
    let context = blocks[2]["elements"][0]["text"].as_str().unwrap();
    assert!(
        context.contains("2026-03-01T10:00:00.000Z to 2026-03-01T11:00:00.000Z"),
        "{context}"
    );
    assert!(
        context.contains("all workflows, all environments"),
        "{context}"
    );
    let fields: Vec<&str> = blocks[3]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "*Runs*\n7 (2 failed)",
            "*Success rate*\n71.4%",
            "*p95 duration*\n820 ms",
            "*Change vs previous window*\nruns +5, success +21.4 pt, p95 +340 ms",
            "*Alerts*\n2 opened, 2 open at the end",
        ]
    );
    assert_eq!(
        blocks[4]["text"]["text"],
        "*Worst workflows*\n• login: 66.7% success, 1 of 3 failed, p95 905 ms\n\
         • checkout: 75.0% success, 1 of 4 failed, p95 385 ms"
    );
    assert_eq!(
        blocks[5]["text"]["text"],
        "*Top failing steps*\n• checkout / pay: 1 failures in 2 runs\n\
         • login / submit: 1 failures in 1 runs"
    );
    assert_eq!(blocks[6]["elements"][0]["url"], Value::from(link.clone()));

    // Email: multipart with a text part and an HTML part holding the same figures.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let data = mails[0].data.replace("=\n", "").replace("=3D", "=");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Content-Type: text/plain"), "{data}");
    assert!(data.contains("Content-Type: text/html"), "{data}");
    assert!(data.contains("Success rate: 71.4%"), "{data}");
    assert!(
        data.contains("- login / submit: 1 failures in 1 runs"),
        "{data}"
    );
    let html = &data[data.find("<!DOCTYPE html>").expect("an HTML part")..];
    assert!(html.contains("<h3>Worst workflows</h3>"), "{html}");
    assert!(html.contains(">login</td>"), "{html}");
    assert!(html.contains(">66.7%</td>"), "{html}");
    assert!(html.contains("<h3>Top failing steps</h3>"), "{html}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");

    let row = db
        .store
        .get::<MonitoringReport>(&report.row.report_id)
        .await
        .unwrap()
        .unwrap();
    assert!(row.notified && row.notified_at.is_some());
}

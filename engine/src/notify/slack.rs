//! Slack, through an incoming webhook: a Block Kit message with what failed, where, the
//! expected and actual values, the duration, the environment and a link to the run; for a
//! report, its summary (window, runs, success rate, p95, the change against the previous
//! window, the worst workflows, the most failing steps) and a link to it.

use serde::Deserialize;
use serde_json::{Value, json};
use serde_saphyr::Spanned;
use wfmon_model::NotificationChannel;

use super::config::{redacted_url, secret_webhook_url};
use super::digest::{ReportDigest, millis, percent};
use super::notice::truncate;
use super::{BoxFuture, Channel, DeliveryKeys, Notice, SendError, http};
use crate::config::Checker;

/// `slack:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlack {
    webhook_url: Option<Spanned<String>>,
}

/// A validated Slack channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackConfig {
    /// The incoming webhook URL (secret).
    pub webhook_url: String,
}

pub(crate) fn validate<T>(
    raw: &RawSlack,
    anchor: &Spanned<T>,
    c: &mut Checker,
    path: &str,
) -> Option<SlackConfig> {
    let webhook_url = secret_webhook_url(
        c,
        &raw.webhook_url,
        anchor,
        path,
        "the incoming webhook URL, e.g. \"${SLACK_WEBHOOK_URL}\"",
    )?;
    Some(SlackConfig { webhook_url })
}

/// Sends to Slack.
pub struct Slack {
    config: SlackConfig,
    client: reqwest::Client,
}

impl Slack {
    /// A sender for `config`.
    pub fn new(config: SlackConfig, client: reqwest::Client) -> Slack {
        Slack { config, client }
    }
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A section of mrkdwn text (Slack takes at most 3,000 characters in one).
fn text_section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 2900)}})
}

/// The Block Kit message of a report.
fn report_payload(notice: &Notice, report: &ReportDigest) -> Value {
    let field = |label: &str, value: String| json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", truncate(&escape(&value), 1900))});
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&notice.title, 150)}}),
        text_section(&escape(&notice.summary)),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(&format!(
            "{} · {}", report.window(), report.scope))}]}),
    ];
    if !report.empty {
        blocks.push(json!({"type": "section", "fields": [
            field("Runs", format!("{} ({} failed)", report.runs, report.failed)),
            field("Success rate", percent(report.success_rate)),
            field("p95 duration", millis(report.p95_duration_ms)),
            field("Change vs previous window", report.change()),
            field("Alerts", format!("{} opened, {} open at the end",
                report.alerts_opened, report.alerts_open_at_end)),
        ]}));
        for (heading, lines) in [
            ("Worst workflows", report.workflow_lines()),
            ("Top failing steps", report.step_lines()),
        ] {
            if !lines.is_empty() {
                let list: Vec<String> = lines.iter().map(|l| format!("• {}", escape(l))).collect();
                blocks.push(text_section(&format!("*{heading}*\n{}", list.join("\n"))));
            }
        }
    }
    if let Some(link) = &notice.link {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Open the report"},
            "url": link,
        }]}));
    }
    json!({"text": notice.title, "blocks": blocks})
}

/// The Block Kit message.
pub fn payload(notice: &Notice) -> Value {
    if let Some(report) = &notice.report {
        return report_payload(notice, report);
    }
    let fields: Vec<Value> = notice
        .facts()
        .into_iter()
        .take(10) // Slack accepts at most 10 fields per section.
        .map(|(label, value)| {
            json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", truncate(&escape(&value), 1900))})
        })
        .collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&notice.title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": escape(&notice.summary)}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(link) = &notice.link {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in wfmon"},
            "url": link,
        }]}));
    }
    json!({"text": notice.title, "blocks": blocks})
}

impl Channel for Slack {
    fn kind(&self) -> NotificationChannel {
        NotificationChannel::Slack
    }

    fn describe(&self) -> String {
        format!("slack {}", redacted_url(&self.config.webhook_url))
    }

    fn send<'a>(
        &'a self,
        notice: &'a Notice,
        _keys: &'a DeliveryKeys,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&payload(notice)).expect("JSON serialises");
            http::post_json(&self.client, &self.config.webhook_url, body, &[]).await
        })
    }
}

//! Microsoft Teams, through a Workflows (Power Automate) webhook: a message with one
//! Adaptive Card holding the title, the summary, the facts (for a report, its headline
//! figures, worst workflows and most failing steps) and a link.

use serde::Deserialize;
use serde_json::{Value, json};
use serde_saphyr::Spanned;
use wfmon_model::NotificationChannel;

use super::config::{redacted_url, secret_webhook_url};
use super::{BoxFuture, Channel, DeliveryKeys, Notice, SendError, http};
use crate::config::Checker;

/// `teams:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTeams {
    webhook_url: Option<Spanned<String>>,
}

/// A validated Teams channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsConfig {
    /// The workflow webhook URL (secret).
    pub webhook_url: String,
}

pub(crate) fn validate<T>(
    raw: &RawTeams,
    anchor: &Spanned<T>,
    c: &mut Checker,
    path: &str,
) -> Option<TeamsConfig> {
    let webhook_url = secret_webhook_url(
        c,
        &raw.webhook_url,
        anchor,
        path,
        "the workflow webhook URL, e.g. \"${TEAMS_WEBHOOK_URL}\"",
    )?;
    Some(TeamsConfig { webhook_url })
}

/// Sends to Teams.
pub struct Teams {
    config: TeamsConfig,
    client: reqwest::Client,
}

impl Teams {
    /// A sender for `config`.
    pub fn new(config: TeamsConfig, client: reqwest::Client) -> Teams {
        Teams { config, client }
    }
}

/// The message with its Adaptive Card.
pub fn payload(notice: &Notice) -> Value {
    let facts: Vec<Value> = notice
        .facts()
        .into_iter()
        .map(|(label, value)| json!({"title": label, "value": value}))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": notice.title, "weight": "Bolder", "size": "Medium", "wrap": true},
            {"type": "TextBlock", "text": notice.summary, "wrap": true},
            {"type": "FactSet", "facts": facts},
        ],
    });
    if let Some(report) = &notice.report
        && let Some(body) = card["body"].as_array_mut()
    {
        for (heading, lines) in [
            ("Worst workflows", report.workflow_lines()),
            ("Top failing steps", report.step_lines()),
        ] {
            if !lines.is_empty() {
                body.push(
                    json!({"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": true}),
                );
                let list: Vec<String> = lines.iter().map(|l| format!("- {l}")).collect();
                body.push(json!({"type": "TextBlock", "text": list.join("\n"), "wrap": true}));
            }
        }
    }
    if let Some(link) = &notice.link {
        card["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open in wfmon", "url": link}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

impl Channel for Teams {
    fn kind(&self) -> NotificationChannel {
        NotificationChannel::Teams
    }

    fn describe(&self) -> String {
        format!("teams {}", redacted_url(&self.config.webhook_url))
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

//! Discord, through a channel webhook: one embed with the facts as fields (for a report, its
//! headline figures, then its worst workflows and most failing steps).

use serde::Deserialize;
use serde_json::{Value, json};
use serde_saphyr::Spanned;
use wfmon_model::{AlertSeverity, NotificationChannel, NotificationType};

use super::config::{redacted_url, secret_webhook_url};
use super::notice::truncate;
use super::{BoxFuture, Channel, DeliveryKeys, Notice, SendError, http};
use crate::config::Checker;

/// `discord:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscord {
    webhook_url: Option<Spanned<String>>,
}

/// A validated Discord channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordConfig {
    /// The webhook URL (secret).
    pub webhook_url: String,
}

pub(crate) fn validate<T>(
    raw: &RawDiscord,
    anchor: &Spanned<T>,
    c: &mut Checker,
    path: &str,
) -> Option<DiscordConfig> {
    let webhook_url = secret_webhook_url(
        c,
        &raw.webhook_url,
        anchor,
        path,
        "the channel webhook URL, e.g. \"${DISCORD_WEBHOOK_URL}\"",
    )?;
    Some(DiscordConfig { webhook_url })
}

/// Sends to Discord.
pub struct Discord {
    config: DiscordConfig,
    client: reqwest::Client,
}

impl Discord {
    /// A sender for `config`.
    pub fn new(config: DiscordConfig, client: reqwest::Client) -> Discord {
        Discord { config, client }
    }
}

/// Embed colour: green for recoveries, else by severity.
fn colour(notice: &Notice) -> u32 {
    match (notice.kind, notice.severity) {
        (NotificationType::Recovery, _) => 0x2e_b8_86,
        (_, AlertSeverity::Critical) => 0xd0_21_2b,
        (_, AlertSeverity::Warning) => 0xf2_a9_00,
        (_, AlertSeverity::Info) => 0x3a_7b_d5,
    }
}

/// The webhook body: one embed, no mentions.
pub fn payload(notice: &Notice) -> Value {
    let mut fields: Vec<Value> = notice
        .facts()
        .into_iter()
        .take(23)
        .map(|(label, value)| json!({"name": label, "value": truncate(&value, 1000), "inline": value.len() < 40}))
        .collect();
    if let Some(report) = &notice.report {
        for (heading, lines) in [
            ("Worst workflows", report.workflow_lines()),
            ("Top failing steps", report.step_lines()),
        ] {
            if !lines.is_empty() {
                fields.push(json!({"name": heading, "value": truncate(&lines.join("\n"), 1000), "inline": false}));
            }
        }
    }
    let mut embed = json!({
        "title": truncate(&notice.title, 256),
        "description": truncate(&notice.summary, 4000),
        "color": colour(notice),
        "fields": fields,
        "timestamp": notice.triggered_at.to_string(),
    });
    if let Some(link) = &notice.link {
        embed["url"] = json!(link);
    }
    json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
}

impl Channel for Discord {
    fn kind(&self) -> NotificationChannel {
        NotificationChannel::Discord
    }

    fn describe(&self) -> String {
        format!("discord {}", redacted_url(&self.config.webhook_url))
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

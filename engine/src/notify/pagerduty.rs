//! PagerDuty Events API v2: alerts, reminders and escalations trigger, recoveries resolve,
//! all with the alert's id as `dedup_key`, so a repeated delivery (a retry after a crash
//! between sending and recording) lands on the same incident instead of opening another.

use serde::Deserialize;
use serde_json::{Value, json};
use serde_saphyr::Spanned;
use wfmon_model::{AlertSeverity, NotificationChannel, NotificationType};

use super::config::{http_url, redacted_url, required};
use super::notice::truncate;
use super::{BoxFuture, Channel, DeliveryKeys, Notice, SendError, http};
use crate::config::Checker;

/// PagerDuty's Events API v2 endpoint.
pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `pagerduty:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPagerDuty {
    routing_key: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
}

/// A validated PagerDuty channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagerDutyConfig {
    /// The integration's routing key (secret).
    pub routing_key: String,
    /// The Events API endpoint.
    pub url: String,
}

pub(crate) fn validate<T>(
    raw: &RawPagerDuty,
    anchor: &Spanned<T>,
    c: &mut Checker,
    path: &str,
) -> Option<PagerDutyConfig> {
    let key = required(
        c,
        &raw.routing_key,
        anchor,
        path,
        "routing_key",
        "the Events API v2 integration key, e.g. \"${PAGERDUTY_ROUTING_KEY}\"",
    )?;
    let routing_key = c.expand(&key.value, Some(key), &format!("{path}.routing_key"));
    if routing_key.trim().is_empty() {
        c.issue_at(key, &format!("{path}.routing_key"), "is empty");
        return None;
    }
    c.secret(&routing_key);
    let url = match &raw.url {
        Some(url) => http_url(c, url, &format!("{path}.url"))?,
        None => EVENTS_URL.to_owned(),
    };
    Some(PagerDutyConfig { routing_key, url })
}

/// Sends to PagerDuty.
pub struct PagerDuty {
    config: PagerDutyConfig,
    client: reqwest::Client,
}

impl PagerDuty {
    /// A sender for `config`.
    pub fn new(config: PagerDutyConfig, client: reqwest::Client) -> PagerDuty {
        PagerDuty { config, client }
    }
}

/// The event: `resolve` for a recovery, `trigger` otherwise.
pub fn payload(routing_key: &str, notice: &Notice, keys: &DeliveryKeys) -> Value {
    if notice.kind == NotificationType::Recovery {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": keys.dedup_key,
        });
    }
    let severity = match notice.severity {
        AlertSeverity::Critical => "critical",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Info => "info",
    };
    let details: serde_json::Map<String, Value> = notice
        .facts()
        .into_iter()
        .map(|(label, value)| (label.to_owned(), json!(value)))
        .collect();
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": keys.dedup_key,
        "payload": {
            "summary": truncate(&notice.title, 1024),
            "source": format!("wfmon/{}/{}", notice.environment, notice.workflow),
            "severity": severity,
            "timestamp": notice.triggered_at.to_string(),
            "component": notice.workflow,
            "group": notice.environment,
            "class": notice.rule,
            "custom_details": details,
        },
        "client": "wfmon",
    });
    if let Some(link) = &notice.link {
        event["links"] = json!([{"href": link, "text": "Open in wfmon"}]);
        event["client_url"] = json!(link);
    }
    event
}

impl Channel for PagerDuty {
    fn kind(&self) -> NotificationChannel {
        NotificationChannel::PagerDuty
    }

    fn describe(&self) -> String {
        format!("pagerduty {}", redacted_url(&self.config.url))
    }

    fn send<'a>(
        &'a self,
        notice: &'a Notice,
        keys: &'a DeliveryKeys,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&payload(&self.config.routing_key, notice, keys))
                .expect("JSON serialises");
            http::post_json(&self.client, &self.config.url, body, &[]).await
        })
    }
}

//! The `notifications:` section: named channels (each validated by its own module), routes
//! from severity to channels, the dashboard link, and how deliveries are retried.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;
use wfmon_model::AlertSeverity;

use super::{console, discord, email, pagerduty, slack, teams, webhook};
use crate::config::Checker;

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotifications {
    #[serde(default)]
    channels: BTreeMap<String, Spanned<RawChannel>>,
    #[serde(default)]
    routes: BTreeMap<String, Vec<Spanned<String>>>,
    dashboard_url: Option<Spanned<String>>,
    #[serde(default)]
    delivery: RawDelivery,
}

impl RawNotifications {
    /// Whether the file sets anything in this section.
    pub(crate) fn is_set(&self) -> bool {
        !self.channels.is_empty() || !self.routes.is_empty() || self.dashboard_url.is_some()
    }
}

/// One channel: exactly one of the kinds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    slack: Option<slack::RawSlack>,
    discord: Option<discord::RawDiscord>,
    teams: Option<teams::RawTeams>,
    webhook: Option<webhook::RawWebhook>,
    email: Option<email::RawEmail>,
    pagerduty: Option<pagerduty::RawPagerDuty>,
    console: Option<console::RawConsole>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    timeout: Option<Spanned<String>>,
    attempts: Option<Spanned<u32>>,
    backoff: Option<Spanned<String>>,
    max_backoff: Option<Spanned<String>>,
    breaker_failures: Option<Spanned<u32>>,
    breaker_cooldown: Option<Spanned<String>>,
}

/// The validated `notifications:` section.
#[derive(Debug, Clone, Default)]
pub struct NotificationsConfig {
    /// Channels by name.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// Channels an alert of each severity goes to when its rule names none.
    pub routes: BTreeMap<AlertSeverity, Vec<String>>,
    /// Base URL of the dashboard, for links in messages.
    pub dashboard_url: Option<String>,
    /// Timeouts, retries and the circuit breaker.
    pub delivery: DeliverySettings,
}

/// One configured channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelConfig {
    /// Slack incoming webhook.
    Slack(slack::SlackConfig),
    /// Discord webhook.
    Discord(discord::DiscordConfig),
    /// Microsoft Teams workflow webhook.
    Teams(teams::TeamsConfig),
    /// Generic JSON webhook.
    Webhook(webhook::WebhookConfig),
    /// Email over SMTP.
    Email(email::EmailConfig),
    /// PagerDuty Events API v2.
    PagerDuty(pagerduty::PagerDutyConfig),
    /// The daemon's log.
    Console(console::ConsoleConfig),
}

/// How the outbox delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Longest wait for one attempt.
    pub timeout: Duration,
    /// Attempts before a notification is given up as FAILED.
    pub attempts: u32,
    /// Delay before the first retry; doubles each time, with jitter.
    pub backoff: Duration,
    /// Longest delay between attempts.
    pub max_backoff: Duration,
    /// Consecutive failed attempts that open a channel's circuit.
    pub breaker_failures: u32,
    /// How long an open circuit waits before one trial attempt.
    pub breaker_cooldown: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            timeout: Duration::from_secs(10),
            attempts: 8,
            backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(600),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(60),
        }
    }
}

/// Validates the section.
pub(crate) fn validate(raw: &RawNotifications, c: &mut Checker) -> NotificationsConfig {
    let mut config = NotificationsConfig::default();
    for (name, channel) in &raw.channels {
        let path = format!("notifications.channels.{name}");
        if !crate::config::valid_name(name) {
            c.issue_at(
                channel,
                &path,
                format!("`{name}` is not a valid name (letters, digits, -, _ and .)"),
            );
            continue;
        }
        if let Some(validated) = validate_channel(channel, c, &path) {
            config.channels.insert(name.clone(), validated);
        }
    }
    for (severity, names) in &raw.routes {
        let path = format!("notifications.routes.{severity}");
        let Ok(level) = severity.parse::<AlertSeverity>() else {
            c.issue(
                &path,
                format!("`{severity}` is not a severity (INFO, WARNING or CRITICAL)"),
            );
            continue;
        };
        let channels = channel_names(c, &raw.channels, names, &path);
        config.routes.insert(level, channels);
    }
    if let Some(url) = &raw.dashboard_url {
        config.dashboard_url =
            http_url(c, url, "notifications.dashboard_url").map(|u| u.trim_end_matches('/').into());
    }
    config.delivery = delivery(&raw.delivery, c);
    config
}

/// Checks that each name is a configured channel; returns the names.
pub(crate) fn channel_names<T>(
    c: &mut Checker,
    channels: &BTreeMap<String, T>,
    names: &[Spanned<String>],
    path: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if channels.contains_key(&name.value) {
            out.push(name.value.clone());
        } else {
            let known: Vec<&str> = channels.keys().map(String::as_str).collect();
            c.issue_at(
                name,
                &format!("{path}[{i}]"),
                format!(
                    "unknown channel `{}` (defined under notifications.channels: {})",
                    name.value,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
    }
    out
}

/// Names of the channels of a raw section (for rules, before validation of the channels).
pub(crate) fn raw_channel_names(raw: &RawNotifications) -> BTreeMap<String, ()> {
    raw.channels.keys().map(|k| (k.clone(), ())).collect()
}

fn validate_channel(
    channel: &Spanned<RawChannel>,
    c: &mut Checker,
    path: &str,
) -> Option<ChannelConfig> {
    let r = &channel.value;
    let kinds = [
        r.slack.is_some(),
        r.discord.is_some(),
        r.teams.is_some(),
        r.webhook.is_some(),
        r.email.is_some(),
        r.pagerduty.is_some(),
        r.console.is_some(),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    if kinds != 1 {
        c.issue_at(
            channel,
            path,
            "a channel needs exactly one of slack, discord, teams, webhook, email, pagerduty \
             or console (write `console: {}` for the log)",
        );
        return None;
    }
    if let Some(raw) = &r.slack {
        slack::validate(raw, channel, c, &format!("{path}.slack")).map(ChannelConfig::Slack)
    } else if let Some(raw) = &r.discord {
        discord::validate(raw, channel, c, &format!("{path}.discord")).map(ChannelConfig::Discord)
    } else if let Some(raw) = &r.teams {
        teams::validate(raw, channel, c, &format!("{path}.teams")).map(ChannelConfig::Teams)
    } else if let Some(raw) = &r.webhook {
        webhook::validate(raw, channel, c, &format!("{path}.webhook")).map(ChannelConfig::Webhook)
    } else if let Some(raw) = &r.email {
        email::validate(raw, channel, c, &format!("{path}.email")).map(ChannelConfig::Email)
    } else if let Some(raw) = &r.pagerduty {
        pagerduty::validate(raw, channel, c, &format!("{path}.pagerduty"))
            .map(ChannelConfig::PagerDuty)
    } else {
        Some(ChannelConfig::Console(console::ConsoleConfig))
    }
}

fn delivery(raw: &RawDelivery, c: &mut Checker) -> DeliverySettings {
    let mut s = DeliverySettings::default();
    let positive = |c: &mut Checker, v: &Option<Spanned<String>>, key: &str| {
        let v = v.as_ref()?;
        let d = c.duration(v, &format!("notifications.delivery.{key}"))?;
        if d.is_zero() {
            c.issue_at(
                v,
                &format!("notifications.delivery.{key}"),
                "must be more than 0",
            );
            return None;
        }
        Some(d)
    };
    if let Some(d) = positive(c, &raw.timeout, "timeout") {
        s.timeout = d;
    }
    if let Some(d) = positive(c, &raw.backoff, "backoff") {
        s.backoff = d;
    }
    if let Some(d) = positive(c, &raw.max_backoff, "max_backoff") {
        s.max_backoff = d;
    }
    if let Some(d) = positive(c, &raw.breaker_cooldown, "breaker_cooldown") {
        s.breaker_cooldown = d;
    }
    for (value, key, target) in [
        (&raw.attempts, "attempts", &mut s.attempts),
        (
            &raw.breaker_failures,
            "breaker_failures",
            &mut s.breaker_failures,
        ),
    ] {
        if let Some(n) = value {
            if n.value == 0 || n.value > 100 {
                c.issue_at(
                    n,
                    &format!("notifications.delivery.{key}"),
                    format!("{}: write 1 to 100", n.value),
                );
            } else {
                *target = n.value;
            }
        }
    }
    s
}

/// A required value: reports `key` missing at the channel's position when absent.
pub(crate) fn required<'a, T>(
    c: &mut Checker,
    value: &'a Option<Spanned<String>>,
    anchor: &Spanned<T>,
    path: &str,
    key: &str,
    hint: &str,
) -> Option<&'a Spanned<String>> {
    if value.is_none() {
        c.issue_at(anchor, &format!("{path}.{key}"), format!("missing: {hint}"));
    }
    value.as_ref()
}

/// An http(s) URL with `${ENV}` expanded; it is kept secret (webhook URLs carry tokens).
/// The required `webhook_url` of a chat channel at `path`: an http(s) URL, registered as a
/// secret so it is redacted everywhere.
pub(crate) fn secret_webhook_url<T>(
    c: &mut Checker,
    value: &Option<Spanned<String>>,
    anchor: &Spanned<T>,
    path: &str,
    hint: &str,
) -> Option<String> {
    let url = required(c, value, anchor, path, "webhook_url", hint)?;
    let webhook_url = http_url(c, url, &format!("{path}.webhook_url"))?;
    c.secret(&webhook_url);
    Some(webhook_url)
}

pub(crate) fn http_url(c: &mut Checker, value: &Spanned<String>, path: &str) -> Option<String> {
    let before = c.issue_count();
    let url = c.expand(&value.value, Some(value), path);
    if c.issue_count() != before {
        return None;
    }
    match reqwest::Url::parse(url.trim()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Some(url.trim().to_owned())
        }
        _ => {
            // The text as written, never the expanded value: it may hold a secret.
            c.issue_at(
                value,
                path,
                format!("`{}` is not an http(s) URL", value.value),
            );
            None
        }
    }
}

/// A URL reduced to scheme, host and port, for logs and stored descriptions.
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}/…", u.scheme(), u.host_str().unwrap_or("?"))
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

//! The `notifications:` section: named channels (each validated by its own module), routes
//! from severity to channels, the dashboard link, and how deliveries are retried.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;
use wfmon_model::AlertSeverity;

use super::{console, discord, email, pagerduty, slack, teams, webhook};
use crate::config::Checker;
use crate::runner::redact::{Redactor, is_credential_header};

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

impl ChannelConfig {
    /// What this channel's errors must never show: every part of its URL that can carry a
    /// credential (see `url_secrets`), its routing key, signing secret, SMTP password and
    /// credential headers.
    pub(crate) fn redactor(&self) -> Redactor {
        let mut r = Redactor::default();
        let add_url = |r: &mut Redactor, url: &str| {
            for part in url_secrets(url) {
                r.add(&part);
            }
        };
        match self {
            ChannelConfig::Slack(c) => add_url(&mut r, &c.webhook_url),
            ChannelConfig::Discord(c) => add_url(&mut r, &c.webhook_url),
            ChannelConfig::Teams(c) => add_url(&mut r, &c.webhook_url),
            ChannelConfig::Webhook(c) => {
                add_url(&mut r, &c.url);
                if let Some(secret) = &c.secret {
                    r.add(secret);
                }
                for (name, value) in &c.headers {
                    if is_credential_header(name) {
                        r.add_credential(value);
                    }
                }
            }
            // The user name is an address more often than a secret: errors naming a
            // recipient stay readable.
            ChannelConfig::Email(c) => {
                if let Some(password) = &c.password {
                    r.add(password);
                }
            }
            ChannelConfig::PagerDuty(c) => {
                r.add(&c.routing_key);
                add_url(&mut r, &c.url);
            }
            ChannelConfig::Console(_) => {}
        }
        r
    }
}

/// The parts of a channel URL that can carry a credential, as the URL parser writes them and
/// percent-decoded: the user name and password; the path whole, each of its endings from a
/// `/` (a receiver behind a proxy that strips a prefix echoes only the end) and each segment
/// that is not a plain word; the query whole, with the path, and each of its values. Chat
/// services put their tokens in the path (`/services/T…/B…/token`, `/api/webhooks/id/token`)
/// or the query (`sig=…`), and receivers quote the path back in their errors ("Cannot POST
/// /hook/…"). A segment of lower-case letters, `-` and `_`, shorter than 16 characters
/// (`services`, `webhooks`, `triggers`), reads as a word and is hidden only as part of the
/// path, so that the receiver's own words stay readable. Values shorter than the redactor's
/// minimum are left out there.
pub(crate) fn url_secrets(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return out;
    };
    let mut push = |value: &str| {
        for form in [value.to_owned(), percent_decoded(value)] {
            if !form.is_empty() && !out.contains(&form) {
                out.push(form);
            }
        }
    };
    push(parsed.username());
    if let Some(password) = parsed.password() {
        push(password);
    }
    let path = parsed.path();
    if path != "/" {
        push(path);
        push(path.trim_start_matches('/'));
        for (at, _) in path.match_indices('/').skip(1) {
            push(&path[at..]);
        }
        for segment in path.split('/').filter(|s| !is_word(s)) {
            push(segment);
        }
    }
    if let Some(query) = parsed.query() {
        push(query);
        push(&format!("{path}?{query}"));
        for pair in query.split('&') {
            if let Some((_, value)) = pair.split_once('=') {
                push(value);
            }
        }
        for (_, value) in parsed.query_pairs() {
            push(&value);
        }
    }
    out
}

/// A path segment that reads as a word rather than a token.
fn is_word(segment: &str) -> bool {
    segment.len() < 16
        && segment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
}

/// `%XX` escapes decoded (an invalid escape is kept as written; invalid UTF-8 replaced).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_secrets_are_the_parts_that_can_hold_a_token() {
        let parts = url_secrets(
            "https://user:pa%20ss@hooks.example.com/services/T0AB/hooks/tok%C3%BCen?api-version=1&sig=S1G%2Bx",
        );
        for expected in [
            "user",
            "pa%20ss",
            "pa ss",
            "/services/T0AB/hooks/tok%C3%BCen",
            "/services/T0AB/hooks/toküen",
            "services/T0AB/hooks/tok%C3%BCen",
            "/T0AB/hooks/tok%C3%BCen",
            "/hooks/tok%C3%BCen",
            "/tok%C3%BCen",
            "T0AB",
            "tok%C3%BCen",
            "toküen",
            "api-version=1&sig=S1G%2Bx",
            "/services/T0AB/hooks/tok%C3%BCen?api-version=1&sig=S1G%2Bx",
            "S1G%2Bx",
            "S1G+x",
        ] {
            assert!(
                parts.iter().any(|p| p == expected),
                "{expected} not in {parts:?}"
            );
        }
        // Plain words alone stay readable; they are hidden as part of the path.
        for word in ["services", "hooks"] {
            assert!(!parts.iter().any(|p| p == word), "{word} in {parts:?}");
        }
        let r = Redactor::new(&parts);
        assert_eq!(
            r.redact("Cannot POST /services/T0AB/hooks/toküen: no such hooks for T0AB"),
            "Cannot POST ***: no such hooks for ***"
        );
        // A URL without a path or a query has nothing more to hide than itself.
        assert_eq!(
            url_secrets("https://hooks.example.com/"),
            ["https://hooks.example.com/"]
        );
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decoded("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(percent_decoded("%C3%BC%+1"), "ü%+1");
    }
}

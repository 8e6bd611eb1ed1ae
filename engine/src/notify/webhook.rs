//! A generic JSON webhook: the notice as JSON, custom headers, an `Idempotency-Key` header
//! (the same on every attempt of one notification), and, with a secret, an HMAC-SHA256
//! signature of the exact body bytes in `X-Wfmon-Signature: sha256=<hex>`.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use serde_saphyr::Spanned;
use sha2::Sha256;
use wfmon_model::NotificationChannel;

use super::config::{http_url, redacted_url, required};
use super::{BoxFuture, Channel, DeliveryKeys, Notice, SendError, http};
use crate::config::Checker;

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Wfmon-Signature";

/// The header carrying the notification's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// `webhook:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    url: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    secret: Option<Spanned<String>>,
}

/// A validated webhook channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Where to POST (secret: it may hold a token).
    pub url: String,
    /// Extra headers (values may be secret).
    pub headers: Vec<(String, String)>,
    /// Key of the HMAC-SHA256 signature, if any.
    pub secret: Option<String>,
}

pub(crate) fn validate<T>(
    raw: &RawWebhook,
    anchor: &Spanned<T>,
    c: &mut Checker,
    path: &str,
) -> Option<WebhookConfig> {
    let url = required(
        c,
        &raw.url,
        anchor,
        path,
        "url",
        "where to POST, e.g. https://hooks.example.com/wfmon",
    )?;
    let url = http_url(c, url, &format!("{path}.url"))?;
    c.secret(&url);
    let mut headers = Vec::new();
    for (name, value) in &raw.headers {
        let key = format!("{path}.headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            c.issue_at(value, &key, format!("`{name}` is not a valid header name"));
            continue;
        }
        let text = c.expand(&value.value, Some(value), &key);
        if reqwest::header::HeaderValue::from_str(&text).is_err() {
            c.issue_at(value, &key, "is not a valid header value");
            continue;
        }
        headers.push((name.clone(), text));
    }
    let secret = raw.secret.as_ref().and_then(|s| {
        let key = format!("{path}.secret");
        let text = c.expand(&s.value, Some(s), &key);
        if text.len() < 8 {
            c.issue_at(s, &key, "a signing secret needs at least 8 characters");
            return None;
        }
        c.secret(&text);
        Some(text)
    });
    Some(WebhookConfig {
        url,
        headers,
        secret,
    })
}

/// Sends to a webhook.
pub struct Webhook {
    config: WebhookConfig,
    client: reqwest::Client,
}

impl Webhook {
    /// A sender for `config`.
    pub fn new(config: WebhookConfig, client: reqwest::Client) -> Webhook {
        Webhook { config, client }
    }
}

/// The JSON body: the notice's fields, its type and its idempotency key.
pub fn payload(notice: &Notice, keys: &DeliveryKeys) -> Value {
    let mut value = serde_json::to_value(notice).expect("a notice serialises");
    value["type"] = json!(notice.kind);
    value["idempotencyKey"] = json!(keys.idempotency_key);
    value
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

impl Channel for Webhook {
    fn kind(&self) -> NotificationChannel {
        NotificationChannel::Webhook
    }

    fn describe(&self) -> String {
        format!(
            "webhook {}{}",
            redacted_url(&self.config.url),
            if self.config.secret.is_some() {
                " (signed)"
            } else {
                ""
            }
        )
    }

    fn send<'a>(
        &'a self,
        notice: &'a Notice,
        keys: &'a DeliveryKeys,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&payload(notice, keys)).expect("JSON serialises");
            let mut headers = self.config.headers.clone();
            headers.push((IDEMPOTENCY_HEADER.to_owned(), keys.idempotency_key.clone()));
            if let Some(secret) = &self.config.secret {
                headers.push((SIGNATURE_HEADER.to_owned(), signature(secret, &body)));
            }
            http::post_json(&self.client, &self.config.url, body, &headers).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

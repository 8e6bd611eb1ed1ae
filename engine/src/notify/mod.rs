//! Notifications: where alerts go. Each channel is one module with its configuration, its
//! validation and its sender, implementing the small `Channel` trait; adding a channel
//! touches its module and one line of `config.rs` and `build_channel`. Notifications are
//! written to the outbox (`notification_logs`, status PENDING) and delivered by `sender`,
//! with timeouts, retries with backoff and a circuit breaker per channel.

pub mod breaker;
mod config;
pub mod console;
pub mod digest;
pub mod discord;
pub mod email;
mod http;
pub mod notice;
pub mod pagerduty;
pub mod sender;
pub mod slack;
pub mod teams;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use config::{ChannelConfig, DeliverySettings, NotificationsConfig, redacted_url};
pub(crate) use config::{
    RawNotifications, channel_names, raw_channel_names, validate as validate_notifications,
};
pub use digest::ReportDigest;
pub use notice::Notice;
use wfmon_model::NotificationChannel;

use crate::runner::redact::Redactor;

/// A boxed future, so that `Channel` can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Keys that let a receiver recognise a repeated delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKeys {
    /// Unique per notification (the outbox row's log id): sent as `Idempotency-Key`.
    pub idempotency_key: String,
    /// Stable per alert episode (the alert id): PagerDuty's `dedup_key`.
    pub dedup_key: String,
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another attempt (timeout, connection refused, 5xx, 429).
    #[error("{reason}")]
    Retry {
        /// What went wrong (no URL, no secret).
        reason: String,
        /// How long the receiver asked to wait (429 Retry-After).
        after: Option<Duration>,
    },
    /// Another attempt would fail the same way (4xx, rejected address).
    #[error("{reason}")]
    Permanent {
        /// What went wrong (no URL, no secret).
        reason: String,
    },
}

impl SendError {
    /// A failure worth retrying.
    pub fn retry(reason: impl Into<String>) -> SendError {
        SendError::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    /// A failure not worth retrying.
    pub fn permanent(reason: impl Into<String>) -> SendError {
        SendError::Permanent {
            reason: reason.into(),
        }
    }
}

/// One way of delivering a notice.
pub trait Channel: Send + Sync {
    /// The kind, for `notification_logs.channel`.
    fn kind(&self) -> NotificationChannel;
    /// Where it goes, without any secret (stored as the row's recipient, shown in logs).
    fn describe(&self) -> String;
    /// Delivers one notice; one attempt, no retry.
    fn send<'a>(
        &'a self,
        notice: &'a Notice,
        keys: &'a DeliveryKeys,
    ) -> BoxFuture<'a, Result<(), SendError>>;
}

impl SendError {
    /// The same failure with `redactor`'s values hidden from its reason.
    fn redacted(self, redactor: &Redactor) -> SendError {
        match self {
            SendError::Retry { reason, after } => SendError::Retry {
                reason: redactor.redact(&reason),
                after,
            },
            SendError::Permanent { reason } => SendError::Permanent {
                reason: redactor.redact(&reason),
            },
        }
    }
}

/// Makes the sender of a configured channel. `timeout` bounds one attempt. Its errors never
/// show the channel's secrets: whatever the receiver answers (many quote the URL's path back,
/// "Cannot POST /hook/…"), the parts of the URL that can hold a token, its keys and its
/// credentials are hidden in every form before anyone logs, stores or prints the reason.
pub fn build_channel(config: &ChannelConfig, timeout: Duration) -> Arc<dyn Channel> {
    let client = http::client(timeout);
    let inner: Box<dyn Channel> = match config {
        ChannelConfig::Slack(c) => Box::new(slack::Slack::new(c.clone(), client)),
        ChannelConfig::Discord(c) => Box::new(discord::Discord::new(c.clone(), client)),
        ChannelConfig::Teams(c) => Box::new(teams::Teams::new(c.clone(), client)),
        ChannelConfig::Webhook(c) => Box::new(webhook::Webhook::new(c.clone(), client)),
        ChannelConfig::Email(c) => Box::new(email::Email::new(c.clone(), timeout)),
        ChannelConfig::PagerDuty(c) => Box::new(pagerduty::PagerDuty::new(c.clone(), client)),
        ChannelConfig::Console(_) => Box::new(console::Console),
    };
    Arc::new(Redacted {
        inner,
        redactor: config.redactor(),
    })
}

/// A channel whose failures are told without its secrets.
struct Redacted {
    inner: Box<dyn Channel>,
    redactor: Redactor,
}

impl Channel for Redacted {
    fn kind(&self) -> NotificationChannel {
        self.inner.kind()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn send<'a>(
        &'a self,
        notice: &'a Notice,
        keys: &'a DeliveryKeys,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            self.inner
                .send(notice, keys)
                .await
                .map_err(|e| e.redacted(&self.redactor))
        })
    }
}

//! The daemon's own log: every notice as one log line. Never fails.

use serde::Deserialize;
use wfmon_model::{AlertSeverity, NotificationChannel};

use super::{BoxFuture, Channel, DeliveryKeys, Notice, SendError};

/// `console: {}` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConsole {}

/// The console channel has no settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleConfig;

/// Writes notices to the log.
pub struct Console;

/// The notice as the console channel logs it: its text on one line, lines joined by ` | `.
pub fn line(notice: &Notice) -> String {
    notice.text().trim_end().replace('\n', " | ")
}

impl Channel for Console {
    fn kind(&self) -> NotificationChannel {
        NotificationChannel::Console
    }

    fn describe(&self) -> String {
        "console (the daemon's log)".to_owned()
    }

    fn send<'a>(
        &'a self,
        notice: &'a Notice,
        _keys: &'a DeliveryKeys,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let text = line(notice);
            match notice.severity {
                AlertSeverity::Critical | AlertSeverity::Warning => {
                    tracing::warn!(target: "wfmon::notify", kind = %notice.kind, "{text}")
                }
                AlertSeverity::Info => {
                    tracing::info!(target: "wfmon::notify", kind = %notice.kind, "{text}")
                }
            }
            Ok(())
        })
    }
}

//! The closed sets of every status and type column. Each enum is stored as its upper-case
//! canonical text (guarded by a CHECK constraint in the database) and parsed leniently:
//! case-insensitive, with the legacy spellings the TypeScript bot wrote (`SUCCESS`, `FAILURE`,
//! `passed`, ...) mapped to the canonical value.

use std::fmt;
use std::str::FromStr;

/// A text value that is not a member of the column's closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what} (expected one of: {expected})")]
pub struct UnknownValue {
    /// The rejected text.
    pub value: String,
    /// What was being parsed, e.g. "execution status".
    pub what: &'static str,
    /// The canonical values, comma-separated.
    pub expected: String,
}

macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident as $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $canonical:literal $(| $alias:literal)* ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The canonical (stored) text.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $canonical,)* }
            }

            /// Legacy spellings accepted on input besides the canonical text (any case).
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($alias),*],)* }
            }
        }

        impl $crate::ColumnType for $name {
            const KIND: $crate::ColumnKind = $crate::ColumnKind::Text;
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(text: &str) -> Result<Self, UnknownValue> {
                let upper = text.trim().to_ascii_uppercase();
                match upper.as_str() {
                    $( $canonical $(| $alias)* => Ok($name::$variant), )*
                    _ => Err(UnknownValue {
                        value: text.to_owned(),
                        what: $what,
                        expected: [$($canonical),*].join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        text_enum!(@sql $name, sqlx::Sqlite, sqlx::sqlite::SqliteTypeInfo, sqlx::sqlite::SqliteArgumentsBuffer, sqlx::sqlite::SqliteValueRef<'r>);
        text_enum!(@sql $name, sqlx::Postgres, sqlx::postgres::PgTypeInfo, sqlx::postgres::PgArgumentBuffer, sqlx::postgres::PgValueRef<'r>);
    };
    (@sql $name:ident, $db:ty, $info:ty, $buf:ty, $value:ty) => {
        impl sqlx::Type<$db> for $name {
            fn type_info() -> $info {
                <String as sqlx::Type<$db>>::type_info()
            }
            fn compatible(ty: &$info) -> bool {
                <String as sqlx::Type<$db>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, $db> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut $buf,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<$db>>::encode(self.as_str().to_owned(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, $db> for $name {
            fn decode(value: $value) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<$db>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

text_enum! {
    /// Outcome of one workflow execution (workflow_executions.status).
    pub enum ExecutionStatus as "execution status" {
        /// Written when the run starts, so that a crash leaves a trace.
        Running = "RUNNING" | "IN_PROGRESS" | "STARTED" | "PENDING",
        /// Every step and assertion passed.
        Passed = "PASSED" | "SUCCESS" | "SUCCEEDED" | "PASS" | "OK",
        /// Passed, but a soft threshold was breached (degraded).
        Warning = "WARNING" | "WARN" | "DEGRADED",
        /// A step or assertion failed.
        Failed = "FAILED" | "FAILURE" | "FAIL" | "ERROR",
        /// The workflow-level timeout expired.
        TimedOut = "TIMED_OUT" | "TIMEOUT",
        /// Interrupted by shutdown or crash.
        Aborted = "ABORTED" | "CANCELLED" | "CANCELED" | "INTERRUPTED",
        /// Not run (e.g. the previous run of the same workflow was still in flight).
        Skipped = "SKIPPED" | "SKIP",
    }
}

impl ExecutionStatus {
    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        self != ExecutionStatus::Running
    }

    /// Whether the run counts as a success in rates and reports.
    pub fn is_success(self) -> bool {
        matches!(self, ExecutionStatus::Passed | ExecutionStatus::Warning)
    }
}

text_enum! {
    /// Outcome of one step of an execution.
    pub enum StepStatus as "step status" {
        /// The step and all its assertions passed.
        Passed = "PASSED",
        /// Passed with a soft threshold breached.
        Warning = "WARNING",
        /// The step or one of its assertions failed.
        Failed = "FAILED",
        /// The step's own timeout expired.
        TimedOut = "TIMED_OUT",
        /// Not run because an earlier step failed.
        Skipped = "SKIPPED",
    }
}

text_enum! {
    /// What started an execution.
    pub enum TriggeredBy as "trigger" {
        /// The cron scheduler.
        Scheduled = "SCHEDULED" | "SCHEDULE" | "CRON",
        /// `wfmon check` or a person.
        Manual = "MANUAL",
        /// The REST API.
        Api = "API",
        /// A retry of a failed attempt.
        Retry = "RETRY",
    }
}

text_enum! {
    /// State of a health probe (system_health_checks.status).
    pub enum HealthStatus as "health status" {
        /// Answered as expected.
        Healthy = "HEALTHY" | "UP" | "OK" | "PASSED",
        /// Answered, but slowly or partially.
        Degraded = "DEGRADED" | "WARNING",
        /// Did not answer as expected.
        Unhealthy = "UNHEALTHY" | "DOWN" | "FAILED" | "ERROR",
    }
}

text_enum! {
    /// Lifecycle of a monitoring report.
    pub enum ReportStatus as "report status" {
        /// Being computed.
        Generating = "GENERATING",
        /// Computed and stored.
        Completed = "COMPLETED" | "COMPLETE" | "DONE",
        /// Computation failed.
        Failed = "FAILED",
    }
}

text_enum! {
    /// The cadence a report was produced for.
    pub enum ReportType as "report type" {
        /// A report on a cron schedule with a custom window (the legacy bot's only kind).
        Periodic = "PERIODIC",
        /// One hour.
        Hourly = "HOURLY",
        /// One day.
        Daily = "DAILY",
        /// One week.
        Weekly = "WEEKLY",
        /// One month.
        Monthly = "MONTHLY",
        /// Asked for explicitly (CLI or API).
        OnDemand = "ON_DEMAND" | "MANUAL",
    }
}

text_enum! {
    /// The kind of channel a notification went to.
    pub enum NotificationChannel as "notification channel" {
        /// Slack incoming webhook.
        Slack = "SLACK",
        /// Discord webhook.
        Discord = "DISCORD",
        /// Microsoft Teams workflow webhook.
        Teams = "TEAMS" | "MSTEAMS",
        /// Email over SMTP.
        Email = "EMAIL" | "SMTP",
        /// PagerDuty Events API v2.
        PagerDuty = "PAGERDUTY",
        /// Generic JSON webhook.
        Webhook = "WEBHOOK",
        /// The daemon's own log.
        Console = "CONSOLE" | "LOG",
        /// Legacy: one row for a broadcast to every channel.
        All = "ALL",
    }
}

text_enum! {
    /// Why a notification was sent.
    pub enum NotificationType as "notification type" {
        /// An alert opened or re-triggered.
        Alert = "ALERT" | "FAILURE" | "WORKFLOW_FAILURE" | "ERROR",
        /// An alert resolved.
        Recovery = "RECOVERY" | "RESOLVED" | "RECOVERED",
        /// A reminder for an alert still open.
        Reminder = "REMINDER",
        /// An alert escalated.
        Escalation = "ESCALATION",
        /// A monitoring report.
        Report = "REPORT" | "SUMMARY" | "PERIODIC_REPORT",
        /// A test message (`wfmon notify test`).
        Test = "TEST",
    }
}

text_enum! {
    /// Where a notification stands.
    pub enum NotificationStatus as "notification status" {
        /// Waiting in the outbox.
        Pending = "PENDING" | "QUEUED",
        /// Accepted by the channel.
        Sent = "SENT" | "SUCCESS" | "DELIVERED",
        /// Given up after the last attempt.
        Failed = "FAILED" | "FAILURE" | "ERROR",
        /// Recorded but not sent (silence, maintenance window, dependency).
        Suppressed = "SUPPRESSED" | "SILENCED",
    }
}

text_enum! {
    /// What the receiving end said about the last delivery attempt.
    pub enum DeliveryStatus as "delivery status" {
        /// The channel accepted the message.
        Delivered = "DELIVERED" | "SUCCESS",
        /// The last attempt failed; another is scheduled.
        Retrying = "RETRYING",
        /// No attempt will deliver it.
        Undelivered = "UNDELIVERED" | "FAILED",
    }
}

text_enum! {
    /// Severity of an alert.
    pub enum AlertSeverity as "alert severity" {
        /// For information.
        Info = "INFO",
        /// Needs attention.
        Warning = "WARNING" | "WARN",
        /// Needs someone now.
        Critical = "CRITICAL" | "CRIT",
    }
}

text_enum! {
    /// Lifecycle of an alert episode.
    pub enum AlertStatus as "alert status" {
        /// Firing, not acknowledged.
        Active = "ACTIVE",
        /// Someone is on it.
        Acknowledged = "ACKNOWLEDGED" | "ACK",
        /// Over.
        Resolved = "RESOLVED",
        /// Not acknowledged in time; severity raised.
        Escalated = "ESCALATED",
        /// Recorded but suppressed (silence, maintenance, dependency).
        Silenced = "SILENCED",
    }
}

impl AlertStatus {
    /// Whether the alert is still open (at most one open alert per fingerprint).
    pub fn is_open(self) -> bool {
        self != AlertStatus::Resolved
    }
}

text_enum! {
    /// The width of a rollup bucket.
    pub enum RollupBucket as "rollup bucket" {
        /// One minute.
        Minute = "MINUTE",
        /// One hour.
        Hour = "HOUR",
        /// One UTC day.
        Day = "DAY",
    }
}

text_enum! {
    /// What an API token or a dashboard user may do.
    pub enum Role as "role" {
        /// Read everything (GET and HEAD).
        Read = "READ",
        /// Read and change (pause, run now, acknowledge, ...).
        Admin = "ADMIN",
    }
}

impl Role {
    /// Whether this role includes everything `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || needed == Role::Read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_spellings_parse_to_canonical_values() {
        for (text, expected) in [
            ("PASSED", ExecutionStatus::Passed),
            ("SUCCESS", ExecutionStatus::Passed),
            ("success", ExecutionStatus::Passed),
            ("passed", ExecutionStatus::Passed),
            ("FAILURE", ExecutionStatus::Failed),
            ("failed", ExecutionStatus::Failed),
            ("Warning", ExecutionStatus::Warning),
            ("skipped", ExecutionStatus::Skipped),
            ("TIMEOUT", ExecutionStatus::TimedOut),
        ] {
            assert_eq!(text.parse::<ExecutionStatus>().unwrap(), expected, "{text}");
        }
        assert_eq!(
            "unhealthy".parse::<HealthStatus>().unwrap(),
            HealthStatus::Unhealthy
        );
        assert_eq!(
            "SUCCESS".parse::<NotificationStatus>().unwrap(),
            NotificationStatus::Sent
        );
    }

    #[test]
    fn unknown_values_are_errors_that_name_the_set() {
        let err = "BOGUS".parse::<ExecutionStatus>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("`BOGUS`"), "{message}");
        assert!(message.contains("execution status"), "{message}");
        assert!(message.contains("TIMED_OUT"), "{message}");
    }

    #[test]
    fn canonical_text_round_trips_through_serde() {
        for status in ExecutionStatus::ALL {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<ExecutionStatus>(&json).unwrap(),
                *status
            );
        }
        assert!(serde_json::from_str::<AlertSeverity>("\"LOUD\"").is_err());
    }
}

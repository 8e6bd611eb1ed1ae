//! Alerting: rules from the configuration, evaluated on every recorded execution and on a
//! timer (absence, escalation, reminders); alert state lives in the `alerts` table, and
//! notifications go to the outbox (`notification_logs`), which `notify` delivers.

pub mod actions;
mod config;
pub mod evaluator;
mod notices;
pub mod rules;
pub mod service;

pub use actions::{ActionOutcome, AlertAction, MAX_SILENCE_DAYS};
pub(crate) use config::{Known, RawAlerts, validate as validate_alerts};
pub use evaluator::{AUTO_RESOLVER, AlertEvaluator, REMOVED_RESOLVER, Verdict, fingerprint};
pub use rules::{Aggregate, AlertRule, AlertsConfig, Condition, MaintenanceWindow, Silence};
pub use service::AlertingService;

//! Alerting: rules from the configuration, evaluated on every recorded execution and on a
//! timer (absence, escalation, reminders); alert state lives in the `alerts` table, and
//! notifications go to the outbox.

mod config;
pub mod rules;

pub(crate) use config::{Known, RawAlerts, validate as validate_alerts};
pub use rules::{Aggregate, AlertRule, AlertsConfig, Condition, MaintenanceWindow, Silence};

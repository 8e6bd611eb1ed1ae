//! wfmon's data model: one struct per table, the enums of every status and type column, and
//! the column metadata the store uses to write SQL and to check a live database for drift.
//!
//! This crate does no I/O. It knows how its values are encoded for SQLite and PostgreSQL
//! (sqlx trait impls), but it never opens a connection.

mod column;
mod duration;
mod enums;
mod ids;
#[macro_use]
mod record;
mod records;
mod sketch;
mod timestamp;

pub use column::{Column, ColumnKind, ColumnType, PushValues, Record};
pub use duration::{
    DurationError, InstantError, MAX_DURATION_DAYS, in_year_range, parse_duration, parse_instant,
};
pub use enums::{
    AlertSeverity, AlertStatus, DeliveryStatus, ExecutionStatus, HealthStatus, NotificationChannel,
    NotificationStatus, NotificationType, ReportStatus, ReportType, Role, RollupBucket, StepStatus,
    TriggeredBy, UnknownValue,
};
pub use ids::new_id;
pub use records::{
    Alert, ApiToken, DashboardSession, DashboardUser, MonitoringReport, NotificationLog, PruneMark,
    SystemHealthCheck, WorkflowExecution, WorkflowMetric, WorkflowRollup, WorkflowSchedule,
    WorkflowStepResult,
};
pub use sketch::{DurationSketch, SKETCH_RELATIVE_ACCURACY, SketchError};
pub use timestamp::Timestamp;

/// A JSON column (JSONB on PostgreSQL, TEXT on SQLite).
pub type Json = sqlx::types::Json<serde_json::Value>;

/// Wraps a JSON value for a JSON column.
pub fn json(value: serde_json::Value) -> Json {
    sqlx::types::Json(value)
}

/// Every record type, for code that must visit all tables (schema check, statistics).
pub const ALL_TABLES: &[(&str, &[Column])] = &[
    (MonitoringReport::TABLE, MonitoringReport::COLUMNS),
    (WorkflowExecution::TABLE, WorkflowExecution::COLUMNS),
    (WorkflowStepResult::TABLE, WorkflowStepResult::COLUMNS),
    (WorkflowMetric::TABLE, WorkflowMetric::COLUMNS),
    (SystemHealthCheck::TABLE, SystemHealthCheck::COLUMNS),
    (NotificationLog::TABLE, NotificationLog::COLUMNS),
    (WorkflowSchedule::TABLE, WorkflowSchedule::COLUMNS),
    (Alert::TABLE, Alert::COLUMNS),
    (WorkflowRollup::TABLE, WorkflowRollup::COLUMNS),
    (ApiToken::TABLE, ApiToken::COLUMNS),
    (DashboardUser::TABLE, DashboardUser::COLUMNS),
    (DashboardSession::TABLE, DashboardSession::COLUMNS),
    (PruneMark::TABLE, PruneMark::COLUMNS),
];

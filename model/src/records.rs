//! The tables. Each struct is the only definition of its table's columns: the field names are
//! the column names, the JSON API gets camelCase names from the same struct, and the store
//! builds every INSERT, SELECT and schema check from `Record::COLUMNS`.
//!
//! The first six are the legacy bot's tables (kept with their names); the rest are new.

use crate::{
    AlertSeverity, AlertStatus, DeliveryStatus, ExecutionStatus, HealthStatus, Json,
    NotificationChannel, NotificationStatus, NotificationType, ReportStatus, ReportType, Role,
    RollupBucket, StepStatus, Timestamp, TriggeredBy,
};

record! {
    /// A periodic or on-demand summary of the executions in a time window.
    table = "monitoring_reports", key = report_id;
    pub struct MonitoringReport {
        pub id: String,
        pub report_id: String,
        pub start_time: Timestamp,
        pub end_time: Timestamp,
        pub total_runs: i64,
        pub successful_runs: i64,
        pub failed_runs: i64,
        pub total_duration_ms: i64,
        pub avg_duration_ms: f64,
        /// Ratio in [0, 1], never a percentage.
        pub success_rate: f64,
        pub status: ReportStatus,
        pub report_type: ReportType,
        pub generated_at: Timestamp,
        pub notified: bool,
        pub notified_at: Option<Timestamp>,
        pub metadata: Option<Json>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

record! {
    /// One attempt at running one workflow in one environment.
    table = "workflow_executions", key = run_id;
    pub struct WorkflowExecution {
        pub id: String,
        pub run_id: String,
        pub workflow_name: String,
        pub status: ExecutionStatus,
        pub started_at: Timestamp,
        pub completed_at: Option<Timestamp>,
        pub duration_ms: Option<i32>,
        /// Assertions (or JUnit test cases) that passed.
        pub tests_passed: i32,
        pub tests_failed: i32,
        pub tests_total: i32,
        pub error_message: Option<String>,
        pub error_stack: Option<String>,
        pub triggered_by: TriggeredBy,
        pub environment: String,
        pub metadata: Option<Json>,
        pub report_id: Option<String>,
        /// 1 for the first attempt, 2 for its first retry, ...
        pub attempt: i32,
        /// For a retry: the run_id of the first attempt.
        pub first_run_id: Option<String>,
        pub schedule_id: Option<String>,
        /// Which wfmon instance ran it.
        pub instance_id: Option<String>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

record! {
    /// The result of one step of an execution, with its assertions.
    table = "workflow_step_results", key = step_result_id;
    pub struct WorkflowStepResult {
        pub id: String,
        pub step_result_id: String,
        pub execution_id: String,
        pub step_name: String,
        /// Position in the workflow, from 0.
        pub step_order: i32,
        /// `http`, `command`, `health`, ...
        pub step_kind: String,
        pub status: StepStatus,
        pub started_at: Timestamp,
        pub duration_ms: i32,
        pub assertions_passed: i32,
        pub assertions_failed: i32,
        /// The first failed assertion's expression, for grouping failures by signature.
        pub failed_assertion: Option<String>,
        /// `[{expression, passed, expected, actual}]`.
        pub assertions: Option<Json>,
        /// Names (never values) of the variables this step captured.
        pub captured: Option<Json>,
        pub error_message: Option<String>,
        pub created_at: Timestamp,
    }
}

record! {
    /// One measured value of an execution (response time, total duration, user metric).
    table = "workflow_metrics", key = id;
    pub struct WorkflowMetric {
        pub id: String,
        /// The workflow's name (the legacy column name is kept).
        pub workflow_id: String,
        pub metric_name: String,
        pub metric_value: f64,
        pub metric_unit: Option<String>,
        pub threshold_value: Option<f64>,
        pub is_within_threshold: bool,
        pub recorded_at: Timestamp,
        pub tags: Option<Json>,
        pub metadata: Option<Json>,
        pub execution_id: Option<String>,
        pub created_at: Timestamp,
    }
}

record! {
    /// One probe of a health endpoint.
    table = "system_health_checks", key = check_id;
    pub struct SystemHealthCheck {
        pub id: String,
        pub check_id: String,
        pub check_name: String,
        pub status: HealthStatus,
        pub response_time_ms: i32,
        pub details: Option<Json>,
        pub checked_at: Timestamp,
        pub endpoint: Option<String>,
        pub expected_status: Option<i32>,
        pub actual_status: Option<i32>,
        pub error_message: Option<String>,
        pub metadata: Option<Json>,
        pub execution_id: Option<String>,
        pub created_at: Timestamp,
    }
}

record! {
    /// One notification: queued, attempted, delivered or given up.
    table = "notification_logs", key = log_id;
    pub struct NotificationLog {
        pub id: String,
        pub log_id: String,
        pub channel: NotificationChannel,
        pub notification_type: NotificationType,
        pub status: NotificationStatus,
        pub message: String,
        pub recipient: Option<String>,
        pub subject: Option<String>,
        pub sent_at: Timestamp,
        pub delivery_status: Option<DeliveryStatus>,
        pub error_message: Option<String>,
        pub retry_count: i32,
        pub metadata: Option<Json>,
        pub execution_id: Option<String>,
        pub report_id: Option<String>,
        pub alert_id: Option<String>,
        /// The configured channel's name (the outbox sends through it).
        pub channel_name: Option<String>,
        /// When the next delivery attempt is due (PENDING rows).
        pub next_attempt_at: Option<Timestamp>,
        /// The instance sending it now, until `claimed_until`.
        pub claimed_by: Option<String>,
        pub claimed_until: Option<Timestamp>,
        pub created_at: Timestamp,
    }
}

record! {
    /// The schedule state of one workflow in one environment.
    table = "workflow_schedules", key = schedule_id;
    pub struct WorkflowSchedule {
        pub id: String,
        pub schedule_id: String,
        pub workflow_name: String,
        pub cron_expression: String,
        pub enabled: bool,
        pub last_run_at: Option<Timestamp>,
        pub next_run_at: Option<Timestamp>,
        pub run_count: i64,
        pub failure_count: i64,
        pub success_count: i64,
        pub description: Option<String>,
        pub tags: Option<Json>,
        pub metadata: Option<Json>,
        pub environment: String,
        /// IANA time zone the cron expression is read in.
        pub timezone: String,
        /// The instance holding the claim on the next due run, if any.
        pub lease_owner: Option<String>,
        pub lease_expires_at: Option<Timestamp>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

record! {
    /// One alert episode: opened by a rule, re-triggered, acknowledged, resolved.
    table = "alerts", key = alert_id;
    pub struct Alert {
        pub id: String,
        pub alert_id: String,
        pub rule_id: String,
        pub workflow_name: String,
        pub environment: String,
        pub severity: AlertSeverity,
        pub status: AlertStatus,
        /// Rule, workflow and environment; at most one open alert per fingerprint.
        pub fingerprint: String,
        pub message: String,
        pub triggered_at: Timestamp,
        pub last_triggered_at: Timestamp,
        pub occurrences: i32,
        pub acknowledged_at: Option<Timestamp>,
        pub acknowledged_by: Option<String>,
        pub resolved_at: Option<Timestamp>,
        pub resolved_by: Option<String>,
        pub escalated_at: Option<Timestamp>,
        /// When a notification about it was last queued for delivery.
        pub last_notified_at: Option<Timestamp>,
        pub metadata: Option<Json>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

record! {
    /// Pre-aggregated executions of one workflow and environment in one minute, hour or UTC day.
    table = "workflow_rollups", key = id;
    pub struct WorkflowRollup {
        pub id: String,
        pub bucket: RollupBucket,
        pub bucket_start: Timestamp,
        pub workflow_name: String,
        pub environment: String,
        pub runs: i64,
        pub passed: i64,
        pub failed: i64,
        pub warnings: i64,
        pub duration_sum_ms: i64,
        pub duration_min_ms: Option<i64>,
        pub duration_max_ms: Option<i64>,
        /// A mergeable percentile sketch of the durations.
        pub duration_sketch: Option<Json>,
        /// Minutes of the bucket in which the workflow ran (0 or 1 for a MINUTE row).
        pub minutes_measured: i64,
        /// Of those, the minutes in which no run failed (uptime is `up / measured`).
        pub minutes_up: i64,
        pub updated_at: Timestamp,
    }
}

record! {
    /// A bearer token for the API. Only the SHA-256 hash of the token is stored; the token
    /// itself is shown once, when it is created.
    table = "api_tokens", key = token_id;
    pub struct ApiToken {
        pub id: String,
        pub token_id: String,
        /// Unique; what actions taken with the token record as "who".
        pub name: String,
        pub role: Role,
        /// Hex SHA-256 of the whole token (`wfm_...`).
        pub token_hash: String,
        pub created_at: Timestamp,
        pub last_used_at: Option<Timestamp>,
        pub expires_at: Option<Timestamp>,
        pub revoked_at: Option<Timestamp>,
    }
}

record! {
    /// A person who logs in to the dashboard.
    table = "dashboard_users", key = username;
    pub struct DashboardUser {
        pub id: String,
        pub username: String,
        pub role: Role,
        /// Argon2id in PHC string form (algorithm, parameters, salt and hash).
        pub password_hash: String,
        pub created_at: Timestamp,
        pub password_changed_at: Timestamp,
    }
}

record! {
    /// A dashboard login. Only hashes are stored: of the session id (the cookie's value) and
    /// of the session's CSRF token.
    table = "dashboard_sessions", key = session_hash;
    pub struct DashboardSession {
        pub id: String,
        /// Hex SHA-256 of the session id.
        pub session_hash: String,
        pub username: String,
        pub role: Role,
        /// Hex SHA-256 of the CSRF token state-changing requests must carry.
        pub csrf_hash: String,
        pub created_at: Timestamp,
        pub expires_at: Timestamp,
        pub last_seen_at: Timestamp,
    }
}

record! {
    /// How far `db prune` has deleted the raw rows of a table: rows of `table_name` older
    /// than `pruned_before` may be gone. The rollups of that time still count the deleted
    /// runs, so they are never rebuilt from the rows that are left.
    table = "prune_marks", key = table_name;
    pub struct PruneMark {
        pub id: String,
        /// The table pruned (`workflow_executions`).
        pub table_name: String,
        /// The latest cut-off a prune deleted rows of this table by; it never moves back.
        pub pruned_before: Timestamp,
        pub updated_at: Timestamp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;

    #[test]
    fn columns_come_from_field_names_and_types() {
        let columns = WorkflowExecution::COLUMNS;
        assert_eq!(columns[1].name, "run_id");
        let completed = columns.iter().find(|c| c.name == "completed_at").unwrap();
        assert!(completed.nullable);
        assert_eq!(completed.kind, crate::ColumnKind::Timestamp);
        let status = columns.iter().find(|c| c.name == "status").unwrap();
        assert!(!status.nullable);
        assert_eq!(status.kind, crate::ColumnKind::Text);
        assert_eq!(WorkflowExecution::KEY, "run_id");
    }

    #[test]
    fn json_is_camel_case_from_the_same_struct() {
        let now = Timestamp::now();
        let check = SystemHealthCheck {
            id: "h1".into(),
            check_id: "chk_1".into(),
            check_name: "api".into(),
            status: HealthStatus::Degraded,
            response_time_ms: 12,
            details: None,
            checked_at: now,
            endpoint: Some("http://127.0.0.1/api/health".into()),
            expected_status: Some(200),
            actual_status: Some(200),
            error_message: None,
            metadata: Some(crate::json(serde_json::json!({"a": [1, null]}))),
            execution_id: None,
            created_at: now,
        };
        let value = serde_json::to_value(&check).unwrap();
        assert_eq!(value["checkId"], "chk_1");
        assert_eq!(value["responseTimeMs"], 12);
        assert_eq!(value["status"], "DEGRADED");
        assert_eq!(value["metadata"]["a"][1], serde_json::Value::Null);
        let back: SystemHealthCheck = serde_json::from_value(value).unwrap();
        assert_eq!(back, check);
    }
}

-- wfmon's layout on SQLite: the same tables, columns and constraints as on PostgreSQL.
-- Timestamps are fixed-width UTC text (2026-01-02T03:04:05.678Z), so text order is time order.

CREATE TABLE monitoring_reports (
    id                TEXT    NOT NULL PRIMARY KEY,
    report_id         TEXT    NOT NULL UNIQUE,
    start_time        TEXT    NOT NULL,
    end_time          TEXT    NOT NULL,
    total_runs        INTEGER NOT NULL DEFAULT 0,
    successful_runs   INTEGER NOT NULL DEFAULT 0,
    failed_runs       INTEGER NOT NULL DEFAULT 0,
    total_duration_ms INTEGER NOT NULL DEFAULT 0,
    avg_duration_ms   REAL    NOT NULL DEFAULT 0,
    success_rate      REAL    NOT NULL DEFAULT 0 CHECK (success_rate >= 0 AND success_rate <= 1),
    status            TEXT    NOT NULL DEFAULT 'COMPLETED'
                      CHECK (status IN ('GENERATING', 'COMPLETED', 'FAILED')),
    report_type       TEXT    NOT NULL DEFAULT 'PERIODIC'
                      CHECK (report_type IN ('PERIODIC', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'ON_DEMAND')),
    generated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    notified          BOOLEAN NOT NULL DEFAULT 0,
    notified_at       TEXT,
    metadata          TEXT,
    created_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE workflow_executions (
    id            TEXT    NOT NULL PRIMARY KEY,
    run_id        TEXT    NOT NULL UNIQUE,
    workflow_name TEXT    NOT NULL,
    status        TEXT    NOT NULL
                  CHECK (status IN ('RUNNING', 'PASSED', 'WARNING', 'FAILED', 'TIMED_OUT', 'ABORTED', 'SKIPPED')),
    started_at    TEXT    NOT NULL,
    completed_at  TEXT,
    duration_ms   INTEGER,
    tests_passed  INTEGER NOT NULL DEFAULT 0,
    tests_failed  INTEGER NOT NULL DEFAULT 0,
    tests_total   INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    error_stack   TEXT,
    triggered_by  TEXT    NOT NULL DEFAULT 'SCHEDULED'
                  CHECK (triggered_by IN ('SCHEDULED', 'MANUAL', 'API', 'RETRY')),
    environment   TEXT    NOT NULL DEFAULT 'production',
    metadata      TEXT,
    report_id     TEXT    REFERENCES monitoring_reports (report_id) ON DELETE SET NULL ON UPDATE CASCADE,
    attempt       INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    first_run_id  TEXT    REFERENCES workflow_executions (run_id) ON DELETE SET NULL,
    schedule_id   TEXT,
    instance_id   TEXT,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX workflow_executions_workflow_env_started_idx
    ON workflow_executions (workflow_name, environment, started_at);
CREATE INDEX workflow_executions_started_at_idx ON workflow_executions (started_at);
CREATE INDEX workflow_executions_status_idx ON workflow_executions (status);
CREATE INDEX workflow_executions_report_id_idx ON workflow_executions (report_id);
CREATE INDEX workflow_executions_first_run_id_idx ON workflow_executions (first_run_id);

CREATE TABLE workflow_step_results (
    id                TEXT    NOT NULL PRIMARY KEY,
    step_result_id    TEXT    NOT NULL UNIQUE,
    execution_id      TEXT    NOT NULL REFERENCES workflow_executions (run_id) ON DELETE CASCADE,
    step_name         TEXT    NOT NULL,
    step_order        INTEGER NOT NULL,
    step_kind         TEXT    NOT NULL,
    status            TEXT    NOT NULL
                      CHECK (status IN ('PASSED', 'WARNING', 'FAILED', 'TIMED_OUT', 'SKIPPED')),
    started_at        TEXT    NOT NULL,
    duration_ms       INTEGER NOT NULL,
    assertions_passed INTEGER NOT NULL DEFAULT 0,
    assertions_failed INTEGER NOT NULL DEFAULT 0,
    failed_assertion  TEXT,
    assertions        TEXT,
    captured          TEXT,
    error_message     TEXT,
    created_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX workflow_step_results_execution_id_idx ON workflow_step_results (execution_id);
CREATE INDEX workflow_step_results_step_name_idx ON workflow_step_results (step_name, started_at);

CREATE TABLE workflow_metrics (
    id                  TEXT    NOT NULL PRIMARY KEY,
    workflow_id         TEXT    NOT NULL,
    metric_name         TEXT    NOT NULL,
    metric_value        REAL    NOT NULL,
    metric_unit         TEXT,
    threshold_value     REAL,
    is_within_threshold BOOLEAN NOT NULL DEFAULT 1,
    recorded_at         TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    tags                TEXT,
    metadata            TEXT,
    execution_id        TEXT    REFERENCES workflow_executions (run_id) ON DELETE CASCADE,
    created_at          TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX workflow_metrics_execution_id_idx ON workflow_metrics (execution_id);
CREATE INDEX workflow_metrics_workflow_metric_recorded_idx
    ON workflow_metrics (workflow_id, metric_name, recorded_at);

CREATE TABLE system_health_checks (
    id               TEXT    NOT NULL PRIMARY KEY,
    check_id         TEXT    NOT NULL UNIQUE,
    check_name       TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('HEALTHY', 'DEGRADED', 'UNHEALTHY')),
    response_time_ms INTEGER NOT NULL,
    details          TEXT,
    checked_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    endpoint         TEXT,
    expected_status  INTEGER,
    actual_status    INTEGER,
    error_message    TEXT,
    metadata         TEXT,
    execution_id     TEXT    REFERENCES workflow_executions (run_id) ON DELETE CASCADE,
    created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX system_health_checks_execution_id_idx ON system_health_checks (execution_id);
CREATE INDEX system_health_checks_name_checked_idx ON system_health_checks (check_name, checked_at);

CREATE TABLE alerts (
    id                TEXT    NOT NULL PRIMARY KEY,
    alert_id          TEXT    NOT NULL UNIQUE,
    rule_id           TEXT    NOT NULL,
    workflow_name     TEXT    NOT NULL,
    environment       TEXT    NOT NULL,
    severity          TEXT    NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    status            TEXT    NOT NULL
                      CHECK (status IN ('ACTIVE', 'ACKNOWLEDGED', 'RESOLVED', 'ESCALATED', 'SILENCED')),
    fingerprint       TEXT    NOT NULL,
    message           TEXT    NOT NULL,
    triggered_at      TEXT    NOT NULL,
    last_triggered_at TEXT    NOT NULL,
    occurrences       INTEGER NOT NULL DEFAULT 1,
    acknowledged_at   TEXT,
    acknowledged_by   TEXT,
    resolved_at       TEXT,
    resolved_by       TEXT,
    escalated_at      TEXT,
    metadata          TEXT,
    created_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX alerts_open_fingerprint_key ON alerts (fingerprint) WHERE status <> 'RESOLVED';
CREATE INDEX alerts_workflow_env_idx ON alerts (workflow_name, environment, triggered_at);

CREATE TABLE notification_logs (
    id                TEXT    NOT NULL PRIMARY KEY,
    log_id            TEXT    NOT NULL UNIQUE,
    channel           TEXT    NOT NULL
                      CHECK (channel IN ('SLACK', 'DISCORD', 'TEAMS', 'EMAIL', 'PAGERDUTY', 'WEBHOOK', 'CONSOLE', 'ALL')),
    notification_type TEXT    NOT NULL
                      CHECK (notification_type IN ('ALERT', 'RECOVERY', 'REMINDER', 'ESCALATION', 'REPORT', 'TEST')),
    status            TEXT    NOT NULL CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SUPPRESSED')),
    message           TEXT    NOT NULL,
    recipient         TEXT,
    subject           TEXT,
    sent_at           TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    delivery_status   TEXT    CHECK (delivery_status IN ('DELIVERED', 'RETRYING', 'UNDELIVERED')),
    error_message     TEXT,
    retry_count       INTEGER NOT NULL DEFAULT 0,
    metadata          TEXT,
    execution_id      TEXT    REFERENCES workflow_executions (run_id) ON DELETE SET NULL,
    report_id         TEXT    REFERENCES monitoring_reports (report_id) ON DELETE SET NULL,
    alert_id          TEXT    REFERENCES alerts (alert_id) ON DELETE SET NULL,
    created_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX notification_logs_execution_id_idx ON notification_logs (execution_id);
CREATE INDEX notification_logs_report_id_idx ON notification_logs (report_id);
CREATE INDEX notification_logs_alert_id_idx ON notification_logs (alert_id);
CREATE INDEX notification_logs_status_idx ON notification_logs (status);

CREATE TABLE workflow_schedules (
    id               TEXT    NOT NULL PRIMARY KEY,
    schedule_id      TEXT    NOT NULL UNIQUE,
    workflow_name    TEXT    NOT NULL,
    cron_expression  TEXT    NOT NULL,
    enabled          BOOLEAN NOT NULL DEFAULT 1,
    last_run_at      TEXT,
    next_run_at      TEXT,
    run_count        INTEGER NOT NULL DEFAULT 0,
    failure_count    INTEGER NOT NULL DEFAULT 0,
    success_count    INTEGER NOT NULL DEFAULT 0,
    description      TEXT,
    tags             TEXT,
    metadata         TEXT,
    environment      TEXT    NOT NULL DEFAULT 'production',
    timezone         TEXT    NOT NULL DEFAULT 'UTC',
    lease_owner      TEXT,
    lease_expires_at TEXT,
    created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX workflow_schedules_workflow_env_idx ON workflow_schedules (workflow_name, environment);
CREATE INDEX workflow_schedules_next_run_at_idx ON workflow_schedules (next_run_at);

CREATE TABLE workflow_rollups (
    id              TEXT    NOT NULL PRIMARY KEY,
    bucket          TEXT    NOT NULL CHECK (bucket IN ('MINUTE', 'HOUR')),
    bucket_start    TEXT    NOT NULL,
    workflow_name   TEXT    NOT NULL,
    environment     TEXT    NOT NULL,
    runs            INTEGER NOT NULL DEFAULT 0,
    passed          INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    warnings        INTEGER NOT NULL DEFAULT 0,
    duration_sum_ms INTEGER NOT NULL DEFAULT 0,
    duration_min_ms INTEGER,
    duration_max_ms INTEGER,
    duration_sketch TEXT,
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX workflow_rollups_bucket_key
    ON workflow_rollups (bucket, workflow_name, environment, bucket_start);
CREATE INDEX workflow_rollups_bucket_start_idx ON workflow_rollups (bucket, bucket_start);

-- updated_at is maintained here, for every update, whatever code path made it.
CREATE TRIGGER monitoring_reports_touch AFTER UPDATE ON monitoring_reports FOR EACH ROW
BEGIN
    UPDATE monitoring_reports SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER workflow_executions_touch AFTER UPDATE ON workflow_executions FOR EACH ROW
BEGIN
    UPDATE workflow_executions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER workflow_schedules_touch AFTER UPDATE ON workflow_schedules FOR EACH ROW
BEGIN
    UPDATE workflow_schedules SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER alerts_touch AFTER UPDATE ON alerts FOR EACH ROW
BEGIN
    UPDATE alerts SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER workflow_rollups_touch AFTER UPDATE ON workflow_rollups FOR EACH ROW
BEGIN
    UPDATE workflow_rollups SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;

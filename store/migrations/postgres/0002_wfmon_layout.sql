-- Upgrades the legacy baseline to wfmon's layout: UTC timestamps, closed value sets with
-- CHECK constraints (legacy spellings normalised first), ratios for success_rate, new columns
-- and tables, indexed foreign keys, no duplicate indexes, updated_at kept by the database.
-- Rows whose value is in no known spelling keep it in metadata under `legacy<Column>`.

-- 1. Timestamps: TIMESTAMP(3) holding UTC becomes TIMESTAMPTZ(3).
CREATE FUNCTION pg_temp.wfmon_to_timestamptz(tbl TEXT, col TEXT) RETURNS void AS $$
BEGIN
    EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE TIMESTAMPTZ(3) USING %I AT TIME ZONE ''UTC''',
                   tbl, col, col);
END;
$$ LANGUAGE plpgsql;

SELECT pg_temp.wfmon_to_timestamptz(t, c) FROM (VALUES
    ('monitoring_reports', 'start_time'), ('monitoring_reports', 'end_time'),
    ('monitoring_reports', 'generated_at'), ('monitoring_reports', 'notified_at'),
    ('monitoring_reports', 'created_at'), ('monitoring_reports', 'updated_at'),
    ('workflow_executions', 'started_at'), ('workflow_executions', 'completed_at'),
    ('workflow_executions', 'created_at'), ('workflow_executions', 'updated_at'),
    ('workflow_metrics', 'recorded_at'), ('workflow_metrics', 'created_at'),
    ('system_health_checks', 'checked_at'), ('system_health_checks', 'created_at'),
    ('notification_logs', 'sent_at'), ('notification_logs', 'created_at'),
    ('workflow_schedules', 'last_run_at'), ('workflow_schedules', 'next_run_at'),
    ('workflow_schedules', 'created_at'), ('workflow_schedules', 'updated_at')
) AS cols (t, c);

ALTER TABLE monitoring_reports ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE workflow_executions ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE workflow_schedules ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;

-- 2. Counters that a long window or a long-lived schedule can push past 2^31.
ALTER TABLE monitoring_reports
    ALTER COLUMN total_runs TYPE BIGINT,
    ALTER COLUMN successful_runs TYPE BIGINT,
    ALTER COLUMN failed_runs TYPE BIGINT,
    ALTER COLUMN total_duration_ms TYPE BIGINT;
ALTER TABLE workflow_schedules
    ALTER COLUMN run_count TYPE BIGINT,
    ALTER COLUMN failure_count TYPE BIGINT,
    ALTER COLUMN success_count TYPE BIGINT;

-- 3. Value normalisation. Each function maps every accepted spelling (any case) to the
-- canonical value, or NULL when the value is unknown.

-- The text the normalisers match on, read the way the Rust parsers read it (`trim`, then
-- `to_ascii_uppercase`): ASCII whitespace around it ignored, and upper-cased in the "C"
-- collation, because in the database's own one it may not be ASCII (Turkish: 'skipped' gives
-- 'SKİPPED').
CREATE FUNCTION pg_temp.wfmon_key(v TEXT) RETURNS TEXT AS $$
    SELECT upper(btrim(v, E' \t\n\r\f\x0B') COLLATE "C")
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_execution_status(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'RUNNING' THEN 'RUNNING' WHEN 'IN_PROGRESS' THEN 'RUNNING'
        WHEN 'STARTED' THEN 'RUNNING' WHEN 'PENDING' THEN 'RUNNING'
        WHEN 'PASSED' THEN 'PASSED' WHEN 'SUCCESS' THEN 'PASSED' WHEN 'SUCCEEDED' THEN 'PASSED'
        WHEN 'PASS' THEN 'PASSED' WHEN 'OK' THEN 'PASSED'
        WHEN 'WARNING' THEN 'WARNING' WHEN 'WARN' THEN 'WARNING' WHEN 'DEGRADED' THEN 'WARNING'
        WHEN 'FAILED' THEN 'FAILED' WHEN 'FAILURE' THEN 'FAILED' WHEN 'FAIL' THEN 'FAILED'
        WHEN 'ERROR' THEN 'FAILED'
        WHEN 'TIMED_OUT' THEN 'TIMED_OUT' WHEN 'TIMEOUT' THEN 'TIMED_OUT'
        WHEN 'ABORTED' THEN 'ABORTED' WHEN 'CANCELLED' THEN 'ABORTED' WHEN 'CANCELED' THEN 'ABORTED'
        WHEN 'INTERRUPTED' THEN 'ABORTED'
        WHEN 'SKIPPED' THEN 'SKIPPED' WHEN 'SKIP' THEN 'SKIPPED'
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_triggered_by(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'SCHEDULED' THEN 'SCHEDULED' WHEN 'SCHEDULE' THEN 'SCHEDULED' WHEN 'CRON' THEN 'SCHEDULED'
        WHEN 'MANUAL' THEN 'MANUAL' WHEN 'API' THEN 'API' WHEN 'RETRY' THEN 'RETRY'
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_health_status(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'HEALTHY' THEN 'HEALTHY' WHEN 'UP' THEN 'HEALTHY' WHEN 'OK' THEN 'HEALTHY'
        WHEN 'PASSED' THEN 'HEALTHY'
        WHEN 'DEGRADED' THEN 'DEGRADED' WHEN 'WARNING' THEN 'DEGRADED'
        WHEN 'UNHEALTHY' THEN 'UNHEALTHY' WHEN 'DOWN' THEN 'UNHEALTHY' WHEN 'FAILED' THEN 'UNHEALTHY'
        WHEN 'ERROR' THEN 'UNHEALTHY'
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_report_status(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'GENERATING' THEN 'GENERATING'
        WHEN 'COMPLETED' THEN 'COMPLETED' WHEN 'COMPLETE' THEN 'COMPLETED' WHEN 'DONE' THEN 'COMPLETED'
        WHEN 'FAILED' THEN 'FAILED'
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_report_type(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'PERIODIC' THEN 'PERIODIC' WHEN 'HOURLY' THEN 'HOURLY' WHEN 'DAILY' THEN 'DAILY'
        WHEN 'WEEKLY' THEN 'WEEKLY' WHEN 'MONTHLY' THEN 'MONTHLY'
        WHEN 'ON_DEMAND' THEN 'ON_DEMAND' WHEN 'MANUAL' THEN 'ON_DEMAND'
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_channel(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'SLACK' THEN 'SLACK' WHEN 'DISCORD' THEN 'DISCORD'
        WHEN 'TEAMS' THEN 'TEAMS' WHEN 'MSTEAMS' THEN 'TEAMS'
        WHEN 'EMAIL' THEN 'EMAIL' WHEN 'SMTP' THEN 'EMAIL'
        WHEN 'PAGERDUTY' THEN 'PAGERDUTY' WHEN 'WEBHOOK' THEN 'WEBHOOK'
        WHEN 'CONSOLE' THEN 'CONSOLE' WHEN 'LOG' THEN 'CONSOLE' WHEN 'ALL' THEN 'ALL'
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_notification_type(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'ALERT' THEN 'ALERT' WHEN 'FAILURE' THEN 'ALERT' WHEN 'WORKFLOW_FAILURE' THEN 'ALERT'
        WHEN 'ERROR' THEN 'ALERT'
        WHEN 'RECOVERY' THEN 'RECOVERY' WHEN 'RESOLVED' THEN 'RECOVERY' WHEN 'RECOVERED' THEN 'RECOVERY'
        WHEN 'REMINDER' THEN 'REMINDER' WHEN 'ESCALATION' THEN 'ESCALATION'
        WHEN 'REPORT' THEN 'REPORT' WHEN 'SUMMARY' THEN 'REPORT' WHEN 'PERIODIC_REPORT' THEN 'REPORT'
        WHEN 'TEST' THEN 'TEST'
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_notification_status(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'PENDING' THEN 'PENDING' WHEN 'QUEUED' THEN 'PENDING'
        WHEN 'SENT' THEN 'SENT' WHEN 'SUCCESS' THEN 'SENT' WHEN 'DELIVERED' THEN 'SENT'
        WHEN 'FAILED' THEN 'FAILED' WHEN 'FAILURE' THEN 'FAILED' WHEN 'ERROR' THEN 'FAILED'
        WHEN 'SUPPRESSED' THEN 'SUPPRESSED' WHEN 'SILENCED' THEN 'SUPPRESSED'
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION pg_temp.wfmon_delivery_status(v TEXT) RETURNS TEXT AS $$
    SELECT CASE pg_temp.wfmon_key(v)
        WHEN 'DELIVERED' THEN 'DELIVERED' WHEN 'SUCCESS' THEN 'DELIVERED'
        WHEN 'RETRYING' THEN 'RETRYING'
        WHEN 'UNDELIVERED' THEN 'UNDELIVERED' WHEN 'FAILED' THEN 'UNDELIVERED'
    END
$$ LANGUAGE sql IMMUTABLE;

-- Adds `extra` to a row's metadata. Metadata that is not a JSON object (an array or a scalar
-- the bot stored) is kept whole under `legacyMetadata` rather than merged into.
CREATE FUNCTION pg_temp.wfmon_note(metadata JSONB, extra JSONB) RETURNS JSONB AS $$
    SELECT CASE
        WHEN metadata IS NULL OR jsonb_typeof(metadata) = 'null' THEN extra
        WHEN jsonb_typeof(metadata) = 'object' THEN metadata || extra
        ELSE jsonb_build_object('legacyMetadata', metadata) || extra
    END
$$ LANGUAGE sql IMMUTABLE;

-- Rewrites one column with its normaliser; unknown values become `fallback` and the original
-- text is kept in metadata.legacy<Key>.
CREATE FUNCTION pg_temp.wfmon_normalise(tbl TEXT, col TEXT, fn TEXT, fallback TEXT, legacy_key TEXT)
RETURNS void AS $$
BEGIN
    EXECUTE format(
        'UPDATE %1$I SET metadata = CASE WHEN %3$s(%2$I) IS NULL AND %2$I IS NOT NULL '
        '    THEN pg_temp.wfmon_note(metadata, jsonb_build_object(%5$L, %2$I)) ELSE metadata END, '
        '  %2$I = coalesce(%3$s(%2$I), %4$L) '
        'WHERE %2$I IS DISTINCT FROM coalesce(%3$s(%2$I), %4$L)',
        tbl, col, fn, fallback, legacy_key);
END;
$$ LANGUAGE plpgsql;

SELECT pg_temp.wfmon_normalise('workflow_executions', 'status', 'pg_temp.wfmon_execution_status', 'FAILED', 'legacyStatus');
SELECT pg_temp.wfmon_normalise('workflow_executions', 'triggered_by', 'pg_temp.wfmon_triggered_by', 'SCHEDULED', 'legacyTriggeredBy');
SELECT pg_temp.wfmon_normalise('system_health_checks', 'status', 'pg_temp.wfmon_health_status', 'UNHEALTHY', 'legacyStatus');
SELECT pg_temp.wfmon_normalise('monitoring_reports', 'status', 'pg_temp.wfmon_report_status', 'COMPLETED', 'legacyStatus');
SELECT pg_temp.wfmon_normalise('monitoring_reports', 'report_type', 'pg_temp.wfmon_report_type', 'PERIODIC', 'legacyReportType');
SELECT pg_temp.wfmon_normalise('notification_logs', 'channel', 'pg_temp.wfmon_channel', 'ALL', 'legacyChannel');
SELECT pg_temp.wfmon_normalise('notification_logs', 'notification_type', 'pg_temp.wfmon_notification_type', 'ALERT', 'legacyNotificationType');
SELECT pg_temp.wfmon_normalise('notification_logs', 'status', 'pg_temp.wfmon_notification_status', 'FAILED', 'legacyStatus');
-- delivery_status is nullable: an unknown value becomes NULL (and is kept in metadata).
UPDATE notification_logs
SET metadata = pg_temp.wfmon_note(metadata, jsonb_build_object('legacyDeliveryStatus', delivery_status)),
    delivery_status = NULL
WHERE delivery_status IS NOT NULL AND pg_temp.wfmon_delivery_status(delivery_status) IS NULL;
UPDATE notification_logs SET delivery_status = pg_temp.wfmon_delivery_status(delivery_status)
WHERE delivery_status IS DISTINCT FROM pg_temp.wfmon_delivery_status(delivery_status);

-- success_rate becomes a ratio: recomputed from the counts where there are runs, otherwise a
-- value above 1 is read as a percentage.
UPDATE monitoring_reports
SET success_rate = LEAST(1, GREATEST(0, CASE
        WHEN total_runs > 0 THEN successful_runs::double precision / total_runs
        WHEN success_rate > 1 THEN success_rate / 100
        ELSE success_rate END))
WHERE success_rate IS DISTINCT FROM LEAST(1, GREATEST(0, CASE
        WHEN total_runs > 0 THEN successful_runs::double precision / total_runs
        WHEN success_rate > 1 THEN success_rate / 100
        ELSE success_rate END));

-- 4. Closed sets.
ALTER TABLE monitoring_reports
    ADD CONSTRAINT monitoring_reports_success_rate_check CHECK (success_rate >= 0 AND success_rate <= 1),
    ADD CONSTRAINT monitoring_reports_status_check CHECK (status IN ('GENERATING', 'COMPLETED', 'FAILED')),
    ADD CONSTRAINT monitoring_reports_report_type_check
        CHECK (report_type IN ('PERIODIC', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'ON_DEMAND'));
ALTER TABLE workflow_executions
    ADD CONSTRAINT workflow_executions_status_check
        CHECK (status IN ('RUNNING', 'PASSED', 'WARNING', 'FAILED', 'TIMED_OUT', 'ABORTED', 'SKIPPED')),
    ADD CONSTRAINT workflow_executions_triggered_by_check
        CHECK (triggered_by IN ('SCHEDULED', 'MANUAL', 'API', 'RETRY'));
ALTER TABLE system_health_checks
    ADD CONSTRAINT system_health_checks_status_check CHECK (status IN ('HEALTHY', 'DEGRADED', 'UNHEALTHY'));
ALTER TABLE notification_logs
    ADD CONSTRAINT notification_logs_channel_check
        CHECK (channel IN ('SLACK', 'DISCORD', 'TEAMS', 'EMAIL', 'PAGERDUTY', 'WEBHOOK', 'CONSOLE', 'ALL')),
    ADD CONSTRAINT notification_logs_notification_type_check
        CHECK (notification_type IN ('ALERT', 'RECOVERY', 'REMINDER', 'ESCALATION', 'REPORT', 'TEST')),
    ADD CONSTRAINT notification_logs_status_check CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SUPPRESSED')),
    ADD CONSTRAINT notification_logs_delivery_status_check
        CHECK (delivery_status IN ('DELIVERED', 'RETRYING', 'UNDELIVERED'));

-- 5. New columns.
ALTER TABLE workflow_executions
    ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CONSTRAINT workflow_executions_attempt_check CHECK (attempt >= 1),
    ADD COLUMN first_run_id TEXT,
    ADD COLUMN schedule_id TEXT,
    ADD COLUMN instance_id TEXT;
ALTER TABLE workflow_schedules
    ADD COLUMN environment TEXT NOT NULL DEFAULT 'production',
    ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC',
    ADD COLUMN lease_owner TEXT,
    ADD COLUMN lease_expires_at TIMESTAMPTZ(3);
ALTER TABLE notification_logs ADD COLUMN alert_id TEXT;

-- 6. New tables.
CREATE TABLE workflow_step_results (
    id                TEXT        NOT NULL PRIMARY KEY,
    step_result_id    TEXT        NOT NULL CONSTRAINT workflow_step_results_step_result_id_key UNIQUE,
    execution_id      TEXT        NOT NULL REFERENCES workflow_executions (run_id) ON DELETE CASCADE ON UPDATE CASCADE,
    step_name         TEXT        NOT NULL,
    step_order        INTEGER     NOT NULL,
    step_kind         TEXT        NOT NULL,
    status            TEXT        NOT NULL
                      CHECK (status IN ('PASSED', 'WARNING', 'FAILED', 'TIMED_OUT', 'SKIPPED')),
    started_at        TIMESTAMPTZ(3) NOT NULL,
    duration_ms       INTEGER     NOT NULL,
    assertions_passed INTEGER     NOT NULL DEFAULT 0,
    assertions_failed INTEGER     NOT NULL DEFAULT 0,
    failed_assertion  TEXT,
    assertions        JSONB,
    captured          JSONB,
    error_message     TEXT,
    created_at        TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE alerts (
    id                TEXT        NOT NULL PRIMARY KEY,
    alert_id          TEXT        NOT NULL CONSTRAINT alerts_alert_id_key UNIQUE,
    rule_id           TEXT        NOT NULL,
    workflow_name     TEXT        NOT NULL,
    environment       TEXT        NOT NULL,
    severity          TEXT        NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    status            TEXT        NOT NULL
                      CHECK (status IN ('ACTIVE', 'ACKNOWLEDGED', 'RESOLVED', 'ESCALATED', 'SILENCED')),
    fingerprint       TEXT        NOT NULL,
    message           TEXT        NOT NULL,
    triggered_at      TIMESTAMPTZ(3) NOT NULL,
    last_triggered_at TIMESTAMPTZ(3) NOT NULL,
    occurrences       INTEGER     NOT NULL DEFAULT 1,
    acknowledged_at   TIMESTAMPTZ(3),
    acknowledged_by   TEXT,
    resolved_at       TIMESTAMPTZ(3),
    resolved_by       TEXT,
    escalated_at      TIMESTAMPTZ(3),
    metadata          JSONB,
    created_at        TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at        TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE workflow_rollups (
    id              TEXT        NOT NULL PRIMARY KEY,
    bucket          TEXT        NOT NULL CHECK (bucket IN ('MINUTE', 'HOUR')),
    bucket_start    TIMESTAMPTZ(3) NOT NULL,
    workflow_name   TEXT        NOT NULL,
    environment     TEXT        NOT NULL,
    runs            BIGINT      NOT NULL DEFAULT 0,
    passed          BIGINT      NOT NULL DEFAULT 0,
    failed          BIGINT      NOT NULL DEFAULT 0,
    warnings        BIGINT      NOT NULL DEFAULT 0,
    duration_sum_ms BIGINT      NOT NULL DEFAULT 0,
    duration_min_ms BIGINT,
    duration_max_ms BIGINT,
    duration_sketch JSONB,
    updated_at      TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- 7. Foreign keys of the new columns.
ALTER TABLE workflow_executions ADD CONSTRAINT workflow_executions_first_run_id_fkey
    FOREIGN KEY (first_run_id) REFERENCES workflow_executions (run_id) ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE notification_logs ADD CONSTRAINT notification_logs_alert_id_fkey
    FOREIGN KEY (alert_id) REFERENCES alerts (alert_id) ON DELETE SET NULL ON UPDATE CASCADE;

-- 8. Indexes: every foreign key, the lookups wfmon makes, then no duplicates.
CREATE INDEX IF NOT EXISTS workflow_executions_workflow_env_started_idx
    ON workflow_executions (workflow_name, environment, started_at);
CREATE INDEX IF NOT EXISTS workflow_executions_started_at_idx ON workflow_executions (started_at);
CREATE INDEX IF NOT EXISTS workflow_executions_status_idx ON workflow_executions (status);
CREATE INDEX IF NOT EXISTS workflow_executions_report_id_idx ON workflow_executions (report_id);
CREATE INDEX IF NOT EXISTS workflow_executions_first_run_id_idx ON workflow_executions (first_run_id);
CREATE INDEX IF NOT EXISTS workflow_step_results_execution_id_idx ON workflow_step_results (execution_id);
CREATE INDEX IF NOT EXISTS workflow_step_results_step_name_idx ON workflow_step_results (step_name, started_at);
CREATE INDEX IF NOT EXISTS workflow_metrics_execution_id_idx ON workflow_metrics (execution_id);
CREATE INDEX IF NOT EXISTS workflow_metrics_workflow_metric_recorded_idx
    ON workflow_metrics (workflow_id, metric_name, recorded_at);
CREATE INDEX IF NOT EXISTS system_health_checks_execution_id_idx ON system_health_checks (execution_id);
CREATE INDEX IF NOT EXISTS system_health_checks_name_checked_idx ON system_health_checks (check_name, checked_at);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open_fingerprint_key ON alerts (fingerprint) WHERE status <> 'RESOLVED';
CREATE INDEX IF NOT EXISTS alerts_workflow_env_idx ON alerts (workflow_name, environment, triggered_at);
CREATE INDEX IF NOT EXISTS notification_logs_execution_id_idx ON notification_logs (execution_id);
CREATE INDEX IF NOT EXISTS notification_logs_report_id_idx ON notification_logs (report_id);
CREATE INDEX IF NOT EXISTS notification_logs_alert_id_idx ON notification_logs (alert_id);
CREATE INDEX IF NOT EXISTS notification_logs_status_idx ON notification_logs (status);
CREATE INDEX IF NOT EXISTS workflow_schedules_workflow_env_idx ON workflow_schedules (workflow_name, environment);
CREATE INDEX IF NOT EXISTS workflow_schedules_next_run_at_idx ON workflow_schedules (next_run_at);
CREATE UNIQUE INDEX IF NOT EXISTS workflow_rollups_bucket_key
    ON workflow_rollups (bucket, workflow_name, environment, bucket_start);
CREATE INDEX IF NOT EXISTS workflow_rollups_bucket_start_idx ON workflow_rollups (bucket, bucket_start);

-- A plain index on exactly the columns (and predicate) of another index is redundant: the
-- legacy layout had one beside every unique business key. Keep unique and constraint-backed
-- indexes, and of equal plain ones the first by name.
DO $$
DECLARE
    dup RECORD;
BEGIN
    FOR dup IN
        SELECT i.indexrelid::regclass AS name
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema()
          AND NOT i.indisunique
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
          AND EXISTS (
              SELECT 1 FROM pg_index o
              WHERE o.indrelid = i.indrelid
                AND o.indexrelid <> i.indexrelid
                AND o.indkey::text = i.indkey::text
                AND o.indclass::text = i.indclass::text
                AND coalesce(pg_get_expr(o.indpred, o.indrelid), '') = coalesce(pg_get_expr(i.indpred, i.indrelid), '')
                AND coalesce(pg_get_expr(o.indexprs, o.indrelid), '') = coalesce(pg_get_expr(i.indexprs, i.indrelid), '')
                AND (o.indisunique OR o.indexrelid::regclass::text < i.indexrelid::regclass::text)
          )
    LOOP
        EXECUTE format('DROP INDEX %s', dup.name);
    END LOOP;
END;
$$;

-- 9. updated_at is set by the database on every update, whatever code path made it.
CREATE OR REPLACE FUNCTION wfmon_touch_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at := CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER monitoring_reports_touch BEFORE UPDATE ON monitoring_reports
    FOR EACH ROW EXECUTE FUNCTION wfmon_touch_updated_at();
CREATE TRIGGER workflow_executions_touch BEFORE UPDATE ON workflow_executions
    FOR EACH ROW EXECUTE FUNCTION wfmon_touch_updated_at();
CREATE TRIGGER workflow_schedules_touch BEFORE UPDATE ON workflow_schedules
    FOR EACH ROW EXECUTE FUNCTION wfmon_touch_updated_at();
CREATE TRIGGER alerts_touch BEFORE UPDATE ON alerts
    FOR EACH ROW EXECUTE FUNCTION wfmon_touch_updated_at();
CREATE TRIGGER workflow_rollups_touch BEFORE UPDATE ON workflow_rollups
    FOR EACH ROW EXECUTE FUNCTION wfmon_touch_updated_at();

-- The six tables as the TypeScript bot's Prisma migration created them. On a database that
-- already has them (adoption) every statement here is a no-op; on an empty database it lays
-- the same baseline, so that fresh and adopted databases take one upgrade path (0002).

CREATE TABLE IF NOT EXISTS "monitoring_reports" (
    "id" TEXT NOT NULL,
    "report_id" VARCHAR(255) NOT NULL,
    "start_time" TIMESTAMP(3) NOT NULL,
    "end_time" TIMESTAMP(3) NOT NULL,
    "total_runs" INTEGER NOT NULL DEFAULT 0,
    "successful_runs" INTEGER NOT NULL DEFAULT 0,
    "failed_runs" INTEGER NOT NULL DEFAULT 0,
    "total_duration_ms" INTEGER NOT NULL DEFAULT 0,
    "avg_duration_ms" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "success_rate" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL DEFAULT 'COMPLETED',
    "report_type" TEXT NOT NULL DEFAULT 'PERIODIC',
    "generated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "notified" BOOLEAN NOT NULL DEFAULT false,
    "notified_at" TIMESTAMP(3),
    "metadata" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "monitoring_reports_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS "workflow_executions" (
    "id" TEXT NOT NULL,
    "run_id" VARCHAR(255) NOT NULL,
    "workflow_name" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "started_at" TIMESTAMP(3) NOT NULL,
    "completed_at" TIMESTAMP(3),
    "duration_ms" INTEGER,
    "tests_passed" INTEGER NOT NULL DEFAULT 0,
    "tests_failed" INTEGER NOT NULL DEFAULT 0,
    "tests_total" INTEGER NOT NULL DEFAULT 0,
    "error_message" TEXT,
    "error_stack" TEXT,
    "triggered_by" TEXT NOT NULL DEFAULT 'SCHEDULED',
    "environment" TEXT NOT NULL DEFAULT 'production',
    "metadata" JSONB,
    "report_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "workflow_executions_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS "workflow_metrics" (
    "id" TEXT NOT NULL,
    "workflow_id" VARCHAR(255) NOT NULL,
    "metric_name" TEXT NOT NULL,
    "metric_value" DOUBLE PRECISION NOT NULL,
    "metric_unit" TEXT,
    "threshold_value" DOUBLE PRECISION,
    "is_within_threshold" BOOLEAN NOT NULL DEFAULT true,
    "recorded_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "tags" JSONB,
    "metadata" JSONB,
    "execution_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "workflow_metrics_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS "system_health_checks" (
    "id" TEXT NOT NULL,
    "check_id" TEXT NOT NULL,
    "check_name" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "response_time_ms" INTEGER NOT NULL,
    "details" JSONB,
    "checked_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endpoint" TEXT,
    "expected_status" INTEGER,
    "actual_status" INTEGER,
    "error_message" TEXT,
    "metadata" JSONB,
    "execution_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "system_health_checks_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS "notification_logs" (
    "id" TEXT NOT NULL,
    "log_id" VARCHAR(255) NOT NULL,
    "channel" TEXT NOT NULL,
    "notification_type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "recipient" TEXT,
    "subject" TEXT,
    "sent_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivery_status" TEXT,
    "error_message" TEXT,
    "retry_count" INTEGER NOT NULL DEFAULT 0,
    "metadata" JSONB,
    "execution_id" TEXT,
    "report_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notification_logs_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS "workflow_schedules" (
    "id" TEXT NOT NULL,
    "schedule_id" VARCHAR(255) NOT NULL,
    "workflow_name" TEXT NOT NULL,
    "cron_expression" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "last_run_at" TIMESTAMP(3),
    "next_run_at" TIMESTAMP(3),
    "run_count" INTEGER NOT NULL DEFAULT 0,
    "failure_count" INTEGER NOT NULL DEFAULT 0,
    "success_count" INTEGER NOT NULL DEFAULT 0,
    "description" TEXT,
    "tags" JSONB,
    "metadata" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "workflow_schedules_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX IF NOT EXISTS "monitoring_reports_report_id_key" ON "monitoring_reports"("report_id");
CREATE UNIQUE INDEX IF NOT EXISTS "workflow_executions_run_id_key" ON "workflow_executions"("run_id");
CREATE UNIQUE INDEX IF NOT EXISTS "system_health_checks_check_id_key" ON "system_health_checks"("check_id");
CREATE UNIQUE INDEX IF NOT EXISTS "notification_logs_log_id_key" ON "notification_logs"("log_id");
CREATE UNIQUE INDEX IF NOT EXISTS "workflow_schedules_schedule_id_key" ON "workflow_schedules"("schedule_id");

-- Foreign keys, added only where the table has none on that column yet (an adopted
-- database has them under Prisma's names already).
CREATE FUNCTION pg_temp.wfmon_add_fk(tbl TEXT, col TEXT, ref TEXT, rules TEXT) RETURNS void AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.contype = 'f' AND c.conrelid = tbl::regclass AND a.attname = col
    ) THEN
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s %s',
                       tbl, tbl || '_' || col || '_fkey', col, ref, rules);
    END IF;
END;
$$ LANGUAGE plpgsql;

SELECT pg_temp.wfmon_add_fk('workflow_executions', 'report_id', 'monitoring_reports (report_id)',
                            'ON DELETE SET NULL ON UPDATE CASCADE');
SELECT pg_temp.wfmon_add_fk('workflow_metrics', 'execution_id', 'workflow_executions (run_id)',
                            'ON DELETE CASCADE ON UPDATE CASCADE');
SELECT pg_temp.wfmon_add_fk('system_health_checks', 'execution_id', 'workflow_executions (run_id)',
                            'ON DELETE CASCADE ON UPDATE CASCADE');
SELECT pg_temp.wfmon_add_fk('notification_logs', 'execution_id', 'workflow_executions (run_id)',
                            'ON DELETE SET NULL ON UPDATE CASCADE');
SELECT pg_temp.wfmon_add_fk('notification_logs', 'report_id', 'monitoring_reports (report_id)',
                            'ON DELETE SET NULL ON UPDATE CASCADE');

-- Recording cost: secondary indexes on the tables written with every run are kept only where a
-- query uses them (the PostgreSQL migration 0005 explains each).
DROP INDEX IF EXISTS workflow_step_results_step_name_idx;
DROP INDEX IF EXISTS workflow_executions_status_idx;
CREATE INDEX workflow_executions_running_idx ON workflow_executions (started_at)
    WHERE status = 'RUNNING';
DROP INDEX IF EXISTS system_health_checks_name_checked_idx;
CREATE INDEX system_health_checks_checked_at_idx ON system_health_checks (checked_at);

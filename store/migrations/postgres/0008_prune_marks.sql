-- How far `db prune` has deleted raw rows. Rollups outlive the raw rows they count, so a
-- rebuild must never recount a day whose runs were pruned (completely or in part): it would
-- replace the counts of the deleted runs with counts of nothing. Every prune that deletes
-- executions moves `pruned_before` forward to its cut-off, in the transaction that deletes
-- them; `db rebuild-rollups` leaves alone every UTC day that starts before the first whole
-- day after it.
CREATE TABLE prune_marks (
    id            TEXT           NOT NULL PRIMARY KEY,
    table_name    TEXT           NOT NULL CONSTRAINT prune_marks_table_name_key UNIQUE,
    pruned_before TIMESTAMPTZ(3) NOT NULL,
    updated_at    TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- A database pruned before this version has no mark: its last day whose DAY rollup counts
-- more runs than its executions still hold was pruned, and so were the days before it.
INSERT INTO prune_marks (id, table_name, pruned_before)
SELECT 'pm_workflow_executions', 'workflow_executions', MAX(d.bucket_start + INTERVAL '1 day')
FROM workflow_rollups AS d
WHERE d.bucket = 'DAY' AND d.runs > (
    SELECT COUNT(*) FROM workflow_executions AS e
    WHERE e.workflow_name = d.workflow_name AND e.environment = d.environment
      AND e.started_at >= d.bucket_start AND e.started_at < d.bucket_start + INTERVAL '1 day'
      AND e.status NOT IN ('RUNNING', 'SKIPPED'))
HAVING MAX(d.bucket_start + INTERVAL '1 day') IS NOT NULL;

-- The legacy bot stored a negative duration for a run whose clock went back (completed
-- before it started); wfmon never writes one, and averages over it come out negative. The
-- duration of such a run is unknown. Like the normalisations of adoption, this keeps the
-- row's updated_at.
ALTER TABLE workflow_executions DISABLE TRIGGER workflow_executions_touch;
UPDATE workflow_executions SET duration_ms = NULL WHERE duration_ms < 0;
ALTER TABLE workflow_executions ENABLE TRIGGER workflow_executions_touch;

-- How far `db prune` has deleted raw rows. Rollups outlive the raw rows they count, so a
-- rebuild must never recount a day whose runs were pruned (completely or in part): it would
-- replace the counts of the deleted runs with counts of nothing. Every prune that deletes
-- executions moves `pruned_before` forward to its cut-off, in the transaction that deletes
-- them; `db rebuild-rollups` leaves alone every UTC day that starts before the first whole
-- day after it.
CREATE TABLE prune_marks (
    id            TEXT NOT NULL PRIMARY KEY,
    table_name    TEXT NOT NULL UNIQUE,
    pruned_before TEXT NOT NULL,
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- A database pruned before this version has no mark: its last day whose DAY rollup counts
-- more runs than its executions still hold was pruned, and so were the days before it.
INSERT INTO prune_marks (id, table_name, pruned_before)
SELECT 'pm_workflow_executions', 'workflow_executions', MAX(day_end)
FROM (
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', d.bucket_start, '+1 day') AS day_end
    FROM workflow_rollups AS d
    WHERE d.bucket = 'DAY' AND d.runs > (
        SELECT COUNT(*) FROM workflow_executions AS e
        WHERE e.workflow_name = d.workflow_name AND e.environment = d.environment
          AND e.started_at >= d.bucket_start
          AND e.started_at < strftime('%Y-%m-%dT%H:%M:%fZ', d.bucket_start, '+1 day')
          AND e.status NOT IN ('RUNNING', 'SKIPPED'))
) AS pruned
HAVING MAX(day_end) IS NOT NULL;

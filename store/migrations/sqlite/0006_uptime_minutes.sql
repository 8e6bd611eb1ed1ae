-- Uptime from the widest rollup rows: every row counts the minutes of its bucket in which the
-- workflow ran (`minutes_measured`) and, of those, the minutes in which no run failed
-- (`minutes_up`); a MINUTE row holds 0 or 1 of each. Uptime over a month then reads about 30
-- DAY rows per workflow and environment instead of 43,200 MINUTE rows.
--
-- Existing rows are filled in from the MINUTE rows: the minutes themselves, their hours, then
-- the days from the hours. An hour whose MINUTE rows were already pruned counts no measured
-- minute (its uptime is unknown, not 100%).
ALTER TABLE workflow_rollups ADD COLUMN minutes_measured INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflow_rollups ADD COLUMN minutes_up INTEGER NOT NULL DEFAULT 0;
UPDATE workflow_rollups
SET minutes_measured = CASE WHEN runs > 0 THEN 1 ELSE 0 END,
    minutes_up = CASE WHEN runs > 0 AND failed = 0 THEN 1 ELSE 0 END
WHERE bucket = 'MINUTE';
UPDATE workflow_rollups
SET (minutes_measured, minutes_up) = (
    SELECT COALESCE(SUM(m.minutes_measured), 0), COALESCE(SUM(m.minutes_up), 0)
    FROM workflow_rollups AS m
    WHERE m.bucket = 'MINUTE' AND m.workflow_name = workflow_rollups.workflow_name
      AND m.environment = workflow_rollups.environment
      AND m.bucket_start >= workflow_rollups.bucket_start
      AND m.bucket_start < strftime('%Y-%m-%dT%H:%M:%fZ', workflow_rollups.bucket_start, '+1 hour'))
WHERE bucket = 'HOUR';
UPDATE workflow_rollups
SET (minutes_measured, minutes_up) = (
    SELECT COALESCE(SUM(h.minutes_measured), 0), COALESCE(SUM(h.minutes_up), 0)
    FROM workflow_rollups AS h
    WHERE h.bucket = 'HOUR' AND h.workflow_name = workflow_rollups.workflow_name
      AND h.environment = workflow_rollups.environment
      AND h.bucket_start >= workflow_rollups.bucket_start
      AND h.bucket_start < strftime('%Y-%m-%dT%H:%M:%fZ', workflow_rollups.bucket_start, '+1 day'))
WHERE bucket = 'DAY';

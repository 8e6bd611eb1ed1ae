-- Uptime from the widest rollup rows: every row counts the minutes of its bucket in which the
-- workflow ran (`minutes_measured`) and, of those, the minutes in which no run failed
-- (`minutes_up`); a MINUTE row holds 0 or 1 of each. Uptime over a month then reads about 30
-- DAY rows per workflow and environment instead of 43,200 MINUTE rows.
--
-- Existing rows are filled in from the MINUTE rows: the minutes themselves, their hours, then
-- the days from the hours. An hour whose MINUTE rows were already pruned counts no measured
-- minute (its uptime is unknown, not 100%).
ALTER TABLE workflow_rollups ADD COLUMN minutes_measured BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workflow_rollups ADD COLUMN minutes_up BIGINT NOT NULL DEFAULT 0;
UPDATE workflow_rollups
SET minutes_measured = CASE WHEN runs > 0 THEN 1 ELSE 0 END,
    minutes_up = CASE WHEN runs > 0 AND failed = 0 THEN 1 ELSE 0 END
WHERE bucket = 'MINUTE';
UPDATE workflow_rollups AS h
SET minutes_measured = m.measured, minutes_up = m.up
FROM (
    SELECT workflow_name, environment, date_trunc('hour', bucket_start, 'UTC') AS hour,
           SUM(minutes_measured) AS measured, SUM(minutes_up) AS up
    FROM workflow_rollups WHERE bucket = 'MINUTE'
    GROUP BY 1, 2, 3
) AS m
WHERE h.bucket = 'HOUR' AND h.workflow_name = m.workflow_name
  AND h.environment = m.environment AND h.bucket_start = m.hour;
UPDATE workflow_rollups AS d
SET minutes_measured = h.measured, minutes_up = h.up
FROM (
    SELECT workflow_name, environment, date_trunc('day', bucket_start, 'UTC') AS day,
           SUM(minutes_measured) AS measured, SUM(minutes_up) AS up
    FROM workflow_rollups WHERE bucket = 'HOUR'
    GROUP BY 1, 2, 3
) AS h
WHERE d.bucket = 'DAY' AND d.workflow_name = h.workflow_name
  AND d.environment = h.environment AND d.bucket_start = h.day;

-- DAY rollups: workflow_rollups also holds one row per workflow, environment and UTC day, so
-- that long windows read a row per day instead of one per hour. SQLite cannot change a CHECK
-- constraint, so the table is made again the way its documentation gives (create the new
-- table, copy the rows, drop the old one, rename, then indexes and triggers again); nothing
-- references it. The DAY rows of the existing HOUR rows are written by this migration's Rust
-- step, in the same transaction (store/src/rollups/backfill.rs).
CREATE TABLE workflow_rollups_new (
    id              TEXT    NOT NULL PRIMARY KEY,
    bucket          TEXT    NOT NULL CHECK (bucket IN ('MINUTE', 'HOUR', 'DAY')),
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
INSERT INTO workflow_rollups_new (id, bucket, bucket_start, workflow_name, environment, runs,
    passed, failed, warnings, duration_sum_ms, duration_min_ms, duration_max_ms,
    duration_sketch, updated_at)
SELECT id, bucket, bucket_start, workflow_name, environment, runs, passed, failed, warnings,
    duration_sum_ms, duration_min_ms, duration_max_ms, duration_sketch, updated_at
FROM workflow_rollups;
DROP TABLE workflow_rollups;
ALTER TABLE workflow_rollups_new RENAME TO workflow_rollups;
CREATE UNIQUE INDEX workflow_rollups_bucket_key
    ON workflow_rollups (bucket, workflow_name, environment, bucket_start);
CREATE INDEX workflow_rollups_bucket_start_idx ON workflow_rollups (bucket, bucket_start);
CREATE TRIGGER workflow_rollups_touch AFTER UPDATE ON workflow_rollups FOR EACH ROW
BEGIN
    UPDATE workflow_rollups SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;

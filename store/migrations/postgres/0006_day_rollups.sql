-- DAY rollups: workflow_rollups also holds one row per workflow, environment and UTC day, so
-- that long windows read a row per day instead of one per hour. The bucket's CHECK (declared
-- inline in migration 2, so named by PostgreSQL) is replaced by one that allows 'DAY'. The DAY
-- rows of the existing HOUR rows are written by this migration's Rust step, in the same
-- transaction (store/src/rollups/backfill.rs).
ALTER TABLE workflow_rollups DROP CONSTRAINT workflow_rollups_bucket_check;
ALTER TABLE workflow_rollups ADD CONSTRAINT workflow_rollups_bucket_check
    CHECK (bucket IN ('MINUTE', 'HOUR', 'DAY'));

-- Recording cost. The rollups of a batch are added in the database in one upsert, and the
-- duration sketches merged by the functions below (the stored form is documented in
-- model/src/sketch.rs). Secondary indexes on the tables written with every run are kept only
-- where a query uses them:
-- * workflow_step_results (step_name, started_at): no query reads steps by name; every read
--   goes through execution_id.
-- * workflow_executions (status): only the sweep looks executions up by status, and only
--   RUNNING ones, so a partial index holds just those (a completed run leaves it).
-- * system_health_checks (check_name, checked_at): no query filters by check name; the
--   overview's latest checks read a window of checked_at, which gets its own index.

DROP INDEX IF EXISTS workflow_step_results_step_name_idx;
DROP INDEX IF EXISTS workflow_executions_status_idx;
CREATE INDEX workflow_executions_running_idx ON workflow_executions (started_at)
    WHERE status = 'RUNNING';
DROP INDEX IF EXISTS system_health_checks_name_checked_idx;
CREATE INDEX system_health_checks_checked_at_idx ON system_health_checks (checked_at);

-- Whether a stored sketch is in the form `wfmon_sketch_merge` reads: version 1, a count of
-- zeros, and buckets as "<first index>[*<count>],<step>[*<count>],..." with positive steps and
-- counts. Stricter than the Rust reader on odd spellings (such as "+5"), which only means such
-- a row is counted again from raw rows.
CREATE FUNCTION wfmon_sketch_readable(sketch JSONB) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(
        jsonb_typeof(sketch) = 'object'
        AND sketch -> 'v' = '1'::jsonb
        AND jsonb_typeof(sketch -> 'z') = 'number'
        AND (sketch ->> 'z') ~ '^[0-9]{1,18}$'
        AND jsonb_typeof(sketch -> 'b') = 'string'
        AND (sketch ->> 'b') ~ '^(-?[0-9]{1,9}(\*[1-9][0-9]{0,17})?(,[1-9][0-9]{0,8}(\*[1-9][0-9]{0,17})?)*)?$',
        false)
$$;

-- The merge of two stored sketches (bucket counts added, zeros added), in the stored form;
-- NULL when either cannot be read, so that the caller counts the row again from raw rows.
CREATE FUNCTION wfmon_sketch_merge(stored JSONB, added JSONB) RETURNS JSONB
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    item TEXT;
    pos BIGINT;
    a_index BIGINT[] := '{}';
    a_count BIGINT[] := '{}';
    b_index BIGINT[] := '{}';
    b_count BIGINT[] := '{}';
    i INT := 1;
    j INT := 1;
    idx BIGINT;
    cnt BIGINT;
    prev BIGINT := 0;
    merged TEXT[] := '{}';
BEGIN
    IF stored IS NULL THEN
        RETURN added;
    ELSIF added IS NULL THEN
        RETURN stored;
    ELSIF NOT (wfmon_sketch_readable(stored) AND wfmon_sketch_readable(added)) THEN
        RETURN NULL;
    END IF;
    pos := 0;
    FOREACH item IN ARRAY string_to_array(stored ->> 'b', ',') LOOP
        pos := pos + split_part(item, '*', 1)::BIGINT;
        a_index := a_index || pos;
        a_count := a_count || COALESCE(NULLIF(split_part(item, '*', 2), ''), '1')::BIGINT;
    END LOOP;
    pos := 0;
    FOREACH item IN ARRAY string_to_array(added ->> 'b', ',') LOOP
        pos := pos + split_part(item, '*', 1)::BIGINT;
        b_index := b_index || pos;
        b_count := b_count || COALESCE(NULLIF(split_part(item, '*', 2), ''), '1')::BIGINT;
    END LOOP;
    WHILE i <= cardinality(a_index) OR j <= cardinality(b_index) LOOP
        IF j > cardinality(b_index) OR (i <= cardinality(a_index) AND a_index[i] < b_index[j]) THEN
            idx := a_index[i]; cnt := a_count[i]; i := i + 1;
        ELSIF i > cardinality(a_index) OR b_index[j] < a_index[i] THEN
            idx := b_index[j]; cnt := b_count[j]; j := j + 1;
        ELSE
            idx := a_index[i]; cnt := a_count[i] + b_count[j]; i := i + 1; j := j + 1;
        END IF;
        merged := merged || ((CASE WHEN cardinality(merged) = 0 THEN idx ELSE idx - prev END)::TEXT
            || CASE WHEN cnt = 1 THEN '' ELSE '*' || cnt::TEXT END);
        prev := idx;
    END LOOP;
    RETURN jsonb_build_object('v', 1, 'z', (stored ->> 'z')::BIGINT + (added ->> 'z')::BIGINT,
                              'b', array_to_string(merged, ','));
END;
$$;

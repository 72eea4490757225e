-- Operations: one row per failed run (written by the run-failure sensor).
CREATE TABLE IF NOT EXISTS ops_incidents (
    run_id               VARCHAR PRIMARY KEY,
    job_name             VARCHAR,
    agency_id            VARCHAR,
    partition_key        VARCHAR,
    step_key             VARCHAR,            -- the first step that failed
    error                VARCHAR,            -- the error message (our errors carry no secrets/PII)
    occurred_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged         BOOLEAN NOT NULL DEFAULT false
);

-- Source freshness per agency, refreshed by the source_freshness sensor.
CREATE TABLE IF NOT EXISTS ops_freshness (
    agency_id            VARCHAR NOT NULL,
    source               VARCHAR NOT NULL,   -- 'ecr' | 'odyssey_api'
    last_success_at      TIMESTAMPTZ,        -- last file received / last merged sync
    expected_within_hours DOUBLE NOT NULL,   -- 26 for nightly sources, 2 for hourly
    stale                BOOLEAN NOT NULL,
    reason               VARCHAR NOT NULL,
    checked_at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agency_id, source)
);

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE ops_incidents IS 'Operations: one row per failed run (written by the run-failure sensor).';
COMMENT ON COLUMN ops_incidents."run_id" IS 'The failed Dagster run.';
COMMENT ON COLUMN ops_incidents."job_name" IS 'Its job.';
COMMENT ON COLUMN ops_incidents."agency_id" IS 'Agency of the run, when partitioned.';
COMMENT ON COLUMN ops_incidents."partition_key" IS 'Partition of the run.';
COMMENT ON COLUMN ops_incidents."step_key" IS 'The first step that failed.';
COMMENT ON COLUMN ops_incidents."error" IS 'The error message (our errors carry no secrets/PII).';
COMMENT ON COLUMN ops_incidents."occurred_at" IS 'When the failure was recorded.';
COMMENT ON COLUMN ops_incidents."acknowledged" IS 'An operator acknowledged it.';
COMMENT ON TABLE ops_freshness IS 'Source freshness per agency, refreshed by the source_freshness sensor.';
COMMENT ON COLUMN ops_freshness."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN ops_freshness."source" IS '''ecr'' | ''odyssey_api''.';
COMMENT ON COLUMN ops_freshness."last_success_at" IS 'Last file received / last merged sync.';
COMMENT ON COLUMN ops_freshness."expected_within_hours" IS '26 for nightly sources, 2 for hourly.';
COMMENT ON COLUMN ops_freshness."stale" IS 'True when the source is late.';
COMMENT ON COLUMN ops_freshness."reason" IS 'Why it is (not) stale.';
COMMENT ON COLUMN ops_freshness."checked_at" IS 'When the sensor checked.';

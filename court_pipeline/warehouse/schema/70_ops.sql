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

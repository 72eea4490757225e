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

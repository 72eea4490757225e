-- Odyssey API sync bookkeeping: runs, the incremental cursor, and calls that were lost.

-- One row per sync run (one materialization of odyssey_raw_responses).
CREATE TABLE IF NOT EXISTS odyssey_sync_runs (
    agency_id            VARCHAR NOT NULL,
    sync_id              VARCHAR NOT NULL,   -- '<agency>-<UTC yyyymmddThhmmss>-<6 hex>'
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' when run by Dagster
    mode                 VARCHAR NOT NULL,   -- 'full' (hearing window) | 'incremental' (ModifiedSince)
    started_at           TIMESTAMPTZ NOT NULL,
    finished_at          TIMESTAMPTZ,
    window_from          DATE,
    window_to            DATE,
    modified_since       TIMESTAMP,          -- court local time sent as ModifiedSince (overlap applied)
    calls                INTEGER,            -- HTTP requests sent, retries included
    retries              INTEGER,
    failed_calls         INTEGER,            -- calls lost after all retries (see odyssey_failed_calls)
    pages_lost           INTEGER,            -- FindParties pages lost: the cursor does not advance
    partial              BOOLEAN,            -- true when any call was lost
    elapsed_seconds      DOUBLE,
    archive_path         VARCHAR,            -- gzip JSON lines of every raw reply
    status               VARCHAR NOT NULL,   -- 'fetched' | 'merged' | 'failed'
    error                VARCHAR,
    PRIMARY KEY (agency_id, sync_id)
);

-- Last successful ModifiedSince cursor per agency (court local time, wall clock).
CREATE TABLE IF NOT EXISTS odyssey_cursor (
    agency_id            VARCHAR NOT NULL PRIMARY KEY,
    modified_since       TIMESTAMP NOT NULL, -- start of the last run with no lost FindParties page
    sync_id              VARCHAR,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every call lost after retries; the next run re-fetches the unresolved ones first.
CREATE TABLE IF NOT EXISTS odyssey_failed_calls (
    agency_id            VARCHAR NOT NULL,
    sync_id              VARCHAR NOT NULL,
    call_kind            VARCHAR NOT NULL,   -- 'parties_page' | 'party_hearings' | 'case'
    call_key             VARCHAR NOT NULL,   -- page number, PartyID or CaseID
    error_code           VARCHAR,            -- e.g. HTTP_503, TIMEOUT, SOAP_FAULT, CASE_NOT_FOUND
    error                VARCHAR,            -- message (no secrets, no personal data)
    retryable            BOOLEAN NOT NULL,   -- false: a definite answer (not found, hostile reply)
    failed_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at          TIMESTAMPTZ,        -- set when a later run fetched it
    resolved_by_sync_id  VARCHAR,
    PRIMARY KEY (agency_id, sync_id, call_kind, call_key)
);

-- Records refused while parsing a reply (e.g. a bad date), so nothing disappears silently.
CREATE TABLE IF NOT EXISTS odyssey_rejected_records (
    agency_id            VARCHAR NOT NULL,
    sync_id              VARCHAR NOT NULL,
    record_kind          VARCHAR NOT NULL,   -- 'party' | 'hearing' | 'case'
    record_key           VARCHAR NOT NULL,
    reason               VARCHAR NOT NULL,
    rejected_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

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

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE odyssey_sync_runs IS 'One row per Odyssey API sync (one materialization of odyssey_raw_responses per agency).';
COMMENT ON COLUMN odyssey_sync_runs."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN odyssey_sync_runs."sync_id" IS '''<agency>-<UTC yyyymmddThhmmss>-<6 hex>''.';
COMMENT ON COLUMN odyssey_sync_runs."partition_key" IS '''agency|YYYY-MM-DD'' when run by Dagster.';
COMMENT ON COLUMN odyssey_sync_runs."mode" IS '''full'' (hearing window) or ''incremental'' (ModifiedSince).';
COMMENT ON COLUMN odyssey_sync_runs."started_at" IS 'When the sync started.';
COMMENT ON COLUMN odyssey_sync_runs."finished_at" IS 'When it finished.';
COMMENT ON COLUMN odyssey_sync_runs."window_from" IS 'First day of the hearing window (full syncs).';
COMMENT ON COLUMN odyssey_sync_runs."window_to" IS 'Last day of the hearing window (full syncs).';
COMMENT ON COLUMN odyssey_sync_runs."modified_since" IS 'Court local time sent as ModifiedSince (overlap applied).';
COMMENT ON COLUMN odyssey_sync_runs."calls" IS 'HTTP requests sent, retries included.';
COMMENT ON COLUMN odyssey_sync_runs."retries" IS 'Requests that were retries.';
COMMENT ON COLUMN odyssey_sync_runs."failed_calls" IS 'Calls lost after all retries (see odyssey_failed_calls).';
COMMENT ON COLUMN odyssey_sync_runs."pages_lost" IS 'FindParties pages lost: the cursor does not advance.';
COMMENT ON COLUMN odyssey_sync_runs."partial" IS 'True when any call was lost.';
COMMENT ON COLUMN odyssey_sync_runs."elapsed_seconds" IS 'Wall-clock duration of the sync.';
COMMENT ON COLUMN odyssey_sync_runs."archive_path" IS 'Gzip JSON lines of every raw reply.';
COMMENT ON COLUMN odyssey_sync_runs."status" IS '''fetched'' | ''merged'' | ''failed''.';
COMMENT ON COLUMN odyssey_sync_runs."error" IS 'Why a failed sync failed.';
COMMENT ON TABLE odyssey_cursor IS 'Last successful ModifiedSince cursor per agency (court local time, wall clock).';
COMMENT ON COLUMN odyssey_cursor."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN odyssey_cursor."modified_since" IS 'Start of the last run with no lost FindParties page.';
COMMENT ON COLUMN odyssey_cursor."sync_id" IS 'The sync that set the cursor.';
COMMENT ON COLUMN odyssey_cursor."updated_at" IS 'When the cursor last moved.';
COMMENT ON TABLE odyssey_failed_calls IS 'Every Odyssey call lost after retries; the next run re-fetches the unresolved ones first.';
COMMENT ON COLUMN odyssey_failed_calls."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN odyssey_failed_calls."sync_id" IS 'The sync that lost the call.';
COMMENT ON COLUMN odyssey_failed_calls."call_kind" IS '''parties_page'' | ''party_hearings'' | ''case''.';
COMMENT ON COLUMN odyssey_failed_calls."call_key" IS 'Page number, PartyID or CaseID.';
COMMENT ON COLUMN odyssey_failed_calls."error_code" IS 'Error code, e.g. HTTP_503, TIMEOUT, SOAP_FAULT, CASE_NOT_FOUND.';
COMMENT ON COLUMN odyssey_failed_calls."error" IS 'Message (no secrets, no personal data).';
COMMENT ON COLUMN odyssey_failed_calls."retryable" IS 'False for a definite answer (not found, hostile reply).';
COMMENT ON COLUMN odyssey_failed_calls."failed_at" IS 'When the call was given up.';
COMMENT ON COLUMN odyssey_failed_calls."resolved_at" IS 'Set when a later run fetched it.';
COMMENT ON COLUMN odyssey_failed_calls."resolved_by_sync_id" IS 'The sync that fetched it later.';
COMMENT ON TABLE odyssey_rejected_records IS 'Records refused while parsing an Odyssey reply (e.g. a bad date), so nothing disappears silently.';
COMMENT ON COLUMN odyssey_rejected_records."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN odyssey_rejected_records."sync_id" IS 'The sync whose reply held the record.';
COMMENT ON COLUMN odyssey_rejected_records."record_kind" IS '''party'' | ''hearing'' | ''case''.';
COMMENT ON COLUMN odyssey_rejected_records."record_key" IS 'Odyssey id of the record.';
COMMENT ON COLUMN odyssey_rejected_records."reason" IS 'Why it was refused.';
COMMENT ON COLUMN odyssey_rejected_records."rejected_at" IS 'When it was refused.';

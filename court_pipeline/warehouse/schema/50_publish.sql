-- Publishing to CourtAnalyticsTX (OCA): what the service accepted, what we meant to send,
-- every envelope sent, and every record that was not accepted and why.

-- What the service last ACCEPTED per record: one hash per field (canonical JSON of the value).
-- needs_full_resend is set when an envelope carrying the record was sent but never
-- acknowledged (crash, lost acknowledgement): the next run sends the whole record again.
CREATE TABLE IF NOT EXISTS oca_published_state (
    entity_type          VARCHAR NOT NULL,   -- di-texas-oca-court-...
    county               VARCHAR NOT NULL,
    recordid             VARCHAR NOT NULL,
    publisher            VARCHAR NOT NULL,
    field_hashes         VARCHAR NOT NULL,   -- JSON object: field -> 64-bit hash of the value
    record_hash          UBIGINT,            -- hash over all field hashes (unchanged test)
    needs_full_resend    BOOLEAN NOT NULL DEFAULT false,
    environment          VARCHAR NOT NULL,   -- staging | production
    last_envelope_id     VARCHAR,            -- local envelope id that was accepted
    accepted_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_type, county, recordid, environment)
);

-- The target the published state of an (environment, county) belongs to. A run for another
-- Messages URL or client stops until `court-pipeline oca resend --all` or `oca adopt`.
CREATE TABLE IF NOT EXISTS oca_publish_targets (
    environment          VARCHAR NOT NULL,
    county               VARCHAR NOT NULL,
    messages_url         VARCHAR NOT NULL,
    client_fingerprint   VARCHAR NOT NULL,    -- first 16 hex of sha256(client id), not the id
    bound_by             VARCHAR NOT NULL,    -- first_run | adopt | resend_all
    bound_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (environment, county)
);

-- Outbox + envelope log: one row per envelope body sent (a resend after removing rejected
-- entities is a new row whose parent_envelope_id is the first one). The row is written with
-- status 'pending' BEFORE the request leaves, so a crash always leaves a trace.
CREATE TABLE IF NOT EXISTS oca_envelopes (
    envelope_id          VARCHAR PRIMARY KEY, -- local uuid
    parent_envelope_id   VARCHAR,             -- first body of the same batch, if a resend
    service_envelope_id  VARCHAR,             -- EnvelopeId from the service (200 only)
    run_id               VARCHAR,
    environment          VARCHAR NOT NULL,    -- staging | production
    agency_id            VARCHAR NOT NULL,
    county               VARCHAR NOT NULL,
    status               VARCHAR NOT NULL,    -- pending | acked | rejected | failed | abandoned
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at          TIMESTAMPTZ,
    body_sha256          VARCHAR NOT NULL,
    body_bytes           BIGINT NOT NULL,
    events               INTEGER NOT NULL,
    entities             INTEGER NOT NULL,
    counts               VARCHAR NOT NULL,    -- JSON: {"new-record": {"<entity type>": n}, ...}
    http_status          INTEGER,
    attempts             INTEGER NOT NULL DEFAULT 0,
    accepted             INTEGER NOT NULL DEFAULT 0,
    held_back            INTEGER NOT NULL DEFAULT 0,
    errors               VARCHAR              -- JSON list of the service's errors / our reason
);

-- The records of each envelope: what to flag for a full resend if it is never acknowledged.
CREATE TABLE IF NOT EXISTS oca_envelope_items (
    envelope_id          VARCHAR NOT NULL,
    position             INTEGER NOT NULL,    -- order in the body (event, entity)
    entity_type          VARCHAR NOT NULL,
    county               VARCHAR NOT NULL,
    recordid             VARCHAR NOT NULL,
    publisher            VARCHAR NOT NULL,
    action               VARCHAR NOT NULL,    -- new | update | delete
    PRIMARY KEY (envelope_id, position)
);

-- Every record that was not accepted, and why. resolved_at is set once a later run gets the
-- record accepted (or deleted), so "open" hold-backs are those with resolved_at NULL.
CREATE TABLE IF NOT EXISTS oca_held_back (
    held_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    run_id               VARCHAR,
    environment          VARCHAR NOT NULL,
    agency_id            VARCHAR NOT NULL,
    envelope_id          VARCHAR,             -- envelope that carried it (NULL: never sent)
    entity_type          VARCHAR NOT NULL,
    county               VARCHAR NOT NULL,
    recordid             VARCHAR NOT NULL,
    action               VARCHAR NOT NULL,    -- new | update | delete
    reason_kind          VARCHAR NOT NULL,    -- validation | county_403 | conflict_409 |
                                              -- retry_next_run | too_large | duplicate | ...
    http_status          INTEGER,
    reason               VARCHAR NOT NULL,    -- human-readable
    errors               VARCHAR,             -- JSON list of the service's errors for it
    resolved_at          TIMESTAMPTZ,
    resolution           VARCHAR              -- accepted | superseded (held back again later)
);

CREATE OR REPLACE VIEW oca_envelope_log AS
SELECT envelope_id, parent_envelope_id, service_envelope_id, created_at, finished_at,
       environment, agency_id, county, status, http_status, attempts, events, entities,
       accepted, held_back, body_bytes, counts, errors, run_id
FROM oca_envelopes;

CREATE OR REPLACE VIEW oca_open_held_back AS
SELECT * FROM oca_held_back WHERE resolved_at IS NULL;

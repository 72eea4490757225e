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

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE oca_published_state IS 'What CourtAnalyticsTX last ACCEPTED per record: one hash per field, so the next run sends only changes.';
COMMENT ON COLUMN oca_published_state."entity_type" IS 'OCA entity type, di-texas-oca-court-...';
COMMENT ON COLUMN oca_published_state."county" IS 'The county of the credential.';
COMMENT ON COLUMN oca_published_state."recordid" IS 'The record id (stable, from Odyssey ids).';
COMMENT ON COLUMN oca_published_state."publisher" IS 'Publisher name sent with the record.';
COMMENT ON COLUMN oca_published_state."field_hashes" IS 'JSON object: field -> 64-bit hash of the type-tagged canonical value as accepted.';
COMMENT ON COLUMN oca_published_state."record_hash" IS '64-bit hash over all field hashes: equal means unchanged, without reading field_hashes.';
COMMENT ON COLUMN oca_published_state."needs_full_resend" IS 'True when an envelope with this record got no definite answer, or after `oca resend --all`: the next run sends the record whole, first.';
COMMENT ON COLUMN oca_published_state."environment" IS 'staging | production (state is separate per environment).';
COMMENT ON COLUMN oca_published_state."last_envelope_id" IS 'Local envelope id that was accepted.';
COMMENT ON COLUMN oca_published_state."accepted_at" IS 'When the service accepted it.';
COMMENT ON TABLE oca_publish_targets IS 'The target (Messages URL and client) the published state of an (environment, county) belongs to; another target stops publishing until `oca resend --all` or `oca adopt`.';
COMMENT ON COLUMN oca_publish_targets."environment" IS 'staging | production.';
COMMENT ON COLUMN oca_publish_targets."county" IS 'County published.';
COMMENT ON COLUMN oca_publish_targets."messages_url" IS 'The Messages URL that accepted the state.';
COMMENT ON COLUMN oca_publish_targets."client_fingerprint" IS 'First 16 hex of sha256(client id), not the id.';
COMMENT ON COLUMN oca_publish_targets."bound_by" IS 'First_run | adopt | resend_all.';
COMMENT ON COLUMN oca_publish_targets."bound_at" IS 'When the target was bound.';
COMMENT ON TABLE oca_envelopes IS 'Outbox and envelope log: one row per envelope body sent to CourtAnalyticsTX, written as ''pending'' before the request leaves.';
COMMENT ON COLUMN oca_envelopes."envelope_id" IS 'Local uuid.';
COMMENT ON COLUMN oca_envelopes."parent_envelope_id" IS 'First body of the same batch, if a resend.';
COMMENT ON COLUMN oca_envelopes."service_envelope_id" IS 'EnvelopeId from the service (HTTP 200 only).';
COMMENT ON COLUMN oca_envelopes."run_id" IS 'Dagster run that sent it.';
COMMENT ON COLUMN oca_envelopes."environment" IS 'staging | production.';
COMMENT ON COLUMN oca_envelopes."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_envelopes."county" IS 'County published.';
COMMENT ON COLUMN oca_envelopes."status" IS 'pending | acked | rejected | failed | abandoned.';
COMMENT ON COLUMN oca_envelopes."created_at" IS 'When the envelope was written (before sending).';
COMMENT ON COLUMN oca_envelopes."finished_at" IS 'When the outcome was known.';
COMMENT ON COLUMN oca_envelopes."body_sha256" IS 'Sha256 of the body sent.';
COMMENT ON COLUMN oca_envelopes."body_bytes" IS 'Size of the body.';
COMMENT ON COLUMN oca_envelopes."events" IS 'Events in the envelope.';
COMMENT ON COLUMN oca_envelopes."entities" IS 'Entities (records) in the envelope.';
COMMENT ON COLUMN oca_envelopes."counts" IS 'JSON {"new-record": {entity_type: n}, "delete-record": {...}}.';
COMMENT ON COLUMN oca_envelopes."http_status" IS 'Final HTTP status (NULL: no answer).';
COMMENT ON COLUMN oca_envelopes."attempts" IS 'Requests sent, including retries and 429s (a 401 token refresh is not counted).';
COMMENT ON COLUMN oca_envelopes."accepted" IS 'Records accepted.';
COMMENT ON COLUMN oca_envelopes."held_back" IS 'Records not accepted (see oca_held_back).';
COMMENT ON COLUMN oca_envelopes."errors" IS 'JSON list: the service''s whole Errors list (stored once here), or our description.';
COMMENT ON TABLE oca_envelope_items IS 'The records of each envelope: what to flag for a full resend if it is never acknowledged.';
COMMENT ON COLUMN oca_envelope_items."envelope_id" IS 'The envelope (-> oca_envelopes).';
COMMENT ON COLUMN oca_envelope_items."position" IS 'Order in the body (event, entity).';
COMMENT ON COLUMN oca_envelope_items."entity_type" IS 'OCA entity type.';
COMMENT ON COLUMN oca_envelope_items."county" IS 'County.';
COMMENT ON COLUMN oca_envelope_items."recordid" IS 'OCA record id.';
COMMENT ON COLUMN oca_envelope_items."publisher" IS 'Publisher name.';
COMMENT ON COLUMN oca_envelope_items."action" IS 'new | update | delete.';
COMMENT ON TABLE oca_held_back IS 'Every record CourtAnalyticsTX did not accept, and why; open hold-backs have resolved_at NULL (view oca_open_held_back).';
COMMENT ON COLUMN oca_held_back."held_at" IS 'When it was held back.';
COMMENT ON COLUMN oca_held_back."run_id" IS 'Dagster run.';
COMMENT ON COLUMN oca_held_back."environment" IS 'staging | production.';
COMMENT ON COLUMN oca_held_back."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_held_back."envelope_id" IS 'Envelope that carried it (NULL: never sent).';
COMMENT ON COLUMN oca_held_back."entity_type" IS 'OCA entity type.';
COMMENT ON COLUMN oca_held_back."county" IS 'County.';
COMMENT ON COLUMN oca_held_back."recordid" IS 'OCA record id.';
COMMENT ON COLUMN oca_held_back."action" IS 'new | update | delete.';
COMMENT ON COLUMN oca_held_back."reason_kind" IS 'validation | county_403 | conflict_409 | retry_next_run | too_large | duplicate | wrong_county | wrong_publisher | invalid | http_<code>.';
COMMENT ON COLUMN oca_held_back."http_status" IS 'HTTP status of the reply.';
COMMENT ON COLUMN oca_held_back."reason" IS 'Human-readable, e.g. ''plea_type: enum (should be equal to one of the allowed values)''.';
COMMENT ON COLUMN oca_held_back."errors" IS 'JSON list of the service''s errors whose dataPath names this record; NULL when none does (the envelope''s list is on oca_envelopes.errors).';
COMMENT ON COLUMN oca_held_back."resolved_at" IS 'Set when a later run got it accepted, superseded it, or it left the source.';
COMMENT ON COLUMN oca_held_back."resolution" IS 'accepted | superseded (held back again later) | gone_from_source (left the dataset before it was ever accepted).';
COMMENT ON VIEW oca_envelope_log IS 'Envelope log (the oca_envelope_log asset): the oca_envelopes columns without the body hash.';
COMMENT ON COLUMN oca_envelope_log."envelope_id" IS 'Local uuid.';
COMMENT ON COLUMN oca_envelope_log."parent_envelope_id" IS 'First body of the same batch, if a resend.';
COMMENT ON COLUMN oca_envelope_log."service_envelope_id" IS 'EnvelopeId from the service (HTTP 200 only).';
COMMENT ON COLUMN oca_envelope_log."created_at" IS 'When the envelope was written (before sending).';
COMMENT ON COLUMN oca_envelope_log."finished_at" IS 'When the outcome was known.';
COMMENT ON COLUMN oca_envelope_log."environment" IS 'staging | production.';
COMMENT ON COLUMN oca_envelope_log."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_envelope_log."county" IS 'County published.';
COMMENT ON COLUMN oca_envelope_log."status" IS 'pending | acked | rejected | failed | abandoned.';
COMMENT ON COLUMN oca_envelope_log."http_status" IS 'Final HTTP status (NULL: no answer).';
COMMENT ON COLUMN oca_envelope_log."attempts" IS 'Requests sent, including retries and 429s (a 401 token refresh is not counted).';
COMMENT ON COLUMN oca_envelope_log."events" IS 'Events in the envelope.';
COMMENT ON COLUMN oca_envelope_log."entities" IS 'Entities (records) in the envelope.';
COMMENT ON COLUMN oca_envelope_log."accepted" IS 'Records accepted.';
COMMENT ON COLUMN oca_envelope_log."held_back" IS 'Records not accepted (see oca_held_back).';
COMMENT ON COLUMN oca_envelope_log."body_bytes" IS 'Size of the body.';
COMMENT ON COLUMN oca_envelope_log."counts" IS 'JSON {"new-record": {entity_type: n}, "delete-record": {...}}.';
COMMENT ON COLUMN oca_envelope_log."errors" IS 'JSON list: the service''s whole Errors list (stored once here), or our description.';
COMMENT ON COLUMN oca_envelope_log."run_id" IS 'Dagster run that sent it.';
COMMENT ON VIEW oca_open_held_back IS 'Open hold-backs: oca_held_back rows not yet resolved (resolved_at NULL).';
COMMENT ON COLUMN oca_open_held_back."held_at" IS 'When it was held back.';
COMMENT ON COLUMN oca_open_held_back."run_id" IS 'Dagster run.';
COMMENT ON COLUMN oca_open_held_back."environment" IS 'staging | production.';
COMMENT ON COLUMN oca_open_held_back."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_open_held_back."envelope_id" IS 'Envelope that carried it (NULL: never sent).';
COMMENT ON COLUMN oca_open_held_back."entity_type" IS 'OCA entity type.';
COMMENT ON COLUMN oca_open_held_back."county" IS 'County.';
COMMENT ON COLUMN oca_open_held_back."recordid" IS 'OCA record id.';
COMMENT ON COLUMN oca_open_held_back."action" IS 'new | update | delete.';
COMMENT ON COLUMN oca_open_held_back."reason_kind" IS 'validation | county_403 | conflict_409 | retry_next_run | too_large | duplicate | wrong_county | wrong_publisher | invalid | http_<code>.';
COMMENT ON COLUMN oca_open_held_back."http_status" IS 'HTTP status of the reply.';
COMMENT ON COLUMN oca_open_held_back."reason" IS 'Human-readable, e.g. ''plea_type: enum (should be equal to one of the allowed values)''.';
COMMENT ON COLUMN oca_open_held_back."errors" IS 'JSON list of the service''s errors whose dataPath names this record; NULL when none does (the envelope''s list is on oca_envelopes.errors).';
COMMENT ON COLUMN oca_open_held_back."resolved_at" IS 'Set when a later run got it accepted, superseded it, or it left the source.';
COMMENT ON COLUMN oca_open_held_back."resolution" IS 'accepted | superseded (held back again later) | gone_from_source (left the dataset before it was ever accepted).';

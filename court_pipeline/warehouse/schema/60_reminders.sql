-- Court-date reminders: the outbox of messages and the STOP list.
-- One outbox row per message; dedupe_key makes every rerun and hourly sync idempotent.
-- No PRIMARY KEY / UNIQUE here: their ART indexes made the first plan of a 150,000-hearing
-- agency hold the writer lock 8 s (541,200 rows). reminders.outbox.write_plan inserts only
-- dedupe keys not yet there (message_id is uuid5 of the key), and the reminder_outbox asset
-- check no_duplicate_dedupe_keys proves both stay unique after every run.

CREATE TABLE IF NOT EXISTS reminder_outbox (
    message_id           VARCHAR NOT NULL,             -- uuid5 of dedupe_key (stable across reruns)
    dedupe_key           VARCHAR NOT NULL,             -- agency|hearing|party|flow|offset-or-kind|start UTC
    agency_id            VARCHAR NOT NULL,
    hearing_id           VARCHAR NOT NULL,
    party_id             VARCHAR NOT NULL,
    case_number          VARCHAR,
    flow                 VARCHAR NOT NULL,
    kind                 VARCHAR NOT NULL,             -- 'reminder' | 'changed' | 'cancelled'
    offset_key           VARCHAR,                      -- '7d', '3d', 'morning_of' (reminders only)
    hearing_start_at     TIMESTAMPTZ NOT NULL,         -- the hearing start this message is about
    channel              VARCHAR,                      -- 'sms' | 'email'; NULL when no usable contact
    recipient            VARCHAR,                      -- E.164 phone or email (PII: never in metadata)
    preferred_language   VARCHAR,                      -- the party's language (ISO 639-1)
    language             VARCHAR,                      -- the language the message is written in
    template             VARCHAR,                      -- template file used, e.g. 'es/reminder.j2'
    subject              VARCHAR,                      -- email subject (NULL for SMS)
    body                 VARCHAR,
    segments             INTEGER,                      -- SMS segments (NULL for email)
    encoding             VARCHAR,                      -- 'GSM-7' | 'UCS-2' (NULL for email)
    due_at               TIMESTAMPTZ NOT NULL,
    status               VARCHAR NOT NULL,             -- planned | ready | sent | failed | suppressed
    status_reason        VARCHAR,
    attempts             INTEGER NOT NULL DEFAULT 0,
    last_error           VARCHAR,
    provider_ref         VARCHAR,                      -- id returned by the webhook, if any
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at              TIMESTAMPTZ
);

-- The STOP list. A row blocks a channel for a party (Odyssey SmsOptOut) or for a recipient
-- (an SMS 'STOP' reply from a number, an email unsubscribe).
CREATE TABLE IF NOT EXISTS reminder_opt_outs (
    agency_id            VARCHAR NOT NULL,
    source               VARCHAR NOT NULL,   -- 'odyssey' (parties.sms_opt_out) | 'reply' (CSV import)
    channel              VARCHAR NOT NULL,   -- 'sms' | 'email' | 'all'
    subject              VARCHAR NOT NULL,   -- party_id (source odyssey) or E.164/email (reply)
    party_id             VARCHAR,
    recipient            VARCHAR,
    keyword              VARCHAR,            -- e.g. STOP, ALTO, SmsOptOut
    opted_out_at         TIMESTAMPTZ,
    source_ref           VARCHAR,            -- reply file name + line
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, source, channel, subject)
);

-- Reply files already imported (by content hash), so re-importing one changes nothing.
CREATE TABLE IF NOT EXISTS reminder_reply_files (
    agency_id            VARCHAR NOT NULL,
    sha256               VARCHAR NOT NULL,
    file_name            VARCHAR NOT NULL,
    rows_in              INTEGER NOT NULL,
    rows_loaded          INTEGER NOT NULL,
    rows_rejected        INTEGER NOT NULL,
    imported_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, sha256)
);

-- Reply rows that could not be used, with the reason (rows in = loaded + rejected).
CREATE TABLE IF NOT EXISTS reminder_reply_rejects (
    agency_id            VARCHAR NOT NULL,
    sha256               VARCHAR NOT NULL,
    file_name            VARCHAR NOT NULL,
    line_number          INTEGER NOT NULL,
    reason               VARCHAR NOT NULL,
    raw_row              VARCHAR,
    imported_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Columns added after the first release.
-- input_digest: md5 of everything a message is rendered from (template files, flow, fields,
-- recipient, dates): a planning rerun renders again only the messages whose inputs changed.
ALTER TABLE reminder_outbox ADD COLUMN IF NOT EXISTS input_digest VARCHAR;

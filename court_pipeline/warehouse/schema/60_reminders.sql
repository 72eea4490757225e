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

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE reminder_outbox IS 'Court-date reminder outbox: one row per message; dedupe_key makes every rerun and hourly sync idempotent.';
COMMENT ON COLUMN reminder_outbox."message_id" IS 'uuid5 of the dedupe key: stable across reruns, sent as Idempotency-Key.';
COMMENT ON COLUMN reminder_outbox."dedupe_key" IS 'agency|hearing|party|flow|offset-or-kind|hearing start (UTC), unique: reruns and hourly syncs never plan the same message twice; a new start time is a new message.';
COMMENT ON COLUMN reminder_outbox."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN reminder_outbox."hearing_id" IS 'The hearing (-> hearings).';
COMMENT ON COLUMN reminder_outbox."party_id" IS 'The recipient party (-> parties).';
COMMENT ON COLUMN reminder_outbox."case_number" IS 'Cause number.';
COMMENT ON COLUMN reminder_outbox."flow" IS 'Reminder flow name from the agency''s reminders config.';
COMMENT ON COLUMN reminder_outbox."kind" IS '''reminder'' | ''changed'' | ''cancelled''.';
COMMENT ON COLUMN reminder_outbox."offset_key" IS '''7d'', ''3d'', ''1d'', ''morning_of''... (reminders only).';
COMMENT ON COLUMN reminder_outbox."hearing_start_at" IS 'The hearing start this message is about.';
COMMENT ON COLUMN reminder_outbox."channel" IS '''sms'' | ''email''; NULL when no usable contact.';
COMMENT ON COLUMN reminder_outbox."recipient" IS 'E.164 phone or lower-case email.';
COMMENT ON COLUMN reminder_outbox."preferred_language" IS 'The party''s language (ISO 639-1).';
COMMENT ON COLUMN reminder_outbox."language" IS 'The language the message is written in (after fallback).';
COMMENT ON COLUMN reminder_outbox."template" IS 'Template file used, e.g. ''es/reminder.j2''.';
COMMENT ON COLUMN reminder_outbox."subject" IS 'Email subject (NULL for SMS).';
COMMENT ON COLUMN reminder_outbox."body" IS 'Rendered message text.';
COMMENT ON COLUMN reminder_outbox."segments" IS 'SMS segments (NULL for email).';
COMMENT ON COLUMN reminder_outbox."encoding" IS '''GSM-7'' | ''UCS-2'' (NULL for email).';
COMMENT ON COLUMN reminder_outbox."due_at" IS 'When it may be sent (after the quiet-hour adjustment).';
COMMENT ON COLUMN reminder_outbox."status" IS '''planned'' -> ''ready'' (dry-run) -> ''sent'' / ''failed''; or ''suppressed''.';
COMMENT ON COLUMN reminder_outbox."status_reason" IS 'Why suppressed (rescheduled, cancelled, removed, opted out, no contact, too late, due after hearing, template error: ..., ...) or ''late: planned after its time''.';
COMMENT ON COLUMN reminder_outbox."attempts" IS 'Delivery attempts.';
COMMENT ON COLUMN reminder_outbox."last_error" IS 'Last delivery error.';
COMMENT ON COLUMN reminder_outbox."provider_ref" IS 'The provider''s id for the message, if the webhook returned one.';
COMMENT ON COLUMN reminder_outbox."created_at" IS 'When the message was planned.';
COMMENT ON COLUMN reminder_outbox."updated_at" IS 'When the row last changed.';
COMMENT ON COLUMN reminder_outbox."sent_at" IS 'When it was sent.';
COMMENT ON COLUMN reminder_outbox."input_digest" IS 'Md5 of everything the message is rendered from: a rerun renders again only messages whose inputs changed.';
COMMENT ON TABLE reminder_opt_outs IS 'The STOP list: a row blocks a channel for a party (Odyssey SmsOptOut) or for a recipient (an SMS STOP reply, an email unsubscribe).';
COMMENT ON COLUMN reminder_opt_outs."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN reminder_opt_outs."source" IS '''odyssey'' (parties.sms_opt_out) | ''reply'' (CSV import).';
COMMENT ON COLUMN reminder_opt_outs."channel" IS '''sms'' | ''email'' | ''all''.';
COMMENT ON COLUMN reminder_opt_outs."subject" IS 'Party id (source odyssey) or recipient (reply); with agency, source and channel, the key.';
COMMENT ON COLUMN reminder_opt_outs."party_id" IS 'The party, when known.';
COMMENT ON COLUMN reminder_opt_outs."recipient" IS 'The phone or email, when known.';
COMMENT ON COLUMN reminder_opt_outs."keyword" IS 'The opt-out word: STOP, ALTO, SmsOptOut, ...';
COMMENT ON COLUMN reminder_opt_outs."opted_out_at" IS 'When: the reply time, or the party''s modification time.';
COMMENT ON COLUMN reminder_opt_outs."source_ref" IS '''file.csv:line'' for replies, the party''s source for odyssey.';
COMMENT ON COLUMN reminder_opt_outs."updated_at" IS 'When the row last changed.';
COMMENT ON TABLE reminder_reply_files IS 'Reply files already imported (by content hash), so re-importing one changes nothing.';
COMMENT ON COLUMN reminder_reply_files."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN reminder_reply_files."sha256" IS 'Sha256 of the file content.';
COMMENT ON COLUMN reminder_reply_files."file_name" IS 'Name of the file.';
COMMENT ON COLUMN reminder_reply_files."rows_in" IS 'Data rows in the file.';
COMMENT ON COLUMN reminder_reply_files."rows_loaded" IS 'Rows applied to the STOP list.';
COMMENT ON COLUMN reminder_reply_files."rows_rejected" IS 'Rows refused (see reminder_reply_rejects).';
COMMENT ON COLUMN reminder_reply_files."imported_at" IS 'When it was imported.';
COMMENT ON TABLE reminder_reply_rejects IS 'Reply rows that could not be used, with the reason (rows in = loaded + rejected).';
COMMENT ON COLUMN reminder_reply_rejects."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN reminder_reply_rejects."sha256" IS 'The file (-> reminder_reply_files).';
COMMENT ON COLUMN reminder_reply_rejects."file_name" IS 'Name of the file.';
COMMENT ON COLUMN reminder_reply_rejects."line_number" IS 'Line in the file.';
COMMENT ON COLUMN reminder_reply_rejects."reason" IS 'Why the row was refused.';
COMMENT ON COLUMN reminder_reply_rejects."raw_row" IS 'The line as received.';
COMMENT ON COLUMN reminder_reply_rejects."imported_at" IS 'When it was imported.';

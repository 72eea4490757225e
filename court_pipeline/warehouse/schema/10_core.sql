-- Clean court records shared by the ECR file path and the Odyssey API path.
-- Keys are Odyssey's own ids where they exist, stable derived keys otherwise.
-- Every row says which source last won it (source: 'ecr' | 'odyssey_api') and when the source
-- says it was modified, so merges can apply "newest modification, then API over ECR".
--
-- Keys: these tables declare no PRIMARY KEY. Every write goes through
-- court_pipeline.records.merge.merge_records (keys in RECORD_KEYS there), which inserts a key
-- only when it is absent and updates it otherwise, under the warehouse writer lock; the
-- clean-table asset check `keys_unique` proves it after every run. A DuckDB primary key is an
-- ART index rebuilt on every insert and written at every checkpoint: on a million-row ECR file
-- it cost 4.4 s of an 11 s write (measured), for a guarantee the merge already gives.

CREATE TABLE IF NOT EXISTS parties (
    agency_id            VARCHAR NOT NULL,
    party_id             VARCHAR NOT NULL,   -- Odyssey PartyID, or 'd:' + hash of name+dob/case
    first_name           VARCHAR,
    middle_name          VARCHAR,
    last_name            VARCHAR,
    suffix               VARCHAR,
    business_name        VARCHAR,
    date_of_birth        DATE,
    sex                  VARCHAR,            -- local code as sent by Odyssey
    race                 VARCHAR,
    ethnicity            VARCHAR,
    preferred_language   VARCHAR,            -- ISO 639-1 code ('en', 'es', 'vi', ...)
    interpreter_needed   BOOLEAN,
    address_line1        VARCHAR,
    city                 VARCHAR,
    state                VARCHAR,
    zip                  VARCHAR,
    bar_number           VARCHAR,            -- attorneys are parties too
    sms_opt_out          BOOLEAN,
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,            -- file sha256 or sync id that last wrote the row
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
    -- key: (agency_id, party_id)
);

CREATE TABLE IF NOT EXISTS contacts (
    agency_id            VARCHAR NOT NULL,
    contact_id           VARCHAR NOT NULL,   -- hash of party_id + kind + normalized (or raw) value
    party_id             VARCHAR NOT NULL,
    kind                 VARCHAR NOT NULL,   -- 'phone' | 'email'
    raw_value            VARCHAR,            -- as received
    value                VARCHAR,            -- E.164 phone / lower-case email; NULL when rejected
    phone_type           VARCHAR,            -- mobile|home|work|fax|pager|landline|unknown (phones)
    label                VARCHAR,            -- source label, e.g. Odyssey Phone Type="Cell"
    status               VARCHAR NOT NULL,   -- 'valid' | 'rejected' | 'retired' (no source lists it)
    reject_reason        VARCHAR,
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
    -- retired_at, retired_reason (added below): when and why no source lists it any more
    -- key: (agency_id, contact_id)
);

-- Which source's latest list for the party holds each contact (records/contact_lists.py).
CREATE TABLE IF NOT EXISTS contact_listings (
    agency_id            VARCHAR NOT NULL,
    contact_id           VARCHAR NOT NULL,
    source               VARCHAR NOT NULL,   -- 'odyssey_api' | 'ecr'
    party_id             VARCHAR NOT NULL,
    kind                 VARCHAR NOT NULL,
    listed               BOOLEAN NOT NULL,   -- the source's latest list for the party holds it
    listed_ref           VARCHAR,            -- sync id / file sha256 that last listed it
    listed_at            TIMESTAMPTZ,
    unlisted_ref         VARCHAR,            -- sync id / file sha256 whose list dropped it
    unlisted_at          TIMESTAMPTZ,
    PRIMARY KEY (agency_id, contact_id, source)
);

CREATE TABLE IF NOT EXISTS cases (
    agency_id            VARCHAR NOT NULL,
    case_id              VARCHAR NOT NULL,   -- Odyssey CaseID, or 'n:' + case number
    case_number          VARCHAR,
    case_style           VARCHAR,
    case_category        VARCHAR,
    case_category_code   VARCHAR,
    case_type            VARCHAR,
    case_type_code       VARCHAR,
    case_status          VARCHAR,
    case_status_code     VARCHAR,
    case_status_date     DATE,
    file_date            DATE,
    court_code           VARCHAR,
    court_name           VARCHAR,
    court_type           VARCHAR,
    oca_court_id         VARCHAR,
    judge_name           VARCHAR,
    judge_type           VARCHAR,
    payment_status       VARCHAR,
    amount_due           DECIMAL(12, 2),
    amount_paid          DECIMAL(12, 2),
    fines                DECIMAL(12, 2),
    bond_agent           VARCHAR,            -- bondsman / bond company named in the ECR file
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
    -- key: (agency_id, case_id)
);

CREATE TABLE IF NOT EXISTS case_parties (
    agency_id            VARCHAR NOT NULL,
    case_id              VARCHAR NOT NULL,
    party_id             VARCHAR NOT NULL,
    role                 VARCHAR NOT NULL,   -- Defendant, Plaintiff, Witness, Attorney, ...
    role_code            VARCHAR,
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
    -- key: (agency_id, case_id, party_id, role)
);

CREATE TABLE IF NOT EXISTS hearings (
    agency_id            VARCHAR NOT NULL,
    hearing_id           VARCHAR NOT NULL,   -- Odyssey HearingID / ECR event id, or 'd:' + hash
    case_id              VARCHAR,
    case_number          VARCHAR,
    session_id           VARCHAR,
    hearing_type         VARCHAR,
    hearing_type_code    VARCHAR,
    start_at             TIMESTAMPTZ,        -- instant, built from local time in court time zone
    start_local          TIMESTAMP,          -- wall-clock time in the court's time zone
    court_timezone       VARCHAR,
    status               VARCHAR,            -- Scheduled, Continued, Reset, Cancelled, Held, Removed
    status_date          DATE,
    calendar             VARCHAR,
    location             VARCHAR,
    courtroom            VARCHAR,
    judge                VARCHAR,
    removed_at           TIMESTAMPTZ,        -- set when a snapshot no longer lists the hearing
    removed_reason       VARCHAR,
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
    -- key: (agency_id, hearing_id)
);

CREATE TABLE IF NOT EXISTS hearing_parties (
    agency_id            VARCHAR NOT NULL,
    hearing_id           VARCHAR NOT NULL,
    party_id             VARCHAR NOT NULL,
    role                 VARCHAR,            -- the party's role on the hearing's case
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
    -- key: (agency_id, hearing_id, party_id)
);

-- Every change of a hearing's status or start time, with when it was seen and why.
CREATE TABLE IF NOT EXISTS hearing_changes (
    agency_id            VARCHAR NOT NULL,
    hearing_id           VARCHAR NOT NULL,
    change_kind          VARCHAR NOT NULL,   -- 'new' | 'rescheduled' | 'status' | 'removed' | 'reset'
    old_status           VARCHAR,
    new_status           VARCHAR,
    old_start_at         TIMESTAMPTZ,
    new_start_at         TIMESTAMPTZ,
    reason               VARCHAR,
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    changed_at           TIMESTAMPTZ NOT NULL DEFAULT now()
    -- linked_hearing_id (added below): on a 'reset' row, the old hearing the new one replaces
);

-- Columns added after the first release: a warehouse created before gets them here.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS bond_agent VARCHAR;
ALTER TABLE hearing_changes ADD COLUMN IF NOT EXISTS linked_hearing_id VARCHAR;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS retired_at TIMESTAMPTZ;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS retired_reason VARCHAR;

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

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE parties IS 'People and organisations on the agency''s cases (attorneys included); key (agency_id, party_id), kept unique by the merge.';
COMMENT ON COLUMN parties."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN parties."party_id" IS 'Odyssey PartyID, or ''d:'' + hash of name and birth date/case for ECR-only parties.';
COMMENT ON COLUMN parties."first_name" IS 'Given name.';
COMMENT ON COLUMN parties."middle_name" IS 'Middle name.';
COMMENT ON COLUMN parties."last_name" IS 'Family name.';
COMMENT ON COLUMN parties."suffix" IS 'Name suffix such as Jr. or III.';
COMMENT ON COLUMN parties."business_name" IS 'Name of a non-person party (company, agency).';
COMMENT ON COLUMN parties."date_of_birth" IS 'Birth date.';
COMMENT ON COLUMN parties."sex" IS 'Sex, local code as sent by the source.';
COMMENT ON COLUMN parties."race" IS 'Race, local code as sent by the source.';
COMMENT ON COLUMN parties."ethnicity" IS 'Ethnicity, local code as sent by the source.';
COMMENT ON COLUMN parties."preferred_language" IS 'Preferred language, ISO 639-1 code (''en'', ''es'', ''vi'', ...); picks the reminder language.';
COMMENT ON COLUMN parties."interpreter_needed" IS 'The party needs an interpreter.';
COMMENT ON COLUMN parties."address_line1" IS 'Street address.';
COMMENT ON COLUMN parties."city" IS 'City of the address.';
COMMENT ON COLUMN parties."state" IS 'State of the address.';
COMMENT ON COLUMN parties."zip" IS 'ZIP code of the address.';
COMMENT ON COLUMN parties."bar_number" IS 'State bar card number (attorneys are parties too).';
COMMENT ON COLUMN parties."sms_opt_out" IS 'Odyssey SmsOptOut: the party refused text messages (feeds reminder_opt_outs).';
COMMENT ON COLUMN parties."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN parties."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN parties."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN parties."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN parties."updated_at" IS 'When a value of the row last changed.';
COMMENT ON TABLE contacts IS 'One row per phone or email of a party; phones in E.164 with their type, invalid ones kept as rejected with the reason, ones no source lists any more kept as retired.';
COMMENT ON COLUMN contacts."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN contacts."contact_id" IS 'Hash of party_id + kind + normalized (or raw) value.';
COMMENT ON COLUMN contacts."party_id" IS 'The party the contact belongs to (-> parties).';
COMMENT ON COLUMN contacts."kind" IS '''phone'' or ''email''.';
COMMENT ON COLUMN contacts."raw_value" IS 'The value as received.';
COMMENT ON COLUMN contacts."value" IS 'E.164 phone or lower-case email; NULL when rejected.';
COMMENT ON COLUMN contacts."phone_type" IS 'mobile | home | work | fax | pager | landline | unknown (phones only); from the source label first, then the numbering plan.';
COMMENT ON COLUMN contacts."label" IS 'Source label, e.g. Odyssey Phone Type="Cell".';
COMMENT ON COLUMN contacts."status" IS '''valid'' | ''rejected'' | ''retired'' (no source lists it any more).';
COMMENT ON COLUMN contacts."reject_reason" IS 'Why the value was rejected (status ''rejected'').';
COMMENT ON COLUMN contacts."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN contacts."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN contacts."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN contacts."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN contacts."updated_at" IS 'When a value of the row last changed.';
COMMENT ON COLUMN contacts."retired_at" IS 'When no source listed the contact any more (status ''retired'').';
COMMENT ON COLUMN contacts."retired_reason" IS 'Why it was retired, e.g. ''no longer listed by Odyssey (<sync id>)''.';
COMMENT ON TABLE contact_listings IS 'Per contact and source, whether that source''s latest list for the party holds the contact; a contact stays in use while at least one source lists it.';
COMMENT ON COLUMN contact_listings."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN contact_listings."contact_id" IS 'The contact (-> contacts).';
COMMENT ON COLUMN contact_listings."source" IS '''odyssey_api'' or ''ecr'': whose list this is.';
COMMENT ON COLUMN contact_listings."party_id" IS 'The party whose list it is.';
COMMENT ON COLUMN contact_listings."kind" IS '''phone'' or ''email''.';
COMMENT ON COLUMN contact_listings."listed" IS 'True while the source''s latest list for the party holds the contact.';
COMMENT ON COLUMN contact_listings."listed_ref" IS 'Sync id or file sha256 that last listed it.';
COMMENT ON COLUMN contact_listings."listed_at" IS 'When it was last listed.';
COMMENT ON COLUMN contact_listings."unlisted_ref" IS 'Sync id or file sha256 whose list dropped it.';
COMMENT ON COLUMN contact_listings."unlisted_at" IS 'When a list of the source dropped it.';
COMMENT ON TABLE cases IS 'Cases with court, judge, status and financial status; key (agency_id, case_id), kept unique by the merge.';
COMMENT ON COLUMN cases."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN cases."case_id" IS 'Odyssey CaseID, or ''n:'' + case number for ECR-only cases.';
COMMENT ON COLUMN cases."case_number" IS 'Cause number as printed on court documents.';
COMMENT ON COLUMN cases."case_style" IS 'Case style, e.g. ''State of Texas vs. ...''.';
COMMENT ON COLUMN cases."case_category" IS 'Case category (e.g. Criminal, Civil, Family).';
COMMENT ON COLUMN cases."case_category_code" IS 'Local code of the case category.';
COMMENT ON COLUMN cases."case_type" IS 'Case type text.';
COMMENT ON COLUMN cases."case_type_code" IS 'Local code of the case type.';
COMMENT ON COLUMN cases."case_status" IS 'Current case status text.';
COMMENT ON COLUMN cases."case_status_code" IS 'Local code of the case status.';
COMMENT ON COLUMN cases."case_status_date" IS 'Date the current status was set.';
COMMENT ON COLUMN cases."file_date" IS 'Date the case was filed.';
COMMENT ON COLUMN cases."court_code" IS 'Local court code.';
COMMENT ON COLUMN cases."court_name" IS 'Court name.';
COMMENT ON COLUMN cases."court_type" IS 'Court type (e.g. County Court at Law, District).';
COMMENT ON COLUMN cases."oca_court_id" IS 'OCA court identifier used in state reporting.';
COMMENT ON COLUMN cases."judge_name" IS 'Judicial officer assigned to the case.';
COMMENT ON COLUMN cases."judge_type" IS 'Type of judicial officer.';
COMMENT ON COLUMN cases."payment_status" IS 'Financial status of the case.';
COMMENT ON COLUMN cases."amount_due" IS 'Amount still owed.';
COMMENT ON COLUMN cases."amount_paid" IS 'Amount paid so far.';
COMMENT ON COLUMN cases."fines" IS 'Fines assessed.';
COMMENT ON COLUMN cases."bond_agent" IS 'Bondsman or bond company named in the ECR file.';
COMMENT ON COLUMN cases."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN cases."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN cases."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN cases."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN cases."updated_at" IS 'When a value of the row last changed.';
COMMENT ON TABLE case_parties IS 'Which party is on which case, in which role; key (agency_id, case_id, party_id, role).';
COMMENT ON COLUMN case_parties."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN case_parties."case_id" IS 'The case (-> cases).';
COMMENT ON COLUMN case_parties."party_id" IS 'The party (-> parties).';
COMMENT ON COLUMN case_parties."role" IS 'Role on the case: Defendant, Plaintiff, Witness, Attorney, ...';
COMMENT ON COLUMN case_parties."role_code" IS 'Local code of the role.';
COMMENT ON COLUMN case_parties."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN case_parties."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN case_parties."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN case_parties."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN case_parties."updated_at" IS 'When a value of the row last changed.';
COMMENT ON TABLE hearings IS 'Hearings with a timezone-aware start, status, location, courtroom and judge; a hearing no source lists any more is kept and marked removed, never deleted.';
COMMENT ON COLUMN hearings."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN hearings."hearing_id" IS 'Odyssey HearingID or ECR event id, or ''d:'' + hash.';
COMMENT ON COLUMN hearings."case_id" IS 'The case heard (-> cases).';
COMMENT ON COLUMN hearings."case_number" IS 'Cause number.';
COMMENT ON COLUMN hearings."session_id" IS 'Odyssey court session (calendar slot) id.';
COMMENT ON COLUMN hearings."hearing_type" IS 'Hearing type text.';
COMMENT ON COLUMN hearings."hearing_type_code" IS 'Local code of the hearing type.';
COMMENT ON COLUMN hearings."start_at" IS 'Start instant (TIMESTAMPTZ), built from local court time in the court time zone, DST-correct.';
COMMENT ON COLUMN hearings."start_local" IS 'Start as wall-clock time in the court''s time zone.';
COMMENT ON COLUMN hearings."court_timezone" IS 'IANA time zone of the court, e.g. America/Chicago.';
COMMENT ON COLUMN hearings."status" IS 'Scheduled, Continued, Reset, Cancelled, Held or Removed.';
COMMENT ON COLUMN hearings."status_date" IS 'Date the status was set.';
COMMENT ON COLUMN hearings."calendar" IS 'Court calendar (docket) name.';
COMMENT ON COLUMN hearings."location" IS 'Courthouse or location.';
COMMENT ON COLUMN hearings."courtroom" IS 'Courtroom.';
COMMENT ON COLUMN hearings."judge" IS 'Presiding judicial officer.';
COMMENT ON COLUMN hearings."removed_at" IS 'Set when a snapshot or the API no longer lists the hearing.';
COMMENT ON COLUMN hearings."removed_reason" IS 'Why it was marked removed.';
COMMENT ON COLUMN hearings."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN hearings."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN hearings."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN hearings."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN hearings."updated_at" IS 'When a value of the row last changed.';
COMMENT ON TABLE hearing_parties IS 'Which parties are expected at which hearing; key (agency_id, hearing_id, party_id).';
COMMENT ON COLUMN hearing_parties."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN hearing_parties."hearing_id" IS 'The hearing (-> hearings).';
COMMENT ON COLUMN hearing_parties."party_id" IS 'The party (-> parties).';
COMMENT ON COLUMN hearing_parties."role" IS 'The party''s role on the hearing''s case; an unknown role keeps the known one.';
COMMENT ON COLUMN hearing_parties."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN hearing_parties."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN hearing_parties."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN hearing_parties."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN hearing_parties."updated_at" IS 'When a value of the row last changed.';
COMMENT ON TABLE hearing_changes IS 'History (append-only): new hearings, reschedules, status changes, removals and resets, with when each was seen and why.';
COMMENT ON COLUMN hearing_changes."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN hearing_changes."hearing_id" IS 'The hearing that changed (-> hearings).';
COMMENT ON COLUMN hearing_changes."change_kind" IS '''new'' | ''rescheduled'' | ''status'' | ''removed'' | ''reset''.';
COMMENT ON COLUMN hearing_changes."old_status" IS 'Status before the change.';
COMMENT ON COLUMN hearing_changes."new_status" IS 'Status after the change.';
COMMENT ON COLUMN hearing_changes."old_start_at" IS 'Start instant before the change.';
COMMENT ON COLUMN hearing_changes."new_start_at" IS 'Start instant after the change.';
COMMENT ON COLUMN hearing_changes."reason" IS 'Why the change was recorded (e.g. the snapshot no longer lists it).';
COMMENT ON COLUMN hearing_changes."source" IS 'Source that reported the change: ''ecr'' or ''odyssey_api''.';
COMMENT ON COLUMN hearing_changes."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN hearing_changes."changed_at" IS 'When the change was recorded.';
COMMENT ON COLUMN hearing_changes."linked_hearing_id" IS 'On a ''reset'' row: the old hearing the new one replaces.';

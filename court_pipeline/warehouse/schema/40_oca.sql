-- OCA case-level datasets (issue 4): validated rows per entity type, rows held back by the
-- contract or the code map, unmapped local codes, and a log of every dataset build.
-- The dataset tables follow the v3 contract files; a newer contract's extra fields are added
-- as columns at build time (court_pipeline.oca.datasets.ensure_dataset_table).

-- di-texas-oca-court-case-status: rows that PASSED validation; one row per recordid.
CREATE TABLE IF NOT EXISTS oca_case_status (
    agency_id            VARCHAR NOT NULL,
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' of the build
    as_of                DATE,               -- the partition day
    built_at             TIMESTAMPTZ,
    "cause_number"                             VARCHAR,
    "recordid"                                 VARCHAR,
    "county"                                   VARCHAR,
    "publisher"                                VARCHAR,
    "court_id_number"                          VARCHAR,
    "court_name"                               VARCHAR,
    "court_type"                               VARCHAR,
    "primary_case_category"                    VARCHAR,
    "judicial_council_case_category"           VARCHAR,
    "jcit_case_type"                           VARCHAR,
    "judicial_council_offense_type"            VARCHAR,
    "local_case_type"                          VARCHAR,
    "case_judicial_officer_name"               VARCHAR,
    "case_judicial_officer_type"               VARCHAR,
    "update_date"                              VARCHAR,
    "current_case_status"                      VARCHAR,
    "case_status_date"                         VARCHAR,
    "case_status_event"                        VARCHAR,
    PRIMARY KEY (agency_id, recordid)
);

-- di-texas-oca-court-case-events: rows that PASSED validation; one row per recordid.
CREATE TABLE IF NOT EXISTS oca_case_events (
    agency_id            VARCHAR NOT NULL,
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' of the build
    as_of                DATE,               -- the partition day
    built_at             TIMESTAMPTZ,
    "cause_number"                             VARCHAR,
    "recordid"                                 VARCHAR,
    "county"                                   VARCHAR,
    "publisher"                                VARCHAR,
    "court_id_number"                          VARCHAR,
    "court_name"                               VARCHAR,
    "court_type"                               VARCHAR,
    "primary_case_category"                    VARCHAR,
    "judicial_council_case_category"           VARCHAR,
    "jcit_case_type"                           VARCHAR,
    "judicial_council_offense_type"            VARCHAR,
    "local_case_type"                          VARCHAR,
    "case_judicial_officer_name"               VARCHAR,
    "case_judicial_officer_type"               VARCHAR,
    "update_date"                              VARCHAR,
    "event_type"                               VARCHAR,
    "event_date"                               VARCHAR,
    "type_of_mental_health_commitment_ordered" VARCHAR,
    "case_initial_filing_date"                 VARCHAR,
    "pleading_motion_outcome"                  VARCHAR,
    "event_judicial_officer_name"              VARCHAR,
    "event_judicial_officer_type"              VARCHAR,
    PRIMARY KEY (agency_id, recordid)
);

-- di-texas-oca-court-charges: rows that PASSED validation; one row per recordid.
CREATE TABLE IF NOT EXISTS oca_charges (
    agency_id            VARCHAR NOT NULL,
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' of the build
    as_of                DATE,               -- the partition day
    built_at             TIMESTAMPTZ,
    "cause_number"                             VARCHAR,
    "recordid"                                 VARCHAR,
    "county"                                   VARCHAR,
    "publisher"                                VARCHAR,
    "court_id_number"                          VARCHAR,
    "court_name"                               VARCHAR,
    "court_type"                               VARCHAR,
    "primary_case_category"                    VARCHAR,
    "judicial_council_case_category"           VARCHAR,
    "jcit_case_type"                           VARCHAR,
    "judicial_council_offense_type"            VARCHAR,
    "local_case_type"                          VARCHAR,
    "case_judicial_officer_name"               VARCHAR,
    "case_judicial_officer_type"               VARCHAR,
    "update_date"                              VARCHAR,
    "case_initial_filing_date"                 VARCHAR,
    "party_age_at_time_of_offense"             DOUBLE,
    "party_race"                               VARCHAR,
    "party_ethnicity"                          VARCHAR,
    "party_sex"                                VARCHAR,
    "party_zip_code"                           VARCHAR,
    "party_indigency_status"                   VARCHAR,
    "offense_date"                             VARCHAR,
    "arrest_date"                              VARCHAR,
    "charge_number"                            VARCHAR,
    "charge_filing_date"                       VARCHAR,
    "filing_statute"                           VARCHAR,
    "statute_citation"                         VARCHAR,
    "filing_offense_code"                      VARCHAR,
    "filing_charge_description"                VARCHAR,
    "level_and_degree_of_prosecuted_offense"   VARCHAR,
    "filing_charge_modifiers"                  VARCHAR,
    "prosecution_offense_literal"              VARCHAR,
    "victim_age"                               DOUBLE,
    "deadly_weapon_finding"                    VARCHAR,
    "charge_disposition_date"                  VARCHAR,
    "charge_sentencing_date"                   VARCHAR,
    "charge_manner_of_disposition"             VARCHAR,
    "charge_disposition"                       VARCHAR,
    "charge_adjudication"                      VARCHAR,
    "plea_type"                                VARCHAR,
    "plea_date"                                VARCHAR,
    "most_severe_charge"                       VARCHAR,
    PRIMARY KEY (agency_id, recordid)
);

-- di-texas-oca-court-attorney: rows that PASSED validation; one row per recordid.
CREATE TABLE IF NOT EXISTS oca_attorney (
    agency_id            VARCHAR NOT NULL,
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' of the build
    as_of                DATE,               -- the partition day
    built_at             TIMESTAMPTZ,
    "cause_number"                             VARCHAR,
    "recordid"                                 VARCHAR,
    "county"                                   VARCHAR,
    "publisher"                                VARCHAR,
    "court_id_number"                          VARCHAR,
    "court_name"                               VARCHAR,
    "court_type"                               VARCHAR,
    "primary_case_category"                    VARCHAR,
    "judicial_council_case_category"           VARCHAR,
    "jcit_case_type"                           VARCHAR,
    "judicial_council_offense_type"            VARCHAR,
    "local_case_type"                          VARCHAR,
    "case_judicial_officer_name"               VARCHAR,
    "case_judicial_officer_type"               VARCHAR,
    "update_date"                              VARCHAR,
    "attorney_entry_date"                      VARCHAR,
    "attorney_end_date"                        VARCHAR,
    "attorney_type"                            VARCHAR,
    "party_represented"                        VARCHAR,
    "attorney_name"                            VARCHAR,
    "state_bar_card_number"                    VARCHAR,
    PRIMARY KEY (agency_id, recordid)
);

-- di-texas-oca-court-appointments: rows that PASSED validation; one row per recordid.
CREATE TABLE IF NOT EXISTS oca_appointments (
    agency_id            VARCHAR NOT NULL,
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' of the build
    as_of                DATE,               -- the partition day
    built_at             TIMESTAMPTZ,
    "cause_number"                             VARCHAR,
    "recordid"                                 VARCHAR,
    "county"                                   VARCHAR,
    "publisher"                                VARCHAR,
    "court_id_number"                          VARCHAR,
    "court_name"                               VARCHAR,
    "court_type"                               VARCHAR,
    "primary_case_category"                    VARCHAR,
    "judicial_council_case_category"           VARCHAR,
    "jcit_case_type"                           VARCHAR,
    "judicial_council_offense_type"            VARCHAR,
    "local_case_type"                          VARCHAR,
    "case_judicial_officer_name"               VARCHAR,
    "case_judicial_officer_type"               VARCHAR,
    "update_date"                              VARCHAR,
    "case_style"                               VARCHAR,
    "appointment_type"                         VARCHAR,
    "appointee"                                VARCHAR,
    "position"                                 VARCHAR,
    "relationship_to_ward_or_deceased"         VARCHAR,
    "approving_judicial_officer_name"          VARCHAR,
    "appointment_date"                         VARCHAR,
    "source_of_fee"                            VARCHAR,
    "amount_approved"                          DOUBLE,
    "amount_approved_date"                     VARCHAR,
    "number_of_hours_billed"                   DOUBLE,
    "total_billed_expenses"                    DOUBLE,
    PRIMARY KEY (agency_id, recordid)
);

-- di-texas-oca-court-party: rows that PASSED validation (provisional contract); one row per recordid.
CREATE TABLE IF NOT EXISTS oca_party (
    agency_id            VARCHAR NOT NULL,
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' of the build
    as_of                DATE,               -- the partition day
    built_at             TIMESTAMPTZ,
    "cause_number"                             VARCHAR,
    "recordid"                                 VARCHAR,
    "county"                                   VARCHAR,
    "publisher"                                VARCHAR,
    "court_id_number"                          VARCHAR,
    "court_name"                               VARCHAR,
    "court_type"                               VARCHAR,
    "primary_case_category"                    VARCHAR,
    "judicial_council_case_category"           VARCHAR,
    "jcit_case_type"                           VARCHAR,
    "judicial_council_offense_type"            VARCHAR,
    "local_case_type"                          VARCHAR,
    "case_judicial_officer_name"               VARCHAR,
    "case_judicial_officer_type"               VARCHAR,
    "update_date"                              VARCHAR,
    "party_type"                               VARCHAR,
    "party_age_at_time_of_offense"             DOUBLE,
    "party_race"                               VARCHAR,
    "party_ethnicity"                          VARCHAR,
    "party_sex"                                VARCHAR,
    "party_zip_code"                           VARCHAR,
    "party_indigency_status"                   VARCHAR,
    PRIMARY KEY (agency_id, recordid)
);

-- di-texas-oca-court-dispositions-criminal: rows that PASSED validation (provisional contract); one row per recordid.
CREATE TABLE IF NOT EXISTS oca_dispositions_criminal (
    agency_id            VARCHAR NOT NULL,
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' of the build
    as_of                DATE,               -- the partition day
    built_at             TIMESTAMPTZ,
    "cause_number"                             VARCHAR,
    "recordid"                                 VARCHAR,
    "county"                                   VARCHAR,
    "publisher"                                VARCHAR,
    "court_id_number"                          VARCHAR,
    "court_name"                               VARCHAR,
    "court_type"                               VARCHAR,
    "primary_case_category"                    VARCHAR,
    "judicial_council_case_category"           VARCHAR,
    "jcit_case_type"                           VARCHAR,
    "judicial_council_offense_type"            VARCHAR,
    "local_case_type"                          VARCHAR,
    "case_judicial_officer_name"               VARCHAR,
    "case_judicial_officer_type"               VARCHAR,
    "update_date"                              VARCHAR,
    "charge_number"                            VARCHAR,
    "disposition_date"                         VARCHAR,
    "criminal_disposition_detail"              VARCHAR,
    "party_age_at_time_of_offense"             DOUBLE,
    "party_race"                               VARCHAR,
    "party_ethnicity"                          VARCHAR,
    "party_sex"                                VARCHAR,
    "attorney_type"                            VARCHAR,
    "disposition_statute"                      VARCHAR,
    "disposition_charge_modifier"              VARCHAR,
    "disposition_other_enhancements"           VARCHAR,
    "deadly_weapon_finding"                    VARCHAR,
    "plea_type"                                VARCHAR,
    "sentence_type"                            VARCHAR,
    "sentencing_date"                          VARCHAR,
    "juvenile_disposition_type"                VARCHAR,
    "concurrent_consecutive_sentence"          VARCHAR,
    "victim_age"                               DOUBLE,
    "monetary_penalty_amount_court_costs"      DOUBLE,
    "monetary_penalty_amount_fines"            DOUBLE,
    "monetary_penalty_amount_restitution"      DOUBLE,
    PRIMARY KEY (agency_id, recordid)
);

-- di-texas-oca-court-dispositions-non-criminal: rows that PASSED validation (provisional contract); one row per recordid.
CREATE TABLE IF NOT EXISTS oca_dispositions_non_criminal (
    agency_id            VARCHAR NOT NULL,
    partition_key        VARCHAR,            -- 'agency|YYYY-MM-DD' of the build
    as_of                DATE,               -- the partition day
    built_at             TIMESTAMPTZ,
    "cause_number"                             VARCHAR,
    "recordid"                                 VARCHAR,
    "county"                                   VARCHAR,
    "publisher"                                VARCHAR,
    "court_id_number"                          VARCHAR,
    "court_name"                               VARCHAR,
    "court_type"                               VARCHAR,
    "primary_case_category"                    VARCHAR,
    "judicial_council_case_category"           VARCHAR,
    "jcit_case_type"                           VARCHAR,
    "judicial_council_offense_type"            VARCHAR,
    "local_case_type"                          VARCHAR,
    "case_judicial_officer_name"               VARCHAR,
    "case_judicial_officer_type"               VARCHAR,
    "update_date"                              VARCHAR,
    "disposition_date"                         VARCHAR,
    "non_criminal_disposition_detail"          VARCHAR,
    PRIMARY KEY (agency_id, recordid)
);

-- Rows held back by the OCA datasets: one line per broken rule of each row (current state:
-- replaced per agency and entity type at each build). Not the publisher's oca_held_back.
CREATE TABLE IF NOT EXISTS oca_dataset_held_back (
    agency_id            VARCHAR NOT NULL,
    entity_type          VARCHAR NOT NULL,   -- di-texas-oca-court-...
    recordid             VARCHAR,            -- NULL when the recordid itself is missing
    field                VARCHAR NOT NULL,   -- contract field (or the extra column) at fault
    value                VARCHAR,            -- the value as JSON text ("42" = quoted string); local code for code_map
    rule                 VARCHAR NOT NULL,   -- required | type | enum | pattern | format | minLength |
                                             -- additionalProperties | schema | code_map
    message              VARCHAR NOT NULL,   -- human-readable, with a hint when the fix is obvious
    partition_key        VARCHAR,
    detected_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    code_map_entry       VARCHAR             -- rule code_map: the entry to add, maps.<kind>."<code>"
);
ALTER TABLE oca_dataset_held_back ADD COLUMN IF NOT EXISTS code_map_entry VARCHAR;

-- Local codes met in the clean tables without a code map entry (current state per agency).
CREATE TABLE IF NOT EXISTS oca_unmapped_codes (
    agency_id            VARCHAR NOT NULL,
    code_kind            VARCHAR NOT NULL,   -- plea, race, case_type, ... (codemaps.KINDS)
    local_code           VARCHAR NOT NULL,
    local_description    VARCHAR,            -- Odyssey's text for the code, when it has one
    count                BIGINT NOT NULL,    -- clean-table rows carrying the code
    first_seen           TIMESTAMPTZ NOT NULL,
    last_seen            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agency_id, code_kind, local_code)
);

-- One row per dataset build (asset materialization): counts and the top failure reasons.
CREATE TABLE IF NOT EXISTS oca_dataset_builds (
    agency_id            VARCHAR NOT NULL,
    entity_type          VARCHAR NOT NULL,
    partition_key        VARCHAR,
    as_of                DATE,
    rows                 BIGINT NOT NULL,    -- rows built (not-reported codes excluded)
    rows_passed          BIGINT NOT NULL,
    rows_held_back       BIGINT NOT NULL,
    not_reported         BIGINT NOT NULL,    -- rows whose code maps to null (not an OCA fact)
    contract_dir         VARCHAR,
    code_map             VARCHAR,
    top_reasons          VARCHAR,            -- JSON list of {field, rule, rows}
    built_at             TIMESTAMPTZ NOT NULL
);

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE oca_case_status IS 'OCA dataset di-texas-oca-court-case-status: rows that passed validation, one per recordid, replaced per agency at each build; read by publishing.';
COMMENT ON COLUMN oca_case_status."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_case_status."partition_key" IS 'Partition ''<agency>|<YYYY-MM-DD>'' of the build.';
COMMENT ON COLUMN oca_case_status."as_of" IS 'The partition day the dataset was built for.';
COMMENT ON COLUMN oca_case_status."built_at" IS 'When the dataset build that wrote the row ran.';
COMMENT ON COLUMN oca_case_status."cause_number" IS 'Cause number.';
COMMENT ON COLUMN oca_case_status."recordid" IS 'OCA record id, stable and derived from Odyssey ids (critical).';
COMMENT ON COLUMN oca_case_status."county" IS 'County, one of the 254 Texas counties (critical).';
COMMENT ON COLUMN oca_case_status."publisher" IS 'Publisher (case management vendor) name (critical).';
COMMENT ON COLUMN oca_case_status."court_id_number" IS 'OCA court identifier.';
COMMENT ON COLUMN oca_case_status."court_name" IS 'Court name.';
COMMENT ON COLUMN oca_case_status."court_type" IS 'OCA court type.';
COMMENT ON COLUMN oca_case_status."primary_case_category" IS 'OCA primary case category.';
COMMENT ON COLUMN oca_case_status."judicial_council_case_category" IS 'Judicial Council case category.';
COMMENT ON COLUMN oca_case_status."jcit_case_type" IS 'JCIT case type.';
COMMENT ON COLUMN oca_case_status."judicial_council_offense_type" IS 'Judicial Council offense type.';
COMMENT ON COLUMN oca_case_status."local_case_type" IS 'The agency''s own case type.';
COMMENT ON COLUMN oca_case_status."case_judicial_officer_name" IS 'Judicial officer of the case.';
COMMENT ON COLUMN oca_case_status."case_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON COLUMN oca_case_status."update_date" IS 'Date the record last changed (YYYY-MM-DD).';
COMMENT ON COLUMN oca_case_status."current_case_status" IS 'Current case status (OCA value).';
COMMENT ON COLUMN oca_case_status."case_status_date" IS 'Date of the current status.';
COMMENT ON COLUMN oca_case_status."case_status_event" IS 'Event that set the status (OCA value).';
COMMENT ON TABLE oca_case_events IS 'OCA dataset di-texas-oca-court-case-events: rows that passed validation, one per recordid, replaced per agency at each build; read by publishing.';
COMMENT ON COLUMN oca_case_events."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_case_events."partition_key" IS 'Partition ''<agency>|<YYYY-MM-DD>'' of the build.';
COMMENT ON COLUMN oca_case_events."as_of" IS 'The partition day the dataset was built for.';
COMMENT ON COLUMN oca_case_events."built_at" IS 'When the dataset build that wrote the row ran.';
COMMENT ON COLUMN oca_case_events."cause_number" IS 'Cause number.';
COMMENT ON COLUMN oca_case_events."recordid" IS 'OCA record id, stable and derived from Odyssey ids (critical).';
COMMENT ON COLUMN oca_case_events."county" IS 'County, one of the 254 Texas counties (critical).';
COMMENT ON COLUMN oca_case_events."publisher" IS 'Publisher (case management vendor) name (critical).';
COMMENT ON COLUMN oca_case_events."court_id_number" IS 'OCA court identifier.';
COMMENT ON COLUMN oca_case_events."court_name" IS 'Court name.';
COMMENT ON COLUMN oca_case_events."court_type" IS 'OCA court type.';
COMMENT ON COLUMN oca_case_events."primary_case_category" IS 'OCA primary case category.';
COMMENT ON COLUMN oca_case_events."judicial_council_case_category" IS 'Judicial Council case category.';
COMMENT ON COLUMN oca_case_events."jcit_case_type" IS 'JCIT case type.';
COMMENT ON COLUMN oca_case_events."judicial_council_offense_type" IS 'Judicial Council offense type.';
COMMENT ON COLUMN oca_case_events."local_case_type" IS 'The agency''s own case type.';
COMMENT ON COLUMN oca_case_events."case_judicial_officer_name" IS 'Judicial officer of the case.';
COMMENT ON COLUMN oca_case_events."case_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON COLUMN oca_case_events."update_date" IS 'Date the record last changed (YYYY-MM-DD).';
COMMENT ON COLUMN oca_case_events."event_type" IS 'Case event type (OCA value).';
COMMENT ON COLUMN oca_case_events."event_date" IS 'Date of the event.';
COMMENT ON COLUMN oca_case_events."type_of_mental_health_commitment_ordered" IS 'Mental health commitment ordered (OCA value).';
COMMENT ON COLUMN oca_case_events."case_initial_filing_date" IS 'Date the case was first filed.';
COMMENT ON COLUMN oca_case_events."pleading_motion_outcome" IS 'Outcome of a pleading or motion (OCA value).';
COMMENT ON COLUMN oca_case_events."event_judicial_officer_name" IS 'Judicial officer of the event.';
COMMENT ON COLUMN oca_case_events."event_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON TABLE oca_charges IS 'OCA dataset di-texas-oca-court-charges: rows that passed validation, one per recordid, replaced per agency at each build; read by publishing.';
COMMENT ON COLUMN oca_charges."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_charges."partition_key" IS 'Partition ''<agency>|<YYYY-MM-DD>'' of the build.';
COMMENT ON COLUMN oca_charges."as_of" IS 'The partition day the dataset was built for.';
COMMENT ON COLUMN oca_charges."built_at" IS 'When the dataset build that wrote the row ran.';
COMMENT ON COLUMN oca_charges."cause_number" IS 'Cause number.';
COMMENT ON COLUMN oca_charges."recordid" IS 'OCA record id, stable and derived from Odyssey ids (critical).';
COMMENT ON COLUMN oca_charges."county" IS 'County, one of the 254 Texas counties (critical).';
COMMENT ON COLUMN oca_charges."publisher" IS 'Publisher (case management vendor) name (critical).';
COMMENT ON COLUMN oca_charges."court_id_number" IS 'OCA court identifier.';
COMMENT ON COLUMN oca_charges."court_name" IS 'Court name.';
COMMENT ON COLUMN oca_charges."court_type" IS 'OCA court type.';
COMMENT ON COLUMN oca_charges."primary_case_category" IS 'OCA primary case category.';
COMMENT ON COLUMN oca_charges."judicial_council_case_category" IS 'Judicial Council case category.';
COMMENT ON COLUMN oca_charges."jcit_case_type" IS 'JCIT case type.';
COMMENT ON COLUMN oca_charges."judicial_council_offense_type" IS 'Judicial Council offense type.';
COMMENT ON COLUMN oca_charges."local_case_type" IS 'The agency''s own case type.';
COMMENT ON COLUMN oca_charges."case_judicial_officer_name" IS 'Judicial officer of the case.';
COMMENT ON COLUMN oca_charges."case_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON COLUMN oca_charges."update_date" IS 'Date the record last changed (YYYY-MM-DD).';
COMMENT ON COLUMN oca_charges."case_initial_filing_date" IS 'Date the case was first filed.';
COMMENT ON COLUMN oca_charges."party_age_at_time_of_offense" IS 'Defendant''s age at the offense (number).';
COMMENT ON COLUMN oca_charges."party_race" IS 'Party race (OCA value).';
COMMENT ON COLUMN oca_charges."party_ethnicity" IS 'Party ethnicity (OCA value).';
COMMENT ON COLUMN oca_charges."party_sex" IS 'Party sex (OCA value).';
COMMENT ON COLUMN oca_charges."party_zip_code" IS 'Party ZIP code.';
COMMENT ON COLUMN oca_charges."party_indigency_status" IS 'Party indigency status.';
COMMENT ON COLUMN oca_charges."offense_date" IS 'Date of the offense.';
COMMENT ON COLUMN oca_charges."arrest_date" IS 'Date of the arrest.';
COMMENT ON COLUMN oca_charges."charge_number" IS 'Charge number on the case.';
COMMENT ON COLUMN oca_charges."charge_filing_date" IS 'Date the charge was filed.';
COMMENT ON COLUMN oca_charges."filing_statute" IS 'Statute of the filed charge (OCA value).';
COMMENT ON COLUMN oca_charges."statute_citation" IS 'Statute citation text.';
COMMENT ON COLUMN oca_charges."filing_offense_code" IS 'Offense code of the filed charge.';
COMMENT ON COLUMN oca_charges."filing_charge_description" IS 'Description of the filed charge.';
COMMENT ON COLUMN oca_charges."level_and_degree_of_prosecuted_offense" IS 'Level and degree of the prosecuted offense (OCA value).';
COMMENT ON COLUMN oca_charges."filing_charge_modifiers" IS 'Charge modifiers (OCA value).';
COMMENT ON COLUMN oca_charges."prosecution_offense_literal" IS 'Prosecuted offense as written.';
COMMENT ON COLUMN oca_charges."victim_age" IS 'Victim''s age (number).';
COMMENT ON COLUMN oca_charges."deadly_weapon_finding" IS 'Deadly weapon finding (OCA value).';
COMMENT ON COLUMN oca_charges."charge_disposition_date" IS 'Date of the charge disposition.';
COMMENT ON COLUMN oca_charges."charge_sentencing_date" IS 'Date of sentencing on the charge.';
COMMENT ON COLUMN oca_charges."charge_manner_of_disposition" IS 'Manner of disposition (OCA value).';
COMMENT ON COLUMN oca_charges."charge_disposition" IS 'Charge disposition (OCA value).';
COMMENT ON COLUMN oca_charges."charge_adjudication" IS 'Adjudication of the charge.';
COMMENT ON COLUMN oca_charges."plea_type" IS 'Plea (OCA value, e.g. ''G - Guilty'').';
COMMENT ON COLUMN oca_charges."plea_date" IS 'Date of the plea.';
COMMENT ON COLUMN oca_charges."most_severe_charge" IS 'Marks the most severe charge of the case.';
COMMENT ON TABLE oca_attorney IS 'OCA dataset di-texas-oca-court-attorney: rows that passed validation, one per recordid, replaced per agency at each build; read by publishing.';
COMMENT ON COLUMN oca_attorney."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_attorney."partition_key" IS 'Partition ''<agency>|<YYYY-MM-DD>'' of the build.';
COMMENT ON COLUMN oca_attorney."as_of" IS 'The partition day the dataset was built for.';
COMMENT ON COLUMN oca_attorney."built_at" IS 'When the dataset build that wrote the row ran.';
COMMENT ON COLUMN oca_attorney."cause_number" IS 'Cause number.';
COMMENT ON COLUMN oca_attorney."recordid" IS 'OCA record id, stable and derived from Odyssey ids (critical).';
COMMENT ON COLUMN oca_attorney."county" IS 'County, one of the 254 Texas counties (critical).';
COMMENT ON COLUMN oca_attorney."publisher" IS 'Publisher (case management vendor) name (critical).';
COMMENT ON COLUMN oca_attorney."court_id_number" IS 'OCA court identifier.';
COMMENT ON COLUMN oca_attorney."court_name" IS 'Court name.';
COMMENT ON COLUMN oca_attorney."court_type" IS 'OCA court type.';
COMMENT ON COLUMN oca_attorney."primary_case_category" IS 'OCA primary case category.';
COMMENT ON COLUMN oca_attorney."judicial_council_case_category" IS 'Judicial Council case category.';
COMMENT ON COLUMN oca_attorney."jcit_case_type" IS 'JCIT case type.';
COMMENT ON COLUMN oca_attorney."judicial_council_offense_type" IS 'Judicial Council offense type.';
COMMENT ON COLUMN oca_attorney."local_case_type" IS 'The agency''s own case type.';
COMMENT ON COLUMN oca_attorney."case_judicial_officer_name" IS 'Judicial officer of the case.';
COMMENT ON COLUMN oca_attorney."case_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON COLUMN oca_attorney."update_date" IS 'Date the record last changed (YYYY-MM-DD).';
COMMENT ON COLUMN oca_attorney."attorney_entry_date" IS 'Date the attorney entered the case.';
COMMENT ON COLUMN oca_attorney."attorney_end_date" IS 'Date the attorney left the case.';
COMMENT ON COLUMN oca_attorney."attorney_type" IS 'Attorney type (OCA value).';
COMMENT ON COLUMN oca_attorney."party_represented" IS 'Party the attorney represents (OCA value).';
COMMENT ON COLUMN oca_attorney."attorney_name" IS 'Attorney name.';
COMMENT ON COLUMN oca_attorney."state_bar_card_number" IS 'State bar card number.';
COMMENT ON TABLE oca_appointments IS 'OCA dataset di-texas-oca-court-appointments: rows that passed validation, one per recordid, replaced per agency at each build; read by publishing.';
COMMENT ON COLUMN oca_appointments."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_appointments."partition_key" IS 'Partition ''<agency>|<YYYY-MM-DD>'' of the build.';
COMMENT ON COLUMN oca_appointments."as_of" IS 'The partition day the dataset was built for.';
COMMENT ON COLUMN oca_appointments."built_at" IS 'When the dataset build that wrote the row ran.';
COMMENT ON COLUMN oca_appointments."cause_number" IS 'Cause number.';
COMMENT ON COLUMN oca_appointments."recordid" IS 'OCA record id, stable and derived from Odyssey ids (critical).';
COMMENT ON COLUMN oca_appointments."county" IS 'County, one of the 254 Texas counties (critical).';
COMMENT ON COLUMN oca_appointments."publisher" IS 'Publisher (case management vendor) name (critical).';
COMMENT ON COLUMN oca_appointments."court_id_number" IS 'OCA court identifier.';
COMMENT ON COLUMN oca_appointments."court_name" IS 'Court name.';
COMMENT ON COLUMN oca_appointments."court_type" IS 'OCA court type.';
COMMENT ON COLUMN oca_appointments."primary_case_category" IS 'OCA primary case category.';
COMMENT ON COLUMN oca_appointments."judicial_council_case_category" IS 'Judicial Council case category.';
COMMENT ON COLUMN oca_appointments."jcit_case_type" IS 'JCIT case type.';
COMMENT ON COLUMN oca_appointments."judicial_council_offense_type" IS 'Judicial Council offense type.';
COMMENT ON COLUMN oca_appointments."local_case_type" IS 'The agency''s own case type.';
COMMENT ON COLUMN oca_appointments."case_judicial_officer_name" IS 'Judicial officer of the case.';
COMMENT ON COLUMN oca_appointments."case_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON COLUMN oca_appointments."update_date" IS 'Date the record last changed (YYYY-MM-DD).';
COMMENT ON COLUMN oca_appointments."case_style" IS 'Case style.';
COMMENT ON COLUMN oca_appointments."appointment_type" IS 'Appointment type (OCA value).';
COMMENT ON COLUMN oca_appointments."appointee" IS 'Person appointed.';
COMMENT ON COLUMN oca_appointments."position" IS 'Appointee''s position (OCA value).';
COMMENT ON COLUMN oca_appointments."relationship_to_ward_or_deceased" IS 'Relationship to the ward or deceased (OCA value).';
COMMENT ON COLUMN oca_appointments."approving_judicial_officer_name" IS 'Judicial officer who approved the appointment.';
COMMENT ON COLUMN oca_appointments."appointment_date" IS 'Date of the appointment.';
COMMENT ON COLUMN oca_appointments."source_of_fee" IS 'Source of the fee (OCA value).';
COMMENT ON COLUMN oca_appointments."amount_approved" IS 'Amount approved (number).';
COMMENT ON COLUMN oca_appointments."amount_approved_date" IS 'Date the amount was approved.';
COMMENT ON COLUMN oca_appointments."number_of_hours_billed" IS 'Hours billed (number).';
COMMENT ON COLUMN oca_appointments."total_billed_expenses" IS 'Expenses billed (number).';
COMMENT ON TABLE oca_party IS 'OCA dataset di-texas-oca-court-party: rows that passed validation, one per recordid, replaced per agency at each build; read by publishing.';
COMMENT ON COLUMN oca_party."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_party."partition_key" IS 'Partition ''<agency>|<YYYY-MM-DD>'' of the build.';
COMMENT ON COLUMN oca_party."as_of" IS 'The partition day the dataset was built for.';
COMMENT ON COLUMN oca_party."built_at" IS 'When the dataset build that wrote the row ran.';
COMMENT ON COLUMN oca_party."cause_number" IS 'Cause number.';
COMMENT ON COLUMN oca_party."recordid" IS 'OCA record id, stable and derived from Odyssey ids (critical).';
COMMENT ON COLUMN oca_party."county" IS 'County, one of the 254 Texas counties (critical).';
COMMENT ON COLUMN oca_party."publisher" IS 'Publisher (case management vendor) name (critical).';
COMMENT ON COLUMN oca_party."court_id_number" IS 'OCA court identifier.';
COMMENT ON COLUMN oca_party."court_name" IS 'Court name.';
COMMENT ON COLUMN oca_party."court_type" IS 'OCA court type.';
COMMENT ON COLUMN oca_party."primary_case_category" IS 'OCA primary case category.';
COMMENT ON COLUMN oca_party."judicial_council_case_category" IS 'Judicial Council case category.';
COMMENT ON COLUMN oca_party."jcit_case_type" IS 'JCIT case type.';
COMMENT ON COLUMN oca_party."judicial_council_offense_type" IS 'Judicial Council offense type.';
COMMENT ON COLUMN oca_party."local_case_type" IS 'The agency''s own case type.';
COMMENT ON COLUMN oca_party."case_judicial_officer_name" IS 'Judicial officer of the case.';
COMMENT ON COLUMN oca_party."case_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON COLUMN oca_party."update_date" IS 'Date the record last changed (YYYY-MM-DD).';
COMMENT ON COLUMN oca_party."party_type" IS 'Party type (OCA value).';
COMMENT ON COLUMN oca_party."party_age_at_time_of_offense" IS 'Defendant''s age at the offense (number).';
COMMENT ON COLUMN oca_party."party_race" IS 'Party race (OCA value).';
COMMENT ON COLUMN oca_party."party_ethnicity" IS 'Party ethnicity (OCA value).';
COMMENT ON COLUMN oca_party."party_sex" IS 'Party sex (OCA value).';
COMMENT ON COLUMN oca_party."party_zip_code" IS 'Party ZIP code.';
COMMENT ON COLUMN oca_party."party_indigency_status" IS 'Party indigency status.';
COMMENT ON TABLE oca_dispositions_criminal IS 'OCA dataset di-texas-oca-court-dispositions-criminal: rows that passed validation, one per recordid, replaced per agency at each build; read by publishing.';
COMMENT ON COLUMN oca_dispositions_criminal."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_dispositions_criminal."partition_key" IS 'Partition ''<agency>|<YYYY-MM-DD>'' of the build.';
COMMENT ON COLUMN oca_dispositions_criminal."as_of" IS 'The partition day the dataset was built for.';
COMMENT ON COLUMN oca_dispositions_criminal."built_at" IS 'When the dataset build that wrote the row ran.';
COMMENT ON COLUMN oca_dispositions_criminal."cause_number" IS 'Cause number.';
COMMENT ON COLUMN oca_dispositions_criminal."recordid" IS 'OCA record id, stable and derived from Odyssey ids (critical).';
COMMENT ON COLUMN oca_dispositions_criminal."county" IS 'County, one of the 254 Texas counties (critical).';
COMMENT ON COLUMN oca_dispositions_criminal."publisher" IS 'Publisher (case management vendor) name (critical).';
COMMENT ON COLUMN oca_dispositions_criminal."court_id_number" IS 'OCA court identifier.';
COMMENT ON COLUMN oca_dispositions_criminal."court_name" IS 'Court name.';
COMMENT ON COLUMN oca_dispositions_criminal."court_type" IS 'OCA court type.';
COMMENT ON COLUMN oca_dispositions_criminal."primary_case_category" IS 'OCA primary case category.';
COMMENT ON COLUMN oca_dispositions_criminal."judicial_council_case_category" IS 'Judicial Council case category.';
COMMENT ON COLUMN oca_dispositions_criminal."jcit_case_type" IS 'JCIT case type.';
COMMENT ON COLUMN oca_dispositions_criminal."judicial_council_offense_type" IS 'Judicial Council offense type.';
COMMENT ON COLUMN oca_dispositions_criminal."local_case_type" IS 'The agency''s own case type.';
COMMENT ON COLUMN oca_dispositions_criminal."case_judicial_officer_name" IS 'Judicial officer of the case.';
COMMENT ON COLUMN oca_dispositions_criminal."case_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON COLUMN oca_dispositions_criminal."update_date" IS 'Date the record last changed (YYYY-MM-DD).';
COMMENT ON COLUMN oca_dispositions_criminal."charge_number" IS 'Charge number on the case.';
COMMENT ON COLUMN oca_dispositions_criminal."disposition_date" IS 'Date of the disposition.';
COMMENT ON COLUMN oca_dispositions_criminal."criminal_disposition_detail" IS 'Criminal disposition (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."party_age_at_time_of_offense" IS 'Defendant''s age at the offense (number).';
COMMENT ON COLUMN oca_dispositions_criminal."party_race" IS 'Party race (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."party_ethnicity" IS 'Party ethnicity (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."party_sex" IS 'Party sex (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."attorney_type" IS 'Attorney type (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."disposition_statute" IS 'Statute at disposition (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."disposition_charge_modifier" IS 'Charge modifier at disposition (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."disposition_other_enhancements" IS 'Other enhancements at disposition (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."deadly_weapon_finding" IS 'Deadly weapon finding (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."plea_type" IS 'Plea (OCA value, e.g. ''G - Guilty'').';
COMMENT ON COLUMN oca_dispositions_criminal."sentence_type" IS 'Sentence type (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."sentencing_date" IS 'Date of sentencing.';
COMMENT ON COLUMN oca_dispositions_criminal."juvenile_disposition_type" IS 'Juvenile disposition type (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."concurrent_consecutive_sentence" IS 'Concurrent or consecutive sentence (OCA value).';
COMMENT ON COLUMN oca_dispositions_criminal."victim_age" IS 'Victim''s age (number).';
COMMENT ON COLUMN oca_dispositions_criminal."monetary_penalty_amount_court_costs" IS 'Court costs ordered (number).';
COMMENT ON COLUMN oca_dispositions_criminal."monetary_penalty_amount_fines" IS 'Fines ordered (number).';
COMMENT ON COLUMN oca_dispositions_criminal."monetary_penalty_amount_restitution" IS 'Restitution ordered (number).';
COMMENT ON TABLE oca_dispositions_non_criminal IS 'OCA dataset di-texas-oca-court-dispositions-non-criminal: rows that passed validation, one per recordid, replaced per agency at each build; read by publishing.';
COMMENT ON COLUMN oca_dispositions_non_criminal."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_dispositions_non_criminal."partition_key" IS 'Partition ''<agency>|<YYYY-MM-DD>'' of the build.';
COMMENT ON COLUMN oca_dispositions_non_criminal."as_of" IS 'The partition day the dataset was built for.';
COMMENT ON COLUMN oca_dispositions_non_criminal."built_at" IS 'When the dataset build that wrote the row ran.';
COMMENT ON COLUMN oca_dispositions_non_criminal."cause_number" IS 'Cause number.';
COMMENT ON COLUMN oca_dispositions_non_criminal."recordid" IS 'OCA record id, stable and derived from Odyssey ids (critical).';
COMMENT ON COLUMN oca_dispositions_non_criminal."county" IS 'County, one of the 254 Texas counties (critical).';
COMMENT ON COLUMN oca_dispositions_non_criminal."publisher" IS 'Publisher (case management vendor) name (critical).';
COMMENT ON COLUMN oca_dispositions_non_criminal."court_id_number" IS 'OCA court identifier.';
COMMENT ON COLUMN oca_dispositions_non_criminal."court_name" IS 'Court name.';
COMMENT ON COLUMN oca_dispositions_non_criminal."court_type" IS 'OCA court type.';
COMMENT ON COLUMN oca_dispositions_non_criminal."primary_case_category" IS 'OCA primary case category.';
COMMENT ON COLUMN oca_dispositions_non_criminal."judicial_council_case_category" IS 'Judicial Council case category.';
COMMENT ON COLUMN oca_dispositions_non_criminal."jcit_case_type" IS 'JCIT case type.';
COMMENT ON COLUMN oca_dispositions_non_criminal."judicial_council_offense_type" IS 'Judicial Council offense type.';
COMMENT ON COLUMN oca_dispositions_non_criminal."local_case_type" IS 'The agency''s own case type.';
COMMENT ON COLUMN oca_dispositions_non_criminal."case_judicial_officer_name" IS 'Judicial officer of the case.';
COMMENT ON COLUMN oca_dispositions_non_criminal."case_judicial_officer_type" IS 'Type of that judicial officer.';
COMMENT ON COLUMN oca_dispositions_non_criminal."update_date" IS 'Date the record last changed (YYYY-MM-DD).';
COMMENT ON COLUMN oca_dispositions_non_criminal."disposition_date" IS 'Date of the disposition.';
COMMENT ON COLUMN oca_dispositions_non_criminal."non_criminal_disposition_detail" IS 'Non-criminal disposition (OCA value).';
COMMENT ON TABLE oca_dataset_held_back IS 'Rows held back by the OCA datasets: one line per broken rule of each row, replaced per agency and entity type at each build (not the publisher''s oca_held_back).';
COMMENT ON COLUMN oca_dataset_held_back."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_dataset_held_back."entity_type" IS 'OCA entity type, di-texas-oca-court-...';
COMMENT ON COLUMN oca_dataset_held_back."recordid" IS 'The record; NULL when the recordid itself is missing.';
COMMENT ON COLUMN oca_dataset_held_back."field" IS 'Contract field (or the extra column) at fault.';
COMMENT ON COLUMN oca_dataset_held_back."value" IS 'The value as JSON text ("42" = quoted string); the local code for rule code_map.';
COMMENT ON COLUMN oca_dataset_held_back."rule" IS 'required | type | enum | pattern | format | minLength | additionalProperties | schema | code_map.';
COMMENT ON COLUMN oca_dataset_held_back."message" IS 'What is wrong and, when obvious, the fix.';
COMMENT ON COLUMN oca_dataset_held_back."partition_key" IS 'Partition of the build that found it.';
COMMENT ON COLUMN oca_dataset_held_back."detected_at" IS 'When the build found it.';
COMMENT ON COLUMN oca_dataset_held_back."code_map_entry" IS 'Rule code_map only: the entry to add, maps.<kind>."<code>".';
COMMENT ON TABLE oca_unmapped_codes IS 'Local codes met in the clean tables without a code map entry (current state per agency).';
COMMENT ON COLUMN oca_unmapped_codes."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_unmapped_codes."code_kind" IS 'Plea, race, case_type, ... (codemaps.KINDS).';
COMMENT ON COLUMN oca_unmapped_codes."local_code" IS 'The local code.';
COMMENT ON COLUMN oca_unmapped_codes."local_description" IS 'Odyssey''s text for the code, when it has one.';
COMMENT ON COLUMN oca_unmapped_codes."count" IS 'Clean-table rows carrying the code.';
COMMENT ON COLUMN oca_unmapped_codes."first_seen" IS 'First build that met the code (kept while it stays unmapped).';
COMMENT ON COLUMN oca_unmapped_codes."last_seen" IS 'Latest build that met it.';
COMMENT ON TABLE oca_dataset_builds IS 'One row per OCA dataset build (asset materialization): counts and the top failure reasons.';
COMMENT ON COLUMN oca_dataset_builds."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN oca_dataset_builds."entity_type" IS 'OCA entity type built.';
COMMENT ON COLUMN oca_dataset_builds."partition_key" IS 'Partition of the build.';
COMMENT ON COLUMN oca_dataset_builds."as_of" IS 'The partition day.';
COMMENT ON COLUMN oca_dataset_builds."rows" IS 'Rows built (not-reported codes excluded).';
COMMENT ON COLUMN oca_dataset_builds."rows_passed" IS 'Rows that passed validation (in oca_<type>).';
COMMENT ON COLUMN oca_dataset_builds."rows_held_back" IS 'Rows held back (see oca_dataset_held_back).';
COMMENT ON COLUMN oca_dataset_builds."not_reported" IS 'Rows whose code maps to null (not an OCA fact); for non-criminal dispositions also the open cases.';
COMMENT ON COLUMN oca_dataset_builds."contract_dir" IS 'Directory of the contract files used.';
COMMENT ON COLUMN oca_dataset_builds."code_map" IS 'Code map file used.';
COMMENT ON COLUMN oca_dataset_builds."top_reasons" IS 'JSON list of {field, rule, rows}.';
COMMENT ON COLUMN oca_dataset_builds."built_at" IS 'When the build ran.';

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

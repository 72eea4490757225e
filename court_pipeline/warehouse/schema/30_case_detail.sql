-- Case detail that the Odyssey API carries (FindCase) and state reporting needs.

CREATE TABLE IF NOT EXISTS charges (
    agency_id            VARCHAR NOT NULL,
    case_id              VARCHAR NOT NULL,
    charge_id            VARCHAR NOT NULL,   -- Odyssey ChargeID
    party_id             VARCHAR,            -- the defendant charged (case's DEF party)
    charge_number        VARCHAR,
    statute_code         VARCHAR,            -- <Statute Code="PC">
    statute              VARCHAR,            -- <Statute>49.04</Statute>
    offense_code         VARCHAR,
    description          VARCHAR,
    degree_code          VARCHAR,
    degree               VARCHAR,
    offense_date         DATE,
    arrest_date          DATE,
    filing_date          DATE,
    plea_code            VARCHAR,
    plea                 VARCHAR,
    plea_date            DATE,
    disposition_code     VARCHAR,
    disposition          VARCHAR,
    disposition_date     DATE,
    sentence_type        VARCHAR,
    sentence_date        DATE,
    fine_amount          DECIMAL(12, 2),
    court_costs          DECIMAL(12, 2),
    restitution          DECIMAL(12, 2),
    confinement_days     INTEGER,
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, case_id, charge_id)
);

CREATE TABLE IF NOT EXISTS attorneys (
    agency_id            VARCHAR NOT NULL,
    case_id              VARCHAR NOT NULL,
    attorney_party_id    VARCHAR NOT NULL,
    represents_party_id  VARCHAR NOT NULL,
    name                 VARCHAR,
    bar_number           VARCHAR,
    type_code            VARCHAR,            -- e.g. APD
    type                 VARCHAR,            -- e.g. Appointed - Public Defender
    start_date           DATE,
    end_date             DATE,
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, case_id, attorney_party_id, represents_party_id)
);

CREATE TABLE IF NOT EXISTS case_events (
    agency_id            VARCHAR NOT NULL,
    case_id              VARCHAR NOT NULL,
    event_id             VARCHAR NOT NULL,
    event_date           DATE,
    type_code            VARCHAR,
    type                 VARCHAR,
    source               VARCHAR NOT NULL,
    source_ref           VARCHAR,
    source_modified_at   TIMESTAMPTZ,
    first_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, case_id, event_id)
);

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE charges IS 'Charges with plea, disposition and sentence (Odyssey API); key (agency_id, case_id, charge_id).';
COMMENT ON COLUMN charges."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN charges."case_id" IS 'The case (-> cases).';
COMMENT ON COLUMN charges."charge_id" IS 'Odyssey ChargeID.';
COMMENT ON COLUMN charges."party_id" IS 'The defendant charged (the case''s DEF party).';
COMMENT ON COLUMN charges."charge_number" IS 'Charge sequence number on the case.';
COMMENT ON COLUMN charges."statute_code" IS 'Statute code, e.g. PC (Penal Code).';
COMMENT ON COLUMN charges."statute" IS 'Statute section, e.g. 49.04.';
COMMENT ON COLUMN charges."offense_code" IS 'Offense code.';
COMMENT ON COLUMN charges."description" IS 'Offense description.';
COMMENT ON COLUMN charges."degree_code" IS 'Local code of the offense degree.';
COMMENT ON COLUMN charges."degree" IS 'Offense degree, e.g. Class B Misdemeanor.';
COMMENT ON COLUMN charges."offense_date" IS 'Date of the offense.';
COMMENT ON COLUMN charges."arrest_date" IS 'Date of the arrest.';
COMMENT ON COLUMN charges."filing_date" IS 'Date the charge was filed.';
COMMENT ON COLUMN charges."plea_code" IS 'Local code of the plea.';
COMMENT ON COLUMN charges."plea" IS 'Plea text.';
COMMENT ON COLUMN charges."plea_date" IS 'Date of the plea.';
COMMENT ON COLUMN charges."disposition_code" IS 'Local code of the disposition.';
COMMENT ON COLUMN charges."disposition" IS 'Disposition text.';
COMMENT ON COLUMN charges."disposition_date" IS 'Date of the disposition.';
COMMENT ON COLUMN charges."sentence_type" IS 'Sentence type.';
COMMENT ON COLUMN charges."sentence_date" IS 'Date of sentencing.';
COMMENT ON COLUMN charges."fine_amount" IS 'Fine ordered.';
COMMENT ON COLUMN charges."court_costs" IS 'Court costs ordered.';
COMMENT ON COLUMN charges."restitution" IS 'Restitution ordered.';
COMMENT ON COLUMN charges."confinement_days" IS 'Days of confinement ordered.';
COMMENT ON COLUMN charges."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN charges."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN charges."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN charges."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN charges."updated_at" IS 'When a value of the row last changed.';
COMMENT ON TABLE attorneys IS 'Attorney assignments per case and represented party (Odyssey API).';
COMMENT ON COLUMN attorneys."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN attorneys."case_id" IS 'The case (-> cases).';
COMMENT ON COLUMN attorneys."attorney_party_id" IS 'The attorney''s PartyID (-> parties).';
COMMENT ON COLUMN attorneys."represents_party_id" IS 'The party represented (-> parties).';
COMMENT ON COLUMN attorneys."name" IS 'Attorney name.';
COMMENT ON COLUMN attorneys."bar_number" IS 'State bar card number.';
COMMENT ON COLUMN attorneys."type_code" IS 'Local code of the attorney type, e.g. APD.';
COMMENT ON COLUMN attorneys."type" IS 'Attorney type, e.g. Appointed - Public Defender.';
COMMENT ON COLUMN attorneys."start_date" IS 'Date the representation began.';
COMMENT ON COLUMN attorneys."end_date" IS 'Date it ended (NULL: ongoing).';
COMMENT ON COLUMN attorneys."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN attorneys."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN attorneys."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN attorneys."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN attorneys."updated_at" IS 'When a value of the row last changed.';
COMMENT ON TABLE case_events IS 'Case events such as orders and filings (Odyssey API).';
COMMENT ON COLUMN case_events."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN case_events."case_id" IS 'The case (-> cases).';
COMMENT ON COLUMN case_events."event_id" IS 'Odyssey event id.';
COMMENT ON COLUMN case_events."event_date" IS 'Date of the event.';
COMMENT ON COLUMN case_events."type_code" IS 'Local code of the event type.';
COMMENT ON COLUMN case_events."type" IS 'Event type text.';
COMMENT ON COLUMN case_events."source" IS 'Source that last won the row: ''ecr'' (ECR file) or ''odyssey_api''.';
COMMENT ON COLUMN case_events."source_ref" IS 'File sha256 or Odyssey sync id that last wrote the row.';
COMMENT ON COLUMN case_events."source_modified_at" IS 'When the source says the record last changed (decides which source wins a merge).';
COMMENT ON COLUMN case_events."first_seen_at" IS 'When the warehouse first stored this key.';
COMMENT ON COLUMN case_events."updated_at" IS 'When a value of the row last changed.';

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

-- ECR file loads: one row per (agency, file content) and every row that was not loaded.
-- rows_in = rows_loaded + rows_rejected for every file (checked by the ecr_rows_reconcile
-- asset check). A rerun of the same bytes replaces that file's rejects, never duplicates them.

CREATE TABLE IF NOT EXISTS file_loads (
    agency_id            VARCHAR NOT NULL,
    content_sha256       VARCHAR NOT NULL,   -- sha256 of the archived bytes
    file_name            VARCHAR NOT NULL,   -- name the file arrived under (first load)
    partition_key        VARCHAR,            -- '<agency>|<YYYY-MM-DD>' of the run that loaded it
    template             VARCHAR,            -- upload template name
    mode                 VARCHAR,            -- 'delta' | 'snapshot'
    rows_in              BIGINT NOT NULL DEFAULT 0,   -- data rows in the file (no header/footer/blank)
    rows_loaded          BIGINT NOT NULL DEFAULT 0,
    rows_rejected        BIGINT NOT NULL DEFAULT 0,   -- includes rows_excluded
    rows_excluded        BIGINT NOT NULL DEFAULT 0,   -- skipped on purpose by template rules
    hearings_removed     BIGINT NOT NULL DEFAULT 0,   -- snapshot mode: marked removed
    status               VARCHAR NOT NULL,   -- 'loaded' | 'failed'
    error                VARCHAR,            -- why a failed file could not be read
    loaded_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, content_sha256)
);

CREATE TABLE IF NOT EXISTS ecr_rejects (
    agency_id            VARCHAR NOT NULL,
    content_sha256       VARCHAR NOT NULL,
    file_name            VARCHAR NOT NULL,
    line_number          BIGINT NOT NULL,    -- physical line in the file (xlsx: sheet row)
    raw_row              VARCHAR,            -- the line as received (PII: mask before showing)
    reason               VARCHAR NOT NULL,   -- 'line 17: Event Date ''13/45/2026'' matches ...'
    kind                 VARCHAR NOT NULL,   -- 'error' | 'excluded'
    rejected_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, content_sha256, line_number)
);

-- the template's max_reject_rate when the file was loaded (ecr_reject_rate check), and how
-- often the same bytes were loaded (1 + replays) and when first
ALTER TABLE file_loads ADD COLUMN IF NOT EXISTS max_reject_rate DOUBLE;
ALTER TABLE file_loads ADD COLUMN IF NOT EXISTS times_loaded INTEGER DEFAULT 1;
ALTER TABLE file_loads ADD COLUMN IF NOT EXISTS first_loaded_at TIMESTAMPTZ;

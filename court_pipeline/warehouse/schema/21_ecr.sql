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

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE file_loads IS 'One row per loaded ECR file content per agency with its row counts (rows_in = rows_loaded + rows_rejected).';
COMMENT ON COLUMN file_loads."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN file_loads."content_sha256" IS 'Sha256 of the archived bytes (-> received_files).';
COMMENT ON COLUMN file_loads."file_name" IS 'Name the file arrived under (first load).';
COMMENT ON COLUMN file_loads."partition_key" IS '''<agency>|<YYYY-MM-DD>'' of the run that loaded it.';
COMMENT ON COLUMN file_loads."template" IS 'Upload template name used to read it.';
COMMENT ON COLUMN file_loads."mode" IS '''delta'' or ''snapshot''.';
COMMENT ON COLUMN file_loads."rows_in" IS 'Data rows in the file (no header, footer or blank lines).';
COMMENT ON COLUMN file_loads."rows_loaded" IS 'Rows merged into the clean tables.';
COMMENT ON COLUMN file_loads."rows_rejected" IS 'Rows not loaded (see ecr_rejects); includes rows_excluded.';
COMMENT ON COLUMN file_loads."rows_excluded" IS 'Part of rows_rejected skipped by the template''s exclude rules.';
COMMENT ON COLUMN file_loads."hearings_removed" IS 'Snapshot mode: hearings this file marked removed, over all its loads (a replay adds, never resets).';
COMMENT ON COLUMN file_loads."status" IS '''loaded'' or ''failed''.';
COMMENT ON COLUMN file_loads."error" IS 'Why a failed file could not be read.';
COMMENT ON COLUMN file_loads."loaded_at" IS 'When the file was (last) loaded.';
COMMENT ON COLUMN file_loads."max_reject_rate" IS 'The template''s max_reject_rate when the file was loaded (ecr_reject_rate check).';
COMMENT ON COLUMN file_loads."times_loaded" IS 'How often the same bytes were loaded (1 + replays).';
COMMENT ON COLUMN file_loads."first_loaded_at" IS 'When the bytes were first loaded.';
COMMENT ON TABLE ecr_rejects IS 'Every ECR row that was not loaded, with the reason; a rerun of the same bytes replaces that file''s rejects.';
COMMENT ON COLUMN ecr_rejects."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN ecr_rejects."content_sha256" IS 'The file content (-> file_loads).';
COMMENT ON COLUMN ecr_rejects."file_name" IS 'Name of the file.';
COMMENT ON COLUMN ecr_rejects."line_number" IS 'Physical line in the file (xlsx: sheet row).';
COMMENT ON COLUMN ecr_rejects."raw_row" IS 'The line as received (PII: mask before showing).';
COMMENT ON COLUMN ecr_rejects."reason" IS 'Why, starting ''line N: ...'', e.g. "line 17: Event Date ''13/45/2026'' matches no date format".';
COMMENT ON COLUMN ecr_rejects."kind" IS '''error'' (bad data) or ''excluded'' (skipped by a template rule).';
COMMENT ON COLUMN ecr_rejects."rejected_at" IS 'When the row was rejected.';

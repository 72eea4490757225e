-- Files received from the agencies' landings (court_pipeline/landing).
-- received_files: one row per distinct content per agency; the archive holds the bytes.
-- received_file_names: every (name, version) under which that content arrived, so the same
-- bytes under a new name are recorded but loaded once, and the nightly sweep knows what it
-- already fetched.

CREATE TABLE IF NOT EXISTS received_files (
    agency_id        VARCHAR NOT NULL,
    content_sha256   VARCHAR NOT NULL,      -- hex sha256 of the bytes; names the archive file
    original_name    VARCHAR NOT NULL,      -- file name when first received
    landing_kind     VARCHAR NOT NULL,      -- 'local' | 'sftp' | 's3'
    landing_uri      VARCHAR NOT NULL,      -- where it was fetched from (never a secret)
    source_version   VARCHAR NOT NULL,      -- '<mtime>-<size>' (local/SFTP) or the S3 ETag
    source_modified_at TIMESTAMPTZ,         -- modification time the landing reported
    size_bytes       BIGINT NOT NULL,
    archive_path     VARCHAR NOT NULL,      -- relative to the data home
    received_at      TIMESTAMPTZ NOT NULL,
    partition_key    VARCHAR NOT NULL,      -- '<agency>|<YYYY-MM-DD>' of the run that fetched it
    run_id           VARCHAR,               -- Dagster run that fetched it
    PRIMARY KEY (agency_id, content_sha256)
);

CREATE TABLE IF NOT EXISTS received_file_names (
    agency_id        VARCHAR NOT NULL,
    original_name    VARCHAR NOT NULL,
    source_version   VARCHAR NOT NULL,
    content_sha256   VARCHAR NOT NULL,      -- -> received_files
    landing_uri      VARCHAR NOT NULL,
    first_seen_at    TIMESTAMPTZ NOT NULL,
    last_seen_at     TIMESTAMPTZ NOT NULL,
    times_seen       INTEGER NOT NULL DEFAULT 1,
    partition_key    VARCHAR NOT NULL,      -- partition of the run that first saw this name
    duplicate_of     VARCHAR,               -- NULL when this name brought new content, else
                                            -- the original_name it duplicates
    PRIMARY KEY (agency_id, original_name, source_version)
);

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

-- quarantined_files: a file that could not be fetched (stage 'fetch') or read (stage 'load')
-- never blocks the agency's other files. A permanent problem (bad name, not a regular file,
-- too large, unreadable content) quarantines it after one try; a transient one (changed while
-- downloading, a read error) after ecr.max_fetch_attempts tries. Quarantined files are skipped
-- until `court-pipeline quarantine release` marks them released; the next run then retries.
CREATE TABLE IF NOT EXISTS quarantined_files (
    agency_id        VARCHAR NOT NULL,
    stage            VARCHAR NOT NULL,      -- 'fetch' (landing -> archive) | 'load' (-> tables)
    file_key         VARCHAR NOT NULL,      -- fetch: '<name>:<version>'; load: content sha256
    file_name        VARCHAR NOT NULL,      -- as the landing named it (may hold odd characters)
    reason           VARCHAR NOT NULL,      -- the last error, naming the file and the problem
    permanent        BOOLEAN NOT NULL,      -- true: retrying cannot help
    attempts         INTEGER NOT NULL,      -- tries since the first failure (or the release)
    status           VARCHAR NOT NULL,      -- 'retrying' | 'quarantined' | 'released'
    first_failed_at  TIMESTAMPTZ NOT NULL,
    last_failed_at   TIMESTAMPTZ NOT NULL,
    released_at      TIMESTAMPTZ,
    PRIMARY KEY (agency_id, stage, file_key)
);

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

-- Data dictionary: the one source of table and column descriptions (Dagster's
-- dagster/column_schema, docs/reference/tables.md). Every column needs one (tested).
COMMENT ON TABLE received_files IS 'ECR files received from the agencies'' landings: one row per distinct content per agency; the archive holds the bytes.';
COMMENT ON COLUMN received_files."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN received_files."content_sha256" IS 'Hex sha256 of the bytes; names the archive file.';
COMMENT ON COLUMN received_files."original_name" IS 'File name when first received.';
COMMENT ON COLUMN received_files."landing_kind" IS '''local'' | ''sftp'' | ''s3''.';
COMMENT ON COLUMN received_files."landing_uri" IS 'Where it was fetched from (file://..., sftp://user@host:port/dir/name, s3://bucket/prefix/name); never a secret.';
COMMENT ON COLUMN received_files."source_version" IS 'Version as read: ''<mtime>-<size>'' (local: mtime in ns; SFTP: seconds) or the S3 ETag.';
COMMENT ON COLUMN received_files."source_modified_at" IS 'Modification time the landing reported.';
COMMENT ON COLUMN received_files."size_bytes" IS 'Size of the file in bytes.';
COMMENT ON COLUMN received_files."archive_path" IS 'Archive path, relative to the data home.';
COMMENT ON COLUMN received_files."received_at" IS 'When the pipeline archived it.';
COMMENT ON COLUMN received_files."partition_key" IS '''<agency>|<YYYY-MM-DD>'' of the run that fetched it (the ecr_records run of that partition loads it).';
COMMENT ON COLUMN received_files."run_id" IS 'Dagster run that fetched it.';
COMMENT ON TABLE received_file_names IS 'Every (name, version) under which a content arrived: the same bytes under a new name are recorded but loaded once.';
COMMENT ON COLUMN received_file_names."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN received_file_names."original_name" IS 'File name as the landing listed it.';
COMMENT ON COLUMN received_file_names."source_version" IS '''<mtime>-<size>'' (local/SFTP) or the S3 ETag.';
COMMENT ON COLUMN received_file_names."content_sha256" IS 'The content (-> received_files).';
COMMENT ON COLUMN received_file_names."landing_uri" IS 'Where it was fetched from (never a secret).';
COMMENT ON COLUMN received_file_names."first_seen_at" IS 'First time this name and version was fetched.';
COMMENT ON COLUMN received_file_names."last_seen_at" IS 'Last time this name and version was fetched.';
COMMENT ON COLUMN received_file_names."times_seen" IS 'How many runs fetched it (a replay adds one).';
COMMENT ON COLUMN received_file_names."partition_key" IS 'Partition of the run that first saw this name.';
COMMENT ON COLUMN received_file_names."duplicate_of" IS 'NULL when this name brought new content; else the original_name whose bytes it repeats.';
COMMENT ON TABLE quarantined_files IS 'Files set aside because they could not be fetched or read; skipped until `court-pipeline quarantine release`.';
COMMENT ON COLUMN quarantined_files."agency_id" IS 'Agency (court) the row belongs to, as named in the agency registry.';
COMMENT ON COLUMN quarantined_files."stage" IS '''fetch'' (landing -> archive, ecr_landed_files) or ''load'' (archive -> tables, ecr_records).';
COMMENT ON COLUMN quarantined_files."file_key" IS 'fetch: ''<name>:<version>'' (a re-upload is a new key); load: the content sha256.';
COMMENT ON COLUMN quarantined_files."file_name" IS 'As the landing named it (may hold a newline or a tab: commands show it quoted).';
COMMENT ON COLUMN quarantined_files."reason" IS 'The last error, naming the file and the problem.';
COMMENT ON COLUMN quarantined_files."permanent" IS 'True when retrying cannot help (bad name, not a regular file, too large, unreadable content).';
COMMENT ON COLUMN quarantined_files."attempts" IS 'Tries since the first failure (or the release).';
COMMENT ON COLUMN quarantined_files."status" IS '''retrying'' (transient, tries left), ''quarantined'' (skipped by every run) or ''released''.';
COMMENT ON COLUMN quarantined_files."first_failed_at" IS 'First failure.';
COMMENT ON COLUMN quarantined_files."last_failed_at" IS 'Latest failure.';
COMMENT ON COLUMN quarantined_files."released_at" IS 'When an operator released it.';

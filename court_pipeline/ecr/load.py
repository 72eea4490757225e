"""Load one ECR file into the warehouse: read + normalize outside the lock, write in one
transaction.

:func:`prepare_file` does the heavy work in a scratch in-memory DuckDB (no warehouse lock held);
:func:`write_prepared` then merges the clean frames, applies snapshot removals, replaces the
file's rejects and records ``file_loads``, all inside one transaction, so a failure leaves
nothing half-written. :func:`record_failure` notes a file that could not be read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from court_pipeline import settings
from court_pipeline.ecr.normalize import CleanFrames, normalize
from court_pipeline.ecr.reader import RawFile, read_ecr_file
from court_pipeline.ecr.template import UploadTemplate
from court_pipeline.records.contact_lists import apply_contact_lists
from court_pipeline.records.merge import MergeStats, mark_hearings_removed, merge_records
from court_pipeline.records.resets import link_resets

EXCLUDED_PREFIX = "excluded by template rule"
SCRATCH_MEMORY_LIMIT = "1GB"


@dataclass
class PreparedFile:
    """A file read and normalized, ready to write."""

    file_name: str
    template: UploadTemplate
    raw: RawFile
    clean: CleanFrames
    rows_in: int
    rows_rejected: int
    rows_excluded: int
    rejects: pa.Table  # line_number, raw_row, reason, kind

    def close(self) -> None:
        """Kept for callers; the scratch connection is already closed by prepare_file."""
        self.raw.con.close()


@dataclass
class FileLoadResult:
    """What loading one file did (numbers only: safe for logs and metadata)."""

    file_name: str
    content_sha256: str
    rows_in: int
    rows_loaded: int
    rows_rejected: int
    rows_excluded: int
    hearings_removed: int
    merged: dict[str, MergeStats] = field(default_factory=dict)
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None  # why nothing was written (another run loaded the file first)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (streamed)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def scratch_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for parsing, with a memory cap (spills to a temp dir if needed)."""
    spill = settings.data_home() / "tmp" / "ecr"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"memory_limit": SCRATCH_MEMORY_LIMIT,
                                 "temp_directory": str(spill)})
    con.execute("SET preserve_insertion_order = true")
    return con


def prepare_file(
    path: str | Path, template: UploadTemplate, timezone: str, file_name: str | None = None
) -> PreparedFile:
    """Read and normalize a file; raises EcrFileError for unreadable files."""
    con = scratch_connection()
    try:
        raw = read_ecr_file(path, template, con, file_name=file_name)
        clean = normalize(raw, template, timezone)
        rejects = con.sql(
            f"""
            SELECT line_no AS line_number, raw_text AS raw_row,
                   'line ' || line_no || ': ' || reason AS reason,
                   CASE WHEN starts_with(reason, '{EXCLUDED_PREFIX}') THEN 'excluded'
                        ELSE 'error' END AS kind
            FROM raw_rejects ORDER BY line_no
            """
        ).to_arrow_table()
    finally:
        con.close()  # frames and rejects are Arrow copies: free the scratch memory before writing
    kinds = rejects.column("kind").to_pylist()
    excluded = sum(1 for k in kinds if k == "excluded")
    clean.notes.extend(raw.notes)
    return PreparedFile(
        file_name=raw.file_name,
        template=template,
        raw=raw,
        clean=clean,
        rows_in=clean.rows_loaded + rejects.num_rows,
        rows_rejected=rejects.num_rows,
        rows_excluded=excluded,
        rejects=rejects,
    )


def _top_reasons(rejects: pa.Table, limit: int = 5) -> list[tuple[str, int]]:
    """Most frequent reasons without the line prefix and quoted values (no PII, groupable)."""
    if rejects.num_rows == 0:
        return []
    reasons = pd.Series(rejects.column("reason").to_pylist(), dtype=object)
    generic = reasons.str.replace(r"^line \d+: ", "", regex=True).str.replace(
        r"'[^']*'", "'…'", regex=True
    )
    counts = generic.value_counts().head(limit)
    return [(str(k), int(v)) for k, v in counts.items()]


def _snapshot_removals(
    con: duckdb.DuckDBPyConnection, agency_id: str, prepared: PreparedFile
) -> list[str]:
    """ECR hearings of the agency inside the snapshot window that the file no longer lists."""
    window = prepared.clean.window
    if window is None:
        return []
    present = pa.table({"hearing_id": prepared.clean.present_hearing_ids})
    con.register("_snapshot_present", present)
    try:
        upper = "AND start_local::DATE <= ?::DATE" if (
            prepared.template.snapshot_window == "file_dates") else ""
        params = [agency_id, window[0]] + ([window[1]] if upper else [])
        rows = con.execute(
            f"""
            SELECT hearing_id FROM hearings
            WHERE agency_id = ? AND source = 'ecr' AND removed_at IS NULL
              AND start_local::DATE >= ?::DATE {upper}
              AND hearing_id NOT IN (SELECT hearing_id FROM _snapshot_present)
            ORDER BY hearing_id
            """,
            params,
        ).fetchall()
    finally:
        con.unregister("_snapshot_present")
    return [r[0] for r in rows]


def write_prepared(
    con: duckdb.DuckDBPyConnection,
    prepared: PreparedFile,
    *,
    agency_id: str,
    content_sha256: str,
    partition_key: str | None = None,
    skip_loaded: bool = True,
) -> FileLoadResult:
    """Merge one prepared file into the warehouse in a single transaction.

    Two runs of one agency started together can both list a file as pending; the second to get
    the warehouse lock finds it loaded here (inside its own transaction, under the lock) and
    skips it instead of loading it again (``skipped`` says by which run). ``skip_loaded=False``
    merges it again anyway (an idempotent re-merge: a deliberate reload).
    """
    merged: dict[str, MergeStats] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        prior = con.execute(
            "SELECT partition_key, loaded_at, hearings_removed, coalesce(times_loaded, 1), "
            "coalesce(first_loaded_at, loaded_at) FROM file_loads "
            "WHERE agency_id = ? AND content_sha256 = ? AND status = 'loaded'",
            [agency_id, content_sha256],
        ).fetchall()
        if prior and skip_loaded:
            con.execute("ROLLBACK")
            return _already_loaded(prepared, content_sha256, *prior[0][:2])
        # a reload (replay) keeps the file's history: hearings it removed before stay counted
        removed_before, times_before, first_at = prior[0][2:] if prior else (0, 0, None)
        for table, frame in prepared.clean.frames.items():
            merged[table] = merge_records(
                con, table, frame, agency_id=agency_id, source="ecr", source_ref=content_sha256,
                unique_keys=True,  # normalize keeps the file's last line per key
            )
        removed = 0
        if prepared.template.mode == "snapshot":
            gone = _snapshot_removals(con, agency_id, prepared)
            window = prepared.clean.window
            if window and prepared.template.snapshot_window == "file_dates":
                span = f"window {window[0]} to {window[1]}"
            else:
                span = f"from {window[0]}" if window else "empty window"
            reason = f"not in snapshot file {prepared.file_name} ({span})"
            removed = mark_hearings_removed(
                con, agency_id, gone, reason, source="ecr", source_ref=content_sha256
            )
        link_resets(con, agency_id, "ecr", content_sha256)
        apply_contact_lists(con, agency_id, "ecr", content_sha256, prepared.clean.contact_lists,
                            prepared.clean.frames.get("contacts"))
        con.execute(
            "DELETE FROM ecr_rejects WHERE agency_id = ? AND content_sha256 = ?",
            [agency_id, content_sha256],
        )
        con.register("_ecr_rejects", prepared.rejects)
        try:
            con.execute(
                """
                INSERT INTO ecr_rejects (agency_id, content_sha256, file_name, line_number,
                                         raw_row, reason, kind)
                SELECT ?, ?, ?, line_number, raw_row, reason, kind FROM _ecr_rejects
                """,
                [agency_id, content_sha256, prepared.file_name],
            )
        finally:
            con.unregister("_ecr_rejects")
        con.execute(
            """
            INSERT OR REPLACE INTO file_loads (agency_id, content_sha256, file_name,
                partition_key, template, mode, rows_in, rows_loaded, rows_rejected, rows_excluded,
                hearings_removed, status, error, loaded_at, max_reject_rate, times_loaded,
                first_loaded_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded', NULL, now(), ?, ?,
                    coalesce(?::TIMESTAMPTZ, now()))
            """,
            [agency_id, content_sha256, prepared.file_name, partition_key,
             prepared.template.name, prepared.template.mode, prepared.rows_in,
             prepared.clean.rows_loaded, prepared.rows_rejected, prepared.rows_excluded,
             removed_before + removed, prepared.template.max_reject_rate, times_before + 1,
             first_at],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return FileLoadResult(
        file_name=prepared.file_name,
        content_sha256=content_sha256,
        rows_in=prepared.rows_in,
        rows_loaded=prepared.clean.rows_loaded,
        rows_rejected=prepared.rows_rejected,
        rows_excluded=prepared.rows_excluded,
        hearings_removed=removed,
        merged=merged,
        top_reasons=_top_reasons(prepared.rejects),
        notes=list(prepared.clean.notes),
    )


def _already_loaded(
    prepared: PreparedFile, content_sha256: str, partition_key: str | None, loaded_at: object
) -> FileLoadResult:
    when = loaded_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if isinstance(
        loaded_at, datetime) else str(loaded_at)
    why = (f"{prepared.file_name}: already loaded by the run for partition "
           f"{partition_key or '(none)'} at {when}; skipped")
    return FileLoadResult(
        file_name=prepared.file_name, content_sha256=content_sha256, rows_in=prepared.rows_in,
        rows_loaded=0, rows_rejected=0, rows_excluded=0, hearings_removed=0,
        notes=[why], skipped=why,
    )


def record_failure(
    con: duckdb.DuckDBPyConnection,
    *,
    agency_id: str,
    content_sha256: str,
    file_name: str,
    partition_key: str | None,
    template: UploadTemplate | None,
    error: str,
) -> None:
    """Note a file that could not be read (status 'failed'); the asset also quarantines it."""
    con.execute(
        """
        INSERT OR REPLACE INTO file_loads (agency_id, content_sha256, file_name, partition_key,
            template, mode, status, error, loaded_at)
        VALUES (?, ?, ?, ?, ?, ?, 'failed', ?, now())
        """,
        [agency_id, content_sha256, file_name, partition_key,
         template.name if template else None, template.mode if template else None, error],
    )


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    template: UploadTemplate,
    *,
    agency_id: str,
    timezone: str,
    file_name: str | None = None,
    content_sha256: str | None = None,
    partition_key: str | None = None,
) -> FileLoadResult:
    """Prepare and write one file (convenience for tests, the bench and the demo); a file
    loaded before is merged again (idempotent), unlike the asset, which skips it."""
    sha = content_sha256 or sha256_file(path)
    prepared = prepare_file(path, template, timezone, file_name=file_name)
    try:
        return write_prepared(
            con, prepared, agency_id=agency_id, content_sha256=sha, partition_key=partition_key,
            skip_loaded=False,
        )
    finally:
        prepared.close()

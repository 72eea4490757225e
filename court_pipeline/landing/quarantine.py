"""Quarantine: a file that cannot be fetched or read is set aside, never retried forever.

One bad file must not stop an agency: the assets record the problem here and go on with the
other files; an asset check fails while the agency has files retrying or quarantined. A
permanent problem quarantines after one try, a transient one after ``max_attempts``. People
list and release quarantined files with ``court-pipeline quarantine list|release``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

STAGES = ("fetch", "load")


@dataclass(frozen=True)
class QuarantineEntry:
    """One row of ``quarantined_files``."""

    agency_id: str
    stage: str
    file_key: str
    file_name: str
    reason: str
    permanent: bool
    attempts: int
    status: str
    last_failed_at: datetime

    @property
    def shown_name(self) -> str:
        """The name as people can read it (control characters escaped)."""
        return self.file_name if self.file_name.isprintable() else repr(self.file_name)


def note_failure(
    con: duckdb.DuckDBPyConnection, *, agency_id: str, stage: str, file_key: str,
    file_name: str, reason: str, permanent: bool, max_attempts: int,
) -> QuarantineEntry:
    """Count one failed try; quarantine when permanent or out of tries. Returns the row."""
    now = datetime.now(UTC)
    row = con.execute(
        "SELECT attempts, status FROM quarantined_files "
        "WHERE agency_id = ? AND stage = ? AND file_key = ?",
        [agency_id, stage, file_key]).fetchone()
    attempts = 1 if row is None or row[1] == "released" else int(row[0]) + 1
    status = "quarantined" if permanent or attempts >= max_attempts else "retrying"
    con.execute(
        "INSERT INTO quarantined_files (agency_id, stage, file_key, file_name, reason, "
        "permanent, attempts, status, first_failed_at, last_failed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agency_id, stage, file_key) DO UPDATE "
        "SET reason = excluded.reason, permanent = excluded.permanent, "
        "attempts = excluded.attempts, status = excluded.status, "
        "last_failed_at = excluded.last_failed_at, released_at = NULL",
        [agency_id, stage, file_key, file_name, reason, permanent, attempts, status, now, now])
    return QuarantineEntry(agency_id, stage, file_key, file_name, reason, permanent, attempts,
                           status, now)


def note_success(
    con: duckdb.DuckDBPyConnection, *, agency_id: str, stage: str, file_key: str
) -> None:
    """A retried file went through: forget its failures."""
    con.execute(
        "DELETE FROM quarantined_files WHERE agency_id = ? AND stage = ? AND file_key = ?",
        [agency_id, stage, file_key])


def quarantined_keys(con: duckdb.DuckDBPyConnection, agency_id: str, stage: str) -> set[str]:
    """Keys the assets skip (status 'quarantined')."""
    rows = con.execute(
        "SELECT file_key FROM quarantined_files WHERE agency_id = ? AND stage = ? "
        "AND status = 'quarantined'", [agency_id, stage]).fetchall()
    return {r[0] for r in rows}


def entries(
    con: duckdb.DuckDBPyConnection, agency_ids: list[str] | None = None,
    statuses: tuple[str, ...] = ("retrying", "quarantined"), stage: str | None = None,
) -> list[QuarantineEntry]:
    """Rows of the given agencies (all when None), oldest failure first."""
    rows = con.execute(
        "SELECT agency_id, stage, file_key, file_name, reason, permanent, attempts, status, "
        "last_failed_at FROM quarantined_files "
        "WHERE (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], agency_id)) "
        "AND list_contains(?::VARCHAR[], status) AND (?::VARCHAR IS NULL OR stage = ?) "
        "ORDER BY agency_id, first_failed_at, file_name",
        [agency_ids, agency_ids, list(statuses), stage, stage]).fetchall()
    return [QuarantineEntry(*r) for r in rows]


def release(
    con: duckdb.DuckDBPyConnection, agency_id: str, file_name: str | None = None
) -> list[QuarantineEntry]:
    """Mark an agency's quarantined files (one name, or all) released: the next run retries."""
    found = [e for e in entries(con, [agency_id], ("quarantined",))
             if file_name is None or file_name in (e.file_name, e.shown_name)]
    for e in found:
        con.execute(
            "UPDATE quarantined_files SET status = 'released', attempts = 0, "
            "released_at = now() WHERE agency_id = ? AND stage = ? AND file_key = ?",
            [e.agency_id, e.stage, e.file_key])
    return found


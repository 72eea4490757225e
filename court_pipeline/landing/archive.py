"""Immutable archive of received files, addressed by content hash.

A file is streamed from the landing into a temp file inside the data home while its sha256 is
computed, then moved (same file system: atomic) to
``<archive>/ecr/<agency>/<sha[:2]>/<sha>`` and made read-only. The same bytes arriving again,
under the same or a new name, find the archive entry and the ``received_files`` row already
there: they are recorded in ``received_file_names`` and loaded once. Downloads happen outside
the warehouse lock; only the short bookkeeping write takes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from court_pipeline import settings
from court_pipeline.landing.base import (
    CHUNK_BYTES,
    FileTooLarge,
    LandedFile,
    LandingError,
    LandingStore,
)
from court_pipeline.private_files import private_dir

READ_ONLY = stat.S_IRUSR  # owner-only and never edited (0400), whatever the umask


class ArchiveCorrupt(LandingError):
    """An archive entry exists but does not hold the bytes its name promises."""


class FileChangedWhileReading(LandingError):
    """The landing file grew or shrank during the download; the next tick fetches it again."""


@dataclass(frozen=True)
class ArchivedBlob:
    """A file's bytes, safely in the archive."""

    agency_id: str
    landed: LandedFile  # name, size, time and version as read
    sha256: str
    path: Path  # absolute archive path
    already_archived: bool  # the bytes were already in the archive

    @property
    def relative_path(self) -> str:
        return self.path.relative_to(settings.data_home()).as_posix()


@dataclass(frozen=True)
class ReceiptOutcome:
    """What the bookkeeping decided for one received file."""

    name: str
    version: str
    sha256: str
    size_bytes: int
    archive_path: str  # relative to the data home
    is_new: bool  # new content: downstream loads it
    first_name: str  # the name the content was first received under
    first_received_at: datetime
    duplicate_reason: str | None  # "already received as X on <date>" when not new


def archive_path_for(agency_id: str, sha256: str) -> Path:
    """Where the archive keeps an agency's file with this content hash."""
    return settings.archive_dir() / "ecr" / agency_id / sha256[:2] / sha256


def _temp_dir() -> Path:
    return private_dir(settings.data_home() / "tmp" / "landing")


def fetch_to_archive(
    store: LandingStore, name: str, *, agency_id: str, max_bytes: int | None = None
) -> ArchivedBlob:
    """Stream one landing file into the archive (hashing on the way); return where it is.

    A file over ``max_bytes`` is refused (:class:`FileTooLarge`) before or while reading."""
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix="fetch-", suffix=".part", dir=_temp_dir())
    tmp = Path(tmp_name)
    try:
        written = 0
        with os.fdopen(fd, "wb") as out, store.open_file(name) as (landed, stream):
            if max_bytes is not None and landed.size > max_bytes:
                raise _too_large(name, landed.size, max_bytes)
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise _too_large(name, written, max_bytes)
            out.flush()
            os.fsync(out.fileno())
        if written != landed.size:
            raise FileChangedWhileReading(
                f"{name!r} in {store.uri()} changed while downloading "
                f"(listed {landed.size} bytes, read {written}); it will be fetched again"
            )
        sha = digest.hexdigest()
        dest = archive_path_for(agency_id, sha)
        if dest.exists():
            if dest.stat().st_size != written:
                raise ArchiveCorrupt(
                    f"archive entry {dest} has {dest.stat().st_size} bytes, expected {written}; "
                    "restore it from backup (the archive must never be edited)"
                )
            return ArchivedBlob(agency_id, landed, sha, dest, already_archived=True)
        for folder in reversed(dest.relative_to(settings.data_home()).parents[:-1]):
            private_dir(settings.data_home() / folder)
        os.chmod(tmp, READ_ONLY)
        os.replace(tmp, dest)
        return ArchivedBlob(agency_id, landed, sha, dest, already_archived=False)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _too_large(name: str, size: int, max_bytes: int) -> FileTooLarge:
    return FileTooLarge(f"{name!r} is {size / 1e6:.1f} MB, over the limit of "
                        f"{max_bytes / 1e6:.0f} MB (ecr.max_file_mb in the registry)")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def record_receipt(
    con: duckdb.DuckDBPyConnection,
    blob: ArchivedBlob,
    *,
    landing_kind: str,
    landing_uri: str,
    partition_key: str,
    run_id: str | None = None,
    now: datetime | None = None,
) -> ReceiptOutcome:
    """Record the file in ``received_files`` / ``received_file_names``; say if it is a repeat."""
    now = now or datetime.now(UTC)
    landed = blob.landed
    con.execute("BEGIN TRANSACTION")
    try:
        first = con.execute(
            "SELECT original_name, received_at FROM received_files "
            "WHERE agency_id = ? AND content_sha256 = ?",
            [blob.agency_id, blob.sha256],
        ).fetchone()
        is_new = first is None
        if is_new:
            con.execute(
                "INSERT INTO received_files (agency_id, content_sha256, original_name, "
                "landing_kind, landing_uri, source_version, source_modified_at, size_bytes, "
                "archive_path, received_at, partition_key, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    blob.agency_id, blob.sha256, landed.name, landing_kind, landing_uri,
                    landed.version, landed.modified_at, landed.size, blob.relative_path, now,
                    partition_key, run_id,
                ],
            )
            first_name, first_at = landed.name, now
        else:
            first_name, first_at = first[0], _aware(first[1])
        con.execute(
            "INSERT INTO received_file_names (agency_id, original_name, source_version, "
            "content_sha256, landing_uri, first_seen_at, last_seen_at, times_seen, "
            "partition_key, duplicate_of) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
            "ON CONFLICT (agency_id, original_name, source_version) DO UPDATE SET "
            "content_sha256 = excluded.content_sha256, last_seen_at = excluded.last_seen_at, "
            "times_seen = received_file_names.times_seen + 1",
            [
                blob.agency_id, landed.name, landed.version, blob.sha256, landing_uri, now, now,
                partition_key, None if is_new else first_name,
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    reason = None
    if not is_new:
        same = " (same name)" if first_name == landed.name else ""
        day = first_at.astimezone(UTC).date().isoformat()
        reason = f"already received as {first_name}{same} on {day}"
    return ReceiptOutcome(
        name=landed.name,
        version=landed.version,
        sha256=blob.sha256,
        size_bytes=landed.size,
        archive_path=blob.relative_path,
        is_new=is_new,
        first_name=first_name,
        first_received_at=first_at,
        duplicate_reason=reason,
    )


def received_versions(con: duckdb.DuckDBPyConnection, agency_id: str) -> set[tuple[str, str]]:
    """Every (name, version) already received for an agency: what the sweep skips."""
    rows = con.execute(
        "SELECT original_name, source_version FROM received_file_names WHERE agency_id = ?",
        [agency_id],
    ).fetchall()
    return {(name, version) for name, version in rows}


@dataclass(frozen=True)
class ReceivedFile:
    """A received file as downstream readers need it."""

    agency_id: str
    content_sha256: str
    original_name: str
    size_bytes: int
    path: Path  # absolute archive path (read-only file)
    received_at: datetime
    partition_key: str


def received_files_for_partition(
    con: duckdb.DuckDBPyConnection, partition_key: str
) -> list[ReceivedFile]:
    """New content fetched by runs of one agency-day partition, oldest first (for the reader)."""
    rows = con.execute(
        "SELECT agency_id, content_sha256, original_name, size_bytes, archive_path, "
        "received_at, partition_key FROM received_files WHERE partition_key = ? "
        "ORDER BY received_at, original_name",
        [partition_key],
    ).fetchall()
    home = settings.data_home()
    return [
        ReceivedFile(r[0], r[1], r[2], int(r[3]), home / r[4], _aware(r[5]), r[6]) for r in rows
    ]

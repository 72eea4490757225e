"""Read-only snapshots of the warehouse, so an ad-hoc query never holds the writer lock.

DuckDB lets one process open a file for writing, or any number of processes read-only, never
both at once. A query that opened the warehouse itself would keep every pipeline write waiting
for as long as it runs. ``court-pipeline sql`` therefore takes the writer lock only to copy the
checkpointed file into ``<warehouse>.snapshots/<key>/`` (the key is the file's inode, size and
mtime), and queries that copy with no lock at all. A copy is reused, without touching the
lock, while the warehouse file is unchanged. When a newer copy is published the older ones are
deleted; a query still reading one keeps its open file (POSIX unlink semantics).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from court_pipeline.warehouse.connection import WarehouseLockTimeout, connect_warehouse

STALE_TEMP_SECONDS = 3600.0  # a half-written copy older than this was left by a crash


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of the warehouse: where it is and what taking it cost."""

    path: Path
    reused: bool
    copied_bytes: int
    copy_seconds: float
    lock_held_seconds: float
    taken_at: float


def snapshot_root(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".snapshots")


def _key(db_path: Path) -> str:
    stat = db_path.stat()
    return f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}"


def _existing(db_path: Path, key: str) -> Path | None:
    candidate = snapshot_root(db_path) / key / db_path.name
    return candidate if candidate.exists() else None


def _newest(db_path: Path, max_age_seconds: float) -> Path | None:
    """The most recent published snapshot, if it was taken within ``max_age_seconds``."""
    root = snapshot_root(db_path)
    if max_age_seconds <= 0 or not root.is_dir():
        return None
    now = time.time()
    best: tuple[float, Path] | None = None
    for entry in root.iterdir():
        candidate = entry / db_path.name
        try:
            taken = entry.stat().st_mtime  # the folder changed last when the copy landed in it
        except FileNotFoundError:
            continue
        if entry.name.startswith(".tmp-") or not candidate.exists():
            continue
        if now - taken <= max_age_seconds and (best is None or taken > best[0]):
            best = (taken, candidate)
    return None if best is None else best[1]


def _taken(snapshot: Path) -> float:
    try:
        return snapshot.parent.stat().st_mtime
    except FileNotFoundError:  # pruned by a newer reader meanwhile; the open will retry
        return time.time()


def _checkpoint_leftover_wal(db_path: Path) -> None:
    """A WAL with no writer connected was left by a crash: fold it in before copying.

    Called under the writer lock, so no other process has the file open."""
    if Path(str(db_path) + ".wal").exists():
        con = duckdb.connect(str(db_path))
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()


def _copy(db_path: Path, key: str) -> tuple[Path, int]:
    """Copy into a private temp folder, then publish it with one atomic rename."""
    root = snapshot_root(db_path)
    # Folders as open as the warehouse's own folder: operators who may read the warehouse
    # may read its snapshots, nobody else (umask aside).
    mode = db_path.parent.stat().st_mode & 0o777
    root.mkdir(mode=mode, exist_ok=True)
    temp = root / f".tmp-{os.getpid()}-{time.monotonic_ns()}"
    temp.mkdir(mode=mode)
    shutil.copyfile(db_path, temp / db_path.name)  # sendfile(2): in-kernel copy
    shutil.copymode(db_path, temp / db_path.name)  # no more readable than the warehouse
    size = (temp / db_path.name).stat().st_size
    final = root / key
    try:
        temp.rename(final)
    except OSError:  # another reader published the same key first: use theirs
        shutil.rmtree(temp, ignore_errors=True)
    return final / db_path.name, size


def prune(db_path: Path, keep: str) -> None:
    """Delete every snapshot but ``keep`` (open ones stay readable) and crashed temp copies."""
    root = snapshot_root(db_path)
    if not root.is_dir():
        return
    now = time.time()
    for entry in root.iterdir():
        if entry.name == keep:
            continue
        if entry.name.startswith(".tmp-"):
            try:
                if now - entry.stat().st_mtime < STALE_TEMP_SECONDS:
                    continue  # another reader may be copying right now
            except FileNotFoundError:
                continue
        shutil.rmtree(entry, ignore_errors=True)


def take_snapshot(
    db_path: Path, lock_timeout_seconds: float, max_age_seconds: float = 0.0
) -> Snapshot:
    """A snapshot of the last completed write; the writer lock is held only for the copy.

    With ``max_age_seconds``, a snapshot taken that recently is reused even if the warehouse
    changed since (no lock, no copy: for big warehouses on busy nights).
    Raises ``WarehouseLockTimeout`` if a write held the lock longer than the timeout."""
    if not db_path.exists():
        with connect_warehouse(db_path, lock_timeout_seconds=lock_timeout_seconds):
            pass  # nothing to read yet: create it, so queries see the empty tables
    key = _key(db_path)
    found = _existing(db_path, key)
    if found is None:
        found = _newest(db_path, max_age_seconds)
    if found is not None:  # unchanged since the last copy (a write in progress is in its WAL)
        return Snapshot(found, True, 0, 0.0, 0.0, _taken(found))
    lock = FileLock(str(db_path) + ".lock", thread_local=False)
    waited = time.monotonic()
    try:
        lock.acquire(timeout=lock_timeout_seconds)
    except Timeout as exc:
        raise WarehouseLockTimeout(
            f"warehouse {db_path} stayed locked by a pipeline write for "
            f"{time.monotonic() - waited:.0f}s"
        ) from exc
    locked_at = time.monotonic()
    try:
        _checkpoint_leftover_wal(db_path)
        key = _key(db_path)
        found = _existing(db_path, key)
        copy_started = time.monotonic()
        if found is None:
            found, size = _copy(db_path, key)
            reused = False
        else:
            size, reused = 0, True
        copy_seconds = time.monotonic() - copy_started
    finally:
        lock.release()
        held = time.monotonic() - locked_at
    prune(db_path, keep=key)
    return Snapshot(found, reused, size, copy_seconds, held, _taken(found))

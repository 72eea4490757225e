"""DuckDB warehouse connections that are safe for concurrent Dagster runs (no dagster import).

DuckDB allows one process to hold a database file open for writing. Two runs (two agencies,
or a sensor run beside a scheduled one) would otherwise fail with a lock error. Every
connection therefore goes through a cross-process file lock next to the database and is held
only for the short write (heavy parsing happens before, outside the lock). Waiting runs queue
on the lock up to ``lock_timeout_seconds`` instead of failing.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from court_pipeline import settings
from court_pipeline.warehouse.dictionary import (
    SCHEMA_DIR,
    schema_files,
    schema_statements,
    stale_comments,
)

__all__ = ["SCHEMA_DIR", "WarehouseLockTimeout", "apply_schema", "connect_warehouse"]

# DuckDB's own default is 80% of RAM; a merge of a million-row file would take what it can get.
# With a cap, big joins and sorts spill to <data home>/tmp/warehouse instead.
DEFAULT_MEMORY_LIMIT = "1GB"
_schema_ready: set[str] = set()
_schema_guard = threading.Lock()


class WarehouseLockTimeout(RuntimeError):
    """Another process held the warehouse longer than this run was willing to wait."""


# Tables that once declared a PRIMARY KEY / UNIQUE constraint and no longer do (their
# writers keep the keys unique and an asset check proves it): an older warehouse's copy is
# rebuilt once without the ART indexes, rows kept.
UNKEYED_TABLES = ("reminder_outbox",)


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table (idempotent). Schema files run in name order, one per domain.

    The files' ``COMMENT ON`` descriptions are written only where the warehouse's differ:
    re-commenting ~700 columns on every process start would rewrite the catalog each time.
    Those written go in one transaction (one commit instead of one per comment: ~1.2 s less
    on a new warehouse, measured by bench/schema_start.py)."""
    keyed = _set_keyed_tables_aside(con)
    for sql_file in schema_files():
        for statement, is_comment in schema_statements(sql_file):
            if not is_comment:
                con.execute(statement)
    for table, old in keyed:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {old}")
        con.execute(f"DROP TABLE {old}")
    comments = stale_comments(con)
    if comments:
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in comments:
                con.execute(statement)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _set_keyed_tables_aside(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Rename each UNKEYED_TABLES table that still has a key constraint (DuckDB cannot drop
    one with ALTER TABLE), so the schema files create it anew and its rows are copied over."""
    moved = []
    for table in UNKEYED_TABLES:
        keyed = con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? "
            "AND schema_name = 'main' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
            [table],
        ).fetchone()[0]
        if keyed:
            old = f"{table}_keyed_old"
            con.execute(f"ALTER TABLE {table} RENAME TO {old}")
            moved.append((table, old))
    return moved


@contextlib.contextmanager
def connect_warehouse(
    path: str | Path | None = None,
    *,
    read_only: bool = False,
    lock_timeout_seconds: float = 600.0,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse under the writer lock; the schema is applied on first use.

    ``memory_limit`` caps DuckDB's buffer memory for this database (spilling to
    ``<data home>/tmp/warehouse``). It is applied with ``SET`` rather than as connect-time
    config, so a plain ``duckdb.connect(path)`` elsewhere in the process does not clash."""
    db_path = Path(path) if path else settings.warehouse_path()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(db_path) + ".lock", thread_local=False)
    try:
        lock.acquire(timeout=lock_timeout_seconds)
    except Timeout as exc:
        raise WarehouseLockTimeout(
            f"warehouse {db_path} stayed locked by another run for {lock_timeout_seconds:.0f}s"
        ) from exc
    try:
        key = str(db_path.resolve())
        if key not in _schema_ready:
            # Once per process, before any use, read-only included: a read-only connection
            # cannot create the tables it is about to read (a warehouse made by an older
            # version, or none yet).
            with _schema_guard, duckdb.connect(str(db_path)) as setup:
                apply_schema(setup)
                _schema_ready.add(key)
        con = duckdb.connect(str(db_path), read_only=read_only)
        try:
            spill = settings.data_home() / "tmp" / "warehouse"
            spill.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET memory_limit = '{_size(memory_limit)}'")
            con.execute("SET temp_directory = ?", [str(spill)])
            yield con
        finally:
            con.close()
    finally:
        lock.release()


def _size(text: str) -> str:
    """A DuckDB memory size such as '1GB' or '512MB' (checked: it is inlined into SQL)."""
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text.strip()):
        raise ValueError(f"memory_limit {text!r} is not a size like '1GB' or '512MB'")
    return text.strip()

"""``court-pipeline sql``: one ad-hoc query, safe by default, never blocking the pipeline.

- It reads a snapshot of the warehouse (``snapshot.py``), so a long query holds no lock.
- External access is off (no ``COPY TO``, ``read_csv`` of arbitrary files, ``ATTACH``,
  ``INSTALL``/``LOAD``) unless ``--allow-files``; DuckDB refuses to turn it back on mid-session.
- It imports neither dagster nor pandas: an operator's call starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from court_pipeline import settings
from court_pipeline.warehouse.adhoc_output import write_csv, write_json, write_table
from court_pipeline.warehouse.connection import DEFAULT_MEMORY_LIMIT, WarehouseLockTimeout
from court_pipeline.warehouse.snapshot import Snapshot, take_snapshot

EXIT_QUERY_FAILED = 2
EXIT_LOCK_TIMEOUT = 3
_OPEN_ATTEMPTS = 3  # a newer reader may prune our snapshot between choosing and opening it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sql`` command's options (shared by ``court-pipeline --help`` and the fast path)."""
    parser.add_argument("query", help="SQL; several statements may be given, the last is shown")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    output.add_argument("--json", action="store_true", help="print a JSON array of objects")
    parser.add_argument(
        "--wait", type=float, default=60.0,
        help="seconds to wait for a running pipeline write when the snapshot must be refreshed",
    )
    parser.add_argument(
        "--max-age", type=float, default=0.0, metavar="SECONDS",
        help="reuse a snapshot taken within SECONDS even if the warehouse changed since "
        "(default 0: always the last completed write)",
    )
    parser.add_argument(
        "--allow-files", action="store_true",
        help="allow file and network access (COPY TO, read_csv, ATTACH, INSTALL); off by default",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="say on stderr which snapshot is read and what taking it cost",
    )


def open_snapshot(
    db_path: Path, wait: float, allow_files: bool, max_age: float = 0.0
) -> tuple[Snapshot, duckdb.DuckDBPyConnection]:
    """Take (or reuse) a snapshot and open it read-only with the access policy applied."""
    spill = settings.data_home() / "tmp" / "sql"
    spill.mkdir(parents=True, exist_ok=True)
    config = {
        "enable_external_access": allow_files,
        "memory_limit": DEFAULT_MEMORY_LIMIT,
        "temp_directory": str(spill),
    }
    for attempt in range(_OPEN_ATTEMPTS):
        snap = take_snapshot(db_path, wait, max_age)
        try:
            return snap, duckdb.connect(str(snap.path), read_only=True, config=config)
        except duckdb.IOException:
            if snap.path.exists() or attempt == _OPEN_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    """Run the query and print it; exit 2 if the query fails, 3 if the lock wait ran out."""
    db_path = settings.warehouse_path()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        snap, con = open_snapshot(db_path, args.wait, args.allow_files, args.max_age)
    except WarehouseLockTimeout as exc:
        print(f"warehouse busy: {exc}; try again, or give --wait more seconds", file=sys.stderr)
        return EXIT_LOCK_TIMEOUT
    except (OSError, duckdb.Error) as exc:  # e.g. no room for the copy
        print(f"cannot snapshot the warehouse: {exc}", file=sys.stderr)
        return EXIT_QUERY_FAILED
    if args.verbose:
        how = "reused" if snap.reused else (
            f"copied {snap.copied_bytes / 1e6:.1f} MB in {snap.copy_seconds:.2f} s, "
            f"lock held {snap.lock_held_seconds:.2f} s"
        )
        taken = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snap.taken_at))
        print(f"snapshot {snap.path} ({how}, taken {taken})", file=sys.stderr, flush=True)
    try:
        result = con.execute(args.query)
        if result.description is None:
            return 0  # a statement with no result set (e.g. SET)
        columns = [d[0] for d in result.description]
        writer = write_csv if args.csv else write_json if args.json else write_table
        writer(result, columns, sys.stdout)
        sys.stdout.flush()
    except duckdb.Error as exc:
        print(f"query failed: {exc}", file=sys.stderr)
        return EXIT_QUERY_FAILED
    except BrokenPipeError:  # `| head`: the reader left; not an error
        # Python's documented recipe: no second error when stdout is flushed at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        con.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``court-pipeline sql ...`` that loads nothing but this module."""
    parser = argparse.ArgumentParser(
        prog="court-pipeline sql", description="Run a read-only SQL query against the warehouse."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))

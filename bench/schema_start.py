"""Bench: what the data dictionary costs a process that opens the warehouse.

Every process (each Dagster run, each CLI call) applies the schema once on its first
connection. With descriptions in the schema files, it also builds the dictionary (the schema
applied to an in-memory DuckDB, ~700 COMMENT ON) and writes only the comments that differ.
This prints, on one existing warehouse file, the median time of:

- baseline: the DDL alone, as before the dictionary (comment statements stripped);
- now: ``apply_schema`` (DDL + comparing every comment, writing none);
- a new warehouse: DDL alone vs ``apply_schema`` (every comment written, once);
- ``load_dictionary()`` in a fresh state (paid once per process, shared with Dagster's
  column schemas and the docs page).

    python bench/schema_start.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from court_pipeline.warehouse.connection import apply_schema
from court_pipeline.warehouse.dictionary import load_dictionary, schema_files, schema_statements


def _ddl_only(con: duckdb.DuckDBPyConnection) -> None:
    for path in schema_files():
        for statement, is_comment in schema_statements(path):
            if not is_comment:
                con.execute(statement)


def _timed(path: Path, work) -> float:
    start = time.perf_counter()
    con = duckdb.connect(str(path))
    try:
        work(con)
    finally:
        con.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        load_dictionary.cache_clear()
        load_dictionary()
        build = time.perf_counter() - start
        fresh_ddl = _timed(Path(tmp) / "fresh_ddl.duckdb", _ddl_only)
        fresh = _timed(Path(tmp) / "fresh.duckdb", apply_schema)
        path = Path(tmp) / "wh.duckdb"
        _timed(path, apply_schema)
        base, now = [], []
        for _ in range(args.rounds):  # interleaved, so a load spike hits both sides
            base.append(_timed(path, _ddl_only))
            now.append(_timed(path, apply_schema))
    b, n = statistics.median(base), statistics.median(now)
    print(f"dictionary build (once per process): {build * 1000:.0f} ms")
    print(f"new warehouse, DDL only (baseline):   {fresh_ddl * 1000:.0f} ms")
    print(
        f"new warehouse, comments written once: {fresh * 1000:.0f} ms  "
        f"ratio {fresh / fresh_ddl:.2f}x"
    )
    print(f"schema on start, DDL only (baseline): {b * 1000:.0f} ms")
    print(f"schema on start, with dictionary:     {n * 1000:.0f} ms  ratio {n / b:.2f}x")


if __name__ == "__main__":
    main()

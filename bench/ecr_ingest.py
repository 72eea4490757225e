"""Bench: a 1,000,000-row pipe-delimited ECR file into the clean tables vs DuckDB alone.

Prints the time of the full ECR path (sha256, read with DuckDB + line mapping, validate,
normalize phones/emails, merge into parties/contacts/cases/case_parties/hearings/
hearing_parties + hearing_changes, rejects, file_loads, commit) against
``CREATE TABLE AS SELECT * FROM read_csv(...)`` of the same file, their ratio (target <= 3x)
and peak memory (target < 2 GB, ru_maxrss of this process: DuckDB's memory is native memory
inside it, so it is included). It also prints a floor: the time to store the clean frames alone
in a fresh database file, the part of the ratio no normalization work can remove.

The baseline runs before and after the clean path and the ratio uses their mean, so a load
spike on a shared machine does not flatter or punish one side. CPU seconds (all threads of
this process) are printed beside wall seconds: on a busy machine they are the steadier number.
The generated file is cached in the work folder (default ``<tmp>/ecr-bench``) and reused by
the next run with the same --rows/--seed; generating is not part of any measured time.

    python bench/ecr_ingest.py [--rows 1000000] [--seed 11] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from court_pipeline.ecr.generate import generate_ecr_file
from court_pipeline.ecr.load import PreparedFile, prepare_file, sha256_file, write_prepared
from court_pipeline.ecr.template import load_template
from court_pipeline.settings import BUNDLED_CONFIG_DIR
from court_pipeline.warehouse import connect_warehouse


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Wall and process CPU seconds since creation."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def split(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def duckdb_alone(path: Path, work: Path) -> tuple[float, float, int]:
    """The baseline: DuckDB's CSV reader into a table of a fresh database file."""
    db = work / "baseline.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    clock = Clock()
    con.execute(
        "CREATE TABLE ecr AS SELECT * FROM read_csv(?, delim = '|', header = true, "
        "all_varchar = true, quote = '\"', null_padding = true)",
        [str(path)],
    )
    wall, cpu = clock.split()
    rows = con.execute("SELECT count(*) FROM ecr").fetchall()[0][0]
    con.close()
    db.unlink(missing_ok=True)
    return wall, cpu, rows


def store_frames_alone(prepared: PreparedFile, work: Path) -> tuple[float, float]:
    """The output's own storage cost: each clean frame copied as it is into a table of a fresh
    database file (what any loader producing these tables must at least pay)."""
    db = work / "floor.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    clock = Clock()
    for table, frame in prepared.clean.frames.items():
        con.register("_frame", frame)
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM _frame")
        con.unregister("_frame")
    con.close()
    result = clock.split()
    db.unlink(missing_ok=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "ecr-bench",
                        help="work folder (the generated file is cached here)")
    args = parser.parse_args()
    work = args.keep
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"ecr_bench_{args.rows}_{args.seed}.txt"
    done = path.with_suffix(".done")
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    if not done.exists():
        clock = Clock()
        generate_ecr_file(path, args.rows, seed=args.seed)
        done.write_text("ok")
        print(f"generated {args.rows:,} rows in {clock.split()[0]:.1f}s (cached for next runs)")
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB); memory before: {peak_mb():.0f} MB")

    base1 = duckdb_alone(path, work)
    print(f"duckdb alone (before): {base1[0]:6.2f}s wall {base1[1]:6.2f}s CPU ({base1[2]:,} rows)")

    template = load_template(BUNDLED_CONFIG_DIR / "templates" / "demo.yaml")
    warehouse = work / "warehouse.duckdb"
    for stale in (warehouse, Path(str(warehouse) + ".wal")):
        stale.unlink(missing_ok=True)
    clock = Clock()
    sha = sha256_file(path)
    prepared = prepare_file(path, template, "America/Chicago")
    t_prep = clock.split()
    print(f"  read + validate + normalize: {t_prep[0]:6.2f}s wall {t_prep[1]:6.2f}s CPU; "
          f"memory so far {peak_mb():.0f} MB")
    write_clock = Clock()
    with connect_warehouse(warehouse) as wh:
        result = write_prepared(wh, prepared, agency_id="bench", content_sha256=sha)
    t_write = write_clock.split()
    clean = clock.split()
    print(f"  merge into warehouse (1 tx, commit, close): {t_write[0]:6.2f}s wall "
          f"{t_write[1]:6.2f}s CPU")
    print(f"clean path   : {clean[0]:6.2f}s wall {clean[1]:6.2f}s CPU  (rows in "
          f"{result.rows_in:,} = loaded {result.rows_loaded:,} + rejected "
          f"{result.rows_rejected:,})")
    for table, stats in result.merged.items():
        print(f"  {table:16s} inserted {stats.inserted:>9,}")
    peak = peak_mb()
    floor = store_frames_alone(prepared, work)

    base2 = duckdb_alone(path, work)
    print(f"duckdb alone (after) : {base2[0]:6.2f}s wall {base2[1]:6.2f}s CPU")
    base_wall, base_cpu = (base1[0] + base2[0]) / 2, (base1[1] + base2[1]) / 2
    ratio = clean[0] / base_wall
    print(f"ratio        : {ratio:6.2f}x wall (target <= 3x) {'OK' if ratio <= 3 else 'MISSED'}; "
          f"{clean[1] / base_cpu:.2f}x CPU")
    print(f"ratio without the warehouse merge: {t_prep[0] / base_wall:6.2f}x wall, "
          f"{t_prep[1] / base_cpu:.2f}x CPU")
    print(f"floor        : storing the clean frames alone (no merge, no bookkeeping columns, "
          f"no change log) takes {floor[0]:.2f}s wall {floor[1]:.2f}s CPU = "
          f"{floor[0] / base_wall:.2f}x of DuckDB alone")
    print(f"peak memory  : {peak:6.0f} MB (target < 2048 MB) {'OK' if peak < 2048 else 'MISSED'}")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for stale in (warehouse, Path(str(warehouse) + ".wal")):  # ~400 MB; only the input is cached
        stale.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bench: a 1,000,000-row pipe-delimited ECR file into the clean tables vs DuckDB alone.

Prints the time of the full ECR path (read with DuckDB + line mapping, validate, normalize
phones/emails, merge into parties/contacts/cases/case_parties/hearings/hearing_parties, rejects,
file_loads) against ``CREATE TABLE AS SELECT * FROM read_csv(...)`` of the same file, their
ratio (target <= 3x) and peak memory (target < 2 GB, ru_maxrss of this process: DuckDB's
memory is native memory inside it, so it is included).

    python bench/ecr_ingest.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from court_pipeline.ecr.generate import generate_ecr_file
from court_pipeline.ecr.load import prepare_file, sha256_file, write_prepared
from court_pipeline.ecr.template import load_template
from court_pipeline.settings import BUNDLED_CONFIG_DIR
from court_pipeline.warehouse import connect_warehouse


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ecr-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "ecr_bench.txt"

    t0 = time.perf_counter()
    generated = generate_ecr_file(path, args.rows, seed=11)
    print(f"generated {generated.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
          f"in {time.perf_counter() - t0:.1f}s; memory after generating: {peak_mb():.0f} MB")

    baseline_db = work / "baseline.duckdb"
    baseline_db.unlink(missing_ok=True)
    con = duckdb.connect(str(baseline_db))
    t0 = time.perf_counter()
    con.execute(
        "CREATE TABLE ecr AS SELECT * FROM read_csv(?, delim = '|', header = true, "
        "all_varchar = true, quote = '\"', null_padding = true)",
        [str(path)],
    )
    baseline = time.perf_counter() - t0
    n_base = con.execute("SELECT count(*) FROM ecr").fetchall()[0][0]
    con.close()
    print(f"duckdb alone : {baseline:6.2f}s  ({n_base:,} rows)")

    template = load_template(BUNDLED_CONFIG_DIR / "templates" / "demo.yaml")
    warehouse = work / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    t0 = time.perf_counter()
    sha = sha256_file(path)
    prepared = prepare_file(path, template, "America/Chicago")
    t_prepare = time.perf_counter() - t0
    print(f"  read + validate + normalize: {t_prepare:6.2f}s  memory so far {peak_mb():.0f} MB")
    t1 = time.perf_counter()
    with connect_warehouse(warehouse) as wh:
        result = write_prepared(wh, prepared, agency_id="bench", content_sha256=sha)
    t_write = time.perf_counter() - t1
    clean = time.perf_counter() - t0
    print(f"  merge into warehouse (1 tx): {t_write:6.2f}s")
    print(f"clean path   : {clean:6.2f}s  (rows in {result.rows_in:,} = loaded "
          f"{result.rows_loaded:,} + rejected {result.rows_rejected:,})")
    for table, stats in result.merged.items():
        print(f"  {table:16s} inserted {stats.inserted:>9,}")
    ratio = clean / baseline
    peak = peak_mb()
    print(f"ratio        : {ratio:6.2f}x  (target <= 3x) {'OK' if ratio <= 3 else 'MISSED'}")
    print(f"ratio without the warehouse merge: {t_prepare / baseline:6.2f}x")
    print(f"peak memory  : {peak:6.0f} MB (target < 2048 MB) {'OK' if peak < 2048 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What `court-pipeline sql` costs: snapshot copy time (the writer lock's hold) vs file size,
and the command's start-up.

    python bench/sql_snapshot.py [MB ...]      (default: 100 500 1000 2000)

For each size it builds a warehouse of about that many MB (random rows DuckDB cannot compress
away), then times `take_snapshot` twice: a cold copy (file just written, page cache as it is)
and a reuse (the warehouse unchanged: no lock, no copy). Then it times `court-pipeline sql
"SELECT 1"` as a fresh process (median of 5, snapshot reused).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from court_pipeline.warehouse.snapshot import take_snapshot

ROWS_PER_MB = 27_000  # about 27k rows of (BIGINT, 2 x md5 VARCHAR) per MB on disk


def build(path: Path, megabytes: int) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE filler AS SELECT i, md5(i::VARCHAR) AS a, md5((i * 7)::VARCHAR) AS b "
        f"FROM range({megabytes * ROWS_PER_MB}) t(i)"
    )
    con.close()


def main(sizes: list[int]) -> None:
    print("| warehouse MB | cold copy s | lock held s | MB/s | reuse s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for megabytes in sizes:
            db = Path(tmp) / f"w{megabytes}.duckdb"
            build(db, megabytes)
            size = db.stat().st_size / 1e6
            first = take_snapshot(db, 60)
            started = time.perf_counter()
            again = take_snapshot(db, 60)
            reuse = time.perf_counter() - started
            assert again.reused and not first.reused
            print(f"| {size:.0f} | {first.copy_seconds:.2f} | {first.lock_held_seconds:.2f} | "
                  f"{size / max(first.copy_seconds, 1e-9):.0f} | {reuse:.4f} |")
            first.path.unlink()
            db.unlink()
        env = {**os.environ, "COURT_PIPELINE_HOME": tmp}
        env.pop("COURT_PIPELINE_WAREHOUSE", None)
        command = [sys.executable, "-m", "court_pipeline.cli", "sql", "SELECT 1"]
        subprocess.run(command, env=env, check=True, capture_output=True)  # creates + snapshots
        times = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(f"\n`court-pipeline sql \"SELECT 1\"` start to exit: median {median:.2f} s"
              f" (min {min(times):.2f}, max {max(times):.2f}) over 5 runs")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 500, 1000, 2000])

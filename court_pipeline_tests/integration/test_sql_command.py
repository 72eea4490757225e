"""`court-pipeline sql` as an operator runs it: a real subprocess on a real warehouse file.

Safe by default (no file or network access), exact output, no dagster import, a snapshot that
lets a long query run beside a pipeline write without either waiting for the other.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg
import pytest
from filelock import FileLock

from court_pipeline.definitions import build_definitions
from court_pipeline.registry import load_registry
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.integration.conftest import DAY, land_file


def sql(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "court_pipeline.cli", "sql", *args],
        capture_output=True, text=True, env=os.environ.copy(), timeout=timeout,
    )


def _seed(home) -> None:
    with connect_warehouse(home / "warehouse.duckdb") as con:
        con.execute(
            "INSERT INTO parties (agency_id, party_id, last_name, source) VALUES "
            "('alpha', '1', 'PEÑA', 'ecr'), ('alpha', '2', NULL, 'ecr')"
        )


def test_copy_to_is_refused_and_writes_nothing(pipeline_home, tmp_path):
    _seed(pipeline_home)
    target = tmp_path / "leak.csv"
    done = sql(f"COPY parties TO '{target}'")
    assert done.returncode == 2
    assert done.stderr.startswith("query failed: Permission Error")
    assert "file system operations are disabled" in done.stderr
    assert not target.exists()


def test_reading_arbitrary_files_is_refused(pipeline_home):
    done = sql("SELECT * FROM read_csv('/etc/passwd')")
    assert done.returncode == 2 and done.stdout == ""
    assert "file system operations are disabled" in done.stderr
    assert "root:" not in done.stderr


def test_install_and_load_are_refused(pipeline_home):
    install = sql("INSTALL httpfs")
    assert install.returncode == 2 and "disabled by configuration" in install.stderr
    load = sql("LOAD httpfs")
    assert load.returncode == 2 and "disabled through configuration" in load.stderr


def test_a_query_cannot_turn_file_access_back_on(pipeline_home, tmp_path):
    done = sql(f"SET enable_external_access = true; COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'")
    assert done.returncode == 2
    assert "Cannot enable external access while database is running" in done.stderr
    assert not (tmp_path / "x.csv").exists()


def test_allow_files_is_the_explicit_way_to_write_a_file(pipeline_home, tmp_path):
    _seed(pipeline_home)
    target = tmp_path / "parties.csv"
    done = sql("--allow-files", f"COPY (SELECT party_id FROM parties ORDER BY 1) TO '{target}'")
    assert done.returncode == 0, done.stderr
    assert target.read_text().splitlines() == ["party_id", "1", "2"]


def test_writes_are_refused_the_warehouse_keeps_its_rows(pipeline_home):
    _seed(pipeline_home)
    done = sql("DELETE FROM parties")
    assert done.returncode == 2 and "read-only" in done.stderr
    with connect_warehouse(pipeline_home / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM parties").fetchall() == [(2,)]


QUERY = (
    "SELECT 1795352000123::BIGINT AS big, NULL::INTEGER AS n, NULL::TIMESTAMP AS t, "
    "NULL::DOUBLE AS d, 'PEÑA' AS s, 12.30::DECIMAL(10, 2) AS amount, DATE '2026-11-22' AS day"
)


def test_table_prints_null_as_empty_and_integers_exactly(pipeline_home):
    done = sql(QUERY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "          big  n  t  d  s     amount  day",
        "-------------  -  -  -  ----  ------  ----------",
        "1795352000123           PEÑA   12.30  2026-11-22",
        "(1 row)",
    ]


def test_csv_prints_null_as_empty_and_integers_exactly(pipeline_home):
    done = sql("--csv", QUERY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "big,n,t,d,s,amount,day", "1795352000123,,,,PEÑA,12.30,2026-11-22",
    ]


def test_json_prints_null_as_null_and_integers_exactly(pipeline_home):
    done = sql("--json", QUERY)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{
        "big": 1795352000123, "n": None, "t": None, "d": None, "s": "PEÑA",
        "amount": "12.30", "day": "2026-11-22",
    }]
    assert "1795352000123," in done.stdout  # the literal digits, not a float


def test_empty_result_and_multiple_rows(pipeline_home):
    _seed(pipeline_home)
    rows = sql("SELECT party_id, last_name FROM parties ORDER BY party_id")
    assert rows.stdout.splitlines() == [
        "party_id  last_name", "--------  ---------", "1         PEÑA", "2", "(2 rows)",
    ]
    assert sql("SELECT * FROM parties WHERE false").stdout == "(no rows)\n"


def test_sql_does_not_import_dagster_or_pandas(pipeline_home):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "court_pipeline.cli", "sql", "SELECT 42"],
        capture_output=True, text=True, env=os.environ.copy(), timeout=120,
    )
    assert done.returncode == 0 and "42" in done.stdout
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines() if line.startswith("import time:")
    }
    assert "duckdb" in imported  # the measurement itself works
    assert {m.split(".")[0] for m in imported} & {"dagster", "pandas"} == set()


def test_a_reader_that_leaves_early_is_not_an_error(pipeline_home):
    """`court-pipeline sql ... | head -1`: exit 0 and no traceback about the closed pipe."""
    process = subprocess.Popen(
        [sys.executable, "-m", "court_pipeline.cli", "sql", "--csv",
         "SELECT * FROM range(2000000)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    assert process.stdout.readline() == "range\n"
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0
    assert err == ""


def test_lock_timeout_is_one_clear_line(pipeline_home):
    _seed(pipeline_home)  # a warehouse with no snapshot yet: the command needs the lock
    lock = FileLock(str(pipeline_home / "warehouse.duckdb") + ".lock")
    with lock.acquire(timeout=5):
        done = sql("--wait", "0.5", "SELECT count(*) FROM parties")
    assert done.returncode == 3
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert re.fullmatch(
        r"warehouse busy: warehouse \S+ stayed locked by a pipeline write for \d+s; "
        r"try again, or give --wait more seconds", lines[0],
    )


def test_snapshot_is_reused_until_the_warehouse_changes(pipeline_home):
    _seed(pipeline_home)
    first = sql("-v", "SELECT count(*) FROM parties")
    assert "(copied " in first.stderr and first.stdout.splitlines()[2].strip() == "2"
    lock = FileLock(str(pipeline_home / "warehouse.duckdb") + ".lock")
    with lock.acquire(timeout=5):  # reuse needs no lock, even while a write holds it
        again = sql("-v", "--wait", "0", "SELECT count(*) FROM parties")
    assert again.returncode == 0 and "(reused, taken " in again.stderr
    with connect_warehouse(pipeline_home / "warehouse.duckdb") as con:
        con.execute("INSERT INTO parties (agency_id, party_id, source) VALUES ('b', '3', 'ecr')")
    after = sql("-v", "SELECT count(*) FROM parties")
    assert "(copied " in after.stderr and after.stdout.splitlines()[2].strip() == "3"
    snapshots = list((pipeline_home / "warehouse.duckdb.snapshots").iterdir())
    assert len(snapshots) == 1  # the older copy was removed


def test_snapshot_is_no_more_readable_than_the_warehouse(pipeline_home):
    _seed(pipeline_home)
    warehouse = pipeline_home / "warehouse.duckdb"
    warehouse.chmod(0o600)
    pipeline_home.chmod(0o750)
    assert sql("SELECT 1").returncode == 0
    (folder,) = (pipeline_home / "warehouse.duckdb.snapshots").iterdir()
    assert (folder / "warehouse.duckdb").stat().st_mode & 0o777 == 0o600
    # never more readable than the warehouse's folder; the CLI's owner-only umask
    # (docs/reference/configuration.md, "Owner-only files") makes it 0700 even where an operator
    # widened the data home
    parent = pipeline_home.stat().st_mode & 0o777
    for made in (folder, folder.parent):
        assert made.stat().st_mode & 0o777 & ~parent == 0
        assert made.stat().st_mode & 0o777 == 0o700


def test_max_age_reuses_a_recent_snapshot_without_the_lock(pipeline_home):
    _seed(pipeline_home)
    assert sql("SELECT 1").returncode == 0  # takes the first snapshot: 2 parties
    with connect_warehouse(pipeline_home / "warehouse.duckdb") as con:
        con.execute("INSERT INTO parties (agency_id, party_id, source) VALUES ('b', '3', 'ecr')")
    lock = FileLock(str(pipeline_home / "warehouse.duckdb") + ".lock")
    with lock.acquire(timeout=5):  # a long write is running
        latest = sql("--wait", "0", "SELECT count(*) FROM parties")
        recent = sql("--max-age", "3600", "--wait", "0", "--csv", "SELECT count(*) FROM parties")
    assert latest.returncode == 3  # the latest write needs a new copy, hence the lock
    assert recent.returncode == 0 and recent.stdout.splitlines() == ["count_star()", "2"]


# About 60 s on one DuckDB thread of this machine; bounded by its row count, not a clock.
SLOW_QUERY = (
    "SET threads = 1; "
    "SELECT (SELECT count(*) FROM hearings) AS hearings_seen, "
    "count(*) FILTER (WHERE md5(i::VARCHAR) < '8') > 0 AS finished "
    "FROM range(400000000) t(i)"
)


@pytest.mark.slow  # a 60-second query beside a real ECR run
def test_long_query_beside_an_ecr_run_neither_waits(pipeline_home):
    """The run starts after the query took its snapshot, finishes while the query still runs,
    and the query answers from the snapshot (the rows as they were before the run)."""
    land_file(pipeline_home, "alpha", "alpha_ecr.txt", rows=500, seed=1)
    with connect_warehouse(pipeline_home / "warehouse.duckdb"):
        pass
    query = subprocess.Popen(
        [sys.executable, "-m", "court_pipeline.cli", "sql", "-v", "--csv", SLOW_QUERY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    try:
        started = query.stderr.readline()
        assert started.startswith("snapshot "), started
        query_started = datetime.now(UTC)
        # The query holds no lock: a writer gets the lock at once, without waiting.
        lock = FileLock(str(pipeline_home / "warehouse.duckdb") + ".lock")
        lock.acquire(timeout=0)
        lock.release()

        job = build_definitions(load_registry()).resolve_job_def("ecr_ingest_job")
        with dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(
                partition_key=f"alpha|{DAY}", instance=instance,
                run_config={"ops": {"ecr_landed_files": {"config": {"files": []}}}},
            )
            stats = instance.get_run_stats(result.run_id)
        assert result.success
        assert query.poll() is None, "the query ended before the run; no overlap was shown"
        out, err = query.communicate(timeout=900)
        query_ended = datetime.now(UTC)
    finally:
        if query.poll() is None:
            query.kill()
            query.wait()
    assert query.returncode == 0, err
    assert out.splitlines() == ["hearings_seen,finished", "0,true"]  # the pre-run snapshot
    run_start = datetime.fromtimestamp(stats.start_time, UTC)
    run_end = datetime.fromtimestamp(stats.end_time, UTC)
    assert query_started < run_start < run_end < query_ended
    with connect_warehouse(pipeline_home / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) > 0 FROM hearings").fetchall() == [(True,)]

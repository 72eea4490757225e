"""Concurrent Dagster runs in separate processes share one DuckDB warehouse safely.

DuckDB lets one process write a file at a time; these tests start real `dagster asset
materialize` processes at the same moment and require every one to succeed, with each row
loaded exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from court_pipeline_tests.integration.conftest import DAY, land_file
from court_pipeline_tests.integration.test_install import DAGSTER_WARNING

pytestmark = pytest.mark.slow  # concurrent `dagster asset materialize` processes

SELECT = "ecr_landed_files,ecr_records"


def _materialize(partition: str, extra: list[str] | None = None) -> subprocess.Popen:
    command = [  # `dg launch`, the command the docs give operators
        str(Path(sys.executable).with_name("dg")), "launch",
        "-m", "court_pipeline.definitions", "--assets", SELECT, "--partition", partition,
        *(extra or []),
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy()
    )


def _wait_all(processes: list[subprocess.Popen]) -> list[str]:
    outputs = []
    for process in processes:
        out, _ = process.communicate(timeout=420)
        assert process.returncode == 0, out[-4000:]
        assert DAGSTER_WARNING.findall(out) == [], out[-4000:]
        outputs.append(out)
    return outputs


def _query(home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _assert_runs_overlapped(expected_runs: int) -> None:
    """The runs really ran at the same time: each started before any of them ended (run
    records of the instance the processes shared), so the warehouse lock was contended."""
    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records()
    assert len(records) == expected_runs
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    assert max(r.start_time for r in records) < min(r.end_time for r in records)


def test_two_agencies_load_at_the_same_time(pipeline_home):
    land_file(pipeline_home, "alpha", "alpha_ecr.txt", rows=2000, seed=1)
    land_file(pipeline_home, "beta", "beta_ecr.txt", rows=2000, seed=2)

    _wait_all([_materialize(f"alpha|{DAY}"), _materialize(f"beta|{DAY}")])
    _assert_runs_overlapped(2)

    loads = _query(
        pipeline_home,
        "SELECT agency_id, rows_in, rows_loaded + rows_rejected, status FROM file_loads "
        "ORDER BY agency_id",
    )
    assert [(a, s) for a, _, _, s in loads] == [("alpha", "loaded"), ("beta", "loaded")]
    assert all(rows_in == accounted == 2000 for _, rows_in, accounted, _ in loads)
    per_agency = dict(
        _query(pipeline_home, "SELECT agency_id, count(*) FROM hearings GROUP BY agency_id")
    )
    assert set(per_agency) == {"alpha", "beta"} and min(per_agency.values()) > 500


def test_sensor_run_beside_a_sweep_run_of_the_same_agency(pipeline_home):
    """A run for one named file (as the sensor asks) and a sweep (as the nightly schedule
    asks) start together: both succeed, and the file's rows are in the tables once."""
    land_file(pipeline_home, "alpha", "night.txt", rows=3000, seed=3)
    file_run = _materialize(
        f"alpha|{DAY}",
        ["--config-json", '{"ops": {"ecr_landed_files": {"config": {"files": ["night.txt"]}}}}'],
    )
    sweep_run = _materialize(f"alpha|{DAY}")
    _wait_all([file_run, sweep_run])
    _assert_runs_overlapped(2)

    assert _query(pipeline_home, "SELECT count(*) FROM received_files") == [(1,)]
    assert _query(
        pipeline_home, "SELECT count(*), sum(rows_in), sum(rows_loaded + rows_rejected) "
        "FROM file_loads WHERE status = 'loaded'"
    ) == [(1, 3000, 3000)]
    duplicated = _query(
        pipeline_home,
        "SELECT count(*) FROM (SELECT hearing_id FROM hearings GROUP BY agency_id, hearing_id "
        "HAVING count(*) > 1)",
    )
    assert duplicated == [(0,)]
    new_hearing_events = _query(
        pipeline_home,
        "SELECT count(*) = count(DISTINCT hearing_id) FROM hearing_changes "
        "WHERE change_kind = 'new'",
    )
    assert new_hearing_events == [(True,)]

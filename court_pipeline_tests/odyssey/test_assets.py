"""The Odyssey assets materialized with Dagster against a tmp data home and registry."""

from __future__ import annotations

import dagster as dg
import yaml

from court_pipeline.definitions import build_jobs
from court_pipeline.odyssey.assets import (
    build_odyssey_assets,
    build_odyssey_schedules,
)
from court_pipeline.odyssey.client import OdysseyResource
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import load_registry
from court_pipeline.warehouse import WarehouseResource, connect_warehouse

from .conftest import ANCHOR


def _registry(tmp_path, base_url):
    path = tmp_path / "agencies.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "partitions_start_date": "2026-01-01",
                "agencies": [
                    {
                        "id": "simco",
                        "name": "Sim County Courts",
                        "county": "Harris",
                        "odyssey": {
                            "base_url": base_url,
                            "site_key_env": "SIM_SITE",
                            "username_env": "SIM_USER",
                            "password_env": "SIM_PASS",
                            "sync": "hourly",
                            "hearing_window_days": 180,
                            "concurrency": 8,
                            "max_attempts": 3,
                            "max_retry_seconds": 5,
                        },
                    },
                    {"id": "ecronly", "name": "ECR only", "county": "Travis"},
                ],
            }
        )
    )
    return load_registry(path)


def _sim_env(monkeypatch, tmp_path, password: str = "api_password") -> None:
    """The data home and the simulator's credentials in the variables the registry names."""
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(tmp_path / "home"))
    for name, value in (("SIM_USER", "api_user"), ("SIM_PASS", password),
                        ("SIM_SITE", "SIMCOUNTY")):
        monkeypatch.setenv(name, value)


def _fast_resources() -> dict:
    return {
        "warehouse": WarehouseResource(),
        "odyssey": OdysseyResource(wait_initial=0.01, wait_max=0.05),
    }


def test_materialize_odyssey_assets(sim, tmp_path, monkeypatch):
    _sim_env(monkeypatch, tmp_path)
    registry = _registry(tmp_path, sim.base_url)
    parts = agency_day_partitions(registry)
    assets = build_odyssey_assets(registry, parts)
    resources = _fast_resources()
    case_id = next(iter(sim.county.cases))
    sim.break_call("FindCase", case_id, "503")

    key = f"simco|{ANCHOR.isoformat()}"
    result = dg.materialize(assets, partition_key=key, resources=resources)
    assert result.success
    raw_md = result.asset_materializations_for_node("odyssey_raw_responses")[0].metadata
    rec_md = result.asset_materializations_for_node("odyssey_records")[0].metadata
    lost_case_met = sim.log.by_key[("FindCase", case_id)] > 0
    assert raw_md["partial"].value is lost_case_met
    assert raw_md["calls"].value == sum(sim.log.by_type.values())
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "odyssey_sync_complete" and check.passed is (not lost_case_met)
    assert check.metadata["lost_calls"].value == (1 if lost_case_met else 0)
    assert check.metadata["calls"].value == raw_md["calls"].value
    assert rec_md["rows_hearings"].value > 0 and rec_md["cursor_advanced"].value is True
    assert "api_password" not in str(raw_md) + str(rec_md)
    preview = rec_md["preview_parties"].value
    assert "DE LA CRUZ" not in preview  # names masked in metadata

    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        n = con.execute(
            "SELECT count(*) FROM hearings WHERE agency_id = 'simco' AND source = 'odyssey_api'"
        ).fetchall()[0][0]
        assert n == rec_md["rows_hearings"].value
        runs = con.execute("SELECT mode, status, partition_key FROM odyssey_sync_runs").fetchall()
        assert runs == [("full", "merged", key)]
    assert list((tmp_path / "home" / "archive" / "odyssey" / "simco").glob("*.jsonl.gz"))

    # second run: hourly agency with a cursor -> incremental, lost case fetched first
    sim.heal()
    result2 = dg.materialize(assets, partition_key=key, resources=resources)
    raw2 = result2.asset_materializations_for_node("odyssey_raw_responses")[0].metadata
    assert raw2["mode"].value == "incremental" and raw2["partial"].value is False
    assert raw2["retried_from_previous_runs"].value == (1 if lost_case_met else 0)
    assert result2.get_asset_check_evaluations()[0].passed is True

    skipped = dg.materialize(
        assets, partition_key=f"ecronly|{ANCHOR.isoformat()}", resources=resources
    )
    md = skipped.asset_materializations_for_node("odyssey_raw_responses")[0].metadata
    assert md["skipped"].value is True and "no odyssey section" in md["note"].value


def test_schedules_from_registry(tmp_path):
    registry = _registry(tmp_path, "https://odyssey.example.org")
    job = build_jobs()["odyssey_sync_job"]
    schedules = build_odyssey_schedules(registry, job)
    assert sorted(s.name for s in schedules) == ["odyssey_hourly_simco", "odyssey_nightly_simco"]
    hourly = next(s for s in schedules if s.name == "odyssey_hourly_simco")
    assert hourly.cron_schedule == "15 * * * *"
    assert hourly.execution_timezone == "America/Chicago"
    import datetime as dt

    ctx = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 23, 4, 15, tzinfo=dt.UTC)
    )
    request = hourly(ctx)
    assert request.partition_key == "simco|2026-11-22"  # 22:15 Chicago time
    assert request.run_config["ops"]["odyssey_raw_responses"]["config"]["mode"] == "incremental"


def test_partial_sync_fails_the_check_and_tags_the_run(sim, tmp_path, monkeypatch):
    _sim_env(monkeypatch, tmp_path)
    registry = _registry(tmp_path, sim.base_url)
    assets = build_odyssey_assets(registry, agency_day_partitions(registry))
    resources = _fast_resources()
    party_id = sorted(sim.county.parties, key=int)[0]
    sim.break_call("GetScheduledHearingsByPartyID", party_id, "503")
    instance = dg.DagsterInstance.ephemeral()
    key = f"simco|{ANCHOR.isoformat()}"
    result = dg.materialize(assets, partition_key=key, resources=resources, instance=instance)
    raw_md = result.asset_materializations_for_node("odyssey_raw_responses")[0].metadata
    (check,) = result.get_asset_check_evaluations()
    lost = raw_md["failed_calls"].value
    assert sim.log.by_key[("GetScheduledHearingsByPartyID", party_id)] > 0
    assert lost == 1  # the first party has a hearing in the window
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["lost_calls"].value == 1 and check.metadata["pages_lost"].value == 0
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags["odyssey/partial"] == "true" and tags["odyssey/lost_calls/simco"] == "1"


def test_a_sync_that_read_nothing_of_its_window_fails_the_run(sim, tmp_path, monkeypatch):
    _sim_env(monkeypatch, tmp_path)
    registry = _registry(tmp_path, sim.base_url)
    assets = build_odyssey_assets(registry, agency_day_partitions(registry))
    resources = _fast_resources()
    sim.break_call("FindParties", "page:1", "503")
    key = f"simco|{ANCHOR.isoformat()}"
    result = dg.materialize(assets, partition_key=key, resources=resources, raise_on_error=False)
    assert result.success is False
    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        runs = con.execute("SELECT status, pages_lost FROM odyssey_sync_runs").fetchall()
    assert len(runs) == 1 and runs[0][1] == 1  # the run's row is written before it fails
    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        incidents = con.execute("SELECT run_id, agency_id, partition_key FROM ops_incidents")
        assert incidents.fetchall() == [(result.run_id, "simco", key)]  # no daemon needed


def test_a_failed_sync_writes_its_run_row_with_the_error(sim, tmp_path, monkeypatch):
    _sim_env(monkeypatch, tmp_path, password="wrong-Secret-pw")
    registry = _registry(tmp_path, sim.base_url)
    assets = build_odyssey_assets(registry, agency_day_partitions(registry))
    resources = {"warehouse": WarehouseResource(), "odyssey": OdysseyResource()}
    key = f"simco|{ANCHOR.isoformat()}"
    result = dg.materialize(assets, partition_key=key, resources=resources, raise_on_error=False)
    assert result.success is False
    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        rows = con.execute(
            "SELECT status, partition_key, error, finished_at IS NOT NULL FROM odyssey_sync_runs"
        ).fetchall()
    assert len(rows) == 1
    status, partition, error, finished = rows[0]
    assert (status, partition, finished) == ("failed", key, True)
    assert error.startswith("OdysseyAuthError:") and "HTTP 401" in error
    assert "wrong-Secret-pw" not in error
    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        incidents = con.execute("SELECT run_id, agency_id, error FROM ops_incidents").fetchall()
    assert incidents == [(result.run_id, "simco", error)]  # recorded by the run itself

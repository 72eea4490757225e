"""The Odyssey assets materialized with Dagster against a tmp data home and registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import yaml

from court_pipeline.definitions import build_jobs
from court_pipeline.odyssey.assets import (
    build_odyssey_assets,
    build_odyssey_schedules,
)
from court_pipeline.odyssey.client import OdysseyResource
from court_pipeline.odyssey.sync import replay_archive
from court_pipeline.ops.freshness import judge_freshness
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import load_registry
from court_pipeline.warehouse import WarehouseResource, connect_warehouse

from .conftest import ANCHOR


def _registry(tmp_path, base_url, **odyssey):
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
                            **odyssey,
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
    for name, value in (
        ("SIM_USER", "api_user"),
        ("SIM_PASS", password),
        ("SIM_SITE", "SIMCOUNTY"),
    ):
        monkeypatch.setenv(name, value)


def _fast_resources() -> dict:
    return {
        "warehouse": WarehouseResource(),
        "odyssey": OdysseyResource(wait_initial=0.01, wait_max=0.05),
    }


def _window_case(sim) -> str:
    """A case the full sync requests: the first case of the first party in the window."""
    party = sim.find_party_ids(ANCHOR, ANCHOR + timedelta(days=180), None)[0]
    return sim.county.parties[party].cases[0][0]


def _cells(markdown: str) -> set[str]:
    return {c.strip() for line in markdown.splitlines() for c in line.split("|") if c.strip()}


def test_materialize_odyssey_assets(sim, tmp_path, monkeypatch):
    _sim_env(monkeypatch, tmp_path)
    registry = _registry(tmp_path, sim.base_url)
    parts = agency_day_partitions(registry)
    assets = build_odyssey_assets(registry, parts)
    resources = _fast_resources()
    case_id = _window_case(sim)
    sim.break_call("FindCase", case_id, "503")

    key = f"simco|{ANCHOR.isoformat()}"
    result = dg.materialize(assets, partition_key=key, resources=resources)
    assert result.success
    raw_md = result.asset_materializations_for_node("odyssey_raw_responses")[0].metadata
    rec_md = result.asset_materializations_for_node("odyssey_records")[0].metadata
    assert sim.log.by_key[("FindCase", case_id)] == 3  # the broken call, max_attempts 3
    assert raw_md["partial"].value is True and raw_md["failed_calls"].value == 1
    assert raw_md["lost_calls"].value == [f"case {case_id}: HTTP_503"]
    assert raw_md["calls"].value == sum(sim.log.by_type.values())
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "odyssey_sync_complete" and check.passed is False
    assert check.metadata["lost_calls"].value == 1
    assert check.metadata["calls"].value == raw_md["calls"].value
    assert rec_md["rows_hearings"].value > 0 and rec_md["cursor_advanced"].value is True
    assert "api_password" not in str(raw_md) + str(rec_md)
    archive = next((tmp_path / "home" / "archive" / "odyssey" / "simco").glob("*.jsonl.gz"))
    previewed = replay_archive(archive, sim.zone).frames["parties"].head(10)
    real = {
        str(v)
        for column in ("party_id", "first_name", "last_name", "date_of_birth", "address_line1")
        for v in previewed[column].dropna()
        if str(v).strip()
    }
    assert len(real) > 20
    shown = _cells(rec_md["preview_parties"].value)
    assert real & shown == set()  # none of the previewed rows' real values is shown

    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        n = con.execute(
            "SELECT count(*) FROM hearings WHERE agency_id = 'simco' AND source = 'odyssey_api'"
        ).fetchall()[0][0]
        assert n == rec_md["rows_hearings"].value
        runs = con.execute("SELECT mode, status, partition_key FROM odyssey_sync_runs").fetchall()
        assert runs == [("full", "merged", key)]
        assert con.execute(
            "SELECT count(*) FROM cases WHERE case_id = ?", [case_id]
        ).fetchall() == [(0,)]

    # second run: hourly agency with a cursor -> incremental, the lost case fetched first
    sim.heal()
    result2 = dg.materialize(assets, partition_key=key, resources=resources)
    raw2 = result2.asset_materializations_for_node("odyssey_raw_responses")[0].metadata
    rec2 = result2.asset_materializations_for_node("odyssey_records")[0].metadata
    assert raw2["mode"].value == "incremental" and raw2["partial"].value is False
    assert raw2["retried_from_previous_runs"].value == 1
    assert rec2["resolved_failed_calls"].value == 1  # healed
    assert sim.log.by_key[("FindCase", case_id)] == 4
    assert result2.get_asset_check_evaluations()[0].passed is True
    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        assert con.execute(
            "SELECT count(*) FROM cases WHERE case_id = ?", [case_id]
        ).fetchall() == [(1,)]

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
    assert sim.log.by_type == {"FindParties": 3}  # nothing else was asked
    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        runs = con.execute("SELECT sync_id, status, pages_lost, error FROM odyssey_sync_runs")
        ((sync_id, status, pages_lost, error),) = runs.fetchall()
        incidents = con.execute("SELECT run_id, agency_id, partition_key, error FROM ops_incidents")
        assert incidents.fetchall() == [(result.run_id, "simco", key, error)]  # no daemon needed
        assert con.execute("SELECT count(*) FROM odyssey_cursor").fetchall() == [(0,)]
    assert (status, pages_lost) == ("failed", 1)
    assert error == (
        f"Odyssey sync {sync_id} read nothing of its window: no FindParties page "
        "of its window arrived (1 lost)"
    )


def test_a_sync_whose_every_hearings_and_case_call_is_lost_fails_the_run(
    sim, tmp_path, monkeypatch
):
    """The pages arrive but nothing behind them does: that is not a sync of the window."""
    _sim_env(monkeypatch, tmp_path)
    registry = _registry(tmp_path, sim.base_url)
    assets = build_odyssey_assets(registry, agency_day_partitions(registry))
    for party_id in sim.county.parties:
        sim.break_call("GetScheduledHearingsByPartyID", party_id, "503")
    for case_id in sim.county.cases:
        sim.break_call("FindCase", case_id, "soap_fault")
    key = f"simco|{ANCHOR.isoformat()}"
    result = dg.materialize(
        assets, partition_key=key, resources=_fast_resources(), raise_on_error=False
    )
    assert result.success is False
    window_parties = sim.find_party_ids(ANCHOR, ANCHOR + timedelta(days=180), None)
    window_cases = {c for p in window_parties for c, _, _ in sim.county.parties[p].cases}
    lost = len(window_parties) + len(window_cases)
    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        ((sync_id, status, error, failed),) = con.execute(
            "SELECT sync_id, status, error, failed_calls FROM odyssey_sync_runs"
        ).fetchall()
        incidents = con.execute("SELECT run_id, error FROM ops_incidents").fetchall()
        open_calls = con.execute(
            "SELECT count(*) FROM odyssey_failed_calls WHERE resolved_at IS NULL"
        ).fetchall()
        assert con.execute("SELECT count(*) FROM hearings").fetchall() == [(0,)]
    assert (status, failed) == ("failed", lost)
    assert error == (
        f"Odyssey sync {sync_id} read nothing of its window: every hearings and "
        f"case call was lost ({lost})"
    )
    assert incidents == [(result.run_id, error)] and open_calls == [(lost,)]


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


def _runs(tmp_path) -> list[tuple]:
    with connect_warehouse(tmp_path / "home" / "warehouse.duckdb") as con:
        return con.execute(
            "SELECT sync_id, mode, status, pages_lost FROM odyssey_sync_runs ORDER BY started_at"
        ).fetchall()


def test_ledger_cursor_and_freshness_through_real_runs(sim, tmp_path, monkeypatch):
    """Nightly agency, 50 parties a page. Freshness counts only a merged sync that read its
    window; a full sync's lost page holds the cursor and stays open through an incremental
    run, and only the next full sync that reads every page closes it."""
    _sim_env(monkeypatch, tmp_path)
    registry = _registry(tmp_path, sim.base_url, sync="nightly", page_size=50)
    assets = build_odyssey_assets(registry, agency_day_partitions(registry))
    home = tmp_path / "home" / "warehouse.duckdb"
    key = f"simco|{ANCHOR.isoformat()}"

    def run(mode: str, **kw):
        config = {"ops": {"odyssey_raw_responses": {"config": {"mode": mode}}}}
        return dg.materialize(
            assets, partition_key=key, resources=_fast_resources(), run_config=config, **kw
        )

    def odyssey_freshness(now: datetime):
        with connect_warehouse(home) as con:
            (verdict,) = [
                v for v in judge_freshness(con, registry, now) if v.source == "odyssey_api"
            ]
            cursor = con.execute("SELECT modified_since FROM odyssey_cursor").fetchall()
            pages = con.execute(
                "SELECT sync_id, resolved_by_sync_id FROM odyssey_failed_calls "
                "WHERE call_kind = 'parties_page' ORDER BY sync_id"
            ).fetchall()
            finished = dict(
                con.execute("SELECT sync_id, finished_at FROM odyssey_sync_runs").fetchall()
            )
        return verdict, cursor, pages, finished

    assert len(sim.find_party_ids(ANCHOR, ANCHOR + timedelta(days=180), None)) > 50  # 2+ pages
    verdict, cursor, _, _ = odyssey_freshness(datetime.now(UTC))
    assert verdict.never_loaded and not verdict.stale and cursor == []

    # 1. a sync that read nothing (page 1 lost): a failed row, still never loaded
    sim.break_call("FindParties", "page:1", "503")
    assert run("full", raise_on_error=False).success is False
    sim.heal()
    verdict, cursor, pages, _ = odyssey_freshness(datetime.now(UTC))
    assert verdict.never_loaded and cursor == []
    ((nothing, _, _, _),) = _runs(tmp_path)
    assert pages == [(nothing, None)]

    # 2. a clean full sync: fresh, the cursor set
    assert run("full").success
    (_, (clean, _, status, _)) = _runs(tmp_path)
    assert status == "merged"
    verdict, cursor1, _, finished = odyssey_freshness(datetime.now(UTC))
    assert verdict.last_success_at == finished[clean] and not verdict.stale
    assert len(cursor1) == 1
    assert odyssey_freshness(datetime.now(UTC))[2] == [(nothing, clean)]  # a full read
    later = finished[clean] + timedelta(hours=27)  # past the 26 h nightly limit
    assert odyssey_freshness(later)[0].stale

    # 3. a full sync that lost page 2: merged but partial; neither fresh nor a cursor move
    sim.break_call("FindParties", "page:2", "503")
    assert run("full").success
    sim.heal()
    lost_page = _runs(tmp_path)[-1]
    assert lost_page[1:] == ("full", "merged", 1)
    verdict, cursor, pages, _ = odyssey_freshness(datetime.now(UTC))
    assert verdict.last_success_at == finished[clean]  # the partial sync does not count
    assert cursor == cursor1 and pages == [(nothing, clean), (lost_page[0], None)]

    # 4. a clean incremental sync: reads every page of ITS query, moves the cursor, but the
    # full window's lost page stays open (it was never read again)
    assert run("incremental").success
    incremental = _runs(tmp_path)[-1]
    assert incremental[1:] == ("incremental", "merged", 0)
    verdict, cursor, pages, finished = odyssey_freshness(datetime.now(UTC))
    assert pages == [(nothing, clean), (lost_page[0], None)]
    assert cursor != cursor1 and verdict.last_success_at == finished[incremental[0]]

    # 5. a clean full sync closes the hole
    assert run("full").success
    healed = _runs(tmp_path)[-1]
    assert odyssey_freshness(datetime.now(UTC))[2] == [(nothing, clean), (lost_page[0], healed[0])]

"""Backfills of many days of one agency run as one run, and land every day's data once.

The backfill is a real Dagster asset backfill: a ``PartitionBackfill`` added to a persistent
instance and driven by the backfill daemon's own iteration (``execute_backfill_iteration``)
against a code location loaded the way ``dagster dev`` loads it (a gRPC server process), runs
launched by the synchronous test launcher. The data comes from the bundled simulators
(Odyssey, CourtAnalyticsTX) and real ECR files, one per day, each landed in the night of its
day. The same days run once more as per-day runs in a second data home: the tables must match.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
from dagster._core.test_utils import create_test_daemon_workspace_context, instance_for_test
from dagster._core.workspace.load_target import PythonFileTarget
from dagster._daemon.backfill import execute_backfill_iteration

from court_pipeline.definitions import build_definitions
from court_pipeline.partitions import (
    MAX_PARTITIONS_PER_RUN,
    AgencyDay,
    combine_agency_metadata,
    group_by_agency,
    partition_key,
)
from court_pipeline.registry import load_registry
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.support.statewide import (
    AgencyPlan,
    StatewideFleet,
    land_ecr_file,
    plan_agencies,
    write_registry,
)

pytestmark = pytest.mark.slow  # statewide backfills in real run processes

ZONE = ZoneInfo("America/Chicago")
DAYS = 6
# Tables compared between the backfill and the per-day runs, with the key that must be unique.
COMPARED = {
    "parties": "party_id",
    "cases": "case_id",
    "case_parties": "case_id, party_id, role",
    "hearings": "hearing_id",
    "hearing_parties": "hearing_id, party_id",
    "charges": "case_id, charge_id",
    "contacts": "contact_id",
    "reminder_outbox": "dedupe_key",
    "oca_case_status": "recordid",
    "oca_charges": "recordid",
}


class ThreadRunLauncher(SyncInMemoryRunLauncher):
    """Dagster's synchronous test launcher, but each run in a fresh thread.

    The backfill daemon iterates inside an event loop; a real run process has none, and the
    Odyssey sync starts its own loop, so the run must not see the daemon's.
    """

    def launch_run(self, context) -> None:  # noqa: ANN001 - Dagster's LaunchRunContext
        failure: list[BaseException] = []

        def run() -> None:
            try:
                SyncInMemoryRunLauncher.launch_run(self, context)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                failure.append(exc)

        thread = threading.Thread(target=run, name="backfill-run")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]


LAUNCHER = {"run_launcher": {"module": __name__, "class": ThreadRunLauncher.__name__}}


def _today() -> date:
    return datetime.now(ZONE).date()


def _days() -> list[date]:
    """Six past days ending yesterday (the daily partitions reach today)."""
    return [_today() - timedelta(days=n) for n in range(DAYS, 0, -1)]


def _setup_home(root: Path, monkeypatch: pytest.MonkeyPatch, plan: AgencyPlan,
                days: list[date]) -> StatewideFleet:
    """A data home with the simulators, the registry and one ECR file per day (landed at
    22:00 of that day, agency time); the environment points the pipeline at it."""
    home = root / "home"
    home.mkdir(parents=True)
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(home))
    monkeypatch.delenv("COURT_PIPELINE_WAREHOUSE", raising=False)
    for name, value in plan.env().items():
        monkeypatch.setenv(name, value)
    fleet = StatewideFleet([plan], anchor=days[-1]).start()
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(write_registry(home / "agencies.yaml", fleet)))
    for n, day in enumerate(days, start=1):
        night = datetime(day.year, day.month, day.day, 22, tzinfo=ZONE).timestamp()
        land_ecr_file(home, plan, day, sequence=n, rows=plan.ecr_rows, landed_at=night)
    return fleet


def _table_state() -> dict[str, tuple[int, int]]:
    """(rows, distinct keys) per compared table."""
    out = {}
    with connect_warehouse(read_only=True) as con:
        for table, key in COMPARED.items():
            rows, keys = con.execute(
                f"SELECT count(*), count(DISTINCT ({key})) FROM {table}").fetchall()[0]
            out[table] = (int(rows), int(keys))
    return out


def _file_loads() -> list[tuple]:
    with connect_warehouse(read_only=True) as con:
        return con.execute(
            "SELECT file_name, status, rows_in, rows_loaded, rows_rejected, partition_key "
            "FROM file_loads ORDER BY file_name").fetchall()


def _reminders_as_of(moment: datetime) -> dict:
    """Both ways plan reminders as of the same instant, so the outboxes can be compared."""
    config = {"config": {"as_of": moment.isoformat()}}
    return {"ops": {"reminder_outbox": config, "reminder_deliveries": config}}


def _run_backfill(root: Path, agency_id: str, days: list[date], run_config: dict) -> dict:
    """Add an asset backfill of every asset over the agency's days and let the backfill
    daemon's iteration run it to the end; returns runs, status and materializations."""
    defs_file = root / "defs.py"
    defs_file.write_text(
        "from court_pipeline.definitions import build_definitions\n"
        "from court_pipeline.registry import load_registry\n"
        "defs = build_definitions(load_registry())\n"
    )
    keys = [partition_key(agency_id, d) for d in days]
    (root / "dagster_home").mkdir()
    with instance_for_test(temp_dir=str(root / "dagster_home"), overrides=LAUNCHER,
                           synchronous_run_coordinator=True) as instance:
        target = PythonFileTarget(python_file=str(defs_file), attribute="defs",
                                  working_directory=str(root), location_name="court_pipeline")
        with create_test_daemon_workspace_context(target, instance) as context:
            graph = context.create_request_context().asset_graph
            backfill = PartitionBackfill.from_asset_partitions(
                backfill_id="bf14", asset_graph=graph, partition_names=keys,
                asset_selection=list(graph.materializable_asset_keys),
                backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=instance,
                all_partitions=False, title=None, description=None, run_config=run_config,
            )
            instance.add_backfill(backfill)
            started = time.perf_counter()
            for _ in range(20):
                list(execute_backfill_iteration(context, logging.getLogger("backfill")))
                status = instance.get_backfill("bf14").status
                if status not in (BulkActionStatus.REQUESTED,):
                    break
            seconds = time.perf_counter() - started
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": "bf14"}))
        materializations = {
            key: instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("ecr_records"),
                                      asset_partitions=[key]), limit=10).records
            for key in keys
        }
        return {
            "status": status,
            "runs": [(r.status, dict(r.tags)) for r in runs],
            "seconds": seconds,
            "ecr_materializations": {
                k: [r.asset_materialization.metadata for r in recs]
                for k, recs in materializations.items()
            },
        }


def _run_per_day(agency_id: str, days: list[date], run_config: dict) -> list[bool]:
    """The same days as one run each (what a backfill was before: the single-partition path)."""
    job = build_definitions(load_registry()).resolve_job_def("everything_job")
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}, **run_config}
    with dg.DagsterInstance.ephemeral() as instance:
        return [
            job.execute_in_process(partition_key=partition_key(agency_id, d), instance=instance,
                                   run_config=quiet, raise_on_error=False).success
            for d in days
        ]


def test_backfill_of_one_agency_is_one_run_and_lands_every_day_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (plan,) = plan_agencies(counties=["Collin"], scale=0.15)
    days = _days()
    keys = [partition_key(plan.agency_id, d) for d in days]
    run_config = _reminders_as_of(datetime.now(ZONE).replace(second=0, microsecond=0))

    fleet = _setup_home(tmp_path / "backfill", monkeypatch, plan, days)
    try:
        result = _run_backfill(tmp_path / "backfill", plan.agency_id, days, run_config)
        backfill_tables, backfill_loads = _table_state(), _file_loads()
    finally:
        fleet.stop()

    assert result["status"] == BulkActionStatus.COMPLETED_SUCCESS, result["runs"]
    assert len(result["runs"]) == 1  # six agency-days, one run
    status, tags = result["runs"][0]
    assert status == dg.DagsterRunStatus.SUCCESS
    assert tags["dagster/asset_partition_range_start"] == keys[0]
    assert tags["dagster/asset_partition_range_end"] == keys[-1]

    # Every day's file loaded exactly once, recorded under its own day.
    assert len(backfill_loads) == DAYS
    assert [row[5] for row in backfill_loads] == keys
    assert all(row[1] == "loaded" and row[2] == row[3] + row[4] for row in backfill_loads)
    # Each day has one materialization that says what was done that day.
    for key, load in zip(keys, backfill_loads, strict=True):
        (meta,) = result["ecr_materializations"][key]
        day = key.partition("|")[2]
        assert meta["per_day"].value[day]["files"] == 1
        assert meta["per_day"].value[day]["rows_in"] == load[2]
        assert meta["files"].value == DAYS
        assert meta["days"].value == [d.isoformat() for d in days]
    for table, (rows, distinct) in backfill_tables.items():
        assert rows == distinct, f"{table}: {rows - distinct} duplicate keys"
    assert all(backfill_tables[t][0] > 0 for t in ("parties", "hearings", "reminder_outbox",
                                                   "oca_case_status"))

    fleet = _setup_home(tmp_path / "per_day", monkeypatch, plan, days)
    try:
        assert _run_per_day(plan.agency_id, days, run_config) == [True] * DAYS
        per_day_tables, per_day_loads = _table_state(), _file_loads()
    finally:
        fleet.stop()
    assert per_day_tables == backfill_tables
    # Same files and rows; the per-day runs account all files to the first day (the first
    # nightly sweep finds them all), the backfill to the day each file landed.
    assert [row[:5] for row in per_day_loads] == [row[:5] for row in backfill_loads]


def test_group_by_agency_keeps_each_agencys_days_together() -> None:
    parts = [AgencyDay("b", date(2026, 11, 2)), AgencyDay("a", date(2026, 11, 3)),
             AgencyDay("a", date(2026, 11, 1)), AgencyDay("b", date(2026, 11, 1))]
    groups = group_by_agency(sorted(parts, key=lambda p: (p.agency_id, p.day)))
    assert [(g.agency_id, g.days) for g in groups] == [
        ("a", (date(2026, 11, 1), date(2026, 11, 3))),
        ("b", (date(2026, 11, 1), date(2026, 11, 2))),
    ]
    a = groups[0]
    assert a.last_key == "a|2026-11-03" and a.is_range
    assert a.clamp(date(2026, 12, 1)) == date(2026, 11, 3)
    assert a.clamp(date(2026, 10, 1)) == date(2026, 11, 1)


def test_combined_metadata_sums_counts_and_keeps_each_agency() -> None:
    one = {"files": dg.MetadataValue.int(2), "note": "x"}
    assert combine_agency_metadata({"a": one}) == one
    combined = combine_agency_metadata({
        "a": {"files": dg.MetadataValue.int(2), "preview": dg.MetadataValue.md("|x|")},
        "b": {"files": dg.MetadataValue.int(3), "mode": "full"},
    })
    assert combined["files"].value == 5
    assert combined["per_agency"].value == {"a": {"files": 2}, "b": {"files": 3, "mode": "full"}}


def test_every_partitioned_asset_shares_the_range_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One policy for all: Dagster runs assets together only when their policies match."""
    (plan,) = plan_agencies(counties=["Collin"], scale=0.1)
    fleet = _setup_home(tmp_path, monkeypatch, plan, [_today()])
    try:
        graph = build_definitions(load_registry()).resolve_asset_graph()
    finally:
        fleet.stop()
    policies = {graph.get(k).backfill_policy for k in graph.materializable_asset_keys}
    assert policies == {dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)}


def test_a_range_over_two_agencies_runs_each_agency_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-day backfill of many agencies makes ranges across agencies (Dagster groups by
    the dimension with fewer keys): every asset handles each agency of the range once."""
    from court_pipeline_tests.integration.conftest import land_file
    from court_pipeline_tests.integration.conftest import write_registry as write_ecr_registry

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(home))
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(write_ecr_registry(home, ["alpha", "beta"])))
    monkeypatch.delenv("COURT_PIPELINE_WAREHOUSE", raising=False)
    rows = {"alpha": 40, "beta": 25}
    for seed, (agency, count) in enumerate(rows.items()):
        land_file(home, agency, f"{agency}_ecr.txt", rows=count, seed=seed)
    job = build_definitions(load_registry()).resolve_job_def("everything_job")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": "alpha|2026-11-21",
                  "dagster/asset_partition_range_end": "beta|2026-11-22"},
        )
        assert result.success
        records = instance.fetch_materializations(
            dg.AssetKey("ecr_records"), limit=10).records
    # One materialization per agency-day of the range (2 x 2), all from the same step.
    assert sorted(r.partition_key for r in records) == [
        "alpha|2026-11-21", "alpha|2026-11-22", "beta|2026-11-21", "beta|2026-11-22"]
    meta = records[0].asset_materialization.metadata
    assert meta["agencies"].value == ["alpha", "beta"]
    assert meta["rows_in"].value == sum(rows.values())
    per_agency = meta["per_agency"].value
    assert {a: per_agency[a]["rows_in"] for a in rows} == rows
    assert per_agency["alpha"]["per_day"] == {"2026-11-22": {
        "files": 1, "rows_in": 40, "rows_loaded": per_agency["alpha"]["rows_loaded"],
        "rows_rejected": per_agency["alpha"]["rows_rejected"], "hearings_removed": 0}}
    # Files landed today are accounted to the range's last day, each loaded once.
    loads = _file_loads()
    assert [(r[0], r[1], r[2], r[5]) for r in loads] == [
        ("alpha_ecr.txt", "loaded", 40, "alpha|2026-11-22"),
        ("beta_ecr.txt", "loaded", 25, "beta|2026-11-22"),
    ]
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(e.event_specific_data.passed for e in checks
                          if e.event_specific_data.asset_check_key.name != "agencies_fresh")


def test_the_policy_makes_one_run_per_month_of_an_agency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs the backfill daemon would launch (its own run-request builder): 40 days of
    one agency = 2 runs (31 + 9 days); one day of two agencies = 1 run over both."""
    from dagster._core.definitions.automation_tick_evaluation_context import (
        build_run_requests_with_backfill_policies,
    )
    from dagster._core.definitions.events import AssetKeyPartitionKey

    from court_pipeline_tests.integration.conftest import write_registry as write_ecr_registry

    home = tmp_path / "home"
    home.mkdir()
    registry = write_ecr_registry(home, ["alpha", "beta"])
    registry.write_text(registry.read_text().replace("2026-11-01", "2026-09-01"))
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(home))
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(registry))
    graph = build_definitions(load_registry()).resolve_asset_graph()

    def ranges(keys: list[str]) -> list[tuple[str, str]]:
        wanted = [AssetKeyPartitionKey(a, k) for a in graph.materializable_asset_keys
                  for k in keys]
        with dg.DagsterInstance.ephemeral() as instance:
            requests = build_run_requests_with_backfill_policies(wanted, graph, instance)
        return sorted((r.tags["dagster/asset_partition_range_start"],
                       r.tags["dagster/asset_partition_range_end"]) for r in requests)

    forty = [date(2026, 9, 1) + timedelta(days=n) for n in range(40)]
    assert ranges([partition_key("alpha", d) for d in forty]) == [
        ("alpha|2026-09-01", "alpha|2026-10-01"), ("alpha|2026-10-02", "alpha|2026-10-10")]
    assert ranges(["alpha|2026-10-05", "beta|2026-10-05"]) == [
        ("alpha|2026-10-05", "beta|2026-10-05")]

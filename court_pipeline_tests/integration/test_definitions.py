"""The whole code location loads, with every asset, check, job, schedule and sensor."""

from __future__ import annotations

import dagster as dg

from court_pipeline.definitions import build_definitions
from court_pipeline.registry import load_registry
from court_pipeline.settings import BUNDLED_REGISTRY

EXPECTED_ASSETS = {
    "ecr_landed_files", "ecr_records", "odyssey_raw_responses", "odyssey_records",
    "parties", "contacts", "cases", "case_parties", "hearings", "hearing_parties",
    "hearing_changes", "charges", "attorneys", "case_events",
    "reminder_outbox", "reminder_deliveries", "oca_unmapped_codes", "oca_publication",
    "oca_case_status", "oca_case_events", "oca_charges", "oca_attorney", "oca_appointments",
    "oca_party", "oca_dispositions_criminal", "oca_dispositions_non_criminal",
}


def test_bundled_definitions_load_completely():
    defs = build_definitions(load_registry(BUNDLED_REGISTRY))
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys >= EXPECTED_ASSETS
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"ecr_ingest_job", "odyssey_sync_job", "reminders_job", "state_reporting_job",
            "everything_job"} <= jobs
    assert {s.name for s in defs.sensors} == {
        "ecr_files_demo", "record_run_failures", "source_freshness"}
    assert {s.name for s in defs.schedules} == {
        "ecr_nightly_demo", "odyssey_nightly_demo", "odyssey_hourly_demo",
        "reminders_hourly_demo", "state_reporting_nightly_demo",
    }
    checks = {key.name for key in graph.asset_check_keys}
    assert {"ecr_rows_reconcile", "hearings_have_start_time", "valid_phones_are_e164",
            "contract_validation", "oca_nothing_held_back", "agencies_fresh"} <= checks


def test_every_partitioned_asset_shares_agency_day_partitions():
    defs = build_definitions(load_registry(BUNDLED_REGISTRY))
    graph = defs.resolve_asset_graph()
    partitions = {
        key.to_user_string(): graph.get(key).partitions_def for key in graph.get_all_asset_keys()
    }
    assert all(isinstance(p, dg.MultiPartitionsDefinition) for p in partitions.values())
    assert len({id(p) for p in partitions.values()}) == 1
    sample = next(iter(partitions.values()))
    assert sample.get_partition_key_from_str("demo|2026-11-22").keys_by_dimension == {
        "agency": "demo", "date": "2026-11-22",
    }


def test_ecr_sensor_targets_the_ingest_job():
    defs = build_definitions(load_registry(BUNDLED_REGISTRY))
    sensor = defs.resolve_sensor_def("ecr_files_demo")
    assert sensor.job_name == "ecr_ingest_job"


def test_assets_have_owners_by_group():
    defs = build_definitions(load_registry(BUNDLED_REGISTRY))
    owners = {s.key.to_user_string(): s.owners for s in defs.resolve_all_asset_specs()}
    assert owners["hearings"] == ["team:court-data-engineering"]
    assert owners["reminder_outbox"] == ["team:court-reminders"]
    assert owners["oca_publication"] == ["team:state-reporting"]


def test_repo_instance_config_and_workspace_load(tmp_path):
    """`dagster dev` from the repo root uses dagster.yaml and workspace.yaml: both must load."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shutil.copyfile(root / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 4
        limits = queue.tag_concurrency_limits
        assert {"key": "dagster/partition/agency", "value": {"applyLimitPerUniqueValue": True},
                "limit": 1} in limits
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root, env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "All code locations passed validation" in done.stdout + done.stderr

"""Real Dagster runs of oca_publication / oca_envelope_log against the simulator."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from court_pipeline.oca.contracts import ENTITY_TYPES, load_contract
from court_pipeline.oca.datasets import dataset_table, ensure_dataset_table
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.publish.assets import (
    CHECK_NAME,
    DEFERRED_CHECK,
    RUN_TAG,
    build_publish_assets,
)
from court_pipeline.publish.resources import CourtAnalyticsTXResource, OcaConfigError
from court_pipeline.registry.models import Registry
from court_pipeline.warehouse import WarehouseResource, connect_warehouse
from court_pipeline_tests.publish.conftest import STATUS, assert_matches, make_rows


def _registry(sim, target="staging", allow_production=False) -> Registry:
    endpoints = {"token_url": sim.token_url, "messages_url": sim.messages_url}
    return Registry.model_validate(
        {
            "agencies": [
                {
                    "id": "harris",
                    "name": "Harris County Courts",
                    "county": "Harris",
                    "oca": {
                        "client_id_env": "OCA_HARRIS_CLIENT_ID",
                        "client_secret_env": "OCA_HARRIS_CLIENT_SECRET",
                        "target": target,
                    },
                }
            ],
            "oca_targets": {"staging": endpoints, "production": endpoints},
            "allow_production": allow_production,
        }
    )


def _write_datasets(warehouse, status, entity_types=ENTITY_TYPES):
    """Stand-in for the OCA dataset builds: validated rows per entity type + the build log."""
    with connect_warehouse(warehouse) as con:
        for entity_type in entity_types:
            ensure_dataset_table(con, entity_type, load_contract(entity_type))
            frame = status if entity_type == STATUS else make_rows(entity_type, 0)
            frame = frame.assign(agency_id="harris")
            table = dataset_table(entity_type)
            con.execute(f"DELETE FROM {table} WHERE agency_id = 'harris'")
            con.register("_rows", frame)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
            con.unregister("_rows")
            con.execute(
                "INSERT INTO oca_dataset_builds (agency_id, entity_type, rows, rows_passed, "
                "rows_held_back, not_reported, built_at) VALUES ('harris', ?, ?, ?, 0, 0, now())",
                [entity_type, len(frame), len(frame)],
            )


def _materialize(registry, warehouse, key="harris|2026-03-02", **resource):
    assets = build_publish_assets(registry, agency_day_partitions(registry))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets,
        partition_key=key,
        instance=instance,
        resources={
            "warehouse": WarehouseResource(path=str(warehouse)),
            "courtanalyticstx": CourtAnalyticsTXResource(
                wait_initial_seconds=0.01, wait_max_seconds=0.05, **resource
            ),
        },
        raise_on_error=False,
    )
    return result, instance


def test_publication_asset_run_tags_metadata_and_check(sim, credential, warehouse):
    status = make_rows(STATUS, 40)
    status.loc[7, "court_type"] = "district court"  # will be held back
    _write_datasets(warehouse, status)
    registry = _registry(sim)

    result, instance = _materialize(registry, warehouse)

    assert result.success
    run = instance.get_run_by_id(result.run_id)
    assert run.tags[RUN_TAG] == "staging"
    mats = result.asset_materializations_for_node("oca_publication")
    meta = mats[0].metadata
    assert meta["accepted"].value == 39 and meta["held_back"].value == 1
    assert meta["environment"].value == "staging" and meta["envelopes"].value == 2
    assert "validation" in meta["held_back_reasons"].value
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) == {CHECK_NAME, DEFERRED_CHECK}
    held = checks[CHECK_NAME]
    assert not held.passed and held.severity == dg.AssetCheckSeverity.WARN
    assert held.metadata["reasons"].value == {"validation": 1}
    assert held.metadata["held_back"].value == 1
    assert checks[DEFERRED_CHECK].passed
    log_meta = result.asset_materializations_for_node("oca_envelope_log")[0].metadata
    assert log_meta["envelopes_by_status"].value == {"rejected": 1, "acked": 1}
    assert log_meta["open_held_back"].value == 1
    assert_matches(sim, STATUS, status.drop(index=[7]))

    status.loc[7, "court_type"] = "District Court"
    _write_datasets(warehouse, status)
    again, _ = _materialize(registry, warehouse, key="harris|2026-03-03")
    assert again.success and all(c.passed for c in again.get_asset_check_evaluations())
    assert_matches(sim, STATUS, status)


def test_production_is_refused_unless_allowed(sim, credential, warehouse):
    _write_datasets(warehouse, make_rows(STATUS, 3))

    result, _ = _materialize(_registry(sim, target="production"), warehouse)
    assert not result.success
    failures = [e.step_failure_data.error for e in result.get_step_failure_events()]
    assert len(failures) == 1
    message = failures[0].cause.message if failures[0].cause else failures[0].message
    assert "OcaConfigError" in message and "allow_production: true" in message, message
    assert sim.stats.puts == 0
    production = _registry(sim, target="production")
    with pytest.raises(OcaConfigError, match="allow_production"):
        CourtAnalyticsTXResource().settings_for(production, production.agency("harris"))

    allowed, instance = _materialize(_registry(sim, "production", allow_production=True), warehouse)
    assert allowed.success
    assert instance.get_run_by_id(allowed.run_id).tags[RUN_TAG] == "production"
    assert len(sim.records(STATUS)) == 3


def test_plain_http_to_a_remote_host_is_refused(sim):
    registry = _registry(sim)
    resource = CourtAnalyticsTXResource(token_url="http://oca.example.org/oauth2/token")
    with pytest.raises(OcaConfigError, match="https"):
        resource.settings_for(registry, registry.agency("harris"))


def test_dataset_never_built_is_skipped_not_deleted(sim, credential, warehouse):
    status = make_rows(STATUS, 5)
    _write_datasets(warehouse, status)
    registry = _registry(sim)
    assert _materialize(registry, warehouse)[0].success
    with connect_warehouse(warehouse) as con:  # as if the status dataset had never been built
        con.execute("DELETE FROM oca_dataset_builds WHERE entity_type = ?", [STATUS])
        con.execute(f"DELETE FROM {dataset_table(STATUS)}")

    result, _ = _materialize(registry, warehouse, key="harris|2026-03-03")

    assert result.success
    meta = result.asset_materializations_for_node("oca_publication")[0].metadata
    assert meta["skipped_entity_types"].value == [STATUS]
    assert len(sim.records(STATUS)) == 5  # nothing deleted


def test_deferred_records_fail_the_warn_check_with_the_count_and_go_first_next_run(
    sim, credential, warehouse
):
    status = make_rows(STATUS, 40, start=100)  # C000100..: sorts after the next day's records
    _write_datasets(warehouse, status)
    registry = _registry(sim)
    sim.faults.server_error_rate = 1.0  # the service is down for this run

    result, _ = _materialize(registry, warehouse, max_attempts=2, circuit_breaker_threshold=1)

    assert result.success  # the run itself finishes; the check says what is missing
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    deferred = checks[DEFERRED_CHECK]
    assert not deferred.passed and deferred.severity == dg.AssetCheckSeverity.WARN
    assert deferred.metadata["deferred"].value == 40
    assert deferred.metadata["circuit_open"].value is True
    assert deferred.description == (
        "40 record(s) not sent by this run; the next run sends them first"
    )
    assert checks[CHECK_NAME].passed  # nothing needs a person: it only waits

    sim.faults.server_error_rate = 0.0
    more = make_rows(STATUS, 60, start=0)  # the next day brings 60 new records
    _write_datasets(warehouse, pd.concat([status, more], ignore_index=True))
    again, _ = _materialize(
        registry, warehouse, key="harris|2026-03-03", max_attempts=2, circuit_breaker_threshold=1
    )

    assert again.success and all(c.passed for c in again.get_asset_check_evaluations())
    meta = again.asset_materializations_for_node("oca_publication")[0].metadata
    assert meta["deferred_from_last_run_sent_first"].value == 40
    first = [
        e["EntityData"]["recordid"] for ev in sim.applied[0]["Events"] for e in ev["Entities"]
    ][:40]
    assert sorted(first) == sorted(status["recordid"])
    assert len(sim.records(STATUS)) == 100

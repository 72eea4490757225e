"""The cockpit: stale agencies turn their check red; failed runs become incident rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from court_pipeline.definitions import build_definitions
from court_pipeline.ops.freshness import build_freshness, judge_freshness
from court_pipeline.ops.sensors import record_run_failures
from court_pipeline.registry import load_registry
from court_pipeline.warehouse import WarehouseResource, connect_warehouse
from court_pipeline_tests.integration import conftest as integration
from court_pipeline_tests.integration.conftest import DAY, land_file, write_registry

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
pipeline_home = integration.pipeline_home  # the fixture: a data home with agencies alpha, beta


def _seen(con, agency: str, when: datetime) -> None:
    con.execute(
        "INSERT INTO received_file_names (agency_id, original_name, source_version, "
        "content_sha256, landing_uri, partition_key, first_seen_at, last_seen_at) "
        "VALUES (?, 'f.txt', ?, 'abc', 'file:///landing', 'x|2026-11-22', ?, ?)",
        [agency, when.isoformat(), when, when],
    )


def test_judge_freshness_marks_overdue_and_tells_never_loaded_from_stale(tmp_path):
    registry = load_registry(write_registry(tmp_path, ["alpha", "beta", "gamma"]))
    with connect_warehouse(tmp_path / "w.duckdb") as con:
        _seen(con, "alpha", NOW - timedelta(hours=3))
        _seen(con, "beta", NOW - timedelta(hours=30))
        verdicts = {v.agency_id: v for v in judge_freshness(con, registry, NOW)}
    assert not verdicts["alpha"].stale and "3.0 h ago" in verdicts["alpha"].reason
    assert verdicts["beta"].stale and "limit 26 h" in verdicts["beta"].reason
    gamma = verdicts["gamma"]
    assert (gamma.stale, gamma.never_loaded, gamma.last_success_at) == (False, True, None)
    assert gamma.reason == "never loaded (no ecr success recorded yet)"
    assert not verdicts["beta"].never_loaded


def test_day_one_agency_never_loaded_does_not_warn_on_another_agencys_run(pipeline_home):
    """A real ECR run for alpha, beside beta that never loaded: the run's agencies_fresh check
    passes and lists beta as never loaded, not as stale."""
    land_file(pipeline_home, "alpha", "alpha_ecr.txt", rows=200, seed=4)
    job = build_definitions(load_registry()).resolve_job_def("ecr_ingest_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            partition_key=f"alpha|{DAY}", instance=instance,
            run_config={"ops": {"ecr_landed_files": {"config": {"files": []}}}},
        )
    assert result.success
    (fresh,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "agencies_fresh"]
    assert fresh.asset_key == dg.AssetKey("ecr_records")
    assert fresh.passed is True
    assert fresh.metadata["stale"].value == {}
    assert fresh.metadata["never_loaded"].value == ["beta"]
    assert fresh.metadata["agencies"].value == 2


def test_sensor_reports_a_red_check_and_keeps_the_ops_table(tmp_path):
    registry = load_registry(write_registry(tmp_path, ["alpha", "beta"]))
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    with warehouse.connect() as con:
        _seen(con, "alpha", datetime.now(UTC) - timedelta(hours=1))
        _seen(con, "beta", datetime.now(UTC) - timedelta(hours=27))
    _, sensor = build_freshness(registry)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse})
        result = sensor(context)
    (evaluation,) = result.asset_events
    assert evaluation.asset_key == dg.AssetKey("ecr_records")
    assert evaluation.passed is False
    assert set(evaluation.metadata["stale"].value) == {"beta"}
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT agency_id, stale FROM ops_freshness ORDER BY agency_id"
        ).fetchall()
    assert rows == [("alpha", False), ("beta", True)]


def test_sensor_shows_never_loaded_agencies_as_such_not_stale(tmp_path):
    registry = load_registry(write_registry(tmp_path, ["alpha", "newcomer"]))
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    with warehouse.connect() as con:
        _seen(con, "alpha", datetime.now(UTC) - timedelta(hours=1))
    _, sensor = build_freshness(registry)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse})
        result = sensor(context)
    (evaluation,) = result.asset_events
    assert evaluation.passed is True
    assert evaluation.metadata["never_loaded"].value == ["newcomer"]
    assert result.skip_reason.skip_message == "all sources fresh (1 never loaded yet)"
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT agency_id, stale, last_success_at IS NULL, reason FROM ops_freshness "
            "ORDER BY agency_id"
        ).fetchall()
    assert rows[1] == ("newcomer", False, True, "never loaded (no ecr success recorded yet)")
    assert rows[0][:3] == ("alpha", False, False)


def test_failed_run_becomes_an_incident_row(tmp_path):
    warehouse = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    partitions = dg.MultiPartitionsDefinition({
        "agency": dg.StaticPartitionsDefinition(["alpha"]),
        "date": dg.DailyPartitionsDefinition(start_date="2026-11-01"),
    })

    @dg.asset(partitions_def=partitions)
    def breaks():
        raise ValueError("alpha_ecr.txt: missing mapped column 'Case Number'")

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [breaks], partition_key="alpha|2026-11-22", instance=instance, raise_on_error=False
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="record_run_failures",
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            dagster_event=failure,
            resources={"warehouse": warehouse},
        ).for_run_failure()
        record_run_failures(context, warehouse=warehouse)
    with warehouse.connect(read_only=True) as con:
        row = con.execute(
            "SELECT agency_id, partition_key, step_key, error FROM ops_incidents"
        ).fetchall()
    assert len(row) == 1
    agency, partition, step, error = row[0]
    assert (agency, partition, step) == ("alpha", "alpha|2026-11-22", "breaks")
    assert error == "ValueError: alpha_ecr.txt: missing mapped column 'Case Number'"


def test_odyssey_freshness_counts_only_syncs_that_read_their_window(tmp_path):
    import yaml

    path = tmp_path / "agencies.yaml"
    odyssey = {"base_url": "https://odyssey.example.org", "site_key_env": "S",
               "username_env": "U", "password_env": "P"}
    path.write_text(yaml.safe_dump({
        "partitions_start_date": "2026-01-01",
        "agencies": [{"id": "oly", "name": "Oly", "county": "Harris", "odyssey": odyssey}],
    }))
    registry = load_registry(path)
    with connect_warehouse(tmp_path / "w.duckdb") as con:
        for sync_id, hours_ago, status, pages_lost in (
            ("full-old", 40, "merged", 0),  # the last sync that read its whole window
            ("lost-pages", 1, "merged", 2),  # merged, but pages of its window never read
            ("auth", 0.5, "failed", None),  # a failed sync's row
        ):
            when = NOW - timedelta(hours=hours_ago)
            con.execute(
                "INSERT INTO odyssey_sync_runs (agency_id, sync_id, mode, started_at, "
                "finished_at, pages_lost, status) VALUES ('oly', ?, 'full', ?, ?, ?, ?)",
                [sync_id, when, when, pages_lost, status],
            )
        (verdict,) = judge_freshness(con, registry, NOW)
    assert verdict.source == "odyssey_api" and verdict.stale
    assert verdict.last_success_at == NOW - timedelta(hours=40)

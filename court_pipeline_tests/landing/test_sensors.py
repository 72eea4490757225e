"""File-arrival sensors evaluated tick after tick with real cursors and real servers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from court_pipeline.landing import build_ecr_nightly_schedules, build_ecr_sensors
from court_pipeline.landing.assets import build_landing_assets
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import Registry
from court_pipeline_tests.landing.conftest import (
    S3_ENDPOINT_ENV,
    SftpServerInfo,
    agency_entry,
    ago,
    free_port,
    set_mtime,
)


def sensors_for(registry: Registry) -> dict[str, dg.SensorDefinition]:
    partitions = agency_day_partitions(registry)
    assets = build_landing_assets(registry, partitions)
    job = dg.define_asset_job("landing_test_job", selection=assets)
    return {s.name: s for s in build_ecr_sensors(registry, job)}


class Ticker:
    """Evaluates a sensor repeatedly, carrying the cursor like the daemon does."""

    def __init__(self, sensor: dg.SensorDefinition) -> None:
        self.sensor, self.cursor = sensor, None

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(cursor=self.cursor)
        result = self.sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        return result

    def names(self) -> list[str]:
        result = self.tick()
        return [r.tags["court_pipeline/file"] for r in result.run_requests or []]


@pytest.fixture
def local_agency(data_home: Path, write_registry: Callable[..., Registry]):
    def make(**ecr) -> tuple[Path, Registry]:
        registry = write_registry(
            agency_entry("demo", {"kind": "local", "path": "landing/demo"}, **ecr),
            agency_entry("quiet", None),
        )
        folder = data_home / "landing" / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        return folder, registry

    return make


def test_one_sensor_per_agency_with_ecr(local_agency) -> None:
    _, registry = local_agency(sensor_interval_seconds=45)
    sensors = sensors_for(registry)
    assert list(sensors) == ["ecr_files_demo"]
    assert sensors["ecr_files_demo"].minimum_interval_seconds == 45


def test_new_file_requests_one_run_and_repeat_none(local_agency) -> None:
    folder, registry = local_agency()
    path = folder / "ecr_20261119.txt"
    path.write_text("a|b\n")
    set_mtime(path, datetime(2026, 11, 20, 3, 0, tzinfo=UTC))  # 21:00 on the 19th in Chicago
    (folder / "ignored.csv").write_text("x")
    ticker = Ticker(sensors_for(registry)["ecr_files_demo"])

    result = ticker.tick()
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    version = f"{path.stat().st_mtime_ns}-4"
    assert request.run_key == f"demo:ecr_20261119.txt:{version}"
    assert request.partition_key == "demo|2026-11-19"
    assert request.run_config == {
        "ops": {"ecr_landed_files": {"config": {"files": ["ecr_20261119.txt"]}}}
    }
    assert request.tags["court_pipeline/agency"] == "demo"
    assert request.tags["court_pipeline/file"] == "ecr_20261119.txt"
    cursor = json.loads(ticker.cursor)
    assert cursor["hwm"] == path.stat().st_mtime_ns / 1e9
    assert cursor["seen"] == [f"ecr_20261119.txt:{version}"]

    again = ticker.tick()
    assert again.run_requests == []
    assert not (folder.parent.parent / "archive").exists()  # the sensor only lists
    assert again.skip_reason.skip_message.startswith("demo: no new files matching '*.txt' in file:")


def test_too_young_file_waits_then_runs(local_agency) -> None:
    folder, registry = local_agency(min_file_age_seconds=600)
    path = folder / "ecr.txt"
    path.write_text("a|b\n")
    ticker = Ticker(sensors_for(registry)["ecr_files_demo"])
    result = ticker.tick()
    assert result.run_requests == []
    assert "ecr.txt: younger than 600s" in result.skip_reason.skip_message
    set_mtime(path, ago(700))
    assert ticker.names() == ["ecr.txt"]


def test_growing_file_on_sftp_waits_until_size_is_stable(
    data_home: Path, write_registry, sftp_server: SftpServerInfo, monkeypatch
) -> None:
    monkeypatch.setenv("TEST_SFTP_PASSWORD", sftp_server.password)
    landing = sftp_server.landing("TEST_SFTP_PASSWORD")
    registry = write_registry(agency_entry("harris", landing, min_file_age_seconds=60))
    ticker = Ticker(sensors_for(registry)["ecr_files_harris"])
    path = sftp_server.root / "ecr.txt"
    path.write_bytes(b"x" * 100)  # upload just started

    first = ticker.tick()
    assert first.run_requests == []
    assert "younger than 60s" in first.skip_reason.skip_message
    assert json.loads(ticker.cursor)["pending"] == {"ecr.txt": 100}

    with path.open("ab") as fh:  # still uploading: bigger now, and an old mtime (client-set)
        fh.write(b"y" * 50)
    set_mtime(path, ago(3600))
    second = ticker.tick()
    assert second.run_requests == []
    assert "size changed since last tick (100 -> 150 bytes)" in second.skip_reason.skip_message

    third = ticker.tick()  # same size as last tick: stable
    assert [r.tags["court_pipeline/file"] for r in third.run_requests] == ["ecr.txt"]
    assert json.loads(ticker.cursor)["pending"] == {}
    assert ticker.tick().run_requests == []


def test_server_down_is_a_skip_reason_and_keeps_the_cursor(
    data_home: Path, write_registry, monkeypatch
) -> None:
    monkeypatch.setenv("TEST_SFTP_PASSWORD", "irrelevant-secret")
    port = free_port()
    landing = {
        "kind": "sftp", "host": "127.0.0.1", "port": port, "username": "u",
        "password_env": "TEST_SFTP_PASSWORD", "insecure_skip_host_key_check": True,
        "timeout_seconds": 2,
    }
    registry = write_registry(agency_entry("harris", landing))
    ticker = Ticker(sensors_for(registry)["ecr_files_harris"])
    ticker.cursor = json.dumps({"hwm": 123.0, "seen": ["a.txt:1-1"], "pending": {}})
    result = ticker.tick()
    assert result.run_requests == []
    message = result.skip_reason.skip_message
    assert message.startswith(
        f"harris: landing unavailable, will retry next tick: SFTP 127.0.0.1:{port}: cannot connect"
    )
    assert "irrelevant-secret" not in message
    assert json.loads(ticker.cursor)["hwm"] == 123.0
    assert json.loads(ticker.cursor)["seen"] == ["a.txt:1-1"]


def test_cap_per_tick_then_the_rest_next_tick_even_at_one_timestamp(
    local_agency
) -> None:
    folder, registry = local_agency(max_runs_per_tick=2)
    same_second = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)  # S3-like granularity
    for i in range(5):
        (folder / f"f{i}.txt").write_text(f"{i}")
        set_mtime(folder / f"f{i}.txt", same_second)
    ticker = Ticker(sensors_for(registry)["ecr_files_demo"])
    assert ticker.names() == ["f0.txt", "f1.txt"]
    assert ticker.names() == ["f2.txt", "f3.txt"]
    assert ticker.names() == ["f4.txt"]
    assert ticker.names() == []
    cursor = json.loads(ticker.cursor)
    assert cursor["hwm"] == same_second.timestamp()
    assert len(cursor["seen"]) == 5


def test_cap_holds_back_later_files_without_losing_them(local_agency) -> None:
    folder, registry = local_agency(max_runs_per_tick=1)
    for i, minute in enumerate([1, 2, 3]):
        (folder / f"f{i}.txt").write_text("x")
        set_mtime(folder / f"f{i}.txt", datetime(2026, 11, 20, 12, minute, tzinfo=UTC))
    ticker = Ticker(sensors_for(registry)["ecr_files_demo"])
    first = ticker.tick()
    assert [r.tags["court_pipeline/file"] for r in first.run_requests] == ["f0.txt"]
    assert json.loads(ticker.cursor)["hwm"] == datetime(2026, 11, 20, 12, 2, tzinfo=UTC).timestamp()
    assert ticker.names() == ["f1.txt"]
    assert ticker.names() == ["f2.txt"]
    assert ticker.names() == []


def test_reupload_is_a_new_run_and_cursor_stays_bounded(local_agency) -> None:
    folder, registry = local_agency()
    path = folder / "ecr.txt"
    path.write_text("v1")
    set_mtime(path, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    ticker = Ticker(sensors_for(registry)["ecr_files_demo"])
    first = ticker.tick().run_requests
    path.write_text("v2-longer")
    set_mtime(path, datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    second = ticker.tick().run_requests
    assert len(first) == len(second) == 1
    assert first[0].run_key != second[0].run_key
    assert second[0].run_key == f"demo:ecr.txt:{path.stat().st_mtime_ns}-9"
    assert second[0].partition_key == "demo|2026-11-21"
    path.unlink()
    assert ticker.names() == []
    assert json.loads(ticker.cursor)["seen"] == []  # gone from the landing: forgotten


def test_old_file_maps_to_first_partition(local_agency) -> None:
    folder, registry = local_agency()
    (folder / "old.txt").write_text("x")
    set_mtime(folder / "old.txt", datetime(2024, 5, 1, tzinfo=UTC))
    result = Ticker(sensors_for(registry)["ecr_files_demo"]).tick()
    assert result.run_requests[0].partition_key == "demo|2026-01-01"


def test_corrupt_cursor_restarts_cleanly(local_agency) -> None:
    folder, registry = local_agency()
    (folder / "a.txt").write_text("x")
    ticker = Ticker(sensors_for(registry)["ecr_files_demo"])
    ticker.cursor = "{not json"
    assert ticker.names() == ["a.txt"]


def test_s3_sensor_against_moto(
    data_home: Path, write_registry, s3_bucket
) -> None:
    landing = {
        "kind": "s3", "bucket": s3_bucket.name, "prefix": "incoming/",
        "endpoint_url_env": S3_ENDPOINT_ENV,
    }
    registry = write_registry(agency_entry("bexar", landing))
    ticker = Ticker(sensors_for(registry)["ecr_files_bexar"])
    assert ticker.tick().skip_reason.skip_message.startswith(
        f"bexar: no new files matching '*.txt' in s3://{s3_bucket.name}/incoming/"
    )
    s3_bucket.put_object(Key="incoming/ecr_a.txt", Body=b"one")
    s3_bucket.put_object(Key="incoming/ecr_b.txt", Body=b"two")
    etag_a = s3_bucket.Object("incoming/ecr_a.txt").e_tag.strip('"')
    first = ticker.tick().run_requests
    assert sorted(r.run_key for r in first) == sorted(
        [f"bexar:ecr_a.txt:{etag_a}",
         f"bexar:ecr_b.txt:{s3_bucket.Object('incoming/ecr_b.txt').e_tag.strip(chr(34))}"]
    )
    assert ticker.names() == []
    s3_bucket.put_object(Key="incoming/ecr_a.txt", Body=b"one, corrected")
    again = ticker.tick().run_requests
    new_etag = s3_bucket.Object("incoming/ecr_a.txt").e_tag.strip('"')
    assert [r.run_key for r in again] == [f"bexar:ecr_a.txt:{new_etag}"]
    assert new_etag != etag_a


def test_nightly_schedule_sweeps_the_local_day(local_agency) -> None:
    _, registry = local_agency(nightly_cron="30 5 * * *")
    partitions = agency_day_partitions(registry)
    job = dg.define_asset_job(
        "landing_test_job", selection=build_landing_assets(registry, partitions),
    )
    schedules = build_ecr_nightly_schedules(registry, job)
    assert [s.name for s in schedules] == ["ecr_nightly_demo"]
    schedule = schedules[0]
    assert schedule.cron_schedule == "30 5 * * *"
    assert schedule.execution_timezone == "America/Chicago"
    when = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)  # 05:30 in Chicago
    request = schedule(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.partition_key == "demo|2026-11-23"
    assert request.run_config == {"ops": {"ecr_landed_files": {"config": {"files": []}}}}
    assert request.tags["court_pipeline/trigger"] == "nightly"


def test_in_progress_names_are_never_requested(local_agency) -> None:
    folder, registry = local_agency(file_pattern="*")
    for name in ("good.txt", "up.txt.filepart", "x.tmp", ".hidden.txt", "y.part"):
        (folder / name).write_text("a|b\n")
        set_mtime(folder / name, ago(3600))
    ticker = Ticker(sensors_for(registry)["ecr_files_demo"])
    assert ticker.names() == ["good.txt"]
    (folder / "up.txt.filepart").rename(folder / "up.txt")  # the uploader's final rename
    assert ticker.names() == ["up.txt"]


def test_completion_marker_holds_a_file_until_it_appears(local_agency) -> None:
    folder, registry = local_agency(completion_marker="{name}.done")
    (folder / "stalled.txt").write_text("a|b\n")
    set_mtime(folder / "stalled.txt", ago(7200))
    (folder / "other.txt").write_text("c|d\n")
    (folder / "other.txt.done").write_text("")
    for name in ("other.txt", "other.txt.done"):
        set_mtime(folder / name, ago(3600))
    ticker = Ticker(sensors_for(registry)["ecr_files_demo"])
    assert ticker.names() == ["other.txt"]  # the mark moves past stalled.txt's time
    result = ticker.tick()
    assert result.run_requests == []
    assert result.skip_reason.skip_message.endswith(
        "(1 file(s) not complete: stalled.txt: waiting for its completion marker "
        "'stalled.txt.done')")
    (folder / "stalled.txt.done").write_text("")  # arrives now: the file is new again
    assert ticker.names() == ["stalled.txt"]
    assert ticker.names() == []


def test_a_bad_name_in_the_landing_is_quarantined_and_the_good_file_lands(
        local_agency, data_home) -> None:
    from court_pipeline.warehouse import WarehouseResource, connect_warehouse

    folder, registry = local_agency()
    for name in ("new\nline.txt", "back\\slash.txt", "good.txt"):
        (folder / name).write_text(name)
        set_mtime(folder / name, ago(3600))
    partitions = agency_day_partitions(registry)
    assets = build_landing_assets(registry, partitions)
    job = dg.define_asset_job("landing_test_job", selection=assets)
    defs = dg.Definitions(assets=assets, jobs=[job], sensors=build_ecr_sensors(registry, job),
                          resources={"warehouse": WarehouseResource()})
    tick = defs.resolve_sensor_def("ecr_files_demo")(dg.build_sensor_context(cursor=None))
    assert len(tick.run_requests) == 3
    for request in tick.run_requests:
        result = defs.resolve_job_def("landing_test_job").execute_in_process(
            run_config=request.run_config, partition_key=request.partition_key,
            tags=request.tags)
        assert result.success
    with connect_warehouse() as con:
        assert con.execute("SELECT original_name FROM received_files").fetchall() == [
            ("good.txt",)]
        assert con.execute("SELECT file_name, status FROM quarantined_files ORDER BY 1"
                           ).fetchall() == [("back\\slash.txt", "quarantined"),
                                            ("new\nline.txt", "quarantined")]

"""The ``ecr_landed_files`` asset materialized for real into a tmp warehouse."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from court_pipeline.landing import (
    build_ecr_nightly_schedules,
    build_ecr_sensors,
    build_landing_assets,
)
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import Registry
from court_pipeline.warehouse import WarehouseResource, connect_warehouse
from court_pipeline_tests.landing.conftest import (
    S3_ENDPOINT_ENV,
    SftpServerInfo,
    agency_entry,
    ago,
    free_port,
    set_mtime,
)

BODY = b"Party ID|Case Number\n1|2026CR1\n"


def run_config(*files: str) -> dict:
    return {"ops": {"ecr_landed_files": {"config": {"files": list(files)}}}}


def materialize(registry: Registry, partition: str, config: dict) -> dg.ExecuteInProcessResult:
    assets = build_landing_assets(registry, agency_day_partitions(registry))
    return dg.materialize(
        assets,
        partition_key=partition,
        run_config=config,
        resources={"warehouse": WarehouseResource()},
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.asset_materializations_for_node("ecr_landed_files")
    return {key: value.value for key, value in event.metadata.items()}


@pytest.fixture
def local(data_home: Path, write_registry: Callable[..., Registry]) -> tuple[Path, Registry]:
    registry = write_registry(
        agency_entry("demo", {"kind": "local", "path": "landing/demo"}, min_file_age_seconds=300),
        agency_entry("quiet", None),
    )
    folder = data_home / "landing" / "demo"
    folder.mkdir(parents=True)
    return folder, registry


def test_requested_file_is_archived_and_recorded(local, data_home: Path) -> None:
    folder, registry = local
    (folder / "ecr_1.txt").write_bytes(BODY)
    result = materialize(registry, "demo|2026-11-20", run_config("ecr_1.txt"))
    assert result.success
    meta = metadata(result)
    sha = hashlib.sha256(BODY).hexdigest()
    assert meta["mode"] == "requested"
    assert meta["files_fetched"] == 1 and meta["files_new"] == 1 and meta["duplicates"] == 0
    assert meta["bytes"] == len(BODY)
    assert meta["names"] == ["ecr_1.txt"]
    assert meta["new_files"] == [{"name": "ecr_1.txt", "sha256": sha, "bytes": len(BODY)}]
    assert (data_home / "archive" / "ecr" / "demo" / sha[:2] / sha).read_bytes() == BODY
    with connect_warehouse() as con:
        rows = con.execute(
            "SELECT original_name, partition_key, run_id FROM received_files"
        ).fetchall()
    assert rows == [("ecr_1.txt", "demo|2026-11-20", result.run_id)]


def test_same_bytes_under_new_name_is_reported_not_loaded(local) -> None:
    folder, registry = local
    (folder / "ecr_1.txt").write_bytes(BODY)
    (folder / "ecr_1_copy.txt").write_bytes(BODY)
    assert materialize(registry, "demo|2026-11-20", run_config("ecr_1.txt")).success
    result = materialize(registry, "demo|2026-11-21", run_config("ecr_1_copy.txt"))
    meta = metadata(result)
    today = datetime.now(UTC).date().isoformat()
    assert meta["files_new"] == 0 and meta["duplicates"] == 1
    assert meta["duplicate_reasons"] == {
        "ecr_1_copy.txt": f"already received as ecr_1.txt on {today}"
    }
    with connect_warehouse() as con:
        assert con.execute("SELECT count(*) FROM received_files").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM received_file_names").fetchone() == (2,)


def test_sweep_fetches_only_new_stable_matching_files(local) -> None:
    folder, registry = local
    for name in ("a.txt", "b.txt", "young.txt", "skip.csv"):
        (folder / name).write_text(name * 3)
    for name in ("a.txt", "b.txt", "skip.csv"):
        set_mtime(folder / name, ago(3600))
    assert materialize(registry, "demo|2026-11-20", run_config("a.txt")).success
    result = materialize(registry, "demo|2026-11-21", run_config())
    meta = metadata(result)
    assert meta["mode"] == "sweep"
    assert meta["names"] == ["b.txt"]  # a.txt already received at this version
    assert meta["skipped_too_young"] == ["young.txt"]
    again = metadata(materialize(registry, "demo|2026-11-21", run_config()))
    assert again["files_fetched"] == 0 and again["names"] == []


def test_agency_without_ecr_materializes_with_a_note(local) -> None:
    _, registry = local
    result = materialize(registry, "quiet|2026-11-20", run_config())
    assert result.success
    assert metadata(result)["note"] == (
        "agency 'quiet' has no ecr section in the registry: nothing to fetch"
    )


def check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == "no_quarantined_files"
    return evaluation


def quarantine_rows() -> list[tuple]:
    with connect_warehouse() as con:
        return con.execute("SELECT file_name, stage, attempts, status, permanent "
                           "FROM quarantined_files ORDER BY file_name").fetchall()


def test_missing_file_is_retried_then_quarantined_and_never_blocks_the_rest(
        data_home, write_registry) -> None:
    registry = write_registry(agency_entry(
        "demo", {"kind": "local", "path": "landing/demo"}, max_fetch_attempts=2))
    folder = data_home / "landing" / "demo"
    folder.mkdir(parents=True)
    (folder / "here.txt").write_bytes(BODY)
    result = materialize(registry, "demo|2026-11-20", run_config("here.txt", "gone.txt"))
    assert result.success
    meta = metadata(result)
    assert meta["names"] == ["here.txt"]
    assert list(meta["retrying"]) == ["gone.txt"]
    assert meta["retrying"]["gone.txt"].startswith("try 1 of 2: 'gone.txt' is not in file://")
    evaluation = check(result)
    assert not evaluation.passed
    assert (evaluation.metadata["quarantined"].value, evaluation.metadata["retrying"].value) == (
        0, 1)
    assert quarantine_rows() == [("gone.txt", "fetch", 1, "retrying", False)]

    second = materialize(registry, "demo|2026-11-21", run_config("gone.txt"))
    assert second.success and list(metadata(second)["quarantined"]) == ["gone.txt"]
    assert quarantine_rows() == [("gone.txt", "fetch", 2, "quarantined", False)]
    third = materialize(registry, "demo|2026-11-22", run_config("gone.txt"))
    assert metadata(third)["skipped_quarantined"] == ["gone.txt"]
    assert quarantine_rows() == [("gone.txt", "fetch", 2, "quarantined", False)]
    assert not check(third).passed


def test_bad_names_fifos_and_too_large_files_are_quarantined_after_one_try(
        data_home, write_registry) -> None:
    registry = write_registry(agency_entry(
        "demo", {"kind": "local", "path": "landing/demo"}, max_file_mb=1))
    folder = data_home / "landing" / "demo"
    folder.mkdir(parents=True)
    (folder / "ok.txt").write_bytes(BODY)
    (folder / "big.txt").write_bytes(b"x" * (1024 * 1024 + 1))
    os.mkfifo(folder / "pipe.txt")  # opening it would block: it must be refused before
    names = ("ok.txt", "../../agencies.yaml", "tab\tname.txt", "pipe.txt", "big.txt")
    result = materialize(registry, "demo|2026-11-20", run_config(*names))
    assert result.success
    meta = metadata(result)
    assert meta["names"] == ["ok.txt"]
    assert meta["quarantined"] == {
        "../../agencies.yaml": "'../../agencies.yaml' is not a plain file name",
        "'tab\\tname.txt'": "'tab\\tname.txt' is not a plain file name",
        "pipe.txt": f"'pipe.txt' in {folder.as_uri()} is not a regular file",
        "big.txt": "'big.txt' is 1.0 MB, over the limit of 1 MB (ecr.max_file_mb in the "
                   "registry)",
    }
    assert check(result).metadata["quarantined"].value == 4
    assert [r[2:] for r in quarantine_rows()] == [(1, "quarantined", True)] * 4
    assert not any(data_home.joinpath("tmp", "landing").iterdir())  # no partial download left


def test_sweep_sets_aside_a_bad_name_and_fetches_the_rest_next_time(local) -> None:
    folder, registry = local
    (folder / "new\nline.txt").write_bytes(BODY)
    (folder / "a.txt").write_bytes(b"a")
    for path in folder.iterdir():
        set_mtime(path, ago(3600))
    first = metadata(materialize(registry, "demo|2026-11-20", run_config()))
    assert first["names"] == ["a.txt"] and list(first["quarantined"]) == ["'new\\nline.txt'"]
    (folder / "b.txt").write_bytes(b"b")
    set_mtime(folder / "b.txt", ago(3600))
    second = metadata(materialize(registry, "demo|2026-11-21", run_config()))
    assert second["names"] == ["b.txt"]
    assert second["skipped_quarantined"] == ["new\nline.txt"]
    assert quarantine_rows() == [("new\nline.txt", "fetch", 1, "quarantined", True)]


def test_s3_file_is_fetched_through_the_asset(data_home, write_registry, s3_bucket) -> None:
    landing = {"kind": "s3", "bucket": s3_bucket.name, "endpoint_url_env": S3_ENDPOINT_ENV}
    registry = write_registry(agency_entry("bexar", landing))
    s3_bucket.put_object(Key="ecr.txt", Body=BODY)
    result = materialize(registry, "bexar|2026-11-20", run_config("ecr.txt"))
    assert result.success
    assert metadata(result)["new_files"][0]["sha256"] == hashlib.sha256(BODY).hexdigest()
    with connect_warehouse() as con:
        assert con.execute(
            "SELECT landing_kind, landing_uri, source_version FROM received_files"
        ).fetchone() == (
            "s3", f"s3://{s3_bucket.name}/ecr.txt",
            s3_bucket.Object("ecr.txt").e_tag.strip('"'),
        )


def test_sensor_request_runs_the_job_end_to_end_over_sftp(
    data_home, write_registry, sftp_server: SftpServerInfo, monkeypatch
) -> None:
    monkeypatch.setenv("HARRIS_SFTP_PASSWORD", sftp_server.password)
    landing = sftp_server.landing("HARRIS_SFTP_PASSWORD")
    registry = write_registry(agency_entry("harris", landing))
    (sftp_server.root / "ecr_night.txt").write_bytes(BODY)
    set_mtime(sftp_server.root / "ecr_night.txt", datetime(2026, 11, 22, 10, 0, tzinfo=UTC))

    partitions = agency_day_partitions(registry)
    assets = build_landing_assets(registry, partitions)
    job = dg.define_asset_job("landing_job", selection=assets)
    [sensor] = build_ecr_sensors(registry, job)
    defs = dg.Definitions(
        assets=assets, jobs=[job], sensors=[sensor],
        schedules=build_ecr_nightly_schedules(registry, job),
        resources={"warehouse": WarehouseResource()},
    )
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_schedule_def("ecr_nightly_harris").execution_timezone == "America/Chicago"
    tick = sensor(dg.build_sensor_context(cursor=None, definitions=defs))
    [request] = tick.run_requests
    assert request.partition_key == "harris|2026-11-22"

    result = defs.resolve_job_def("landing_job").execute_in_process(
        run_config=request.run_config, partition_key=request.partition_key, tags=request.tags
    )
    assert result.success
    with connect_warehouse() as con:
        row = con.execute(
            "SELECT original_name, landing_kind, landing_uri, source_version, partition_key "
            "FROM received_files"
        ).fetchone()
    assert row == (
        "ecr_night.txt", "sftp",
        f"sftp://ecr_drop@127.0.0.1:{sftp_server.port}/ecr_night.txt",
        f"{int(datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp())}-{len(BODY)}",
        "harris|2026-11-22",
    )
    assert sftp_server.password not in str(row)


def test_sweep_with_server_down_fails_with_a_clear_message(
    data_home, write_registry, monkeypatch
) -> None:
    monkeypatch.setenv("DOWN_SFTP_PASSWORD", "never-shown-pw")
    port = free_port()
    landing = {
        "kind": "sftp", "host": "127.0.0.1", "port": port, "username": "u",
        "password_env": "DOWN_SFTP_PASSWORD", "insecure_skip_host_key_check": True,
        "timeout_seconds": 2,
    }
    registry = write_registry(agency_entry("harris", landing))
    result = materialize(registry, "harris|2026-11-20", run_config())
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert f"harris: landing unavailable: SFTP 127.0.0.1:{port}: cannot connect" in message
    assert "never-shown-pw" not in message


def test_sweep_fetches_only_files_whose_completion_marker_exists(
        data_home, write_registry) -> None:
    registry = write_registry(agency_entry(
        "demo", {"kind": "local", "path": "landing/demo"}, completion_marker="{name}.done"))
    folder = data_home / "landing" / "demo"
    folder.mkdir(parents=True)
    for name in ("done.txt", "done.txt.done", "stalled.txt", "up.txt.filepart"):
        (folder / name).write_bytes(BODY + name.encode())
    meta = metadata(materialize(registry, "demo|2026-11-20", run_config()))
    assert meta["names"] == ["done.txt"]
    assert meta["waiting_for_completion"] == {
        "stalled.txt": "waiting for its completion marker 'stalled.txt.done'"}


def test_sftp_fifo_is_refused_before_opening_and_quarantined(
        data_home, write_registry, sftp_server: SftpServerInfo, monkeypatch) -> None:
    monkeypatch.setenv("HARRIS_SFTP_PASSWORD", sftp_server.password)
    landing = sftp_server.landing("HARRIS_SFTP_PASSWORD")
    registry = write_registry(agency_entry("harris", landing))
    (sftp_server.root / "good.txt").write_bytes(BODY)
    os.mkfifo(sftp_server.root / "pipe.txt")
    result = materialize(registry, "harris|2026-11-20", run_config("pipe.txt", "good.txt"))
    assert result.success
    meta = metadata(result)
    assert meta["names"] == ["good.txt"]
    assert meta["quarantined"] == {
        "pipe.txt": f"'pipe.txt' in sftp://ecr_drop@127.0.0.1:{sftp_server.port}/ is not a "
                    "regular file"}
    assert quarantine_rows() == [("pipe.txt", "fetch", 1, "quarantined", True)]

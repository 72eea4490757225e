"""The production profile (deploy/dagster.production.yaml) really runs the pipeline.

The YAML is copied unchanged into a temp DAGSTER_HOME; only environment variables differ
from production: DAGSTER_PG_* point at a private PostgreSQL on loopback, AWS_ENDPOINT_URL_*
at a moto server (S3 landing, S3 compute logs, Secrets Manager), COURT_PIPELINE_* at tmp.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.scheduler.instigation import TickStatus

from court_pipeline.definitions import build_definitions
from court_pipeline.ecr.generate import generate_ecr_file
from court_pipeline.registry import load_registry
from court_pipeline.settings import BUNDLED_CONFIG_DIR
from court_pipeline.warehouse import connect_warehouse

pytestmark = pytest.mark.slow  # a private PostgreSQL cluster and the daemon

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_YAML = REPO / "deploy" / "dagster.production.yaml"
SECRETS_HELPER = REPO / "deploy" / "aws_secrets_env.py"
AGENCY, DAY = "prod_t1", "2026-11-22"
LOG_BUCKET = "court-dagster-logs"
LOCATION_MODULE = "court_pipeline.definitions"
ROWS, JUNK_EVERY = 120, 40  # 3 rows built to be rejected


@pytest.fixture
def landing_bucket(aws_env) -> str:
    """A fresh landing bucket per test (the moto server lives for the whole session)."""
    name = f"court-ecr-landing-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def production_home(tmp_path: Path, postgres_server, aws_env, monkeypatch) -> Path:
    """DAGSTER_HOME holding the production YAML verbatim, env pointing at the loopback servers."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in postgres_server.dagster_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", LOG_BUCKET)
    s3 = boto3.client("s3")
    if LOG_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=LOG_BUCKET)
    return home


@pytest.fixture
def pipeline_env(tmp_path: Path, landing_bucket: str, monkeypatch) -> Path:
    """A one-agency registry with an S3 landing; data home and warehouse set as in production."""
    config_dir = tmp_path / "config"
    (config_dir / "templates").mkdir(parents=True)
    shutil.copy(BUNDLED_CONFIG_DIR / "templates" / "demo.yaml", config_dir / "templates")
    registry = {
        "partitions_start_date": "2026-11-01",
        "agencies": [{
            "id": AGENCY, "name": "Production Profile Test Courts", "county": "Travis",
            "ecr": {
                # no endpoint_url_env: the S3 client takes AWS_ENDPOINT_URL_S3 like a VPC endpoint
                "landing": {"kind": "s3", "bucket": landing_bucket, "prefix": f"{AGENCY}/incoming"},
                "template": "templates/demo.yaml", "file_pattern": "*.txt",
                "min_file_age_seconds": 0,
            },
        }],
    }
    registry_file = config_dir / "agencies.yaml"
    registry_file.write_text(yaml.safe_dump(registry), encoding="utf-8")
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(registry_file))
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(tmp_path / "court_home"))
    # the warehouse outside the data home, as a production volume mount would put it
    warehouse = tmp_path / "warehouse_volume" / "court.duckdb"
    monkeypatch.setenv("COURT_PIPELINE_WAREHOUSE", str(warehouse))
    return registry_file


def test_production_instance_loads_postgres_queue_and_s3_logs(production_home):
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 8
        limits = {(limit["key"], json.dumps(limit.get("value"), sort_keys=True)): limit["limit"]
                  for limit in queue.tag_concurrency_limits}
        assert limits == {
            ("dagster/partition/agency", '{"applyLimitPerUniqueValue": true}'): 1,
            ("court_pipeline/job", '"state_reporting_job"'): 2,
        }
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 14400
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.get_settings("telemetry") == {"enabled": False}
        sensor_ticks = instance.get_tick_retention_settings(InstigatorType.SENSOR)
        assert sensor_ticks[TickStatus.SKIPPED] == 1
        assert sensor_ticks[TickStatus.FAILURE] == 90


def test_ecr_ingest_job_runs_on_postgres_storage(
    production_home, pipeline_env, landing_bucket, postgres_server
):
    # an ECR file arrives in the agency's S3 landing
    generated = generate_ecr_file(pipeline_env.parent / "ecr_20261122.txt", ROWS, seed=11,
                                  junk_every=JUNK_EVERY)
    boto3.client("s3").upload_file(str(generated.path), landing_bucket,
                                   f"{AGENCY}/incoming/ecr_20261122.txt")
    defs = build_definitions(load_registry(pipeline_env))
    job = defs.resolve_job_def("ecr_ingest_job")
    partition = f"{AGENCY}|{DAY}"

    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(partition_key=partition, instance=instance)
        assert result.success
        run_id = result.run_id

        # the run and its events are in Postgres, seen through Dagster ...
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition/agency"] == AGENCY
        materialized = {
            event.asset_key.to_user_string()
            for event in result.get_asset_materialization_events()
        }
        assert {"ecr_landed_files", "ecr_records", "hearings", "parties"} <= materialized
        records = instance.fetch_materializations(dg.AssetKey("ecr_records"), limit=5).records
        assert [(r.run_id, r.partition_key) for r in records] == [(run_id, partition)]
        meta = records[0].asset_materialization.metadata
        assert meta["rows_in"].value == ROWS
        assert meta["rows_rejected"].value == generated.junk_rows == ROWS // JUNK_EVERY
        assert meta["rows_loaded"].value == ROWS - generated.junk_rows

    # ... and in the tables, seen by anyone with the database (webserver, daemon, psql)
    with postgres_server.connect() as con, con.cursor() as cur:
        cur.execute("SELECT status, pipeline_name FROM runs WHERE run_id = %s", (run_id,))
        assert cur.fetchall() == [("SUCCESS", "ecr_ingest_job")]
        cur.execute(
            "SELECT count(DISTINCT asset_key) FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type = 'ASSET_MATERIALIZATION'", (run_id,))
        assert cur.fetchone()[0] == len(materialized)
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s "
                    "AND dagster_event_type = %s", (run_id, dg.DagsterEventType.RUN_SUCCESS.value))
        assert cur.fetchone()[0] == 1

    # the warehouse (at COURT_PIPELINE_WAREHOUSE, outside the data home) got the rows
    warehouse = Path(os.environ["COURT_PIPELINE_WAREHOUSE"])
    assert warehouse.exists()
    with connect_warehouse(warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM hearings WHERE agency_id = ?", [AGENCY]
                           ).fetchone()[0] == ROWS - generated.junk_rows
        assert con.execute("SELECT status, partition_key FROM file_loads").fetchall() == [
            ("loaded", partition)]
    # the landed file is archived in the data home; nothing went to the default ./data
    archived = list((Path(os.environ["COURT_PIPELINE_HOME"]) / "archive").rglob("*"))
    assert any(path.is_file() for path in archived)

    # step output was captured to the S3 compute-log bucket
    keys = [obj["Key"] for obj in boto3.client("s3").list_objects_v2(
        Bucket=LOG_BUCKET, Prefix="court-pipeline/compute-logs/").get("Contents", [])]
    assert any(run_id in key for key in keys), keys


def test_secrets_manager_supplies_the_database_password(
    production_home, postgres_server, aws_env, monkeypatch
):
    """The documented recipe: secrets tagged in AWS Secrets Manager become environment
    variables of the wrapped process, which then opens the production instance."""
    sm = boto3.client("secretsmanager")
    tag = f"court-pipeline-{uuid.uuid4().hex[:8]}"  # the moto server lives for the session
    sm.create_secret(Name=f"{tag}/dagster-db",
                     SecretString=json.dumps({"DAGSTER_PG_PASSWORD": postgres_server.password}),
                     Tags=[{"Key": tag, "Value": "1"}])
    sm.create_secret(Name=f"{tag}/PROD_T1_OCA_CLIENT_SECRET", SecretString="oca-s3cret",
                     Tags=[{"Key": tag, "Value": "1"}])
    sm.create_secret(Name=f"{tag}/UNTAGGED_SECRET", SecretString="never-loaded")
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    probe = (
        "import os, dagster as dg\n"
        "with dg.DagsterInstance.get() as i:\n"
        "    print(type(i.run_storage).__name__, i.get_runs_count())\n"
        "print(os.environ['PROD_T1_OCA_CLIENT_SECRET'] == 'oca-s3cret',"
        " 'UNTAGGED_SECRET' in os.environ)\n"
    )
    done = subprocess.run(
        [sys.executable, str(SECRETS_HELPER), "--tag", tag, "--", sys.executable, "-c", probe],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    # the count the wrapped process read is the real database's (it reached PostgreSQL with
    # the password from Secrets Manager)
    with contextlib.closing(postgres_server.connect()) as pg, pg.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs")
        (runs_in_db,) = cursor.fetchone()
    assert done.stdout.split() == ["PostgresRunStorage", str(runs_in_db), "True", "False"]
    # the helper names what it loaded, never the values
    assert "DAGSTER_PG_PASSWORD" in done.stderr and "PROD_T1_OCA_CLIENT_SECRET" in done.stderr
    assert postgres_server.password not in done.stderr + done.stdout
    assert "oca-s3cret" not in done.stderr + done.stdout


def test_secrets_helper_rejects_a_secret_that_is_no_variable_name(aws_env):
    sm = boto3.client("secretsmanager")
    tag = f"court-pipeline-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=f"{tag}/odyssey-password", SecretString="hunter2-value",
                     Tags=[{"Key": tag, "Value": "1"}])
    done = subprocess.run(
        [sys.executable, str(SECRETS_HELPER), "--tag", tag, "--", sys.executable, "-c", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert f"{tag}/odyssey-password" in done.stderr
    assert "environment variable name" in done.stderr
    assert "hunter2-value" not in done.stderr + done.stdout


def _wait_for_runs(instance, tags: dict[str, str], count: int, daemon, log: Path, timeout: float):
    """Poll Postgres until ``count`` runs with ``tags`` have finished; fail with the daemon log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = instance.get_run_records(dg.RunsFilter(tags=tags))
        if len(records) >= count and all(r.dagster_run.is_finished for r in records):
            return records
        if daemon.poll() is not None:
            break
        time.sleep(1.0)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    states = [(r.dagster_run.run_id[:8], r.dagster_run.status.value)
              for r in instance.get_run_records(dg.RunsFilter(tags=tags))]
    pytest.fail(f"{count} finished runs expected within {timeout:.0f}s, have {states}; "
                f"daemon exit={daemon.poll()}\n{tail}")


def _stop_group(process: subprocess.Popen) -> None:
    """Stop the daemon and what it started (code server, run workers: same process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    time.sleep(1.0)  # children finish their graceful shutdown, then nothing may remain
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_daemon_runs_sensor_requests_one_agency_run_at_a_time(
    production_home, pipeline_env, landing_bucket, tmp_path
):
    """The production path end to end: the sensor (state in Postgres) requests one run per
    landed file, the queued run coordinator starts them one at a time for the agency, the
    default launcher runs each in its own process, all history lands in Postgres."""
    s3 = boto3.client("s3")
    for seed, name in ((21, "ecr_a.txt"), (22, "ecr_b.txt")):
        local = generate_ecr_file(tmp_path / name, 60, seed=seed, junk_every=0)
        s3.upload_file(str(local.path), landing_bucket, f"{AGENCY}/incoming/{name}")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    log = tmp_path / "daemon.log"
    # A deployment creates the storage once (`dagster instance migrate`); two processes
    # creating Dagster's tables in an empty database at the same moment race inside Dagster.
    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [str(bin_dir / "dagster-daemon"), "run", "-m", LOCATION_MODULE],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        # turning the sensor on while the daemon starts: its state is a row in Postgres,
        # which the daemon's sensor loop reads on every iteration
        started = subprocess.run(
            [str(bin_dir / "dagster"), "sensor", "start", f"ecr_files_{AGENCY}",
             "-m", LOCATION_MODULE],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
        )
        assert started.returncode == 0, started.stderr[-2000:]
        with dg.DagsterInstance.get() as instance:
            records = _wait_for_runs(instance, {"court_pipeline/trigger": "sensor"}, 2,
                                     daemon, log, timeout=300)
            heartbeats = set(instance.get_daemon_heartbeats())
    finally:
        _stop_group(daemon)

    runs = sorted(records, key=lambda r: r.start_time or 0)
    assert [r.dagster_run.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
    assert {r.dagster_run.job_name for r in runs} == {"ecr_ingest_job"}
    assert {r.dagster_run.tags["court_pipeline/file"] for r in runs} == {"ecr_a.txt", "ecr_b.txt"}
    assert {r.dagster_run.tags["dagster/partition/agency"] for r in runs} == {AGENCY}
    # one run per agency at a time: the second started only after the first had ended
    assert runs[0].end_time is not None and runs[1].start_time is not None
    assert runs[0].end_time <= runs[1].start_time
    assert {"SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING"} <= heartbeats
    with connect_warehouse(Path(os.environ["COURT_PIPELINE_WAREHOUSE"]), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM file_loads WHERE status = 'loaded'"
                           ).fetchone()[0] == 2

import shutil, time
import dagster as dg
from court_pipeline_tests.operations.conftest import *  # noqa

def test_smoke(postgres_server, aws_env, tmp_path, monkeypatch):
    import boto3
    boto3.client("s3").create_bucket(Bucket="logs")
    for k, v in postgres_server.dagster_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", "logs")
    home = tmp_path / "dh"; home.mkdir()
    shutil.copy("deploy/dagster.production.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    t = time.time()
    with dg.DagsterInstance.get() as inst:
        print(type(inst.run_storage), inst.run_coordinator, inst.compute_log_manager, time.time() - t)
        @dg.asset
        def a(context):
            print("hello stdout")
            return 1
        r = dg.materialize([a], instance=inst)
        print(r.success, len(inst.get_runs()))
        print(boto3.client("s3").list_objects_v2(Bucket="logs").get("KeyCount"))

"""A run-failure sensor that turns every failed run into one readable incident row."""


import dagster as dg

from court_pipeline.partitions import parse_partition_key
from court_pipeline.warehouse import WarehouseResource

MAX_ERROR_CHARS = 2000


def incident_from_run(context: dg.RunFailureSensorContext) -> dict[str, str | None]:
    """Agency, partition, failing step and error message of a failed run."""
    run = context.dagster_run
    tags = run.tags or {}
    partition = tags.get("dagster/partition")
    agency = tags.get("dagster/partition/agency") or tags.get("court_pipeline/agency")
    if agency is None and partition:
        try:
            agency = parse_partition_key(partition).agency_id
        except ValueError:
            agency = None
    step_key, error = None, context.failure_event.message
    for event in context.get_step_failure_events():
        step_key = event.step_key
        failure = event.step_failure_data
        if failure and failure.user_failure_data and failure.user_failure_data.description:
            error = failure.user_failure_data.description  # a dg.Failure: already a sentence
        elif failure and failure.error:
            root = failure.error
            while root.cause is not None and root.cls_name.startswith("Dagster"):
                root = root.cause  # the step wrapper's cause is the real error
            message = root.message.strip()
            error = message if message.startswith(root.cls_name) else f"{root.cls_name}: {message}"
        break
    return {
        "run_id": run.run_id,
        "job_name": run.job_name,
        "agency_id": agency,
        "partition_key": partition,
        "step_key": step_key,
        "error": (error or "")[:MAX_ERROR_CHARS],
    }


@dg.run_failure_sensor(
    name="record_run_failures",
    description="Writes one row per failed run to ops_incidents (agency, step, error).",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
)
def record_run_failures(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    incident = incident_from_run(context)
    with warehouse.connect() as con:
        con.execute(
            "INSERT INTO ops_incidents "
            "(run_id, job_name, agency_id, partition_key, step_key, error) "
            "VALUES ($run_id, $job_name, $agency_id, $partition_key, $step_key, $error) "
            "ON CONFLICT (run_id) DO NOTHING",
            incident,
        )
    context.log.info(
        f"incident recorded: agency={incident['agency_id']} step={incident['step_key']}"
    )

"""The warehouse writer lock held by another process: the run fails visibly with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import Agency, Registry
from court_pipeline.reminders import ReminderDelivery, build_reminder_assets
from court_pipeline.reminders.flows import BUNDLED_FLOWS
from court_pipeline.warehouse import WarehouseResource

HOLDER = (
    "import sys\n"
    "from filelock import FileLock\n"
    "lock = FileLock(sys.argv[1], thread_local=False)\n"
    "lock.acquire(timeout=5)\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"  # holds the lock until the test closes stdin
    "lock.release()\n"
)


def _materialize(db_path: Path) -> dg.ExecuteInJobResult:
    registry = Registry(
        agencies=[
            Agency(
                id="harris_jp",
                name="Harris County Justice Courts",
                county="Harris",
                reminders=str(BUNDLED_FLOWS),
            )
        ]
    )
    assets = build_reminder_assets(registry, agency_day_partitions(registry))
    return dg.materialize(
        assets,
        partition_key="harris_jp|2026-10-20",
        resources={
            "warehouse": WarehouseResource(path=str(db_path), lock_timeout_seconds=1),
            "reminder_delivery": ReminderDelivery(),
        },
        run_config={
            "ops": {
                name: {"config": {"as_of": "2026-10-20T17:00:00+00:00"}}
                for name in ("reminder_outbox", "reminder_deliveries")
            }
        },
        raise_on_error=False,
    )


def test_a_lock_held_by_another_process_fails_the_run_with_one_clear_line(tmp_path):
    db_path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"{db_path}.lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        result = _materialize(db_path)
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "reminder_outbox"
    error = failure.step_failure_data.error
    error = error.cause if error.cause is not None else error
    assert error.cls_name == "WarehouseLockTimeout"
    assert error.message == (
        "court_pipeline.warehouse.connection.WarehouseLockTimeout: "
        f"warehouse {db_path} stayed locked by another run for 1s\n"
    )
    # nothing after the failed step ran; with the lock free the same run succeeds
    assert result.asset_materializations_for_node("reminder_deliveries") == []
    assert _materialize(db_path).success

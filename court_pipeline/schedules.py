"""Per-agency schedules for the reminder and state-reporting jobs.

Each schedule runs in the agency's own time zone and asks for that agency's partition of the
local day the tick falls on, so "nightly at 02:00" means 02:00 in the courthouse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import dagster as dg

from court_pipeline.partitions import partition_key
from court_pipeline.registry import Agency, Registry

if TYPE_CHECKING:
    Job = dg.JobDefinition | dg.UnresolvedAssetJobDefinition

REMINDERS_CRON = "5 * * * *"
STATE_REPORTING_CRON = "0 2 * * *"


def agency_day_schedule(
    agency: Agency, job: Job, *, name: str, cron: str, description: str
) -> dg.ScheduleDefinition:
    """A schedule that requests ``<agency>|<local date of the tick>``."""

    def evaluate(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time.astimezone(agency.zone)
        return dg.RunRequest(
            run_key=f"{name}:{tick.isoformat()}",
            partition_key=partition_key(agency.id, tick.date()),
            tags={"court_pipeline/agency": agency.id, "court_pipeline/trigger": name},
        )

    return dg.ScheduleDefinition(
        name=name,
        cron_schedule=cron,
        execution_timezone=agency.timezone,
        job=job,
        execution_fn=evaluate,
        description=description,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )


def _per_agency(
    registry: Registry,
    wants: Callable[[Agency], bool],
    build: Callable[[Agency], dg.ScheduleDefinition],
) -> list[dg.ScheduleDefinition]:
    return [build(agency) for agency in registry.agencies if wants(agency)]


def build_reminder_schedules(registry: Registry, job: Job) -> list[dg.ScheduleDefinition]:
    """Hourly reminder planning and delivery for agencies with reminder flows."""
    return _per_agency(
        registry,
        lambda a: a.reminders is not None,
        lambda a: agency_day_schedule(
            a, job, name=f"reminders_hourly_{a.id}", cron=REMINDERS_CRON,
            description=f"Plan and deliver {a.name}'s due reminders every hour.",
        ),
    )


def build_state_reporting_schedules(registry: Registry, job: Job) -> list[dg.ScheduleDefinition]:
    """Nightly OCA datasets and publishing for agencies with an ``oca`` section."""
    return _per_agency(
        registry,
        lambda a: a.oca is not None,
        lambda a: agency_day_schedule(
            a, job, name=f"state_reporting_nightly_{a.id}", cron=STATE_REPORTING_CRON,
            description=f"Build, validate and publish {a.name}'s OCA datasets nightly.",
        ),
    )

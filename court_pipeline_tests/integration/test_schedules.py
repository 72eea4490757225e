"""The per-agency reminder and state-reporting schedules, evaluated at chosen ticks.

Each tick is evaluated as the daemon does it (``evaluate_tick`` with the code location's
repository), and the tick times around a DST change are the ones the daemon's own cron
iterator produces for the schedule's execution time zone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml
from dagster._utils.schedules import schedule_execution_time_iterator

from court_pipeline.definitions import build_definitions
from court_pipeline.registry import load_registry
from court_pipeline.settings import BUNDLED_REGISTRY

CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    """The bundled registry plus an El Paso agency (Mountain time) with reminders and OCA."""
    raw = yaml.safe_load(BUNDLED_REGISTRY.read_text(encoding="utf-8"))
    demo = raw["agencies"][0]
    config = BUNDLED_REGISTRY.parent
    raw["agencies"].append(
        {
            "id": "elpaso",
            "name": "El Paso County Courts",
            "county": "El Paso",
            "timezone": "America/Denver",
            "publisher": demo["publisher"],
            "oca": {**demo["oca"], "code_map": str(config / demo["oca"]["code_map"])},
            "reminders": str(config / demo["reminders"]),
        }
    )
    demo["ecr"]["template"] = str(config / demo["ecr"]["template"])
    demo["oca"]["code_map"] = str(config / demo["oca"]["code_map"])
    demo["reminders"] = str(config / demo["reminders"])
    path = Path(tmp_path_factory.mktemp("registry")) / "agencies.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return build_definitions(load_registry(path))


def _requests(defs: dg.Definitions, name: str, ticks: list[datetime]) -> list[tuple]:
    schedule = defs.resolve_schedule_def(name)
    repository = defs.get_repository_def()
    out = []
    for tick in ticks:
        context = dg.build_schedule_context(
            scheduled_execution_time=tick, repository_def=repository
        )
        (request,) = schedule.evaluate_tick(context).run_requests
        tags = {k: v for k, v in request.tags.items() if k.startswith("court_pipeline/")}
        out.append((request.run_key, request.partition_key, tags))
    return out


def _daemon_ticks(defs: dg.Definitions, name: str, start: datetime, n: int) -> list[datetime]:
    schedule = defs.resolve_schedule_def(name)
    ticks = schedule_execution_time_iterator(
        start.timestamp(), schedule.cron_schedule, schedule.execution_timezone
    )
    return [next(ticks) for _ in range(n)]


def test_schedules_exist_per_agency_with_job_cron_and_zone(defs):
    got = {
        s.name: (s.job_name, s.cron_schedule, s.execution_timezone)
        for s in defs.schedules
        if s.name.startswith(("reminders_hourly_", "state_reporting_nightly_"))
    }
    assert got == {
        "reminders_hourly_demo": ("reminders_job", "5 * * * *", "America/Chicago"),
        "reminders_hourly_elpaso": ("reminders_job", "5 * * * *", "America/Denver"),
        "state_reporting_nightly_demo": ("state_reporting_job", "0 2 * * *", "America/Chicago"),
        "state_reporting_nightly_elpaso": ("state_reporting_job", "0 2 * * *", "America/Denver"),
    }


def test_a_late_evening_tick_asks_for_the_local_day_not_the_utc_day(defs):
    # Nov 2 23:05 CST is Nov 3 05:05 UTC; in El Paso the same instant is Nov 2 22:05 MST
    tick = datetime(2026, 11, 2, 23, 5, tzinfo=CHICAGO)
    assert _requests(defs, "reminders_hourly_demo", [tick]) == [
        (
            "reminders_hourly_demo:2026-11-02T23:05:00-06:00",
            "demo|2026-11-02",
            {"court_pipeline/agency": "demo", "court_pipeline/trigger": "reminders_hourly_demo"},
        ),
    ]
    assert _requests(defs, "reminders_hourly_elpaso", [tick]) == [
        (
            "reminders_hourly_elpaso:2026-11-02T22:05:00-07:00",
            "elpaso|2026-11-02",
            {
                "court_pipeline/agency": "elpaso",
                "court_pipeline/trigger": "reminders_hourly_elpaso",
            },
        ),
    ]


def test_spring_forward_nightly_runs_once_at_3am_for_that_day(defs):
    ticks = _daemon_ticks(
        defs, "state_reporting_nightly_demo", datetime(2026, 3, 6, 12, 0, tzinfo=CHICAGO), 3
    )
    name = "state_reporting_nightly_demo"
    tags = {"court_pipeline/agency": "demo", "court_pipeline/trigger": name}
    # 02:00 does not exist on Mar 8: the run comes at 03:00 CDT, still for Mar 8
    assert _requests(defs, name, ticks) == [
        (f"{name}:2026-03-07T02:00:00-06:00", "demo|2026-03-07", tags),
        (f"{name}:2026-03-08T03:00:00-05:00", "demo|2026-03-08", tags),
        (f"{name}:2026-03-09T02:00:00-05:00", "demo|2026-03-09", tags),
    ]


def test_fall_back_hourly_runs_both_1_05s_with_distinct_run_keys(defs):
    ticks = _daemon_ticks(
        defs, "reminders_hourly_demo", datetime(2026, 11, 1, 0, 30, tzinfo=CHICAGO), 3
    )
    name = "reminders_hourly_demo"
    tags = {"court_pipeline/agency": "demo", "court_pipeline/trigger": name}
    # 01:05 happens twice; the run keys differ by offset, so the second run is not dropped
    assert _requests(defs, name, ticks) == [
        (f"{name}:2026-11-01T01:05:00-05:00", "demo|2026-11-01", tags),
        (f"{name}:2026-11-01T01:05:00-06:00", "demo|2026-11-01", tags),
        (f"{name}:2026-11-01T02:05:00-06:00", "demo|2026-11-01", tags),
    ]

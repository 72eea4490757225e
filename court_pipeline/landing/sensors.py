"""File-arrival sensors (one per agency with an ``ecr`` section) and nightly sweep schedules.

The sensor only lists the landing; the run downloads. Its cursor is small and bounded:

* ``hwm``: high-water mark (epoch seconds of modification time). Every file older than it is
  done.
* ``seen``: keys (``name:version``) already requested whose time is at or above ``hwm``
  (S3 times are second-granular, so several files share a mark). Only keys still present in
  the listing are kept.
* ``pending``: sizes of files not yet stable at the last tick (so "size changed" is visible).

A file is requested when it is at least ``min_file_age_seconds`` old and its size did not change
since the previous tick. At most ``max_runs_per_tick`` requests per tick; the mark never moves
past a file that was held back, so the rest follow on the next tick. ``run_key`` is
``<agency>:<name>:<version>``: a re-upload is a new run, a repeat is not.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import dagster as dg

from court_pipeline.landing.assets import ASSET_NAME
from court_pipeline.landing.base import LandedFile, LandingError, open_landing
from court_pipeline.landing.completion import complete_files, listing_pattern
from court_pipeline.partitions import partition_key
from court_pipeline.registry import Agency, Registry
from court_pipeline.registry.models import EcrSource

CURSOR_VERSION = 1
MAX_PENDING = 1000  # bound on remembered sizes; the oldest are dropped beyond it
TAG_PREFIX = "court_pipeline"


@dataclass
class SensorCursor:
    """The sensor's memory between ticks (serialised as JSON)."""

    hwm: float = 0.0
    seen: list[str] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: str | None) -> SensorCursor:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(
                hwm=float(data.get("hwm", 0.0)),
                seen=[str(k) for k in data.get("seen", [])],
                pending={str(k): int(v) for k, v in dict(data.get("pending", {})).items()},
            )
        except (ValueError, TypeError, AttributeError):
            return cls()  # an unreadable cursor restarts from scratch; run keys prevent repeats

    def dump(self) -> str:
        return json.dumps(
            {"v": CURSOR_VERSION, "hwm": self.hwm, "seen": sorted(self.seen),
             "pending": dict(sorted(self.pending.items()))},
            separators=(",", ":"),
        )


@dataclass
class TickPlan:
    """What one tick decided: files to request, files held back (with why), the new cursor."""

    ready: list[LandedFile]
    held: dict[str, str]  # name -> reason (still growing, too young, over the per-tick cap)
    cursor: SensorCursor


def plan_tick(
    files: Sequence[LandedFile], cursor: SensorCursor, ecr: EcrSource, *, now: float
) -> TickPlan:
    """Decide one tick from a listing. Pure: the sensor and the tests both call it."""
    seen = set(cursor.seen)
    candidates = [
        f
        for f in sorted(files, key=lambda f: (f.modified_at, f.name))
        # A held file stays a candidate even if its time moved back below the mark: SFTP
        # clients that preserve timestamps set the original (older) mtime when done.
        if (f.modified_at.timestamp() >= cursor.hwm or f.name in cursor.pending)
        and f.key not in seen
    ]
    ready: list[LandedFile] = []
    held: dict[str, str] = {}
    pending: dict[str, int] = {}
    for f in candidates:
        age = now - f.modified_at.timestamp()
        previous = cursor.pending.get(f.name)
        if age < ecr.min_file_age_seconds:
            held[f.name] = f"younger than {ecr.min_file_age_seconds:g}s ({max(age, 0):.0f}s old)"
        elif previous is not None and previous != f.size:
            held[f.name] = f"size changed since last tick ({previous} -> {f.size} bytes)"
        elif len(ready) >= ecr.max_runs_per_tick:
            held[f.name] = f"over the cap of {ecr.max_runs_per_tick} runs per tick"
        else:
            ready.append(f)
            continue
        pending[f.name] = f.size

    done = [f for f in files if f.key in seen] + ready
    held_times = [f.modified_at.timestamp() for f in candidates if f.name in held]
    if held_times:
        # Every candidate older than the oldest held file is done: the mark may go that far
        # and no further, so held files stay candidates.
        hwm = min(held_times)
    else:
        hwm = max([cursor.hwm, *(f.modified_at.timestamp() for f in done)])
    new_seen = sorted({f.key for f in done if f.modified_at.timestamp() >= hwm})
    if len(pending) > MAX_PENDING:
        pending = dict(sorted(pending.items())[:MAX_PENDING])
    return TickPlan(ready=ready, held=held, cursor=SensorCursor(hwm, new_seen, pending))


def partition_day(landed: LandedFile, agency: Agency, start: date) -> date:
    """The agency-local date of the file's modification (never before the partitions start)."""
    day = landed.modified_at.astimezone(agency.zone).date()
    return max(day, start)


def file_run_request(landed: LandedFile, agency: Agency, start: date) -> dg.RunRequest:
    """One run that fetches exactly this file version."""
    return dg.RunRequest(
        run_key=f"{agency.id}:{landed.name}:{landed.version}",
        partition_key=partition_key(agency.id, partition_day(landed, agency, start)),
        run_config={"ops": {ASSET_NAME: {"config": {"files": [landed.name]}}}},
        tags={
            f"{TAG_PREFIX}/agency": agency.id,
            f"{TAG_PREFIX}/file": landed.name[:200],
            f"{TAG_PREFIX}/file_version": landed.version[:200],
            f"{TAG_PREFIX}/trigger": "sensor",
        },
    )


def evaluate_ecr_sensor(
    agency: Agency,
    raw_cursor: str | None,
    *,
    start: date,
    env: Mapping[str, str] = os.environ,
    now: float | None = None,
) -> dg.SensorResult:
    """One tick for one agency: list, plan, and return run requests or a skip reason."""
    ecr = agency.ecr
    if ecr is None:
        return dg.SensorResult(skip_reason=f"agency {agency.id!r} has no ecr section")
    cursor = SensorCursor.load(raw_cursor)
    try:
        with open_landing(ecr.landing, env=env) as store:
            where = store.uri()
            files, waiting = complete_files(store.list_files(listing_pattern(ecr)), ecr)
    except LandingError as exc:  # down, refused, bad credentials, wrong host key, bad folder
        return dg.SensorResult(
            skip_reason=f"{agency.id}: landing unavailable, will retry next tick: {exc}",
            cursor=cursor.dump(),
        )
    plan = plan_tick(files, cursor, ecr, now=time.time() if now is None else now)
    requests = [file_run_request(f, agency, start) for f in plan.ready]
    skip = None
    if not requests:
        if plan.held:
            held = "; ".join(f"{name}: {why}" for name, why in list(plan.held.items())[:10])
            more = f" (+{len(plan.held) - 10} more)" if len(plan.held) > 10 else ""
            skip = f"{agency.id}: {len(plan.held)} file(s) not ready yet: {held}{more}"
        else:
            skip = f"{agency.id}: no new files matching {ecr.file_pattern!r} in {where}"
        if waiting:
            shown = "; ".join(f"{name}: {why}" for name, why in list(waiting.items())[:10])
            skip += f" ({len(waiting)} file(s) not complete: {shown})"
    return dg.SensorResult(run_requests=requests, skip_reason=skip, cursor=plan.cursor.dump())


def _file_sensor(
    agency: Agency,
    start: date,
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
    default_status: dg.DefaultSensorStatus,
) -> dg.SensorDefinition:
    ecr = agency.ecr
    assert ecr is not None

    def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        result = evaluate_ecr_sensor(agency, context.cursor, start=start)
        for request in result.run_requests or []:
            context.log.info("requesting %s", request.run_key)
        if result.skip_reason is not None:
            context.log.info(result.skip_reason.skip_message)
        return result

    return dg.SensorDefinition(
        name=f"ecr_files_{agency.id}",
        evaluation_fn=evaluate,
        minimum_interval_seconds=ecr.sensor_interval_seconds,
        job=job,
        default_status=default_status,
        description=(
            f"Lists {agency.name}'s ECR landing and starts one run per new file version "
            f"(pattern {ecr.file_pattern!r}, stable for {ecr.min_file_age_seconds:g}s, "
            f"at most {ecr.max_runs_per_tick} runs per tick)."
        ),
    )


def build_ecr_sensors(
    registry: Registry,
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
    *,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> list[dg.SensorDefinition]:
    """One file-arrival sensor per agency with an ``ecr`` section, named ``ecr_files_<agency>``."""
    start = date.fromisoformat(registry.partitions_start_date)
    return [
        _file_sensor(agency, start, job, default_status)
        for agency in registry.agencies
        if agency.ecr is not None
    ]


def nightly_run_request(agency: Agency, when: datetime) -> dg.RunRequest:
    """The sweep run for the agency-local date of ``when``."""
    day = when.astimezone(agency.zone).date()
    return dg.RunRequest(
        run_key=f"{agency.id}:sweep:{day.isoformat()}",
        partition_key=partition_key(agency.id, day),
        run_config={"ops": {ASSET_NAME: {"config": {"files": []}}}},
        tags={f"{TAG_PREFIX}/agency": agency.id, f"{TAG_PREFIX}/trigger": "nightly"},
    )


def _nightly_schedule(
    agency: Agency,
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
    default_status: dg.DefaultScheduleStatus,
) -> dg.ScheduleDefinition:
    ecr = agency.ecr
    assert ecr is not None

    @dg.schedule(
        name=f"ecr_nightly_{agency.id}",
        cron_schedule=ecr.nightly_cron,
        execution_timezone=agency.timezone,
        job=job,
        default_status=default_status,
        description=(
            f"Nightly sweep of {agency.name}'s ECR landing: fetches every matching file "
            "not yet received at its current version."
        ),
    )
    def nightly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return nightly_run_request(agency, context.scheduled_execution_time or datetime.now(UTC))

    return nightly


def build_ecr_nightly_schedules(
    registry: Registry,
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
    *,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
) -> list[dg.ScheduleDefinition]:
    """One nightly sweep per agency with an ``ecr`` section: fetch whatever the sensor missed."""
    return [
        _nightly_schedule(agency, job, default_status)
        for agency in registry.agencies
        if agency.ecr is not None
    ]

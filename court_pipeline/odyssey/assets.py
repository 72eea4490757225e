"""Dagster assets, job and schedules of the Odyssey API path.

``odyssey_raw_responses`` runs the sync for one agency-day (FindParties -> hearings -> cases,
previously lost calls first; a backfill range of days is one sync) and archives every raw
reply; ``odyssey_records`` rebuilds the frames from that archive (so what is merged is exactly
what was archived) and merges them into the clean tables with ``source='odyssey_api'``, moving
the cursor (see store.py).
Agencies without an ``odyssey`` section are skipped with a note, not failed.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from court_pipeline import settings
from court_pipeline.odyssey.client import OdysseyResource
from court_pipeline.odyssey.store import (
    latest_fetched_run,
    load_cursor,
    load_retry_calls,
    mark_sync_failed,
    merge_sync,
    modified_since_for,
    record_failed_sync,
    record_fetch,
)
from court_pipeline.odyssey.sync import Replay, new_sync_id, replay_archive, sync_agency
from court_pipeline.partitions import (
    RANGE_BACKFILL_POLICY,
    AgencyDays,
    combine_agency_metadata,
    context_agencies,
    range_metadata,
)
from court_pipeline.pii import masked_preview
from court_pipeline.registry import Registry
from court_pipeline.table_metadata import table_rows_reporter
from court_pipeline.warehouse import WarehouseResource

GROUP = "odyssey"
COMPLETE_CHECK = "odyssey_sync_complete"
PARTIAL_TAG = "odyssey/partial"


class OdysseySyncConfig(dg.Config):
    """How this run asks Odyssey for parties."""

    mode: Literal["auto", "full", "incremental"] = Field(
        default="auto",
        description="full: whole hearing window; incremental: ModifiedSince cursor; auto: "
        "incremental for agencies with sync: hourly once a cursor exists, else full",
    )


def _skip(agency_id: str) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"skipped": True, "note": f"agency {agency_id!r} has no odyssey section"}
    )


def record_incident(
    con: Any,
    context: dg.AssetExecutionContext,
    agency_id: str,
    partition_key: str | None,
    error: str,
) -> None:
    """The run records its own incident (the run-failure sensor may not be running); the
    sensor's later insert for the same run is a no-op."""
    con.execute(
        "INSERT INTO ops_incidents (run_id, job_name, agency_id, partition_key, step_key, error) "
        "VALUES (?, ?, ?, ?, 'odyssey_raw_responses', ?) ON CONFLICT (run_id) DO NOTHING",
        [context.run.run_id, context.run.job_name, agency_id, partition_key, error[:1000]],
    )


def completeness_check(per_agency: dict[str, dict]) -> dg.AssetCheckResult:
    """Fails (ERROR) when any agency's sync lost calls: a partial sync is not a green run."""
    lost = {a: md["failed_calls"] for a, md in per_agency.items() if md.get("failed_calls")}
    pages = {a: md["pages_lost"] for a, md in per_agency.items() if md.get("pages_lost")}
    calls = sum(md.get("calls", 0) for md in per_agency.values())
    return dg.AssetCheckResult(
        check_name=COMPLETE_CHECK,
        passed=not lost,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "lost_calls": sum(lost.values()),
            "pages_lost": sum(pages.values()),
            "calls": calls,
            "lost_by_agency": dg.MetadataValue.json(lost),
        },
    )


def build_odyssey_assets(registry: Registry, partitions_def: dg.PartitionsDefinition) -> list:
    """The two partitioned Odyssey assets for this registry."""

    def sync_one(
        context: dg.AssetExecutionContext,
        config: OdysseySyncConfig,
        warehouse: WarehouseResource,
        odyssey: OdysseyResource,
        day: AgencyDays,
    ) -> dict:
        agency = registry.agency(day.agency_id)
        source = agency.odyssey
        if source is None:
            return dict(_skip(agency.id).metadata or {})
        with warehouse.connect() as con:
            cursor = load_cursor(con, agency.id)
            retry_parties, retry_cases = load_retry_calls(con, agency.id)
        mode = config.mode
        if mode == "auto":  # a backfill range is a full sync of the widened window
            hourly = source.sync == "hourly" and cursor and not day.is_range
            mode = "incremental" if hourly else "full"
        since = modified_since_for(cursor, source.modified_since_overlap_minutes, mode)
        context.log.info(
            f"Odyssey sync {agency.id}: mode={mode} modified_since={since} "
            f"retrying {len(retry_parties)} parties, {len(retry_cases)} cases"
        )
        started_at = datetime.now(UTC)
        try:
            result = sync_agency(
                lambda: odyssey.client(source),
                agency_id=agency.id,
                zone=agency.zone,
                today=day.first,  # window [first, last + window days]: every day's window
                hearing_window_days=source.hearing_window_days + (day.last - day.first).days,
                page_size=source.page_size,
                modified_since=since,
                retry_parties=retry_parties,
                retry_cases=retry_cases,
                archive_root=settings.archive_dir(),
            )
        except Exception as exc:
            with warehouse.connect() as con:  # a failed sync still writes its run row
                record_failed_sync(
                    con,
                    agency_id=agency.id,
                    sync_id=new_sync_id(agency.id),
                    partition_key=day.last_key,
                    mode=mode,
                    started_at=started_at,
                    modified_since=since,
                    error=f"{type(exc).__name__}: {exc}",
                )
                record_incident(
                    con, context, agency.id, day.last_key, f"{type(exc).__name__}: {exc}"
                )
            raise
        with warehouse.connect() as con:
            record_fetch(con, result, day.last_key)
        if result.partial:
            context.log.warning(
                f"partial sync {result.sync_id}: {len(result.lost)} calls lost "
                "(recorded in odyssey_failed_calls; the next run fetches them first)"
            )
            context.instance.add_run_tags(
                context.run.run_id,
                {PARTIAL_TAG: "true", f"odyssey/lost_calls/{agency.id}": str(len(result.lost))},
            )
        nothing = result.read_nothing
        if nothing:  # unknown is not empty: fail the run, never merge, never count as fresh
            error = f"Odyssey sync {result.sync_id} read nothing of its window: {nothing}"
            with warehouse.connect() as con:
                mark_sync_failed(con, agency.id, result.sync_id, error)
                record_incident(con, context, agency.id, day.last_key, error)
            raise dg.Failure(
                description=f"{error} (agency {agency.id}); nothing was synced",
                metadata={
                    "sync_id": result.sync_id,
                    "pages_lost": result.pages_lost,
                    "lost_calls": len(result.lost),
                    "errors_by_code": dg.MetadataValue.json(result.stats["errors"]),
                },
            )
        lost_preview = [f"{f.kind} {f.key}: {f.error_code}" for f in result.lost[:20]]
        return {
            **range_metadata(day),
            "sync_id": result.sync_id,
            "mode": mode,
            "modified_since": str(since) if since else "",
            "calls": result.stats["calls"],
            "retries": result.stats["retries"],
            "failed_calls": len(result.lost),
            "not_found": len(result.failed) - len(result.lost),
            "pages_lost": result.pages_lost,
            "partial": result.partial,
            "retried_from_previous_runs": len(retry_parties) + len(retry_cases),
            "elapsed_seconds": result.stats["elapsed_seconds"],
            "archive_path": dg.MetadataValue.path(str(result.archive_path)),
            "lost_calls": dg.MetadataValue.json(lost_preview),
            "errors_by_code": dg.MetadataValue.json(result.stats["errors"]),
        }

    @dg.asset(
        name="odyssey_raw_responses",
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        kinds={"python", "xml"},
        description="Raw Odyssey API replies of one sync, archived as gzip JSON lines.",
        check_specs=[dg.AssetCheckSpec(COMPLETE_CHECK, asset="odyssey_raw_responses")],
    )
    def odyssey_raw_responses(
        context: dg.AssetExecutionContext,
        config: OdysseySyncConfig,
        warehouse: WarehouseResource,
        odyssey: OdysseyResource,
    ) -> dg.MaterializeResult:
        """One sync per agency. A backfill range is ONE full sync (not one per day) whose
        hearing window runs from the first day to the last day + the window, the union of
        the per-day windows; it is recorded under the range's last day."""
        report = table_rows_reporter(context, warehouse, "odyssey_sync_runs")
        per_agency = report({
            day.agency_id: sync_one(context, config, warehouse, odyssey, day)
            for day in context_agencies(context)
        })
        return dg.MaterializeResult(
            metadata=combine_agency_metadata(per_agency),
            check_results=[completeness_check(per_agency)],
        )

    def merge_one(warehouse: WarehouseResource, day: AgencyDays) -> dict:
        agency = registry.agency(day.agency_id)
        if agency.odyssey is None:
            return dict(_skip(agency.id).metadata or {})
        with warehouse.connect(read_only=True) as con:
            run = latest_fetched_run(con, agency.id, day.last_key)
        if run is None or run["status"] != "fetched":
            return {"skipped": True, "note": "no fetched, unmerged sync for this partition"}
        replay: Replay = replay_archive(Path(run["archive_path"]), agency.zone)
        started: datetime = run["started_at"]
        cursor_to = started.astimezone(agency.zone).replace(tzinfo=None, microsecond=0)
        with warehouse.connect() as con:
            outcome = merge_sync(
                con,
                agency.id,
                run["sync_id"],
                replay,
                window_from=run["window_from"],
                window_to=run["window_to"],
                pages_lost=run["pages_lost"],
                cursor_to=cursor_to,
            )
        rows = {
            t: f"{s.inserted} new / {s.updated} updated / {s.unchanged} same"
            for t, s in outcome.stats.items()
        }
        return {
            **range_metadata(day),
            "sync_id": run["sync_id"],
            "partial": bool(run["partial"]),
            "rows": dg.MetadataValue.json(rows),
            **{f"rows_{t}": len(f) for t, f in replay.frames.items()},
            "removed_hearings": outcome.removed_hearings,
            "resolved_failed_calls": outcome.resolved_calls,
            "rejected_records": len(replay.rejected),
            "cursor_advanced": outcome.cursor_advanced,
            "cursor": str(outcome.cursor or ""),
            "preview_parties": dg.MetadataValue.md(masked_preview(replay.frames["parties"])),
            "preview_hearings": dg.MetadataValue.md(masked_preview(replay.frames["hearings"])),
        }

    @dg.asset(
        name="odyssey_records",
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        deps=[odyssey_raw_responses],
        kinds={"duckdb"},
        description="The archived replies merged into the clean tables (source odyssey_api).",
    )
    def odyssey_records(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Merge the partition's sync; a backfill range merges its one sync (last day's key)."""
        return dg.MaterializeResult(
            metadata=combine_agency_metadata(
                {day.agency_id: merge_one(warehouse, day) for day in context_agencies(context)}
            )
        )

    return [odyssey_raw_responses, odyssey_records]


def build_odyssey_schedules(registry: Registry, job: Any) -> list:
    """Per agency with an odyssey section: a nightly full sync; plus hourly incremental syncs
    when the registry says ``sync: hourly``. Times are in the agency's time zone."""
    schedules = []
    for agency in registry.agencies:
        source = agency.odyssey
        if source is None:
            continue
        plans = [("nightly", source.nightly_cron, "full")]
        if source.sync == "hourly":
            plans.append(("hourly", source.hourly_cron, "incremental"))
        for label, cron, mode in plans:
            schedules.append(_schedule(agency.id, agency.timezone, label, cron, mode, job))
    return schedules


def _schedule(agency_id, tz, label, cron, mode, job) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"odyssey_{label}_{agency_id}",
        cron_schedule=cron,
        execution_timezone=tz,
        job=job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def _odyssey_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.astimezone(ZoneInfo(tz)).date()
        return dg.RunRequest(
            run_key=f"odyssey-{label}-{agency_id}-{context.scheduled_execution_time.isoformat()}",
            partition_key=f"{agency_id}|{day.isoformat()}",
            run_config={"ops": {"odyssey_raw_responses": {"config": {"mode": mode}}}},
            tags={"agency": agency_id, "odyssey_mode": mode},
        )

    return _odyssey_schedule

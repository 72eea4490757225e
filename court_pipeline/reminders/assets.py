"""Reminder assets: plan the outbox from the clean tables, then deliver due messages.

Both are agency x day partitioned like the rest of the pipeline; the date only names the run
(reminders are always planned as of now, or as of ``as_of`` in the run config for replays and
demos), so a backfill range of days plans and delivers once per agency. An agency without a
``reminders`` file is skipped with a note, not an error.
"""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from court_pipeline import settings
from court_pipeline.partitions import (
    RANGE_BACKFILL_POLICY,
    AgencyDays,
    combine_agency_metadata,
    context_agencies,
    range_metadata,
)
from court_pipeline.pii import mask_email, mask_phone
from court_pipeline.registry import Agency, Registry
from court_pipeline.registry.loader import registry_relative
from court_pipeline.reminders.delivery import ReminderDelivery
from court_pipeline.reminders.flows import FlowsError, RemindersConfig, load_flows
from court_pipeline.reminders.planner import PlanResult, plan_reminders_unlocked
from court_pipeline.table_metadata import table_rows_reporter
from court_pipeline.warehouse import WarehouseResource

UPSTREAM = [
    dg.AssetKey("hearings"),
    dg.AssetKey("contacts"),
    dg.AssetKey("parties"),
    dg.AssetKey("cases"),
]
CHECK_NO_DUPLICATES = "no_duplicate_dedupe_keys"
CHECK_NO_OPTED_OUT = "no_pending_message_to_opted_out"
CHECK_NOT_AFTER_HEARING = "no_message_due_after_hearing"


class ReminderRunConfig(dg.Config):
    """Run config for the reminder assets."""

    as_of: str = Field(
        default="", description="ISO instant to plan/deliver as of (replays, demos); empty = now"
    )

    def moment(self) -> datetime:
        if not self.as_of:
            return datetime.now(UTC)
        parsed = datetime.fromisoformat(self.as_of.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(f"as_of {self.as_of!r} needs a UTC offset, e.g. 2026-11-22T14:00Z")
        return parsed.astimezone(UTC)


def _check_queries(con: duckdb.DuckDBPyConnection, agency_id: str) -> dict[str, int]:
    """Count violations of the outbox invariants for one agency."""
    queries = {
        CHECK_NO_DUPLICATES: """
            SELECT (SELECT count(*) FROM (SELECT dedupe_key FROM reminder_outbox
                                          WHERE agency_id = $a
                                          GROUP BY dedupe_key HAVING count(*) > 1))
                 + (SELECT count(*) FROM (SELECT message_id FROM reminder_outbox
                                          WHERE agency_id = $a
                                          GROUP BY message_id HAVING count(*) > 1))""",
        CHECK_NO_OPTED_OUT: """
            SELECT count(*) FROM reminder_outbox o
            WHERE o.agency_id = $a AND o.status IN ('planned', 'ready') AND EXISTS (
                SELECT 1 FROM reminder_opt_outs x
                WHERE x.agency_id = o.agency_id AND (x.channel = o.channel OR x.channel = 'all')
                  AND (x.party_id = o.party_id OR x.recipient = o.recipient))""",
        CHECK_NOT_AFTER_HEARING: """
            SELECT count(*) FROM reminder_outbox WHERE agency_id = $a
              AND status IN ('planned', 'ready') AND due_at >= hearing_start_at""",
    }
    return {
        name: int(con.execute(sql, {"a": agency_id}).fetchone()[0]) for name, sql in queries.items()
    }


def _check_results(counts: dict[str, int] | None, note: str | None = None) -> list:
    descriptions = {
        CHECK_NO_DUPLICATES: "duplicate dedupe keys or message ids",
        CHECK_NO_OPTED_OUT: "planned/ready messages to an opted-out party or recipient",
        CHECK_NOT_AFTER_HEARING: "planned/ready messages due at or after their hearing",
    }
    results = []
    for name, label in descriptions.items():
        bad = 0 if counts is None else counts[name]
        metadata = {"violations": dg.MetadataValue.int(bad), "what": label}
        if note:
            metadata["note"] = note
        results.append(
            dg.AssetCheckResult(
                check_name=name,
                passed=bad == 0,
                metadata=metadata,
                severity=dg.AssetCheckSeverity.ERROR,
            )
        )
    return results


def _preview(rows: list[dict], limit: int = 10) -> str:
    """New messages with recipients masked and no bodies (bodies carry names)."""
    if not rows:
        return "_no new messages_"
    frame = pd.DataFrame(
        [
            {
                "kind": r["kind"],
                "offset": r["offset_key"],
                "channel": r["channel"],
                "recipient_masked": (mask_email if r["channel"] == "email" else mask_phone)(
                    r["recipient"]
                ),
                "language": r["language"],
                # reminder bodies are rendered at delivery: a few are rendered for this
                "segments": r["segments"] if r.get("preview") is None else r["preview"].segments,
                "encoding": r["encoding"] if r.get("preview") is None else r["preview"].encoding,
                "due_at_utc": r["due_at"].strftime("%Y-%m-%d %H:%M"),
                "status": r["status"],
                "reason": r["status_reason"],
            }
            for r in rows[:limit]
        ]
    )
    return frame.to_markdown(index=False)


def _plan_metadata(result: PlanResult) -> dict[str, object]:
    reply_rejects = sum(len(i.rejected) for i in result.reply_imports)
    return {
        "as_of": result.as_of.isoformat(),
        "candidates": dg.MetadataValue.int(result.candidates),
        "planned": dg.MetadataValue.int(result.inserted.get("planned", 0)),
        "planned_by_kind": dg.MetadataValue.json(dict(result.planned_kinds)),
        "suppressed": dg.MetadataValue.int(sum(result.suppressed_reasons.values())),
        "suppressed_by_reason": dg.MetadataValue.json(dict(result.suppressed_reasons)),
        "refreshed": dg.MetadataValue.int(result.refreshed),
        "sms_segments_histogram": dg.MetadataValue.json(
            {str(k): v for k, v in sorted(result.segments.items())}
        ),
        "sms_encodings": dg.MetadataValue.json(dict(result.encodings)),
        "over_segment_limit": dg.MetadataValue.int(result.over_segment_limit),
        "languages": dg.MetadataValue.json(dict(result.languages)),
        "language_fallbacks": dg.MetadataValue.json(dict(result.fallbacks)),
        "party_opt_outs": dg.MetadataValue.int(result.party_opt_outs),
        "reply_files_imported": dg.MetadataValue.int(
            sum(not i.already_imported for i in result.reply_imports)
        ),
        "reply_rows_rejected": dg.MetadataValue.int(reply_rejects),
        "preview": dg.MetadataValue.md(_preview(result.new_rows)),
        "lock_held_seconds": dg.MetadataValue.float(
            round(result.read_seconds + result.write_seconds, 3)
        ),
        "plan_seconds_unlocked": dg.MetadataValue.float(round(result.plan_seconds, 3)),
    }


def check_all_flows(registry: Registry, registry_file: Path | None = None) -> int:
    """Load every agency's flows file and compile and sample-render every template it uses,
    now: a broken flow or a hostile template stops the code location from loading with the
    file and template named, instead of failing (or hanging) a run at 3 AM. Returns the
    number of flows files checked."""
    base = registry_file or settings.registry_path()
    checked: set[Path] = set()
    for agency in registry.agencies:
        if not agency.reminders:
            continue
        path = registry_relative(base, agency.reminders)
        if path in checked:
            continue
        try:
            load_flows(path)
        except FlowsError as exc:
            raise FlowsError(f"agency {agency.id!r}: {exc}") from None
        checked.add(path)
    return len(checked)


def build_reminder_assets(
    registry: Registry,
    partitions_def: dg.PartitionsDefinition,
    *,
    registry_file: Path | None = None,
) -> list:
    """The ``reminder_outbox`` and ``reminder_deliveries`` assets for this registry."""

    check_all_flows(registry, registry_file)

    def agency_flows(agency_id: str) -> tuple[Agency, RemindersConfig | None]:
        agency = registry.agency(agency_id)
        if not agency.reminders:
            return agency, None
        base = registry_file or settings.registry_path()
        return agency, load_flows(registry_relative(base, agency.reminders))

    @dg.asset(
        name="reminder_outbox",
        description="One row per reminder message (planned, ready, sent, failed, suppressed) "
        "with a dedupe key, planned from upcoming hearings, changes and the STOP list.",
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        deps=UPSTREAM,
        group_name="reminders",
        kinds={"duckdb"},
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_NO_DUPLICATES,
                asset="reminder_outbox",
                description="no two outbox rows share a dedupe key or a "
                "message id (the table has no key index: this proves it)",
            ),
            dg.AssetCheckSpec(
                CHECK_NO_OPTED_OUT,
                asset="reminder_outbox",
                blocking=True,
                description="no planned/ready message to an opted-out party",
            ),
            dg.AssetCheckSpec(
                CHECK_NOT_AFTER_HEARING,
                asset="reminder_outbox",
                blocking=True,
                description="no planned/ready message due after its hearing",
            ),
        ],
    )
    def reminder_outbox(
        context: dg.AssetExecutionContext, config: ReminderRunConfig, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Plan this agency's reminders (idempotent: reruns add only what is new).

        Planning is as of now (or ``as_of``), never as of the partition's day, so the per-day
        runs of a backfill would all plan the same outbox: a range plans once per agency,
        which leaves exactly the outbox the per-day runs would.
        """
        per_agency: dict[str, dict] = {}
        counts: dict[str, int] | None = None
        notes: list[str] = []
        for group in context_agencies(context):
            agency, flows = agency_flows(group.agency_id)
            if flows is None:
                note = f"agency {agency.id!r} has no reminders file in the registry; skipped"
                context.log.info(note)
                per_agency[agency.id] = {"note": note}
                notes.append(note)
                continue
            # the writer lock is held to read and to write the difference, not to render
            result = plan_reminders_unlocked(warehouse.connect, agency, flows, now=config.moment())
            with warehouse.connect() as con:
                found = _check_queries(con, agency.id)
            counts = found if counts is None else {k: counts[k] + found[k] for k in counts}
            context.log.info(
                "%s: %d candidates, %d planned, suppressed %s",
                agency.id,
                result.candidates,
                result.inserted.get("planned", 0),
                dict(result.suppressed_reasons),
            )
            per_agency[agency.id] = {**_plan_metadata(result), **range_metadata(group)}
        per_agency = table_rows_reporter(context, warehouse, "reminder_outbox")(per_agency)
        return dg.MaterializeResult(
            metadata=combine_agency_metadata(per_agency),
            check_results=_check_results(counts, "; ".join(notes) or None),
        )

    @dg.asset(
        name="reminder_deliveries",
        description="Due messages sent through the reminder_delivery resource (dry-run marks "
        "them ready; webhook POSTs them).",
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        deps=[dg.AssetKey("reminder_outbox")],
        group_name="reminders",
        kinds={"duckdb"},
    )
    def reminder_deliveries(
        context: dg.AssetExecutionContext,
        config: ReminderRunConfig,
        warehouse: WarehouseResource,
        reminder_delivery: ReminderDelivery,
    ) -> dg.MaterializeResult:
        """Send the agency's due messages (never after the hearing, never to an opt-out).

        What is due depends on now, not on the partition's day: a backfill range delivers
        once per agency (later per-day runs would find nothing new to send).
        """
        return dg.MaterializeResult(
            metadata=combine_agency_metadata(
                {
                    group.agency_id: deliver_agency(
                        context, config, warehouse, reminder_delivery, group
                    )
                    for group in context_agencies(context)
                }
            )
        )

    def deliver_agency(
        context: dg.AssetExecutionContext,
        config: ReminderRunConfig,
        warehouse: WarehouseResource,
        reminder_delivery: ReminderDelivery,
        group: AgencyDays,
    ) -> dict:
        agency, flows = agency_flows(group.agency_id)
        if flows is None:
            note = f"agency {agency.id!r} has no reminders file in the registry; skipped"
            context.log.info(note)
            return {"note": note}
        result = reminder_delivery.deliver(
            warehouse.connect,
            agency,
            flows,
            now=config.moment(),
            lock_path=Path(str(warehouse.db_path) + f".delivery-{agency.id}.lock"),
        )
        context.log.info(
            "%s (%s): %d due, %d sent, %d ready, %d failed, %d throttled (next run)",
            agency.id,
            result.mode,
            result.due,
            result.sent,
            result.readied,
            result.failed,
            result.throttled,
        )
        return {
            **range_metadata(group),
            "mode": result.mode,
            "due": dg.MetadataValue.int(result.due),
            "sent": dg.MetadataValue.int(result.sent),
            "readied": dg.MetadataValue.int(result.readied),
            "failed": dg.MetadataValue.int(result.failed),
            # of failed: the body could not be rendered (flow and template in last_error)
            "render_failed": dg.MetadataValue.int(result.render_failed),
            "throttled": dg.MetadataValue.int(result.throttled),
            "held_for_quiet_hours": dg.MetadataValue.int(result.held_quiet_hours),
            "attempts": dg.MetadataValue.int(result.attempts),
            "suppressed_by_reason": dg.MetadataValue.json(dict(result.suppressed)),
            "errors": dg.MetadataValue.json(dict(Counter(result.errors))),
        }

    return [reminder_outbox, reminder_deliveries]

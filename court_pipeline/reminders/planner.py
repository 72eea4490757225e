"""Plan reminder messages into the outbox from the clean hearings, parties and contacts.

Planning is idempotent: every message has a dedupe key (agency, hearing, party, flow,
offset or kind, hearing start), so a rerun or an hourly sync adds only what is new. Messages
not yet sent are refreshed (a new phone number, courtroom or language reaches them) but keep
their due time; sent, failed and suppressed messages are history and never change.

A pass reads a snapshot under the warehouse writer lock (``snapshot``), decides with the
lock released (every group's recipient, template and digest in SQL, see ``groups``; the
simple groups expanded set-based, see ``setplan``; the rest here), and writes the
difference in one short guarded transaction (``outbox``), so a 150,000-hearing agency does
not hold up the other agencies. Reminder bodies are rendered at delivery (``render``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from court_pipeline.registry import Agency
from court_pipeline.reminders import setplan
from court_pipeline.reminders.flows import Flow, RemindersConfig
from court_pipeline.reminders.groups import NO_CONTACT, PassGroups, arrow_rows
from court_pipeline.reminders.optouts import (
    ReplyImport,
    import_reply_folder,
    sync_party_opt_outs,
)
from court_pipeline.reminders.outbox import OUTBOX_COLUMNS, PlanDiff, prepare, write_plan
from court_pipeline.reminders.render import DEFERRED_KINDS, message_context, render_reminder
from court_pipeline.reminders.snapshot import (
    Candidate,
    Existing,
    Snapshot,
    as_utc,
    build_snapshot,
    read_raw,
)
from court_pipeline.reminders.templates import TemplateError, TemplateSet, template_error_reason
from court_pipeline.reminders.timing import apply_quiet_hours, offset_due

PENDING = ("planned", "ready")
PREVIEW_RENDERS = 10  # new reminders rendered per pass for the metadata counts
MESSAGE_NAMESPACE = uuid.UUID("0f6b3c52-6f1e-4c33-9a4e-3d1c6c2b7a10")
CATCH_UP_GAP = timedelta(hours=12)
NO_SEND_TIME = "no allowed send time before hearing"
__all__ = ["OUTBOX_COLUMNS", "PlanResult", "plan_reminders", "plan_reminders_unlocked"]


@dataclass
class PlanResult:
    """What one planning pass did (counts only: safe for logs and metadata)."""

    agency_id: str
    as_of: datetime
    candidates: int = 0
    inserted: Counter = field(default_factory=Counter)  # status -> new rows
    refreshed: int = 0
    suppressed_reasons: Counter = field(default_factory=Counter)  # reason -> rows (new+old)
    planned_kinds: Counter = field(default_factory=Counter)
    segments: Counter = field(default_factory=Counter)
    encodings: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    fallbacks: Counter = field(default_factory=Counter)  # requested language -> rows
    over_segment_limit: int = 0
    party_opt_outs: int = 0
    reply_imports: list[ReplyImport] = field(default_factory=list)
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    read_seconds: float = 0.0  # writer lock held: reading the snapshot
    plan_seconds: float = 0.0  # lock released: deciding and rendering
    write_seconds: float = 0.0  # writer lock held: writing the difference


def _get(row: object, name: str) -> Any:
    """A field of an outbox row dict or of a ``Rendered`` preview."""
    return row[name] if isinstance(row, dict) else getattr(row, name)


def dedupe_key(
    agency_id: str, hearing_id: str, party_id: str, flow: str, what: str, start_at: datetime
) -> str:
    """The identity of a message: the same inputs never plan a second message."""
    return f"{agency_id}|{hearing_id}|{party_id}|{flow}|{what}|{_utc_minute(start_at)}"


@functools.lru_cache(maxsize=65536)
def _utc_minute(start_at: datetime) -> str:
    """Cached: a docket shares a few hundred start times over 500,000 keys a pass."""
    return start_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def message_id_for(key: str) -> str:
    """Stable message id (uuid5 of the dedupe key): providers can dedupe on it too."""
    return str(uuid.uuid5(MESSAGE_NAMESPACE, key))


def hearing_state(candidate: Candidate, flow: Flow) -> tuple[str, str | None]:
    """('active'|'replaced'|'cancelled'|'removed'|'held'|'inactive', reason for pending
    messages). A hearing not Scheduled (Reset, Continued, ...) is never active at its date."""
    if candidate.replaced_by is not None:
        return "replaced", f"date changed: replaced by hearing {candidate.replaced_by}"
    if candidate.removed:
        return "removed", "removed"
    return flow.status_state(candidate.status)


class _Planner:
    """One planning pass for one agency (kept as an object to share lookups)."""

    def __init__(
        self,
        snapshot: Snapshot,
        groups: PassGroups,
        agency: Agency,
        config: RemindersConfig,
        templates: TemplateSet,
        now: datetime,
        set_based: bool = True,
    ) -> None:
        self.snapshot, self.groups, self.agency, self.config = snapshot, groups, agency, config
        self.set_based = set_based
        self.templates, self.now = templates, now
        self.result = PlanResult(agency_id=agency.id, as_of=now)
        self.diff = PlanDiff()
        self.inserts, self.updates, self.suppress = (
            self.diff.inserts,
            self.diff.updates,
            self.diff.suppress,
        )
        self.retired = snapshot.retired
        self._bases: dict[tuple[str, str, str], str] = {}
        # due times depend only on (flow, start, zone): a docket shares a few thousand starts
        # over hundreds of thousands of messages, so each is computed once per pass
        self._dues: dict[tuple, tuple[datetime, datetime | None]] = {}
        self._notices: dict[tuple, datetime | None] = {}
        self._offset_keys: dict[str, list[tuple[Any, str]]] = {}
        self._step_ids: dict[tuple, int] = {}
        self._step_rows: list[tuple] = []
        self._fast_preview: list[dict[str, Any]] = []
        self._fast_counts: list[tuple] | None = None
        self._flows = {flow.name: flow for flow in config.flows}

    def _offset_due(
        self, start: datetime, zone: Any, flow: Flow, offset: Any, quiet: Any
    ) -> tuple[datetime, datetime | None]:
        """(raw due, due after quiet hours) of one offset reminder (memoized)."""
        key = (flow.name, id(offset), start, zone)
        hit = self._dues.get(key)
        if hit is None:
            raw = offset_due(start, zone, offset)
            hit = self._dues[key] = (raw, apply_quiet_hours(raw, start, zone, quiet))
        return hit

    def _offsets(self, flow: Flow) -> list[tuple[Any, str]]:
        """(offset, its key) of a flow (``Offset.key`` is computed on every access)."""
        hit = self._offset_keys.get(flow.name)
        if hit is None:
            hit = self._offset_keys[flow.name] = [(o, o.key) for o in flow.offsets]
        return hit

    def _notice_due(self, start: datetime, zone: Any, flow: Flow, quiet: Any) -> datetime | None:
        """When a notice planned now is due (memoized, see :meth:`_offset_due`)."""
        key = (flow.name, start, zone)
        if key not in self._notices:
            self._notices[key] = apply_quiet_hours(self.now, start, zone, quiet, self.now)
        return self._notices[key]

    # -- message construction ---------------------------------------------------------
    def _context(self, c: Candidate, flow: Flow, offset_key: str | None, days: int | None):
        return message_context(self.agency, c, offset_key, days)

    def _message(
        self,
        c: Candidate,
        flow: Flow,
        kind: str,
        offset_key: str | None,
        days: int | None,
        recipient: tuple[str | None, str | None, str | None],
        old_start: datetime | None = None,
    ) -> dict[str, Any]:
        """The content columns of a message (rendered, or the reason it cannot be).

        A reminder is not rendered here: it keeps its template, language and keys, and its
        body is rendered at delivery or review (``render``)."""
        channel, value, reason = recipient
        values: dict[str, Any] = {
            "case_number": c.case_number,
            "channel": channel,
            "recipient": value,
            "preferred_language": c.preferred_language,
            "language": None,
            "template": None,
            "subject": None,
            "body": None,
            "segments": None,
            "encoding": None,
            "status": "planned",
            "status_reason": None,
            "input_digest": self._inputs(c, flow, kind, offset_key, days, old_start),
        }
        if channel is None:
            values.update(status="suppressed", status_reason=reason)
            return values
        if kind in DEFERRED_KINDS:
            try:
                language, template = self.templates.pick(flow, kind, c.preferred_language, channel)
            except TemplateError as exc:
                values.update(status="suppressed", status_reason=template_error_reason(exc))
                return values
            values.update(language=language, template=template, _render=(c, flow))
            return values
        local = c.start_at.astimezone(c.zone).replace(tzinfo=None)
        old_local = old_start.astimezone(c.zone).replace(tzinfo=None) if old_start else None
        try:
            rendered = self.templates.render(
                flow,
                kind,
                c.preferred_language,
                channel,
                self._context(c, flow, offset_key, days),
                local,
                old_local,
            )
        except TemplateError as exc:
            values.update(status="suppressed", status_reason=template_error_reason(exc))
            return values
        values.update(rendered.outbox_columns())
        return values

    def _inputs(
        self,
        c: Candidate,
        flow: Flow,
        kind: str,
        offset_key: str | None,
        days: int | None,
        old_start: datetime | None,
    ) -> str:
        """Digest of everything a message is rendered from: equal digests, equal message.
        The part shared by a party's messages on one hearing under one flow (recipient
        included) is the group's ``base``, computed by the group query (``groups``)."""
        base = self._bases[(c.hearing_id, c.party_id, flow.name)]
        tail = f"{base}|{kind}|{offset_key}|{days}|{old_start.isoformat() if old_start else ''}"
        return hashlib.md5(tail.encode("utf-8")).hexdigest()  # noqa: S324

    def _unchanged(
        self,
        old: Existing,
        c: Candidate,
        flow: Flow,
        kind: str,
        offset_key: str | None,
        days: int | None,
        old_start: datetime | None = None,
    ) -> bool:
        """A pending message rendered from exactly today's inputs needs no new render."""
        return old.input_digest is not None and old.input_digest == self._inputs(
            c, flow, kind, offset_key, days, old_start
        )

    def _add(
        self,
        c: Candidate,
        flow: Flow,
        kind: str,
        what: str,
        offset_key: str | None,
        due: datetime,
        content: dict[str, Any],
        status: str | None = None,
        reason: str | None = None,
    ) -> None:
        key = dedupe_key(self.agency.id, c.hearing_id, c.party_id, flow.name, what, c.start_at)
        row = {
            **content,
            "message_id": message_id_for(key),
            "dedupe_key": key,
            "agency_id": self.agency.id,
            "hearing_id": c.hearing_id,
            "party_id": c.party_id,
            "flow": flow.name,
            "kind": kind,
            "offset_key": offset_key,
            "hearing_start_at": c.start_at,
            "due_at": due,
            "attempts": 0,
            "created_at": self.now,
            "updated_at": self.now,
        }
        if status is not None:
            row.update(status=status, status_reason=reason)
        self.inserts.append(row)

    def _refresh(self, old: Existing, content: dict[str, Any]) -> None:
        """Bring a pending message up to date with current data (due time unchanged); called
        only when its inputs changed (see :meth:`_unchanged`)."""
        if content["status"] == "suppressed":
            reason = content["status_reason"]
            retired = self.retired.get((old.party_id, old.recipient))
            if retired is not None and reason == NO_CONTACT:
                reason = setplan.RETIRED.format(retired)
            self.suppress[old.message_id] = reason
            return
        self.updates.append({"message_id": old.message_id, **content})  # inputs changed

    # -- one party on one hearing under one flow -------------------------------------------
    def plan_group(
        self,
        c: Candidate,
        flow: Flow,
        group: list[Existing],
        reschedules: list,
        recipient: tuple[str | None, str | None, str | None],
    ) -> None:
        pending = [e for e in group if e.status in PENDING]
        if c.start_at <= self.now:
            for e in pending:
                self.suppress[e.message_id] = "hearing passed"
            return
        state, reason = hearing_state(c, flow)
        quiet = self.config.quiet_hours_for(flow)
        if state != "active":
            for e in pending:
                self.suppress[e.message_id] = reason or state
            notify = (state == "cancelled" and flow.notify_cancelled) or (
                state == "removed" and flow.notify_removed
            )
            contacted = any(e.status in (*PENDING, "sent") for e in group)
            key = dedupe_key(
                self.agency.id, c.hearing_id, c.party_id, flow.name, "cancelled", c.start_at
            )
            if notify and contacted and all(e.dedupe_key != key for e in group):
                due = self._notice_due(c.start_at, c.zone, flow, quiet)
                content = self._message(c, flow, "cancelled", None, None, recipient)
                if due is None:
                    self._add(
                        c,
                        flow,
                        "cancelled",
                        "cancelled",
                        None,
                        self.now,
                        content,
                        "suppressed",
                        NO_SEND_TIME,
                    )
                else:
                    self._add(c, flow, "cancelled", "cancelled", None, due, content)
            return

        # Active: anything pending for another start is stale (rescheduled).
        by_key = {e.dedupe_key: e for e in group}
        for e in pending:
            if e.hearing_start_at != c.start_at:
                self.suppress[e.message_id] = "rescheduled"
        old_start = self._old_start(c, group, reschedules)
        changed_now = False
        if old_start is not None and flow.notify_changes:
            key = dedupe_key(
                self.agency.id, c.hearing_id, c.party_id, flow.name, "changed", c.start_at
            )
            if key in by_key:
                if by_key[key].status in PENDING and not self._unchanged(
                    by_key[key], c, flow, "changed", None, None, old_start
                ):
                    content = self._message(c, flow, "changed", None, None, recipient, old_start)
                    self._refresh(by_key[key], content)
            else:
                content = self._message(c, flow, "changed", None, None, recipient, old_start)
                due = self._notice_due(c.start_at, c.zone, flow, quiet)
                if due is None:
                    self._add(
                        c,
                        flow,
                        "changed",
                        "changed",
                        None,
                        self.now,
                        content,
                        "suppressed",
                        NO_SEND_TIME,
                    )
                else:
                    self._add(c, flow, "changed", "changed", None, due, content)
                    changed_now = True

        first_sight = not any(
            e.kind == "reminder" and e.hearing_start_at == c.start_at for e in group
        )
        future: list[datetime] = []
        past: list[tuple[datetime, Any]] = []
        for offset, offset_key in self._offsets(flow):
            key = dedupe_key(
                self.agency.id, c.hearing_id, c.party_id, flow.name, offset_key, c.start_at
            )
            if key in by_key and (
                by_key[key].status not in PENDING
                or self._unchanged(by_key[key], c, flow, "reminder", offset_key, offset.days)
            ):
                continue  # history never changes; a message with unchanged inputs neither
            content = self._message(c, flow, "reminder", offset_key, offset.days, recipient)
            if key in by_key:
                self._refresh(by_key[key], content)
                continue
            raw_due, due = self._offset_due(c.start_at, c.zone, flow, offset, quiet)
            if raw_due >= c.start_at or due is None:
                why = "due after hearing" if raw_due >= c.start_at else NO_SEND_TIME
                self._add(
                    c, flow, "reminder", offset_key, offset_key, raw_due, content, "suppressed", why
                )
            elif due > self.now:
                self._add(c, flow, "reminder", offset_key, offset_key, due, content)
                future.append(due)
            else:
                past.append((due, offset, content))
        past.sort(key=lambda item: item[0])
        catch_up = None
        if past and first_sight and not changed_now:
            due = self._notice_due(c.start_at, c.zone, flow, quiet)
            if due is not None and not any(f - due < CATCH_UP_GAP for f in future):
                catch_up = (due, *past[-1][1:])
                past = past[:-1]
        for due, offset, content in past:
            self._add(
                c, flow, "reminder", offset.key, offset.key, due, content, "suppressed", "too late"
            )
        if catch_up is not None:
            due, offset, content = catch_up
            self._add(c, flow, "reminder", offset.key, offset.key, due, content)
            if content["status"] == "planned":
                self.inserts[-1]["status_reason"] = setplan.LATE

    def _old_start(self, c: Candidate, group: list[Existing], reschedules: list):
        """The start the party knew before, if the hearing moved (outbox, then changes)."""
        told = [
            e
            for e in group
            if e.hearing_start_at != c.start_at
            and e.kind != "cancelled"
            and e.status in (*PENDING, "sent")
        ]
        if told:
            return max(told, key=lambda e: e.created_at).hearing_start_at
        moves = [
            (seen, old)
            for old, new, seen in reschedules
            if new == c.start_at and old != c.start_at and old > seen
        ]
        return max(moves)[1] if moves else None

    # -- the pass ----------------------------------------------------------------------------
    def run(self) -> PlanDiff:
        """Decide every message (no warehouse access): the difference to write.

        Simple groups (see ``setplan``) are expanded into messages in one query; the others,
        and the simple ones whose messages changed, are planned message by message."""
        groups = self.groups
        self.result.candidates = groups.candidate_count
        which = "true"
        if self.set_based:
            self._plan_simple()
            which = "NOT simple OR gid IN (SELECT gid FROM stale)"
        one_by_one = groups.planned_one_by_one(which, self.snapshot.replaced)
        existing = self.snapshot.existing_for({g.candidate.hearing_id for g in one_by_one})
        flows = self.config.flows
        for g in one_by_one:
            c, flow = g.candidate, flows[g.flow_index]
            self._bases[(c.hearing_id, c.party_id, flow.name)] = g.base
            moves = [
                *self.snapshot.reschedules.get((c.hearing_id, None), []),
                *self.snapshot.reschedules.get((c.hearing_id, c.party_id), []),
            ]
            group = [
                e
                for e in existing.get(c.hearing_id, [])
                if e.party_id == c.party_id and e.flow == flow.name
            ]
            self.plan_group(c, flow, group, moves, g.recipient)
        for message_id in setplan.untouched_pending(groups.con):
            self.suppress.setdefault(message_id, "no longer planned")
        return self.diff

    def _steps(self, flow: Flow, start: datetime, zone: Any) -> int:
        """The id of the offset plan of a first-sight group with this flow, start and zone:
        for each offset its due time and forced status, in the order ``plan_group`` adds
        them (memoized: it depends on nothing else)."""
        key = (flow.name, start, zone)
        tid = self._step_ids.get(key)
        if tid is not None:
            return tid
        tid = self._step_ids[key] = len(self._step_ids)
        quiet = self.config.quiet_hours_for(flow)
        entries: list[tuple] = []
        future: list[datetime] = []
        past: list[tuple] = []
        for offset, offset_key in self._offsets(flow):
            raw_due, due = self._offset_due(start, zone, flow, offset, quiet)
            if raw_due >= start or due is None:
                why = "due after hearing" if raw_due >= start else NO_SEND_TIME
                entries.append((offset_key, offset.days, raw_due, "suppressed", why, False))
            elif due > self.now:
                entries.append((offset_key, offset.days, due, None, None, False))
                future.append(due)
            else:
                past.append((due, offset, offset_key))
        past.sort(key=lambda item: item[0])
        catch_up = None
        if past:
            due = self._notice_due(start, zone, flow, quiet)
            if due is not None and not any(f - due < CATCH_UP_GAP for f in future):
                catch_up = (due, *past[-1][1:])
                past = past[:-1]
        for due, offset, offset_key in past:
            entries.append((offset_key, offset.days, due, "suppressed", "too late", False))
        if catch_up is not None:
            due, offset, offset_key = catch_up
            entries.append((offset_key, offset.days, due, None, None, True))
        for seq, entry in enumerate(entries):
            self._step_rows.append((tid, seq, *entry))
        return tid

    def _plan_simple(self) -> None:
        """Expand the simple groups in one query (leaving in ``stale`` those to plan one by
        one: their outbox rows are for another start, or a message is missing or changed)."""
        flows = self.config.flows
        times = [
            (fi, start.replace(tzinfo=None), zone, self._steps(flows[fi], start, ZoneInfo(zone)))
            for fi, start, zone in self.groups.simple_starts()
        ]
        rows = setplan.expand(
            self.groups.con,
            arrow_rows(self._step_rows, setplan.STEP_SCHEMA),
            arrow_rows(times, setplan.TIMES_SCHEMA),
            self.agency.id,
            MESSAGE_NAMESPACE,
            self.now,
        )
        self.diff.extra = rows.drop_columns(["cid", "fi", "seq"]) if rows.num_rows else None
        self._refresh_simple(setplan.refreshes(self.groups.con))
        self._fast_counts = setplan.count_rows(self.groups.con, rows) if rows.num_rows else None
        preview = setplan.first_planned(self.groups.con, rows, PREVIEW_RENDERS)
        candidates = self.groups.candidates([row["cid"] for row in preview])
        for row in preview:
            row["_render"] = (candidates[row.pop("cid")], flows[row.pop("fi")])
            del row["seq"]
            self._fast_preview.append(row)

    def _refresh_simple(self, rows: pa.Table) -> None:
        """Apply the set-based refreshes: new content, or a suppression with its reason."""
        if rows.num_rows == 0:
            return
        reason = rows["suppress_reason"]
        kept = rows
        if reason.null_count < rows.num_rows:  # some can no longer go
            gone = rows.filter(pa.compute.is_valid(reason))
            for message_id, why in zip(
                gone["message_id"].to_pylist(), gone["suppress_reason"].to_pylist(), strict=True
            ):
                self.suppress[message_id] = why
            kept = rows.filter(pa.compute.is_null(reason))
        kept = kept.drop_columns(["suppress_reason"])
        self.diff.extra_updates = kept if kept.num_rows else None

    def _preview(self) -> None:
        """Render the first few new reminders (bodies are rendered at delivery): what the
        segment and encoding counts of the metadata are measured on. A failure here is
        kept on the row as ``preview_error``; delivery marks that message failed."""
        done = 0
        for row in [*self.inserts, *self._fast_preview]:
            if done >= PREVIEW_RENDERS:
                return
            if row["status"] != "planned" or row["body"] is not None or "_render" not in row:
                continue
            c, flow = row["_render"]
            done += 1
            try:
                row["preview"] = render_reminder(
                    self.templates,
                    self.agency,
                    flow,
                    c,
                    row["kind"],
                    row["offset_key"],
                    row["channel"],
                    row["hearing_start_at"],
                )
            except TemplateError as exc:
                row["preview_error"] = template_error_reason(exc)

    def _tally(
        self,
        status: str,
        reason: str | None,
        kind: str,
        language: str | None,
        preferred: str | None,
        n: int = 1,
    ) -> None:
        """Count ``n`` new rows alike (a row of the Python path, or a set-based group)."""
        result = self.result
        result.inserted[status] += n
        if status == "suppressed":
            result.suppressed_reasons[reason] += n
            return
        result.planned_kinds[kind] += n
        result.languages[language] += n
        if preferred and preferred != language:
            result.fallbacks[preferred] += n

    def _count_segments(self, row: dict[str, Any], rendered: object | None) -> None:
        """The SMS segment and encoding counts of one rendered (or previewed) message."""
        if row["channel"] != "sms" or rendered is None:
            return
        result = self.result
        segments = _get(rendered, "segments")
        result.segments[segments] += 1
        result.encodings[_get(rendered, "encoding")] += 1
        limit = self._flows[row["flow"]].max_sms_segments
        result.over_segment_limit += int(segments > limit)

    def count(self) -> PlanResult:
        """Fill the result's counters from the written difference."""
        result = self.result
        self._preview()
        for row in self.inserts:
            self._tally(
                row["status"],
                row["status_reason"],
                row["kind"],
                row["language"],
                row["preferred_language"],
            )
            if row["status"] != "suppressed":
                self._count_segments(row, row.get("preview") if row["body"] is None else row)
        for grouped in self._fast_counts or []:
            self._tally(*grouped)
        for row in self._fast_preview:
            self._count_segments(row, row.get("preview"))
        for reason in self.suppress.values():
            result.suppressed_reasons[reason] += 1
        extra = self.diff.extra_updates
        result.refreshed = len(self.updates) + (extra.num_rows if extra is not None else 0)
        result.new_rows = [*self.inserts, *self._fast_preview]
        return result


def plan_reminders(
    con: duckdb.DuckDBPyConnection,
    agency: Agency,
    config: RemindersConfig,
    *,
    now: datetime | None = None,
    templates: TemplateSet | None = None,
    set_based: bool = True,
) -> PlanResult:
    """Refresh the STOP list, then plan, refresh and suppress the agency's messages, on one
    open connection (tests, tools). Runs use :func:`plan_reminders_unlocked`."""

    @contextlib.contextmanager
    def same() -> Iterator[duckdb.DuckDBPyConnection]:
        yield con

    return plan_reminders_unlocked(
        same, agency, config, now=now, templates=templates, set_based=set_based
    )


def plan_reminders_unlocked(
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    agency: Agency,
    config: RemindersConfig,
    *,
    now: datetime | None = None,
    templates: TemplateSet | None = None,
    set_based: bool = True,
) -> PlanResult:
    """Plan with the warehouse writer lock held only to read and to write.

    ``connect()`` opens the warehouse under its writer lock. First connection: refresh the
    STOP list, import reply files and read the snapshot. No lock: decide and render every
    message. Second connection: write the difference in one transaction (guarded against
    what other runs did in between, see ``outbox``). The result carries the three times.
    ``set_based=False`` plans every group message by message (the reference the set-based
    path is tested against)."""
    as_of = as_utc(now) if now is not None else datetime.now(UTC)
    templates = templates or TemplateSet(config)
    t0 = time.perf_counter()
    with connect() as con:
        party_opt_outs = sync_party_opt_outs(con, agency.id)
        replies = config.replies_path
        imports = import_reply_folder(con, agency.id, replies) if replies else []
        raw = read_raw(con, agency, as_of, config.horizon_days)
    t1 = time.perf_counter()
    groups = PassGroups(raw, agency, config, templates, as_of)
    try:
        planner = _Planner(build_snapshot(raw), groups, agency, config, templates, as_of, set_based)
        prepared = prepare(planner.run())
    finally:
        groups.close()
    t2 = time.perf_counter()
    with connect() as con:
        write_plan(con, prepared)
    t3 = time.perf_counter()
    result = planner.count()
    result.party_opt_outs = party_opt_outs
    result.reply_imports = imports
    result.read_seconds, result.plan_seconds, result.write_seconds = t1 - t0, t2 - t1, t3 - t2
    return result

"""Plan reminder messages into the outbox from the clean hearings, parties and contacts.

Planning is idempotent: every message has a dedupe key (agency, hearing, party, flow,
offset or kind, hearing start), so a rerun or an hourly sync adds only what is new. Messages
not yet sent are refreshed (a new phone number, courtroom or language reaches them) but keep
their due time; sent, failed and suppressed messages are history and never change.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pandas as pd

from court_pipeline.registry import Agency
from court_pipeline.reminders.flows import NOT_REMINDED, Flow, RemindersConfig
from court_pipeline.reminders.optouts import (
    OptOuts,
    ReplyImport,
    import_reply_folder,
    load_opt_outs,
    sync_party_opt_outs,
)
from court_pipeline.reminders.templates import TemplateError, TemplateSet, display_name, money
from court_pipeline.reminders.timing import apply_quiet_hours, localize, offset_due

PENDING = ("planned", "ready")
MESSAGE_NAMESPACE = uuid.UUID("0f6b3c52-6f1e-4c33-9a4e-3d1c6c2b7a10")
CATCH_UP_GAP = timedelta(hours=12)
OUTBOX_COLUMNS = (
    "message_id", "dedupe_key", "agency_id", "hearing_id", "party_id", "case_number", "flow",
    "kind", "offset_key", "hearing_start_at", "channel", "recipient", "preferred_language",
    "language", "template", "subject", "body", "segments", "encoding", "due_at", "status",
    "status_reason", "attempts", "created_at", "updated_at",
)
REFRESHED = (
    "case_number", "channel", "recipient", "preferred_language", "language", "template",
    "subject", "body", "segments", "encoding",
)
CANCELLED_STATUSES = {"cancelled", "canceled"}
NO_SEND_TIME = "no allowed send time before hearing"
HELD_STATUSES = {"held", "disposed"}
REMOVED_STATUSES = {"removed"}


@dataclass(frozen=True)
class Candidate:
    """One party on one hearing, with everything a message needs."""

    hearing_id: str
    party_id: str
    role: str | None
    case_number: str | None
    hearing_type: str | None
    hearing_type_code: str | None
    status: str | None
    start_at: datetime
    zone: ZoneInfo
    location: str | None
    courtroom: str | None
    judge: str | None
    removed: bool
    name: str | None
    preferred_language: str | None
    payment_status: str | None
    amount_due: Decimal | None
    replaced_by: str | None = None  # the new hearing of a reset (hearing_changes 'reset')


@dataclass(frozen=True)
class Existing:
    """An outbox row already there."""

    message_id: str
    dedupe_key: str
    party_id: str
    flow: str
    kind: str
    hearing_start_at: datetime
    status: str
    due_at: datetime
    created_at: datetime
    values: dict[str, Any]


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


def dedupe_key(
    agency_id: str, hearing_id: str, party_id: str, flow: str, what: str, start_at: datetime
) -> str:
    """The identity of a message: the same inputs never plan a second message."""
    start = start_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{agency_id}|{hearing_id}|{party_id}|{flow}|{what}|{start}"


def message_id_for(key: str) -> str:
    """Stable message id (uuid5 of the dedupe key): providers can dedupe on it too."""
    return str(uuid.uuid5(MESSAGE_NAMESPACE, key))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


_CANDIDATES_SQL = """
WITH cs AS (
    SELECT * FROM cases WHERE agency_id = $agency
    QUALIFY row_number() OVER (PARTITION BY case_id ORDER BY updated_at DESC) = 1
), cn AS (
    SELECT * FROM cases WHERE agency_id = $agency AND case_number IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY case_number ORDER BY updated_at DESC) = 1
), cpr AS (
    SELECT case_id, party_id, min(role) AS role FROM case_parties
    WHERE agency_id = $agency GROUP BY case_id, party_id
), pending AS (
    SELECT DISTINCT hearing_id FROM reminder_outbox
    WHERE agency_id = $agency AND status IN ('planned', 'ready')
)
SELECT h.hearing_id, hp.party_id, coalesce(hp.role, cpr.role) AS role,
       coalesce(h.case_number, cs.case_number) AS case_number,
       h.hearing_type, h.hearing_type_code, h.status,
       timezone('UTC', h.start_at) AS start_utc, h.start_local, h.court_timezone,
       h.location, h.courtroom, coalesce(h.judge, cs.judge_name, cn.judge_name) AS judge,
       h.removed_at IS NOT NULL AS removed,
       p.first_name, p.business_name, p.preferred_language,
       coalesce(cs.payment_status, cn.payment_status) AS payment_status,
       coalesce(cs.amount_due, cn.amount_due) AS amount_due
FROM hearings h
JOIN hearing_parties hp ON hp.agency_id = h.agency_id AND hp.hearing_id = h.hearing_id
LEFT JOIN parties p ON p.agency_id = h.agency_id AND p.party_id = hp.party_id
LEFT JOIN cs ON cs.case_id = h.case_id
LEFT JOIN cn ON cs.case_id IS NULL AND cn.case_number = h.case_number
LEFT JOIN cpr ON cpr.case_id = h.case_id AND cpr.party_id = hp.party_id
WHERE h.agency_id = $agency AND (
    (h.start_at > $now AND h.start_at <= $until)
    OR (h.start_at IS NULL AND h.start_local BETWEEN $now_naive - INTERVAL 2 DAY
                                             AND $until_naive + INTERVAL 2 DAY)
    OR h.hearing_id IN (SELECT hearing_id FROM pending)
)
ORDER BY h.hearing_id, hp.party_id
"""


def load_candidates(
    con: duckdb.DuckDBPyConnection, agency: Agency, now: datetime, until: datetime
) -> list[Candidate]:
    """Parties on hearings in the planning window, plus hearings with pending messages."""
    rows = con.execute(
        _CANDIDATES_SQL,
        {
            "agency": agency.id,
            "now": now,
            "until": until,
            "now_naive": now.astimezone(agency.zone).replace(tzinfo=None),
            "until_naive": until.astimezone(agency.zone).replace(tzinfo=None),
        },
    ).fetchall()
    out = []
    for (hearing_id, party_id, role, case_number, htype, htype_code, status, start_utc,
         start_local, tz_name, location, courtroom, judge, removed, first_name, business,
         language, payment_status, amount_due) in rows:
        zone = _zone(tz_name, agency.zone)
        start = _utc(start_utc) or (localize(start_local, zone) if start_local else None)
        if start is None:
            continue  # no time: nothing can be scheduled (the loaders reject such rows)
        out.append(
            Candidate(
                hearing_id=hearing_id, party_id=party_id, role=role, case_number=case_number,
                hearing_type=htype, hearing_type_code=htype_code, status=status,
                start_at=start, zone=zone, location=location, courtroom=courtroom,
                judge=judge, removed=bool(removed), name=display_name(first_name, business),
                preferred_language=(language or "").strip().lower() or None,
                payment_status=payment_status, amount_due=amount_due,
            )
        )
    return out


def load_contacts(
    con: duckdb.DuckDBPyConnection, agency_id: str, party_ids: list[str]
) -> dict[str, list[tuple[str, str, str | None]]]:
    """Current (valid, not retired) contacts per party, newest first: (kind, value, type)."""
    rows = con.execute(
        """
        SELECT party_id, kind, value, coalesce(phone_type, 'unknown') AS phone_type
        FROM contacts
        WHERE agency_id = ? AND status = 'valid' AND value IS NOT NULL
          AND list_contains(?, party_id)
        ORDER BY party_id, coalesce(source_modified_at, updated_at) DESC, value
        """,
        [agency_id, party_ids],
    ).fetchall()
    contacts: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
    for party_id, kind, value, phone_type in rows:
        contacts[party_id].append((kind, value, phone_type))
    return contacts


def load_retired(
    con: duckdb.DuckDBPyConnection, agency_id: str, party_ids: list[str]
) -> dict[tuple[str, str], str]:
    """(party, value) -> why that contact was retired (records.contact_lists)."""
    rows = con.execute(
        """
        SELECT party_id, value, arg_max(retired_reason, retired_at) FROM contacts
        WHERE agency_id = ? AND status = 'retired' AND value IS NOT NULL
          AND list_contains(?, party_id)
        GROUP BY party_id, value
        """,
        [agency_id, party_ids],
    ).fetchall()
    return {(party_id, value): reason for party_id, value, reason in rows}


def choose_recipient(
    flow: Flow,
    config: RemindersConfig,
    party_id: str,
    contacts: list[tuple[str, str, str | None]],
    opt_outs: OptOuts,
) -> tuple[str | None, str | None, str | None]:
    """(channel, recipient, None) by the flow's channel order, or (None, None, reason).

    SMS goes to phones whose type ``sms_phone_types`` lists, in that list's order (newest
    first within a type); fax and pager numbers can never be listed there."""
    blocked = False
    sms_rank = {t: i for i, t in enumerate(config.sms_phone_types)}
    phones = sorted(
        (c for c in contacts if c[0] == "phone" and c[2] in sms_rank),
        key=lambda c: sms_rank[c[2]],
    )
    emails = [c for c in contacts if c[0] == "email"]
    for channel in flow.channels:
        for _kind, value, _phone_type in phones if channel == "sms" else emails:
            if opt_outs.blocks(channel, party_id, value):
                blocked = True
                continue
            return channel, value, None
    return None, None, "opted out" if blocked else "no contact"


def load_existing(
    con: duckdb.DuckDBPyConnection, agency_id: str, hearing_ids: list[str]
) -> dict[str, list[Existing]]:
    """Outbox rows of these hearings, grouped by hearing."""
    rows = con.execute(
        f"""
        SELECT hearing_id, message_id, dedupe_key, party_id, flow, kind,
               timezone('UTC', hearing_start_at), status, timezone('UTC', due_at),
               timezone('UTC', created_at), {", ".join(REFRESHED)}
        FROM reminder_outbox WHERE agency_id = ? AND list_contains(?, hearing_id)
        """,
        [agency_id, hearing_ids],
    ).fetchall()
    grouped: dict[str, list[Existing]] = defaultdict(list)
    for row in rows:
        values = dict(zip(REFRESHED, row[10:], strict=True))
        grouped[row[0]].append(
            Existing(row[1], row[2], row[3], row[4], row[5], _utc(row[6]), row[7], _utc(row[8]),
                     _utc(row[9]), values)
        )
    return grouped


def load_reschedules(
    con: duckdb.DuckDBPyConnection, agency_id: str, hearing_ids: list[str]
) -> dict[tuple[str, str | None], list[tuple[datetime, datetime, datetime]]]:
    """Date changes per (hearing, party): (old start, new start, seen at).

    A 'rescheduled' row (the same hearing moved) holds for every party of the hearing (party
    None); a 'reset' row (a new hearing replacing an old one, see records.resets) holds for
    the parties that were on the old hearing too."""
    rows = con.execute(
        """
        SELECT hc.hearing_id, NULL::VARCHAR AS party_id, timezone('UTC', hc.old_start_at),
               timezone('UTC', hc.new_start_at), timezone('UTC', hc.changed_at)
        FROM hearing_changes hc
        WHERE hc.agency_id = $agency AND hc.change_kind = 'rescheduled'
          AND list_contains($ids, hc.hearing_id)
          AND hc.old_start_at IS NOT NULL AND hc.new_start_at IS NOT NULL
        UNION ALL
        SELECT hc.hearing_id, hp.party_id, timezone('UTC', hc.old_start_at),
               timezone('UTC', hc.new_start_at), timezone('UTC', hc.changed_at)
        FROM hearing_changes hc
        JOIN hearing_parties hp ON hp.agency_id = hc.agency_id
                               AND hp.hearing_id = hc.linked_hearing_id
        WHERE hc.agency_id = $agency AND hc.change_kind = 'reset'
          AND list_contains($ids, hc.hearing_id)
          AND hc.old_start_at IS NOT NULL AND hc.new_start_at IS NOT NULL
        """,
        {"agency": agency_id, "ids": hearing_ids},
    ).fetchall()
    out: dict[tuple[str, str | None], list[tuple[datetime, datetime, datetime]]] = (
        defaultdict(list))
    for hearing_id, party_id, old, new, seen in rows:
        out[(hearing_id, party_id)].append((_utc(old), _utc(new), _utc(seen)))
    return out


def load_replacements(
    con: duckdb.DuckDBPyConnection, agency_id: str, hearing_ids: list[str]
) -> dict[str, str]:
    """Old hearing -> the new hearing that replaced it ('reset' rows of hearing_changes)."""
    rows = con.execute(
        "SELECT linked_hearing_id, max(hearing_id) FROM hearing_changes "
        "WHERE agency_id = ? AND change_kind = 'reset' AND list_contains(?, linked_hearing_id) "
        "GROUP BY 1",
        [agency_id, hearing_ids],
    ).fetchall()
    return dict(rows)


def hearing_state(candidate: Candidate, flow: Flow) -> tuple[str, str | None]:
    """('active'|'replaced'|'cancelled'|'removed'|'held'|'inactive', reason for pending
    messages). A hearing not Scheduled (Reset, Continued, ...) is never active at its date."""
    status = (candidate.status or "").strip().casefold()
    if candidate.replaced_by is not None:
        return "replaced", f"date changed: replaced by hearing {candidate.replaced_by}"
    if candidate.removed or status in REMOVED_STATUSES:
        return "removed", "removed"
    if status in CANCELLED_STATUSES:
        return "cancelled", "cancelled"
    if status in HELD_STATUSES:
        return "held", "held"
    if status not in NOT_REMINDED and flow.wants_status(candidate.status):
        return "active", None
    return "inactive", f"status {candidate.status}"


class _Planner:
    """One planning pass for one agency (kept as an object to share lookups)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        agency: Agency,
        config: RemindersConfig,
        templates: TemplateSet,
        now: datetime,
    ) -> None:
        self.con, self.agency, self.config, self.templates = con, agency, config, templates
        self.now = now
        self.result = PlanResult(agency_id=agency.id, as_of=now)
        self.inserts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.suppress: dict[str, str] = {}
        self.retired: dict[tuple[str, str], str] = {}

    # -- message construction ---------------------------------------------------------
    def _context(self, c: Candidate, flow: Flow, offset_key: str | None, days: int | None):
        return {
            "agency_name": self.agency.name,
            "name": c.name,
            "hearing_type": c.hearing_type,
            "location": c.location,
            "courtroom": c.courtroom,
            "judge": c.judge,
            "case_number": c.case_number,
            "payment_status": c.payment_status,
            "amount_due": money(c.amount_due),
            "offset": offset_key,
            "days_before": days,
        }

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
        """The content columns of a message (rendered, or the reason it cannot be)."""
        channel, value, reason = recipient
        values: dict[str, Any] = {
            "case_number": c.case_number, "channel": channel, "recipient": value,
            "preferred_language": c.preferred_language, "language": None, "template": None,
            "subject": None, "body": None, "segments": None, "encoding": None,
            "status": "planned", "status_reason": None,
        }
        if channel is None:
            values.update(status="suppressed", status_reason=reason)
            return values
        local = c.start_at.astimezone(c.zone).replace(tzinfo=None)
        old_local = old_start.astimezone(c.zone).replace(tzinfo=None) if old_start else None
        try:
            rendered = self.templates.render(
                flow, kind, c.preferred_language, channel,
                self._context(c, flow, offset_key, days), local, old_local,
            )
        except TemplateError as exc:
            values.update(status="suppressed", status_reason=f"template error: {exc}"[:500])
            return values
        values.update(
            language=rendered.language, template=rendered.template, subject=rendered.subject,
            body=rendered.body, segments=rendered.segments, encoding=rendered.encoding,
        )
        return values

    def _add(
        self, c: Candidate, flow: Flow, kind: str, what: str, offset_key: str | None,
        due: datetime, content: dict[str, Any], status: str | None = None,
        reason: str | None = None,
    ) -> None:
        key = dedupe_key(self.agency.id, c.hearing_id, c.party_id, flow.name, what, c.start_at)
        row = {
            **content,
            "message_id": message_id_for(key), "dedupe_key": key, "agency_id": self.agency.id,
            "hearing_id": c.hearing_id, "party_id": c.party_id, "flow": flow.name,
            "kind": kind, "offset_key": offset_key, "hearing_start_at": c.start_at,
            "due_at": due, "attempts": 0, "created_at": self.now, "updated_at": self.now,
        }
        if status is not None:
            row.update(status=status, status_reason=reason)
        self.inserts.append(row)

    def _refresh(self, old: Existing, content: dict[str, Any]) -> None:
        """Bring a pending message up to date with current data (due time unchanged)."""
        if content["status"] == "suppressed":
            reason = content["status_reason"]
            retired = self.retired.get((old.party_id, old.values.get("recipient")))
            if retired is not None and reason == "no contact":
                reason = f"recipient retired ({retired}); no current contact"
            self.suppress[old.message_id] = reason
            return
        changed = {k: content[k] for k in REFRESHED if content[k] != old.values.get(k)}
        if changed:
            self.updates.append({"message_id": old.message_id, **content})

    # -- one party on one hearing under one flow -------------------------------------------
    def plan_group(
        self, c: Candidate, flow: Flow, group: list[Existing], reschedules: list,
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
            key = dedupe_key(self.agency.id, c.hearing_id, c.party_id, flow.name, "cancelled",
                             c.start_at)
            if notify and contacted and all(e.dedupe_key != key for e in group):
                due = apply_quiet_hours(self.now, c.start_at, c.zone, quiet, self.now)
                content = self._message(c, flow, "cancelled", None, None, recipient)
                if due is None:
                    self._add(c, flow, "cancelled", "cancelled", None, self.now, content,
                              "suppressed", NO_SEND_TIME)
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
            key = dedupe_key(self.agency.id, c.hearing_id, c.party_id, flow.name, "changed",
                             c.start_at)
            if key in by_key:
                if by_key[key].status in PENDING:
                    content = self._message(c, flow, "changed", None, None, recipient, old_start)
                    self._refresh(by_key[key], content)
            else:
                content = self._message(c, flow, "changed", None, None, recipient, old_start)
                due = apply_quiet_hours(self.now, c.start_at, c.zone, quiet, self.now)
                if due is None:
                    self._add(c, flow, "changed", "changed", None, self.now, content,
                              "suppressed", NO_SEND_TIME)
                else:
                    self._add(c, flow, "changed", "changed", None, due, content)
                    changed_now = True

        first_sight = not any(
            e.kind == "reminder" and e.hearing_start_at == c.start_at for e in group
        )
        future: list[datetime] = []
        past: list[tuple[datetime, Any]] = []
        for offset in flow.offsets:
            key = dedupe_key(self.agency.id, c.hearing_id, c.party_id, flow.name, offset.key,
                             c.start_at)
            if key in by_key and by_key[key].status not in PENDING:
                continue  # history: sent, failed or suppressed rows never change
            content = self._message(c, flow, "reminder", offset.key, offset.days, recipient)
            if key in by_key:
                self._refresh(by_key[key], content)
                continue
            raw_due = offset_due(c.start_at, c.zone, offset)
            due = apply_quiet_hours(raw_due, c.start_at, c.zone, quiet)
            if raw_due >= c.start_at or due is None:
                why = "due after hearing" if raw_due >= c.start_at else NO_SEND_TIME
                self._add(c, flow, "reminder", offset.key, offset.key, raw_due, content,
                          "suppressed", why)
            elif due > self.now:
                self._add(c, flow, "reminder", offset.key, offset.key, due, content)
                future.append(due)
            else:
                past.append((due, offset, content))
        past.sort(key=lambda item: item[0])
        catch_up = None
        if past and first_sight and not changed_now:
            due = apply_quiet_hours(self.now, c.start_at, c.zone, quiet, self.now)
            if due is not None and not any(f - due < CATCH_UP_GAP for f in future):
                catch_up = (due, *past[-1][1:])
                past = past[:-1]
        for due, offset, content in past:
            self._add(c, flow, "reminder", offset.key, offset.key, due, content,
                      "suppressed", "too late")
        if catch_up is not None:
            due, offset, content = catch_up
            self._add(c, flow, "reminder", offset.key, offset.key, due, content)
            if content["status"] == "planned":
                self.inserts[-1]["status_reason"] = "late: planned after its time"

    def _old_start(self, c: Candidate, group: list[Existing], reschedules: list):
        """The start the party knew before, if the hearing moved (outbox, then changes)."""
        told = [e for e in group if e.hearing_start_at != c.start_at and e.kind != "cancelled"
                and e.status in (*PENDING, "sent")]
        if told:
            return max(told, key=lambda e: e.created_at).hearing_start_at
        moves = [(seen, old) for old, new, seen in reschedules
                 if new == c.start_at and old != c.start_at and old > seen]
        return max(moves)[1] if moves else None

    # -- the pass ----------------------------------------------------------------------------
    def run(self) -> PlanResult:
        until = self.now + timedelta(days=self.config.horizon_days)
        candidates = load_candidates(self.con, self.agency, self.now, until)
        self.result.candidates = len(candidates)
        hearing_ids = sorted({c.hearing_id for c in candidates})
        existing = load_existing(self.con, self.agency.id, hearing_ids)
        reschedules = load_reschedules(self.con, self.agency.id, hearing_ids)
        replaced = load_replacements(self.con, self.agency.id, hearing_ids)
        candidates = [dataclasses.replace(c, replaced_by=replaced.get(c.hearing_id))
                      if c.hearing_id in replaced else c for c in candidates]
        party_ids = sorted({c.party_id for c in candidates})
        contacts = load_contacts(self.con, self.agency.id, party_ids)
        self.retired = load_retired(self.con, self.agency.id, party_ids)
        opt_outs = load_opt_outs(self.con, self.agency.id)
        touched: set[tuple[str, str, str]] = set()
        for c in candidates:
            for flow in self.config.flows:
                if not (flow.matches_role(c.role)
                        and flow.matches_type(c.hearing_type, c.hearing_type_code)):
                    continue
                touched.add((c.hearing_id, c.party_id, flow.name))
                group = [e for e in existing.get(c.hearing_id, [])
                         if e.party_id == c.party_id and e.flow == flow.name]
                recipient = choose_recipient(
                    flow, self.config, c.party_id, contacts.get(c.party_id, []), opt_outs
                )
                moves = [*reschedules.get((c.hearing_id, None), []),
                         *reschedules.get((c.hearing_id, c.party_id), [])]
                self.plan_group(c, flow, group, moves, recipient)
        for hearing_id, rows in existing.items():
            for e in rows:
                if e.status in PENDING and (hearing_id, e.party_id, e.flow) not in touched:
                    self.suppress.setdefault(e.message_id, "no longer planned")
        self._write()
        return self.result

    def _write(self) -> None:
        result = self.result
        self.con.begin()
        try:
            if self.inserts:
                frame = pd.DataFrame(self.inserts, columns=list(OUTBOX_COLUMNS))
                frame["segments"] = frame["segments"].astype("Int64")
                self.con.register("_new_outbox", frame)
                self.con.execute(
                    "INSERT OR IGNORE INTO reminder_outbox BY NAME SELECT * FROM _new_outbox"
                )
                self.con.unregister("_new_outbox")
            if self.updates:
                frame = pd.DataFrame(self.updates, columns=["message_id", *REFRESHED])
                frame["segments"] = frame["segments"].astype("Int64")
                self.con.register("_upd_outbox", frame)
                sets = ", ".join(f"{col} = u.{col}" for col in REFRESHED)
                self.con.execute(
                    f"UPDATE reminder_outbox o SET {sets}, updated_at = now() FROM _upd_outbox u "
                    "WHERE o.message_id = u.message_id AND o.status IN ('planned', 'ready')"
                )
                self.con.unregister("_upd_outbox")
            if self.suppress:
                frame = pd.DataFrame(
                    {"message_id": list(self.suppress), "reason": list(self.suppress.values())}
                )
                self.con.register("_sup_outbox", frame)
                self.con.execute(
                    "UPDATE reminder_outbox o SET status = 'suppressed', status_reason = s.reason, "
                    "updated_at = now() FROM _sup_outbox s "
                    "WHERE o.message_id = s.message_id AND o.status IN ('planned', 'ready')"
                )
                self.con.unregister("_sup_outbox")
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        for row in self.inserts:
            result.inserted[row["status"]] += 1
            if row["status"] == "suppressed":
                result.suppressed_reasons[row["status_reason"]] += 1
                continue
            result.planned_kinds[row["kind"]] += 1
            result.languages[row["language"]] += 1
            if row["preferred_language"] and row["preferred_language"] != row["language"]:
                result.fallbacks[row["preferred_language"]] += 1
            if row["channel"] == "sms":
                result.segments[row["segments"]] += 1
                result.encodings[row["encoding"]] += 1
                flow = next(f for f in self.config.flows if f.name == row["flow"])
                result.over_segment_limit += int(row["segments"] > flow.max_sms_segments)
        for reason in self.suppress.values():
            result.suppressed_reasons[reason] += 1
        result.refreshed = len(self.updates)
        result.new_rows = self.inserts


def plan_reminders(
    con: duckdb.DuckDBPyConnection,
    agency: Agency,
    config: RemindersConfig,
    *,
    now: datetime | None = None,
    templates: TemplateSet | None = None,
) -> PlanResult:
    """Refresh the STOP list, then plan, refresh and suppress the agency's messages."""
    as_of = _utc(now) if now is not None else datetime.now(UTC)
    party_opt_outs = sync_party_opt_outs(con, agency.id)
    replies = config.replies_path
    imports = import_reply_folder(con, agency.id, replies) if replies else []
    planner = _Planner(con, agency, config, templates or TemplateSet(config), as_of)
    result = planner.run()
    result.party_opt_outs = party_opt_outs
    result.reply_imports = imports
    return result

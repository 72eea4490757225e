"""What planning reads: one consistent snapshot of an agency's warehouse rows.

Reading is separated from planning so the warehouse writer lock is held only to copy a few
set-based query results out as Arrow tables (:func:`read_raw`) and, later, to write the
difference (``outbox.write_plan``); deciding (``groups``, ``setplan``, ``planner``) happens
with the lock released. Every lookup is a join on
the candidate ids (a ``list_contains`` over a 150,000-id list parameter was quadratic), and
outbox rows are read without their content: their ``input_digest`` says whether today's
inputs would render them differently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from court_pipeline.registry import Agency
from court_pipeline.reminders.templates import display_name
from court_pipeline.reminders.timing import localize

REFRESHED = (
    "case_number",
    "channel",
    "recipient",
    "preferred_language",
    "language",
    "template",
    "subject",
    "body",
    "segments",
    "encoding",
)


class Candidate(NamedTuple):
    """One party on one hearing, with everything a message needs (a named tuple: one is
    built per party and hearing, 150,000 a pass for a large agency)."""

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


class Existing(NamedTuple):
    """An outbox row already there (what it was rendered from, not its content). A named
    tuple: a rerun builds one per outbox row (541,200 at 150,000 hearings), and a frozen
    dataclass cost three times as much to build."""

    message_id: str
    dedupe_key: str
    party_id: str
    flow: str
    kind: str
    hearing_start_at: datetime
    status: str
    created_at: datetime
    recipient: str | None
    input_digest: str | None = None  # what it was rendered from (None: before the column)


def _utc_list(values: list[datetime | None]) -> list[datetime | None]:
    """:func:`as_utc` over a column, without a call per value."""
    return [
        v if v is None else v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
        for v in values
    ]


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def zone_for(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """The court's zone by name; the agency's when it is blank or unknown."""
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


_CANDIDATES_SELECT = """
WITH cs AS (
    SELECT * FROM cases WHERE agency_id = $agency
    QUALIFY row_number() OVER (PARTITION BY case_id ORDER BY updated_at DESC) = 1
), cn AS (
    SELECT * FROM cases WHERE agency_id = $agency AND case_number IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY case_number ORDER BY updated_at DESC) = 1
), cpr AS (
    SELECT case_id, party_id, min(role) AS role FROM case_parties
    WHERE agency_id = $agency GROUP BY case_id, party_id
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
"""
_CANDIDATES_SQL = (
    _CANDIDATES_SELECT
    + """
WHERE h.agency_id = $agency AND (
    (h.start_at > $now AND h.start_at <= $until)
    OR (h.start_at IS NULL AND h.start_local BETWEEN $now_naive - INTERVAL 2 DAY
                                             AND $until_naive + INTERVAL 2 DAY)
    OR h.hearing_id IN (SELECT DISTINCT hearing_id FROM reminder_outbox
                        WHERE agency_id = $agency AND status IN ('planned', 'ready'))
)
"""
)  # no ORDER BY: build_candidates sorts, after the lock is released
# The same inputs for the (hearing_id, party_id) pairs of stored messages (registered as
# _render_keys): what rendering a message at delivery or review reads.
KEYED_CANDIDATES_SQL = (
    _CANDIDATES_SELECT
    + """
JOIN (SELECT DISTINCT hearing_id, party_id FROM _render_keys) k
  ON k.hearing_id = h.hearing_id AND k.party_id = hp.party_id
WHERE h.agency_id = $agency
"""
)


def _rows(table: pa.Table) -> Iterator[tuple]:
    """Rows of an Arrow table as tuples (column-wise conversion: no per-row dicts)."""
    return zip(*(column.to_pylist() for column in table.columns), strict=True)


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: object) -> pa.Table:
    return con.sql(sql, params=params).to_arrow_table()


def _candidate(row: tuple, agency: Agency) -> Candidate | None:
    """One candidate row -> :class:`Candidate` (None when it has no start time at all)."""
    (
        hearing_id,
        party_id,
        role,
        case_number,
        htype,
        htype_code,
        status,
        start_utc,
        start_local,
        tz_name,
        location,
        courtroom,
        judge,
        removed,
        first_name,
        business,
        language,
        payment_status,
        amount_due,
    ) = row
    zone = zone_for(tz_name, agency.zone)
    start = as_utc(start_utc) or (localize(start_local, zone) if start_local else None)
    if start is None:
        return None  # no time: nothing can be scheduled (the loaders reject such rows)
    return Candidate(
        hearing_id=hearing_id,
        party_id=party_id,
        role=role,
        case_number=case_number,
        hearing_type=htype,
        hearing_type_code=htype_code,
        status=status,
        start_at=start,
        zone=zone,
        location=location,
        courtroom=courtroom,
        judge=judge,
        removed=bool(removed),
        name=display_name(first_name, business),
        preferred_language=normalize_language(language),
        payment_status=payment_status,
        amount_due=amount_due,
    )


def normalize_language(language: str | None) -> str | None:
    """' ES ' -> 'es'; blank -> None (the planner then uses the default language)."""
    return (language or "").strip().lower() or None


def build_candidates(table: pa.Table, agency: Agency) -> list[Candidate]:
    """Candidate rows -> :class:`Candidate` (rows without any start time are dropped)."""
    out = [c for row in _rows(table) if (c := _candidate(row, agency)) is not None]
    out.sort(key=lambda c: (c.hearing_id, c.party_id))
    return out


def candidates_at(table: pa.Table, agency: Agency, rows: list[int]) -> dict[int, Candidate]:
    """The candidates at these row numbers of the snapshot's candidate table, by row number:
    the planner builds objects only for the groups it plans message by message."""
    wanted = sorted(set(rows))
    if not wanted:
        return {}
    picked = table.take(pa.array(wanted, pa.int64()))
    out = {}
    for index, row in zip(wanted, _rows(picked), strict=True):
        candidate = _candidate(row, agency)
        if candidate is not None:
            out[index] = candidate
    return out


# ord: the order recipients are tried in within a phone type (newest first)
_CONTACTS_SQL = """
SELECT party_id, kind, value, coalesce(phone_type, 'unknown') AS phone_type,
       row_number() OVER (ORDER BY party_id, coalesce(source_modified_at, updated_at) DESC,
                          value) AS ord
FROM contacts JOIN (SELECT DISTINCT party_id FROM _plan_candidates) USING (party_id)
WHERE agency_id = $agency AND status = 'valid' AND value IS NOT NULL
"""
_OPT_OUTS_SQL = """
SELECT DISTINCT channel, party_id, recipient FROM reminder_opt_outs WHERE agency_id = $agency
"""
_RETIRED_SQL = """
SELECT party_id, value, arg_max(retired_reason, retired_at) AS reason
FROM contacts JOIN (SELECT DISTINCT party_id FROM _plan_candidates) USING (party_id)
WHERE agency_id = $agency AND status = 'retired' AND value IS NOT NULL
GROUP BY party_id, value
"""
_EXISTING_SQL = """
SELECT hearing_id, message_id, dedupe_key, party_id, flow, kind,
       timezone('UTC', hearing_start_at) AS hearing_start_utc, status,
       timezone('UTC', created_at) AS created_utc,
       CASE WHEN status IN ('planned', 'ready') THEN recipient END AS recipient,
       CASE WHEN status IN ('planned', 'ready') THEN input_digest END AS input_digest
FROM reminder_outbox JOIN (SELECT DISTINCT hearing_id FROM _plan_candidates) USING (hearing_id)
WHERE agency_id = $agency
"""  # history rows need no recipient or digest: they never change
# A 'rescheduled' row (the same hearing moved) holds for every party of the hearing (party
# NULL); a 'reset' row (a new hearing replacing an old one, see records.resets) holds for the
# parties that were on the old hearing too.
_RESCHEDULES_SQL = """
SELECT hc.hearing_id, NULL::VARCHAR AS party_id, timezone('UTC', hc.old_start_at),
       timezone('UTC', hc.new_start_at), timezone('UTC', hc.changed_at)
FROM hearing_changes hc JOIN (SELECT DISTINCT hearing_id FROM _plan_candidates) USING (hearing_id)
WHERE hc.agency_id = $agency AND hc.change_kind = 'rescheduled'
  AND hc.old_start_at IS NOT NULL AND hc.new_start_at IS NOT NULL
UNION ALL
SELECT hc.hearing_id, hp.party_id, timezone('UTC', hc.old_start_at),
       timezone('UTC', hc.new_start_at), timezone('UTC', hc.changed_at)
FROM hearing_changes hc JOIN (SELECT DISTINCT hearing_id FROM _plan_candidates) USING (hearing_id)
JOIN hearing_parties hp ON hp.agency_id = hc.agency_id AND hp.hearing_id = hc.linked_hearing_id
WHERE hc.agency_id = $agency AND hc.change_kind = 'reset'
  AND hc.old_start_at IS NOT NULL AND hc.new_start_at IS NOT NULL
"""
# old hearing -> the new hearing that replaced it
_REPLACEMENTS_SQL = """
SELECT linked_hearing_id, max(hc.hearing_id) FROM hearing_changes hc
JOIN (SELECT DISTINCT hearing_id FROM _plan_candidates) p
  ON p.hearing_id = hc.linked_hearing_id
WHERE hc.agency_id = $agency AND hc.change_kind = 'reset' GROUP BY 1
"""


@dataclass
class RawSnapshot:
    """What planning reads, as Arrow tables: copied out of the warehouse under the lock and
    planned from after it is released (``groups`` joins them in an in-memory DuckDB)."""

    candidates: pa.Table
    existing: pa.Table
    reschedules: pa.Table
    replacements: pa.Table
    contacts: pa.Table
    retired: pa.Table
    opt_outs: pa.Table  # channel ('sms', 'email' or 'all'), party_id, recipient


@dataclass
class Snapshot:
    """The lookups the message-by-message planner needs, as Python objects."""

    reschedules: dict[tuple[str, str | None], list] = field(default_factory=dict)
    retired: dict[tuple[str, str], str] = field(default_factory=dict)
    replaced: dict[str, str] = field(default_factory=dict)  # old hearing -> its reset's new one
    existing_table: pa.Table | None = None  # the outbox rows of the candidates' hearings

    def existing_for(self, hearing_ids: set[str]) -> dict[str, list[Existing]]:
        """The outbox rows of these hearings as objects, by hearing. Only the groups planned
        message by message need them: building one per outbox row cost a rerun seconds."""
        table = self.existing_table
        if table is None or table.num_rows == 0 or not hearing_ids:
            return {}
        wanted = pa.array(sorted(hearing_ids), pa.string())
        table = table.filter(pc.is_in(table["hearing_id"], value_set=wanted))
        existing: dict[str, list[Existing]] = defaultdict(list)
        columns = [column.to_pylist() for column in table.columns]
        columns[6], columns[8] = _utc_list(columns[6]), _utc_list(columns[8])
        for hearing_id, *fields in zip(*columns, strict=True):
            existing[hearing_id].append(Existing(*fields))
        return existing


def read_raw(
    con: duckdb.DuckDBPyConnection, agency: Agency, now: datetime, horizon_days: int
) -> RawSnapshot:
    """Read what planning needs (candidates in the horizon, plus hearings with pending
    messages) in one read transaction, so every table is seen as of the same moment."""
    until = now + timedelta(days=horizon_days)
    con.begin()
    try:
        candidates = _arrow(
            con,
            _CANDIDATES_SQL,
            {
                "agency": agency.id,
                "now": now,
                "until": until,
                "now_naive": now.astimezone(agency.zone).replace(tzinfo=None),
                "until_naive": until.astimezone(agency.zone).replace(tzinfo=None),
            },
        )
        con.register("_plan_candidates", candidates)
        try:
            agency_param = {"agency": agency.id}
            return RawSnapshot(
                candidates=candidates,
                existing=_arrow(con, _EXISTING_SQL, agency_param),
                reschedules=_arrow(con, _RESCHEDULES_SQL, agency_param),
                replacements=_arrow(con, _REPLACEMENTS_SQL, agency_param),
                contacts=_arrow(con, _CONTACTS_SQL, agency_param),
                retired=_arrow(con, _RETIRED_SQL, agency_param),
                opt_outs=_arrow(con, _OPT_OUTS_SQL, agency_param),
            )
        finally:
            con.unregister("_plan_candidates")
    finally:
        con.rollback()  # read only


def build_snapshot(raw: RawSnapshot) -> Snapshot:
    """The small lookups as Python objects (no warehouse access: runs without the lock)."""
    reschedules: dict[tuple[str, str | None], list] = defaultdict(list)
    for hearing_id, party_id, old, new, seen in _rows(raw.reschedules):
        reschedules[(hearing_id, party_id)].append((as_utc(old), as_utc(new), as_utc(seen)))
    retired = {(party_id, value): why for party_id, value, why in _rows(raw.retired)}
    return Snapshot(reschedules, retired, dict(_rows(raw.replacements)), raw.existing)

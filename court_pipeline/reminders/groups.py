"""The groups of a planning pass, decided in DuckDB from the snapshot's Arrow tables.

A group is one party on one hearing under one flow. What a group's messages depend on
besides its offsets (which flows cover it, its recipient, template file and language, and
the part of the input digest its messages share) is computed for every group at once, in
an in-memory DuckDB that holds the snapshot read under the lock. The rules written in
Python (time zones, flow matching, statuses, template lookup) run once per distinct value
and join in as small tables, so a 150,000-hearing pass builds no Python object per group:
only the groups the message-by-message planner has to see (moved, cancelled, past, or with
a message whose inputs changed) become :class:`Candidate` objects.

Recipient choice, the rule the docs state: a flow tries its channels in order; SMS goes to
the party's valid phones whose type ``sms_phone_types`` lists, in that list's order and
newest first within a type; email to valid emails, newest first. A contact the STOP list
blocks (the party, or that number or address) is skipped; nobody left means "opted out"
when something was skipped, else "no contact".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from court_pipeline.registry import Agency
from court_pipeline.reminders.flows import RemindersConfig
from court_pipeline.reminders.snapshot import (
    Candidate,
    RawSnapshot,
    candidates_at,
    normalize_language,
    zone_for,
)
from court_pipeline.reminders.templates import TemplateError, TemplateSet, template_error_reason

CHANNEL_KINDS = {"sms": "phone", "email": "email"}  # the contacts.kind each channel sends to
OPTED_OUT = "opted out"  # a contact existed, but the STOP list blocks every one
NO_CONTACT = "no contact"


@dataclass(frozen=True)
class Group:
    """A group the message-by-message planner plans (what SQL decided for it)."""

    candidate: Candidate
    flow_index: int
    recipient: tuple[str | None, str | None, str | None]  # (channel, value, why none)
    base: str  # the digest part its messages share


def arrow_rows(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table of ``schema`` (column-wise: no per-row dicts)."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.table(
        [pa.array(list(col), f.type) for col, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _part(expr: str) -> str:
    """One field of the digest text (chr(30) marks NULL; fields are joined by chr(31))."""
    return f"coalesce(CAST({expr} AS VARCHAR), chr(30))"


# what a message is rendered from besides its kind and offset: equal text, equal message
_BASE_FIELDS = (
    "$version",
    "m.flow",
    "rc.channel",
    "rc.recipient",
    "rc.reason",
    "c.pref_norm",
    "c.zone_name",
    "c.start_utc",
    "c.start_local",
    "$agency_name",
    "c.first_name",
    "c.business_name",
    "c.hearing_type",
    "c.location",
    "c.courtroom",
    "c.judge",
    "c.case_number",
    "c.payment_status",
    "c.amount_due",
)

_RECIPIENTS_SQL = """
CREATE TEMP TABLE recipients AS
SELECT party_id, fi, CASE WHEN NOT blocked THEN channel END AS channel,
       CASE WHEN NOT blocked THEN value END AS recipient,
       CASE WHEN blocked THEN $opted_out END AS reason
FROM (
    SELECT g.party_id, g.fi, fc.channel, fc.crank, ct.value, ct.ord,
           coalesce(r.trank, 0) AS trank,
           op.party_id IS NOT NULL OR orc.recipient IS NOT NULL AS blocked
    FROM (SELECT DISTINCT c.party_id, m.fi FROM cand c JOIN flow_match m
          ON m.role IS NOT DISTINCT FROM c.role
          AND m.hearing_type IS NOT DISTINCT FROM c.hearing_type
          AND m.hearing_type_code IS NOT DISTINCT FROM c.hearing_type_code) g
    JOIN flow_channels fc ON fc.fi = g.fi
    JOIN contacts_in ct ON ct.party_id = g.party_id AND ct.kind = fc.kind
    LEFT JOIN sms_ranks r ON fc.channel = 'sms' AND r.phone_type = ct.phone_type
    LEFT JOIN opt_parties op ON op.channel = fc.channel AND op.party_id = g.party_id
    LEFT JOIN opt_recipients orc ON orc.channel = fc.channel AND orc.recipient = ct.value
    WHERE fc.channel <> 'sms' OR r.trank IS NOT NULL
)
QUALIFY row_number() OVER (PARTITION BY party_id, fi ORDER BY blocked, crank, trank, ord) = 1
"""

_GROUPS_SQL = f"""
CREATE TEMP TABLE grp AS
WITH c AS (
    SELECT c.*, z.zone_name, l.pref_norm FROM cand c
    JOIN zones z ON z.tz_key = coalesce(c.court_timezone, '')
    JOIN langs l ON l.lang_raw IS NOT DISTINCT FROM c.preferred_language
    WHERE c.start_utc IS NOT NULL OR c.start_local IS NOT NULL
), moved AS (
    SELECT DISTINCT hearing_id, party_id FROM resched_in
)
SELECT c.cid * $flow_count + m.fi AS gid,
       c.cid, c.hearing_id, c.party_id, m.fi, m.flow, c.start_utc, c.zone_name,
       c.case_number, c.pref_norm AS preferred_language, rc.channel, rc.recipient,
       CASE WHEN rc.channel IS NULL THEN coalesce(rc.reason, $no_contact) END AS reason,
       pk.language, pk.template, pk.error,
       (c.start_utc IS NOT NULL AND c.start_utc > $now AND NOT c.removed AND st.active
        AND NOT EXISTS (SELECT 1 FROM repl_in r WHERE r.linked_hearing_id = c.hearing_id)
        AND NOT EXISTS (SELECT 1 FROM moved x WHERE x.hearing_id = c.hearing_id
                        AND (x.party_id IS NULL OR x.party_id = c.party_id))) AS simple,
       md5(concat_ws(chr(31), {", ".join(_part(f) for f in _BASE_FIELDS)})) AS base
FROM c
JOIN flow_match m ON m.role IS NOT DISTINCT FROM c.role
 AND m.hearing_type IS NOT DISTINCT FROM c.hearing_type
 AND m.hearing_type_code IS NOT DISTINCT FROM c.hearing_type_code
JOIN states st ON st.status IS NOT DISTINCT FROM c.status AND st.fi = m.fi
LEFT JOIN recipients rc ON rc.party_id = c.party_id AND rc.fi = m.fi
LEFT JOIN picks pk ON pk.pref_norm IS NOT DISTINCT FROM c.pref_norm AND pk.fi = m.fi
 AND pk.channel = rc.channel
QUALIFY row_number() OVER (PARTITION BY c.hearing_id, c.party_id, m.fi ORDER BY c.cid) = 1
"""  # the merge keeps (hearing, party) unique (check keys_unique); one group each, whatever


class PassGroups:
    """The groups of one pass in an in-memory DuckDB (``grp``), next to the snapshot's
    tables: ``cand``, ``e_in`` (outbox rows), ``resched_in``, ``repl_in``."""

    def __init__(
        self,
        raw: RawSnapshot,
        agency: Agency,
        config: RemindersConfig,
        templates: TemplateSet,
        now: datetime,
    ) -> None:
        self.raw, self.agency, self.config = raw, agency, config
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        candidates = raw.candidates.append_column(
            "cid", pa.array(np.arange(raw.candidates.num_rows, dtype=np.int64))
        )
        for name, table in (
            ("cand", candidates),
            ("e_in", raw.existing),
            ("resched_in", raw.reschedules),
            ("repl_in", raw.replacements),
            ("contacts_in", raw.contacts),
            ("opt_in", raw.opt_outs),
            ("retired_in", raw.retired),
        ):
            self.con.register(name, table)
        self._lookups(templates)
        self.con.execute(_RECIPIENTS_SQL, {"opted_out": OPTED_OUT})
        self.con.execute(
            _GROUPS_SQL,
            {
                "now": now.astimezone(UTC).replace(tzinfo=None),
                "version": templates.version,
                "agency_name": agency.name,
                "flow_count": len(config.flows),
                "no_contact": NO_CONTACT,
            },
        )
        row = self.con.execute(
            "SELECT count(*) FROM cand WHERE start_utc IS NOT NULL OR start_local IS NOT NULL"
        ).fetchone()
        self.candidate_count = int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()

    def _distinct(self, columns: str) -> list[tuple]:
        return self.con.execute(f"SELECT DISTINCT {columns} FROM cand").fetchall()

    def _lookups(self, templates: TemplateSet) -> None:
        """The Python rules, once per distinct value, as tables the group query joins."""
        con, flows, agency = self.con, self.config.flows, self.agency
        text, flag, index = pa.string(), pa.bool_(), pa.int64()
        zones = list(  # keyed by '' for NULL and '' alike: one row per key
            {
                tz or "": str(zone_for(tz, agency.zone))
                for (tz,) in self._distinct("court_timezone")
            }.items()
        )
        langs = [(raw, normalize_language(raw)) for (raw,) in self._distinct("preferred_language")]
        match = [
            (role, htype, code, fi, flow.name)
            for role, htype, code in self._distinct("role, hearing_type, hearing_type_code")
            for fi, flow in enumerate(flows)
            if flow.matches_role(role) and flow.matches_type(htype, code)
        ]
        states = [
            (status, fi, flow.status_state(status)[0] == "active")
            for (status,) in self._distinct("status")
            for fi, flow in enumerate(flows)
        ]
        picks = []
        for pref in sorted({norm for _, norm in langs}, key=lambda v: v or ""):
            for fi, flow in enumerate(flows):
                for channel in CHANNEL_KINDS:
                    try:
                        language, template = templates.pick(flow, "reminder", pref, channel)
                        error = None
                    except TemplateError as exc:
                        language = template = None
                        error = template_error_reason(exc)
                    picks.append((pref, fi, channel, language, template, error))
        channels = [
            (fi, channel, CHANNEL_KINDS[channel], rank)
            for fi, flow in enumerate(flows)
            for rank, channel in enumerate(flow.channels)
        ]
        ranks = [(t, rank) for rank, t in enumerate(self.config.sms_phone_types)]
        for name, rows, names, types in (
            ("zones", zones, ["tz_key", "zone_name"], [text, text]),
            ("langs", langs, ["lang_raw", "pref_norm"], [text, text]),
            (
                "flow_match",
                match,
                ["role", "hearing_type", "hearing_type_code", "fi", "flow"],
                [text, text, text, index, text],
            ),
            ("states", states, ["status", "fi", "active"], [text, index, flag]),
            (
                "picks",
                picks,
                ["pref_norm", "fi", "channel", "language", "template", "error"],
                [text, index, text, text, text, text],
            ),
            (
                "flow_channels",
                channels,
                ["fi", "channel", "kind", "crank"],
                [index, text, text, index],
            ),
            ("sms_ranks", ranks, ["phone_type", "trank"], [text, index]),
        ):
            con.register(name, arrow_rows(rows, pa.schema(list(zip(names, types, strict=True)))))
        for name, column in (("opt_parties", "party_id"), ("opt_recipients", "recipient")):
            con.execute(
                f"CREATE TEMP TABLE {name} AS SELECT DISTINCT ch.channel, o.{column} "
                "FROM opt_in o JOIN (VALUES ('sms'), ('email')) ch(channel) "
                f"ON o.channel IN (ch.channel, 'all') WHERE o.{column} IS NOT NULL"
            )

    def simple_starts(self) -> list[tuple[int, datetime, str]]:
        """(flow index, start, zone name) of the simple groups: what their due times need."""
        return [
            (fi, start.replace(tzinfo=UTC), zone)
            for fi, start, zone in self.con.execute(
                "SELECT DISTINCT fi, start_utc, zone_name FROM grp WHERE simple ORDER BY ALL"
            ).fetchall()
        ]

    def planned_one_by_one(self, which: str, replaced: dict[str, str]) -> list[Group]:
        """The groups ``which`` (a WHERE clause on ``grp``) names, as objects, in the order
        of hearing, party and flow."""
        rows = self.con.execute(
            "SELECT cid, fi, channel, recipient, reason, base FROM grp "
            f"WHERE {which} ORDER BY hearing_id, party_id, fi"
        ).fetchall()
        candidates = self.candidates([r[0] for r in rows])
        out = []
        for cid, fi, channel, recipient, reason, base in rows:
            c = candidates[cid]
            if c.hearing_id in replaced:
                c = c._replace(replaced_by=replaced[c.hearing_id])
            out.append(Group(c, fi, (channel, recipient, reason), base))
        return out

    def candidates(self, cids: list[int]) -> dict[int, Candidate]:
        return candidates_at(self.raw.candidates, self.agency, cids)

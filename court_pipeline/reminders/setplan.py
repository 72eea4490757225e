"""Set-based planning of the common groups: offsets x groups as one DuckDB query.

Most (hearing, party, flow) groups of a pass are simple: a scheduled hearing in the future,
never moved, that either has no outbox rows yet (first sight) or has exactly the rows of
its current start. For those, what the planner decides per message depends on the group
only through the values ``groups`` computes for it (recipient, language, template, the
shared part of the input digest) and on the hearing start only through the due times of
the flow's offsets (computed in Python once per flow, start and zone). This module expands
them into messages, dedupe keys, message ids (uuid5, computed in SQL) and input digests,
and compares them with the outbox rows, in one query each. Every other group (moved,
cancelled, past, or with a message whose inputs changed) is planned message by message in
Python.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import duckdb
import pyarrow as pa

from court_pipeline.reminders.groups import NO_CONTACT


# the uuid5 of a dedupe key, computed in SQL from h = sha1(namespace bytes + key): version 5
# and the RFC 4122 variant set in the hex digits (see uuid.uuid5); '89ab' repeated maps a hex
# digit d to the variant digit 8 + (d & 3)
def _namespace_blob(namespace: uuid.UUID) -> str:
    return "'" + "".join(f"\\x{b:02X}" for b in namespace.bytes) + "'::BLOB"


_UUID5_FROM_H = (
    "substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-5' || substr(h, 14, 3) || '-' || "
    "substr('89ab89ab89ab89ab', strpos('0123456789abcdef', substr(h, 17, 1)), 1) || "
    "substr(h, 18, 3) || '-' || substr(h, 21, 12)"
)


LATE = "late: planned after its time"  # the catch-up message of a late first sight
RETIRED = "recipient retired ({}); no current contact"  # {}: why the contact was retired


STEP_SCHEMA = pa.schema(
    [
        ("tid", pa.int64()),
        ("seq", pa.int64()),
        ("offset_key", pa.string()),
        ("days", pa.int64()),
        ("due_at", pa.timestamp("us", tz="UTC")),
        ("o_status", pa.string()),
        ("o_reason", pa.string()),
        ("catch_up", pa.bool_()),
    ]
)
TIMES_SCHEMA = pa.schema(
    [
        ("fi", pa.int64()),
        ("start_utc", pa.timestamp("us")),
        ("zone_name", pa.string()),
        ("tid", pa.int64()),
    ]
)


def _key_sql(agency_id: str) -> str:
    quoted = agency_id.replace("'", "''")
    return (
        f"'{quoted}|' || g.hearing_id || '|' || g.party_id || '|' || g.flow || '|' "
        "|| s.offset_key || '|' || strftime(g.start_utc, '%Y-%m-%dT%H:%MZ')"
    )


def expand(
    con: duckdb.DuckDBPyConnection,
    steps: pa.Table,
    times: pa.Table,
    agency_id: str,
    namespace: uuid.UUID,
    now: datetime,
) -> pa.Table:
    """The new outbox rows of the simple first-sight groups of ``grp`` (with their ``cid``,
    ``fi`` and ``seq``, in no order),
    from the offset plans ``steps`` of each (flow, start, zone) in ``times``. Leaves in
    ``stale`` the simple groups the message-by-message planner must plan: a group with
    outbox rows needs nothing when all of them are for its current start and every
    offset's message is there and is history or has today's input digest; a group with
    rows for another start (it moved) always goes there. (A pending message whose inputs
    changed is refreshed set-based too, see :func:`refreshes`.)"""
    con.register("s_in", steps)
    con.register("t_in", times)
    key = _key_sql(agency_id)
    digest = "md5(g.base || '|reminder|' || s.offset_key || '|' || s.days::VARCHAR || '|')"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gstat AS SELECT g.gid, count(e.hearing_id) AS n, "
        "count(e.hearing_id) FILTER (WHERE e.hearing_start_utc <> g.start_utc) AS other "
        "FROM grp g LEFT JOIN e_in e ON e.hearing_id = g.hearing_id "
        "AND e.party_id = g.party_id AND e.flow = g.flow WHERE g.simple GROUP BY g.gid"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW expanded AS SELECT g.*, st.n = 0 AS fresh, s.seq, "
        f"s.offset_key, s.days, s.due_at, s.o_status, s.o_reason, s.catch_up, "
        f"{key} AS dedupe_key, {digest} AS digest "
        "FROM grp g JOIN gstat st USING (gid) JOIN t_in t USING (fi, start_utc, zone_name) "
        "JOIN s_in s USING (tid) WHERE st.other = 0"
    )
    # the messages of groups that have outbox rows, next to their rows (one join, read by
    # ``stale`` here and by ``refreshes``)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE seen AS SELECT x.gid, x.party_id, x.case_number, "
        "x.channel, x.recipient, x.preferred_language, x.language, x.template, x.reason, "
        "x.error, x.digest, e.dedupe_key IS NOT NULL AS matched, e.message_id, "
        "e.status AS e_status, e.input_digest AS e_digest, e.recipient AS e_recipient "
        "FROM expanded x LEFT JOIN e_in e ON e.dedupe_key = x.dedupe_key WHERE NOT x.fresh"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stale AS SELECT gid FROM gstat WHERE other > 0 UNION "
        "SELECT gid FROM seen GROUP BY gid HAVING NOT bool_and(matched)"
    )
    # content: no recipient or no template means suppressed with that reason (``_message``)
    return con.sql(
        f"""
        SELECT {_UUID5_FROM_H} AS message_id, dedupe_key,
               $agency AS agency_id, hearing_id, party_id, case_number, flow,
               'reminder' AS kind, offset_key, timezone('UTC', start_utc) AS hearing_start_at,
               channel, recipient, preferred_language, language, template,
               NULL::VARCHAR AS subject, NULL::VARCHAR AS body, NULL::INTEGER AS segments,
               NULL::VARCHAR AS encoding, due_at,
               coalesce(o_status, CASE WHEN channel IS NULL OR error IS NOT NULL
                                       THEN 'suppressed' ELSE 'planned' END) AS status,
               CASE WHEN o_status IS NOT NULL THEN o_reason
                    WHEN channel IS NULL THEN reason
                    WHEN error IS NOT NULL THEN error
                    WHEN catch_up THEN $late END AS status_reason,
               0 AS attempts, $now AS created_at, $now AS updated_at,
               digest AS input_digest, cid, fi, seq
        FROM (SELECT *, sha1({_namespace_blob(namespace)} || encode(dedupe_key)) AS h
              FROM expanded WHERE fresh)
        ORDER BY gid, seq
        """,
        params={"agency": agency_id, "now": now, "late": LATE},
    ).to_arrow_table()


def refreshes(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The pending messages of the simple groups planned here (see :func:`expand`) whose
    inputs changed: their new content (``message_id``, the refreshed columns and
    ``input_digest``), or ``suppress_reason`` when they can no longer go (no recipient, or
    no template; a recipient that was retired says so), as ``_Planner._refresh`` does."""
    return con.sql(
        """
        SELECT x.message_id, x.case_number, x.channel, x.recipient, x.preferred_language,
               x.language, x.template, NULL::VARCHAR AS subject, NULL::VARCHAR AS body,
               NULL::INTEGER AS segments, NULL::VARCHAR AS encoding, x.digest AS input_digest,
               CASE WHEN x.channel IS NULL AND x.reason = $no_contact AND r.reason IS NOT NULL
                    THEN replace($retired, '{}', r.reason)
                    WHEN x.channel IS NULL THEN x.reason
                    ELSE x.error END AS suppress_reason
        FROM seen x
        LEFT JOIN retired_in r ON r.party_id = x.party_id AND r.value = x.e_recipient
        WHERE x.matched AND x.gid NOT IN (SELECT gid FROM stale)
          AND x.e_status IN ('planned', 'ready') AND x.e_digest IS DISTINCT FROM x.digest
        """,
        params={"no_contact": NO_CONTACT, "retired": RETIRED},
    ).to_arrow_table()


def untouched_pending(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Message ids of pending outbox rows whose (hearing, party, flow) no flow plans now."""
    return [
        r[0]
        for r in con.execute(
            "SELECT e.message_id FROM e_in e WHERE e.status IN ('planned', 'ready') AND NOT "
            "EXISTS (SELECT 1 FROM grp g WHERE g.hearing_id = e.hearing_id AND "
            "g.party_id = e.party_id AND g.flow = e.flow) ORDER BY e.message_id"
        ).fetchall()
    ]


def first_planned(con: duckdb.DuckDBPyConnection, rows: pa.Table, limit: int) -> list[dict]:
    """The first ``limit`` planned rows in the order of hearing, party, flow and offset:
    the ones the metadata preview renders (the same ones on every run)."""
    con.register("planned_rows", rows)
    return (
        con.sql(
            "SELECT * FROM planned_rows WHERE status = 'planned' "
            "ORDER BY hearing_id, party_id, fi, seq LIMIT $limit",
            params={"limit": limit},
        )
        .to_arrow_table()
        .to_pylist()
    )


def count_rows(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> list[tuple]:
    """(status, reason if suppressed, kind, language, preferred language, rows) over
    set-based rows: what ``_Planner.count`` tallies, grouped."""
    con.register("counted", rows)
    return con.execute(
        "SELECT status, CASE WHEN status = 'suppressed' THEN status_reason END, kind, "
        "language, preferred_language, count(*) FROM counted GROUP BY ALL"
    ).fetchall()

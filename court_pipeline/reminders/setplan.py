"""Set-based planning of the common groups: offsets x groups as one DuckDB query.

Most (hearing, party, flow) groups of a pass are simple: a scheduled hearing in the future,
never moved, that either has no outbox rows yet (first sight) or has exactly the rows of
its current start. For those, what the planner decides per message depends on the group
only through a few values (recipient, language, template, the shared part of the input
digest) and on the hearing start only through the due times of the flow's offsets. The
planner computes those per group (and the due times once per start), and this module
expands them into messages, dedupe keys, message ids (uuid5, computed in SQL) and input
digests, and compares them with the outbox rows, in one query each. Every other group
(moved, cancelled, past, or with a message whose inputs changed) is planned message by
message in Python, as before.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

import duckdb
import pyarrow as pa

# the uuid5 of a dedupe key, computed in SQL: sha1(namespace bytes + key), version 5 and the
# RFC 4122 variant set in the hex digits (see uuid.uuid5)
_HEX = "'0123456789abcdef'"


def _uuid5_sql(namespace: uuid.UUID, column: str) -> str:
    blob = "".join(f"\\x{b:02X}" for b in namespace.bytes)
    h = f"sha1('{blob}'::BLOB || encode({column}))"
    return (
        f"(SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-5' || substr(h, 14, 3) || '-'"
        f" || substr('89ab', ((strpos({_HEX}, substr(h, 17, 1)) - 1) & 3) + 1, 1)"
        f" || substr(h, 18, 3) || '-' || substr(h, 21, 12) FROM (SELECT {h} AS h))"
    )


GROUP_SCHEMA = pa.schema(
    [
        ("gid", pa.int64()),
        ("hearing_id", pa.string()),
        ("party_id", pa.string()),
        ("flow", pa.string()),
        ("start_at", pa.timestamp("us", tz="UTC")),
        ("minute", pa.string()),
        ("case_number", pa.string()),
        ("channel", pa.string()),
        ("recipient", pa.string()),
        ("preferred_language", pa.string()),
        ("language", pa.string()),
        ("template", pa.string()),
        ("c_status", pa.string()),
        ("c_reason", pa.string()),
        ("base", pa.string()),
        ("tid", pa.int64()),
    ]
)
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


def _key_sql(agency_id: str) -> str:
    quoted = agency_id.replace("'", "''")
    return (
        f"'{quoted}|' || g.hearing_id || '|' || g.party_id || '|' || g.flow || '|' "
        "|| s.offset_key || '|' || g.minute"
    )


def expand(
    groups: pa.Table,
    steps: pa.Table,
    existing: pa.Table,
    agency_id: str,
    namespace: uuid.UUID,
    now: datetime,
) -> tuple[pa.Table, list[int]]:
    """(new outbox rows of the first-sight groups, gids of the groups the Python planner
    must plan). A group with outbox rows needs nothing when all of them are for its current
    start and every offset's message is there and is history or has today's input digest;
    a group with rows for another start (it moved) always goes to the Python planner."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("g_in", groups)
        con.register("s_in", steps)
        con.register("e_in", existing)
        key = _key_sql(agency_id)
        digest = "md5(g.base || '|reminder|' || s.offset_key || '|' || s.days::VARCHAR || '|')"
        con.execute(
            "CREATE TEMP TABLE gstat AS SELECT g.gid, count(e.hearing_id) AS n, "
            "count(e.hearing_id) FILTER (WHERE e.hearing_start_utc <> "
            "timezone('UTC', g.start_at)) AS other FROM g_in g LEFT JOIN e_in e "
            "ON e.hearing_id = g.hearing_id AND e.party_id = g.party_id AND e.flow = g.flow "
            "GROUP BY g.gid"
        )
        con.execute(
            f"CREATE TEMP TABLE expanded AS SELECT g.*, st.n = 0 AS fresh, s.seq, s.offset_key, "
            f"s.days, s.due_at, s.o_status, s.o_reason, s.catch_up, {key} AS dedupe_key, "
            f"{digest} AS digest FROM g_in g JOIN gstat st USING (gid) JOIN s_in s USING (tid) "
            "WHERE st.other = 0"
        )
        stale = [
            r[0]
            for r in con.execute(
                "SELECT gid FROM gstat WHERE other > 0 UNION "
                "SELECT x.gid FROM expanded x LEFT JOIN e_in e ON e.dedupe_key = x.dedupe_key "
                "WHERE NOT x.fresh GROUP BY x.gid HAVING NOT bool_and(e.dedupe_key IS NOT NULL "
                "AND (e.status NOT IN ('planned', 'ready') OR "
                "coalesce(e.input_digest = x.digest, false))) ORDER BY 1"
            ).fetchall()
        ]
        rows = con.sql(
            f"""
            SELECT {_uuid5_sql(namespace, "dedupe_key")} AS message_id, dedupe_key,
                   $agency AS agency_id, hearing_id, party_id, case_number, flow,
                   'reminder' AS kind, offset_key, start_at AS hearing_start_at, channel,
                   recipient, preferred_language, language, template,
                   NULL::VARCHAR AS subject, NULL::VARCHAR AS body, NULL::INTEGER AS segments,
                   NULL::VARCHAR AS encoding, due_at,
                   coalesce(o_status, c_status) AS status,
                   CASE WHEN o_status IS NOT NULL THEN o_reason
                        WHEN catch_up AND c_status = 'planned'
                        THEN 'late: planned after its time'
                        ELSE c_reason END AS status_reason,
                   0 AS attempts, $now AS created_at, $now AS updated_at,
                   digest AS input_digest, gid
            FROM expanded WHERE fresh
            QUALIFY row_number() OVER (PARTITION BY dedupe_key ORDER BY gid, seq) = 1
            ORDER BY gid, seq
            """,
            params={"agency": agency_id, "now": now},
        ).to_arrow_table()
        return rows, stale
    finally:
        con.close()


def untouched_pending(existing: pa.Table | None, touched: tuple[list, list, list]) -> list[str]:
    """Message ids of pending outbox rows whose (hearing, party, flow) no flow plans now."""
    if existing is None or existing.num_rows == 0:
        return []
    groups = pa.table(
        {
            "hearing_id": pa.array(touched[0], pa.string()),
            "party_id": pa.array(touched[1], pa.string()),
            "flow": pa.array(touched[2], pa.string()),
        }
    )
    con = duckdb.connect()
    try:
        con.register("e_in", existing)
        con.register("t_in", groups)
        return [
            r[0]
            for r in con.execute(
                "SELECT e.message_id FROM e_in e WHERE e.status IN ('planned', 'ready') AND NOT "
                "EXISTS (SELECT 1 FROM t_in t WHERE t.hearing_id = e.hearing_id AND "
                "t.party_id = e.party_id AND t.flow = e.flow) ORDER BY e.message_id"
            ).fetchall()
        ]
    finally:
        con.close()


def count_rows(rows: pa.Table) -> dict[str, Counter]:
    """The planner's counters over set-based rows (see ``_Planner.count``)."""
    con = duckdb.connect()
    try:
        con.register("r", rows)
        out: dict[str, Counter] = {
            "inserted": Counter(),
            "suppressed": Counter(),
            "kinds": Counter(),
            "languages": Counter(),
            "fallbacks": Counter(),
        }
        for status, reason, kind, language, preferred, n in con.execute(
            "SELECT status, CASE WHEN status = 'suppressed' THEN status_reason END, kind, "
            "language, preferred_language, count(*) FROM r GROUP BY ALL"
        ).fetchall():
            out["inserted"][status] += n
            if status == "suppressed":
                out["suppressed"][reason] += n
                continue
            out["kinds"][kind] += n
            out["languages"][language] += n
            if preferred and preferred != language:
                out["fallbacks"][preferred] += n
        return out
    finally:
        con.close()

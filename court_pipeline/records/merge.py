"""Upsert records from either source into the clean tables, with a documented precedence.

Both the ECR file path and the Odyssey API path call :func:`merge_records`, so one agency can
use both and the same Odyssey ids land on the same rows. Per field:

* the row with the newer ``source_modified_at`` wins; when either time is unknown or they are
  equal, the Odyssey API wins over an ECR file (the API is the system of record, the file a
  report of it);
* the winner's NULL does not erase a value the other source provided (an ECR file carries no
  charges or birth dates), but the same source sending NULL clears the field (a phone that was
  removed in Odyssey is removed here);
* columns a frame does not carry are never touched.

Everything runs as set-based SQL inside the caller's connection, so a million-row file is a
handful of statements, not a Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

SOURCE_RANK = {"ecr": 1, "odyssey_api": 2}
BOOKKEEPING = ("agency_id", "source", "source_ref", "first_seen_at", "updated_at")


@dataclass(frozen=True)
class MergeStats:
    """What one merge did to one table."""

    inserted: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def table_layout(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], dict[str, str]]:
    """Primary-key columns and {column: type} of a warehouse table."""
    types = {
        name: dtype
        for name, dtype in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE table_name = ? AND schema_name = 'main' ORDER BY column_index",
            [table],
        ).fetchall()
    }
    if not types:
        raise ValueError(f"no warehouse table named {table!r}")
    keys = first_row(
        con,
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    )
    if not keys:
        raise ValueError(f"table {table!r} has no primary key to merge on")
    return list(keys[0]), types


def first_row(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence | None = None
) -> tuple | None:
    """The first row of a query, fetching the whole result (DuckDB 2 refuses new work on a
    connection while a result is only partly fetched)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence | None = None) -> object:
    """The single value of a one-row, one-column query."""
    row = first_row(con, sql, params)
    return row[0] if row else None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key_match(keys: Sequence[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{_q(k)} = {right}.{_q(k)}" for k in keys)


def merge_records(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame | pa.Table,
    *,
    agency_id: str,
    source: str,
    source_ref: str,
) -> MergeStats:
    """Upsert ``frame`` into ``table`` for one agency; see the module docstring for precedence."""
    if source not in SOURCE_RANK:
        raise ValueError(f"unknown source {source!r}; expected one of {sorted(SOURCE_RANK)}")
    keys, types = table_layout(con, table)
    columns = list(frame.column_names if isinstance(frame, pa.Table) else frame.columns)
    unknown = [c for c in columns if c not in types]
    if unknown:
        raise ValueError(f"{table}: unknown columns {unknown}")
    data_keys = [k for k in keys if k != "agency_id"]
    missing = [k for k in data_keys if k not in columns]
    if missing:
        raise ValueError(f"{table}: frame lacks key columns {missing}")
    if (len(frame) if isinstance(frame, pd.DataFrame) else frame.num_rows) == 0:
        return MergeStats(0, 0, 0)

    carried = [c for c in columns if c not in BOOKKEEPING]
    has_modified = "source_modified_at" in carried
    data_cols = [c for c in carried if c not in keys and c != "source_modified_at"]

    con.register("_merge_frame", frame)
    try:
        select = ", ".join(f"CAST({_q(c)} AS {types[c]}) AS {_q(c)}" for c in carried)
        order = "source_modified_at DESC NULLS LAST" if has_modified else "1"
        partition = ", ".join(_q(k) for k in data_keys)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _incoming AS
            SELECT ?::VARCHAR AS agency_id, {select},
                   ?::VARCHAR AS source, ?::VARCHAR AS source_ref
            FROM _merge_frame
            QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {order}) = 1
            """,
            [agency_id, source, source_ref],
        )
    finally:
        con.unregister("_merge_frame")

    if not has_modified:
        con.execute("ALTER TABLE _incoming ADD COLUMN source_modified_at TIMESTAMPTZ")
    match = _key_match(keys, "t", "i")
    rank_i = f"(CASE i.source WHEN 'odyssey_api' THEN {SOURCE_RANK['odyssey_api']} ELSE 1 END)"
    rank_t = f"(CASE t.source WHEN 'odyssey_api' THEN {SOURCE_RANK['odyssey_api']} ELSE 1 END)"
    wins = (
        "(i.source_modified_at > t.source_modified_at OR "
        "((i.source_modified_at IS NULL OR t.source_modified_at IS NULL "
        f"OR i.source_modified_at = t.source_modified_at) AND {rank_i} >= {rank_t}))"
    )

    def merged(col: str) -> str:
        c = _q(col)
        return (
            f"CASE WHEN {wins} THEN (CASE WHEN i.source = t.source THEN i.{c} "
            f"ELSE coalesce(i.{c}, t.{c}) END) ELSE coalesce(t.{c}, i.{c}) END"
        )

    merged_cols = ", ".join(f"{merged(c)} AS {_q(c)}" for c in data_cols)
    changed = " OR ".join(f"({merged(c)}) IS DISTINCT FROM t.{_q(c)}" for c in data_cols) or "false"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _merged AS
        SELECT {", ".join(f"i.{_q(k)}" for k in keys)}
               {"," if merged_cols else ""} {merged_cols},
               CASE WHEN {wins} THEN i.source ELSE t.source END AS source,
               CASE WHEN {wins} THEN i.source_ref ELSE t.source_ref END AS source_ref,
               greatest(i.source_modified_at, t.source_modified_at) AS source_modified_at,
               ({changed}) AS _changed
        FROM _incoming i JOIN {_q(table)} t ON {match}
        """
    )

    if table == "hearings":
        _log_hearing_changes(con, keys, source, source_ref)

    all_cols = ["agency_id", *[c for c in carried], "source", "source_ref"]
    if not has_modified:
        all_cols.append("source_modified_at")
    col_list = ", ".join(_q(c) for c in all_cols)
    inserted = con.execute(
        f"""
        INSERT INTO {_q(table)} ({col_list})
        SELECT {col_list} FROM _incoming i
        WHERE NOT EXISTS (SELECT 1 FROM {_q(table)} t WHERE {match})
        """
    ).fetchall()[0][0]
    set_cols = [*data_cols, "source", "source_ref", "source_modified_at"]
    assignments = ", ".join(f"{_q(c)} = m.{_q(c)}" for c in set_cols)
    updated = con.execute(
        f"""
        UPDATE {_q(table)} AS t SET {assignments}, updated_at = now()
        FROM _merged m WHERE {_key_match(keys, "t", "m")} AND m._changed
        """
    ).fetchall()[0][0]
    total_existing = scalar(con, "SELECT count(*) FROM _merged")
    if table == "hearings":
        con.execute(
            f"""
            UPDATE hearings AS t SET removed_at = NULL, removed_reason = NULL
            FROM _incoming i
            WHERE {match} AND t.removed_at IS NOT NULL AND coalesce(t.status, '') <> 'Removed'
            """
        )
    con.execute("DROP TABLE IF EXISTS _incoming")
    con.execute("DROP TABLE IF EXISTS _merged")
    return MergeStats(int(inserted), int(updated), int(total_existing - updated))


def _log_hearing_changes(
    con: duckdb.DuckDBPyConnection, keys: Sequence[str], source: str, source_ref: str
) -> None:
    """Record new hearings, reschedules and status changes before the update applies them."""
    columns = {r[0] for r in con.execute("DESCRIBE _merged").fetchall()}
    match = _key_match(keys, "t", "i")
    con.execute(
        f"""
        INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, new_status, new_start_at,
                                     reason, source, source_ref)
        SELECT i.agency_id, i.hearing_id, 'new', {"i.status" if "status" in columns else "NULL"},
               {"i.start_at" if "start_at" in columns else "NULL"}, 'first seen', ?, ?
        FROM _incoming i WHERE NOT EXISTS (SELECT 1 FROM hearings t WHERE {match})
        """,
        [source, source_ref],
    )
    if "start_at" in columns:
        con.execute(
            """
            INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, old_status, new_status,
                                         old_start_at, new_start_at, reason, source, source_ref)
            SELECT t.agency_id, t.hearing_id, 'rescheduled', t.status, m.status,
                   t.start_at, m.start_at, 'start time changed', ?, ?
            FROM _merged m JOIN hearings t USING (agency_id, hearing_id)
            WHERE m.start_at IS DISTINCT FROM t.start_at AND t.start_at IS NOT NULL
              AND m.start_at IS NOT NULL
            """
            if "status" in columns
            else """
            INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, old_start_at,
                                         new_start_at, reason, source, source_ref)
            SELECT t.agency_id, t.hearing_id, 'rescheduled', t.start_at, m.start_at,
                   'start time changed', ?, ?
            FROM _merged m JOIN hearings t USING (agency_id, hearing_id)
            WHERE m.start_at IS DISTINCT FROM t.start_at AND t.start_at IS NOT NULL
              AND m.start_at IS NOT NULL
            """,
            [source, source_ref],
        )
    if "status" in columns:
        con.execute(
            """
            INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, old_status, new_status,
                                         old_start_at, new_start_at, reason, source, source_ref)
            SELECT t.agency_id, t.hearing_id, 'status', t.status, m.status,
                   t.start_at, t.start_at, 'status changed', ?, ?
            FROM _merged m JOIN hearings t USING (agency_id, hearing_id)
            WHERE m.status IS DISTINCT FROM t.status
            """,
            [source, source_ref],
        )


def mark_hearings_removed(
    con: duckdb.DuckDBPyConnection,
    agency_id: str,
    hearing_ids: Sequence[str],
    reason: str,
    source: str,
    source_ref: str,
) -> int:
    """Mark hearings as removed (kept, with when and why) instead of deleting them."""
    if not hearing_ids:
        return 0
    con.register("_removed_ids", pa.table({"hearing_id": pa.array(list(hearing_ids), pa.string())}))
    try:
        con.execute(
            """
            INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, old_status, new_status,
                                         old_start_at, new_start_at, reason, source, source_ref)
            SELECT h.agency_id, h.hearing_id, 'removed', h.status, 'Removed',
                   h.start_at, h.start_at, ?, ?, ?
            FROM hearings h JOIN _removed_ids r USING (hearing_id)
            WHERE h.agency_id = ? AND h.removed_at IS NULL
            """,
            [reason, source, source_ref, agency_id],
        )
        return int(
            con.execute(
                """
                UPDATE hearings SET status = 'Removed', removed_at = now(), removed_reason = ?,
                       source_ref = ?, updated_at = now()
                WHERE agency_id = ? AND removed_at IS NULL
                  AND hearing_id IN (SELECT hearing_id FROM _removed_ids)
                """,
                [reason, source_ref, agency_id],
            ).fetchall()[0][0]
        )
    finally:
        con.unregister("_removed_ids")

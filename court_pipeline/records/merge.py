"""Upsert records from either source into the clean tables, with a documented precedence.

Both the ECR file path and the Odyssey API path call :func:`merge_records`, so one agency can
use both and the same Odyssey ids land on the same rows. Per field:

* the row with the newer ``source_modified_at`` wins; when either time is unknown or they are
  equal, the Odyssey API wins over an ECR file (the API is the system of record, the file a
  report of it);
* the winner's NULL does not erase a value the other source provided (an ECR file carries no
  charges or birth dates), but the same source sending NULL clears the field (a courtroom
  that was emptied in Odyssey is emptied here);
* columns a frame does not carry are never touched;
* a row may say which of its columns the source did not send at all (``ABSENT_COLUMN``, e.g.
  an Odyssey element missing from a partial reply, or an attorney's birth date that an ECR
  row never carries): those are unknown, so the row leaves them as they are, while a column
  the source sent empty is cleared. The parsers decide absent vs empty; the merge applies it
  the same way to every column.

Everything runs as set-based SQL inside the caller's connection, so a million-row file is a
handful of statements, not a Python loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

SOURCE_RANK = {"ecr": 1, "odyssey_api": 2}
# Optional frame column: '|col|col|' names the row's columns its source did not send
# (unknown, not empty). NULL or '' = every carried column was sent.
ABSENT_COLUMN = "_absent"
BOOKKEEPING = ("agency_id", "source", "source_ref", "first_seen_at", "updated_at")
# The clean tables' keys. The six core tables carry no PRIMARY KEY (see 10_core.sql: an ART
# index cost 40% of a big file's write); this merge is what keeps each key once per agency.
# Tables not listed here fall back to their declared primary key.
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "parties": ("agency_id", "party_id"),
    "contacts": ("agency_id", "contact_id"),
    "cases": ("agency_id", "case_id"),
    "case_parties": ("agency_id", "case_id", "party_id", "role"),
    "hearings": ("agency_id", "hearing_id"),
    "hearing_parties": ("agency_id", "hearing_id", "party_id"),
}


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
    """Key columns (RECORD_KEYS, else the primary key) and {column: type} of a table."""
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
    if table in RECORD_KEYS:
        return list(RECORD_KEYS[table]), types
    keys = first_row(
        con,
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    )
    if not keys:
        raise ValueError(f"table {table!r} has no primary key to merge on")
    return list(keys[0]), types


def duplicate_keys(
    con: duckdb.DuckDBPyConnection, table: str, agency_ids: str | Sequence[str],
    limit: int = 1000,
) -> pd.DataFrame:
    """Keys of ``table`` stored more than once for an agency, with their copies (the core
    tables have no primary key: this is how a broken merge would show)."""
    agencies = [agency_ids] if isinstance(agency_ids, str) else list(agency_ids)
    cols = ", ".join(_q(k) for k in RECORD_KEYS[table] if k != "agency_id")
    return con.execute(
        f"SELECT agency_id, {cols}, count(*) AS copies FROM {_q(table)} "
        f"WHERE list_contains(?, agency_id) GROUP BY agency_id, {cols} "
        f"HAVING count(*) > 1 ORDER BY agency_id, {cols} LIMIT {int(limit)}",
        [agencies],
    ).fetchdf()


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


def _lit(value: str) -> str:
    """A SQL string literal (agency id and source ref are inlined into temp views)."""
    return "'" + str(value).replace("'", "''") + "'"


def _frame_rows(frame: pd.DataFrame | pa.Table) -> int:
    return len(frame) if isinstance(frame, pd.DataFrame) else frame.num_rows


def merge_records(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame | pa.Table,
    *,
    agency_id: str,
    source: str,
    source_ref: str,
    unique_keys: bool = False,
) -> MergeStats:
    """Upsert ``frame`` into ``table`` for one agency; see the module docstring for precedence.

    ``unique_keys=True`` is the caller's promise that the frame holds each key once (the ECR
    normalizer already keeps the file's last line per key): it skips the duplicate check, a
    hash aggregate over the whole frame. A broken promise would store a key twice, which the
    ``keys_unique`` asset check (:func:`duplicate_keys`) reports after the run.

    Cost model (why it is shaped like this): the frame is read in place (an Arrow table or
    DataFrame registered on the connection, no staging copy) unless it has duplicate keys.
    When the agency has no rows in ``table`` yet, everything is new: one ``INSERT ... SELECT``
    (plus the 'new' hearing_changes rows), no join at all. Otherwise one join with the target
    computes every merged column, the ``_changed`` flag and (for hearings) the old status and
    start time once, into ``_merged``; inserts use an anti-join, updates touch changed rows only.
    """
    if source not in SOURCE_RANK:
        raise ValueError(f"unknown source {source!r}; expected one of {sorted(SOURCE_RANK)}")
    keys, types = table_layout(con, table)
    columns = list(frame.column_names if isinstance(frame, pa.Table) else frame.columns)
    has_absent = ABSENT_COLUMN in columns
    columns = [c for c in columns if c != ABSENT_COLUMN]
    unknown = [c for c in columns if c not in types]
    if unknown:
        raise ValueError(f"{table}: unknown columns {unknown}")
    data_keys = [k for k in keys if k != "agency_id"]
    missing = [k for k in data_keys if k not in columns]
    if missing:
        raise ValueError(f"{table}: frame lacks key columns {missing}")
    if _frame_rows(frame) == 0:
        return MergeStats(0, 0, 0)

    carried = [c for c in columns if c not in BOOKKEEPING]
    has_modified = "source_modified_at" in carried
    data_cols = [c for c in carried if c not in keys and c != "source_modified_at"]
    select = ", ".join(f"CAST({_q(c)} AS {types[c]}) AS {_q(c)}" for c in carried)
    bookkeeping = f"{_lit(agency_id)}::VARCHAR AS agency_id, {select}, " + (
        f"{_lit(source)}::VARCHAR AS source, {_lit(source_ref)}::VARCHAR AS source_ref"
    ) + ("" if has_modified else ", NULL::TIMESTAMPTZ AS source_modified_at") + (
        f", CAST({_q(ABSENT_COLUMN)} AS VARCHAR) AS {_q(ABSENT_COLUMN)}" if has_absent
        else f", NULL::VARCHAR AS {_q(ABSENT_COLUMN)}")
    partition = ", ".join(_q(k) for k in data_keys)

    con.register("_merge_frame", frame)
    try:
        duplicated = not unique_keys and bool(scalar(
            con, f"SELECT count(*) - count(DISTINCT ({partition})) FROM _merge_frame"))
        if duplicated:  # newest source_modified_at wins; the one staging copy we cannot avoid
            order = "source_modified_at DESC NULLS LAST" if has_modified else "1"
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE _incoming_dedup AS
                SELECT {bookkeeping} FROM _merge_frame
                QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {order}) = 1
                """
            )
            con.execute("CREATE OR REPLACE TEMP VIEW _incoming AS SELECT * FROM _incoming_dedup")
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW _incoming AS SELECT {bookkeeping} "
                        "FROM _merge_frame")
        try:
            existing = first_row(
                con, f"SELECT 1 FROM {_q(table)} WHERE agency_id = ? LIMIT 1", [agency_id])
            if existing is None:
                return _insert_all(con, table, carried, has_modified, source, source_ref)
            return _merge_existing(con, table, keys, data_cols, carried, has_modified, source,
                                   source_ref)
        finally:
            _quietly(con, "DROP VIEW IF EXISTS _incoming")
            _quietly(con, "DROP TABLE IF EXISTS _incoming_dedup")
            _quietly(con, "DROP TABLE IF EXISTS _merged")
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister("_merge_frame")


def _quietly(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Clean-up that must not hide the real error (an aborted transaction refuses any SQL)."""
    with contextlib.suppress(duckdb.Error):
        con.execute(sql)


def _insert_columns(carried: Sequence[str], has_modified: bool) -> str:
    cols = ["agency_id", *carried, "source", "source_ref"]
    if not has_modified:
        cols.append("source_modified_at")
    return ", ".join(_q(c) for c in cols)


def _insert_all(
    con: duckdb.DuckDBPyConnection, table: str, carried: Sequence[str], has_modified: bool,
    source: str, source_ref: str,
) -> MergeStats:
    """The agency has no rows in ``table`` yet: every incoming row is new (no join needed)."""
    if table == "hearings":
        _log_new_hearings(con, carried, source, source_ref, "_incoming i")
    col_list = _insert_columns(carried, has_modified)
    inserted = scalar(con, f"INSERT INTO {_q(table)} ({col_list}) SELECT {col_list} FROM _incoming")
    return MergeStats(int(inserted or 0), 0, 0)


def _merge_existing(
    con: duckdb.DuckDBPyConnection, table: str, keys: Sequence[str], data_cols: Sequence[str],
    carried: Sequence[str], has_modified: bool, source: str, source_ref: str,
) -> MergeStats:
    """Upsert when the agency already has rows: one join computes every merged value once."""
    match = _key_match(keys, "t", "i")
    rank_i = f"(CASE i.source WHEN 'odyssey_api' THEN {SOURCE_RANK['odyssey_api']} ELSE 1 END)"
    rank_t = f"(CASE t.source WHEN 'odyssey_api' THEN {SOURCE_RANK['odyssey_api']} ELSE 1 END)"
    wins = (
        "(i.source_modified_at > t.source_modified_at OR "
        "((i.source_modified_at IS NULL OR t.source_modified_at IS NULL "
        f"OR i.source_modified_at = t.source_modified_at) AND {rank_i} >= {rank_t}))"
    )
    # level 1: the join, with incoming (i_) and current (t_) values side by side and the winner
    pairs = ", ".join(f"i.{_q(c)} AS {_q('i_' + c)}, t.{_q(c)} AS {_q('t_' + c)}"
                      for c in data_cols)
    level1 = (
        f"SELECT {', '.join(f'i.{_q(k)}' for k in keys)}, {pairs}{',' if pairs else ''} "
        f"{wins} AS _wins, i.source = t.source AS _same, "
        "i.source AS i_source, t.source AS t_source, i.source_ref AS i_source_ref, "
        "t.source_ref AS t_source_ref, "
        "greatest(i.source_modified_at, t.source_modified_at) AS source_modified_at, "
        f"coalesce(i.{_q(ABSENT_COLUMN)}, '') AS _absent_cols "
        f"FROM _incoming i JOIN {_q(table)} t ON {match}"
    )

    def merged(col: str) -> str:
        i_c, t_c = _q("i_" + col), _q("t_" + col)
        absent = _lit("|" + col + "|")
        return (f"CASE WHEN contains(_absent_cols, {absent}) THEN {t_c} "
                f"WHEN _wins THEN (CASE WHEN _same THEN {i_c} ELSE coalesce({i_c}, {t_c}) "
                f"END) ELSE coalesce({t_c}, {i_c}) END AS {_q(col)}")

    # level 2: merged values (each CASE once); level 3: _changed against the current values
    level2 = ", ".join(
        [*(_q(k) for k in keys), *(merged(c) for c in data_cols),
         *(_q("t_" + c) for c in data_cols),
         "CASE WHEN _wins THEN i_source ELSE t_source END AS source",
         "CASE WHEN _wins THEN i_source_ref ELSE t_source_ref END AS source_ref",
         "source_modified_at"]
    )
    changed = " OR ".join(f"{_q(c)} IS DISTINCT FROM {_q('t_' + c)}" for c in data_cols) or "false"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _merged AS
        SELECT *, ({changed}) AS _changed FROM (SELECT {level2} FROM ({level1}))
        """
    )
    if table == "hearings":
        _log_new_hearings(
            con, carried, source, source_ref,
            f"_incoming i WHERE NOT EXISTS (SELECT 1 FROM hearings t WHERE {match})",
        )
        _log_hearing_updates(con, data_cols, source, source_ref)
    col_list = _insert_columns(carried, has_modified)
    inserted = scalar(
        con,
        f"""
        INSERT INTO {_q(table)} ({col_list})
        SELECT {col_list} FROM _incoming i
        WHERE NOT EXISTS (SELECT 1 FROM {_q(table)} t WHERE {match})
        """,
    )
    set_cols = [*data_cols, "source", "source_ref", "source_modified_at"]
    assignments = ", ".join(f"{_q(c)} = m.{_q(c)}" for c in set_cols)
    total_existing, n_changed = first_row(
        con, "SELECT count(*), count(*) FILTER (WHERE _changed) FROM _merged") or (0, 0)
    updated = 0
    if n_changed:
        updated = scalar(
            con,
            f"""
            UPDATE {_q(table)} AS t SET {assignments}, updated_at = now()
            FROM _merged m WHERE {_key_match(keys, "t", "m")} AND m._changed
            """,
        )
    if table == "hearings":
        con.execute(
            f"""
            UPDATE hearings AS t SET removed_at = NULL, removed_reason = NULL
            FROM _merged m
            WHERE {_key_match(keys, "t", "m")} AND t.removed_at IS NOT NULL
              AND coalesce(t.status, '') <> 'Removed'
            """
        )
    updated = int(updated or 0)
    return MergeStats(int(inserted or 0), updated, int(total_existing) - updated)


def _log_new_hearings(
    con: duckdb.DuckDBPyConnection, carried: Sequence[str], source: str, source_ref: str,
    new_rows: str,
) -> None:
    """A 'new' hearing_changes row per hearing not seen before (``new_rows`` selects them)."""
    con.execute(
        f"""
        INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, new_status, new_start_at,
                                     reason, source, source_ref)
        SELECT i.agency_id, i.hearing_id, 'new', {"i.status" if "status" in carried else "NULL"},
               {"i.start_at" if "start_at" in carried else "NULL"}, 'first seen', ?, ?
        FROM {new_rows}
        """,
        [source, source_ref],
    )


def _log_hearing_updates(
    con: duckdb.DuckDBPyConnection, data_cols: Sequence[str], source: str, source_ref: str
) -> None:
    """Reschedules and status changes of known hearings, from ``_merged`` (which carries the
    current values as ``t_<column>``), before the update applies them."""
    if "start_at" in data_cols:
        status = "t_status, status" if "status" in data_cols else "NULL, NULL"
        con.execute(
            f"""
            INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, old_status, new_status,
                                         old_start_at, new_start_at, reason, source, source_ref)
            SELECT agency_id, hearing_id, 'rescheduled', {status},
                   t_start_at, start_at, 'start time changed', ?, ?
            FROM _merged
            WHERE start_at IS DISTINCT FROM t_start_at AND t_start_at IS NOT NULL
              AND start_at IS NOT NULL
            """,
            [source, source_ref],
        )
    if "status" in data_cols:
        start = "t_start_at, t_start_at" if "start_at" in data_cols else "h.start_at, h.start_at"
        con.execute(
            f"""
            INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, old_status, new_status,
                                         old_start_at, new_start_at, reason, source, source_ref)
            SELECT m.agency_id, m.hearing_id, 'status', m.t_status, m.status,
                   {start}, 'status changed', ?, ?
            FROM _merged m {"" if "start_at" in data_cols else
                            "JOIN hearings h USING (agency_id, hearing_id)"}
            WHERE m.status IS DISTINCT FROM m.t_status
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

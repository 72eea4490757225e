"""Write one planning pass's difference into ``reminder_outbox``, in one short transaction.

The difference is planned from a snapshot read earlier (``snapshot.read_snapshot``), with the
writer lock released in between, so another run may have moved an outbox row on meanwhile
(delivery sent it, or another planning pass of the same agency inserted it). The writes are
therefore guarded: inserts skip dedupe keys already there, refreshes and suppressions touch
only rows still planned or ready. History (sent, failed, suppressed) never changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from court_pipeline.reminders.snapshot import REFRESHED

OUTBOX_COLUMNS = (
    "message_id",
    "dedupe_key",
    "agency_id",
    "hearing_id",
    "party_id",
    "case_number",
    "flow",
    "kind",
    "offset_key",
    "hearing_start_at",
    "channel",
    "recipient",
    "preferred_language",
    "language",
    "template",
    "subject",
    "body",
    "segments",
    "encoding",
    "due_at",
    "status",
    "status_reason",
    "attempts",
    "created_at",
    "updated_at",
    "input_digest",
)


@dataclass
class PlanDiff:
    """New rows, refreshed content and suppressions (message id -> reason) of one pass."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    suppress: dict[str, str] = field(default_factory=dict)
    extra: pa.Table | None = None  # new rows planned set-based (``setplan``), outbox columns
    extra_updates: pa.Table | None = None  # refreshed set-based: message_id + refreshed columns


_TYPES = {
    "hearing_start_at": pa.timestamp("us", tz="UTC"),
    "due_at": pa.timestamp("us", tz="UTC"),
    "created_at": pa.timestamp("us", tz="UTC"),
    "updated_at": pa.timestamp("us", tz="UTC"),
    "segments": pa.int32(),
    "attempts": pa.int32(),
}


# columns with a handful of distinct values: dictionary-encoded, they are ~40 MB less to copy
# into the outbox under the lock on a 541,200-row first plan (measured 10-20% of the write)
_FEW_VALUES = frozenset(
    {
        "agency_id",
        "flow",
        "kind",
        "offset_key",
        "channel",
        "preferred_language",
        "language",
        "template",
        "encoding",
        "status",
        "status_reason",
        "subject",
    }
)


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pa.Table:
    """Rows as an Arrow table with the outbox types (DuckDB reads Arrow columns directly;
    a pandas frame of Python strings costs a conversion per cell under the lock)."""
    arrays = {}
    for c in columns:
        array = pa.array([row.get(c) for row in rows], _TYPES.get(c, pa.string()))
        arrays[c] = array.dictionary_encode() if c in _FEW_VALUES else array
    return pa.table(arrays)


@dataclass
class PreparedDiff:
    """A :class:`PlanDiff` as frames, built before the writer lock is taken."""

    inserts: pa.Table | None
    updates: pa.Table | None
    suppress: pa.Table | None
    extra: pa.Table | None = None
    extra_updates: pa.Table | None = None


def _first_per_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One insert per dedupe key (the write's anti-join sees the outbox, not the batch)."""
    seen: set[str] = set()
    out = []
    for row in rows:
        if row["dedupe_key"] not in seen:
            seen.add(row["dedupe_key"])
            out.append(row)
    return out


def _typed(table: pa.Table) -> pa.Table:
    """Set-based rows with the types and dictionary encoding of :func:`_frame`."""
    arrays = {}
    for c in OUTBOX_COLUMNS:
        array = table[c].cast(_TYPES.get(c, pa.string()))
        arrays[c] = array.dictionary_encode() if c in _FEW_VALUES else array
    return pa.table(arrays)


def prepare(diff: PlanDiff) -> PreparedDiff:
    """Arrow tables for :func:`write_plan` (built outside the lock)."""
    return PreparedDiff(
        _frame(_first_per_key(diff.inserts), list(OUTBOX_COLUMNS)) if diff.inserts else None,
        _frame(diff.updates, ["message_id", *REFRESHED, "input_digest"]) if diff.updates else None,
        pa.table(
            {
                "message_id": pa.array(list(diff.suppress), pa.string()),
                "reason": pa.array(list(diff.suppress.values()), pa.string()),
            }
        )
        if diff.suppress
        else None,
        _typed(diff.extra) if diff.extra is not None else None,
        diff.extra_updates,
    )


def write_plan(con: duckdb.DuckDBPyConnection, diff: PlanDiff | PreparedDiff) -> None:
    """Apply ``diff`` atomically (all of it or none)."""
    frames = prepare(diff) if isinstance(diff, PlanDiff) else diff
    con.begin()
    try:
        for inserts in (frames.inserts, frames.extra):
            if inserts is None:
                continue
            # an anti-join, not INSERT OR IGNORE: the outbox has no ART index to ignore on
            # (see 60_reminders.sql); a hash join on the keys is what keeps them unique
            con.register("_new_outbox", inserts)
            con.execute(
                "INSERT INTO reminder_outbox BY NAME SELECT * FROM _new_outbox n WHERE NOT EXISTS "
                "(SELECT 1 FROM reminder_outbox o WHERE o.agency_id = n.agency_id "
                "AND o.dedupe_key = n.dedupe_key)"
            )
            con.unregister("_new_outbox")
        pending = "o.status IN ('planned', 'ready')"
        refreshed = ", ".join(f"{col} = u.{col}" for col in (*REFRESHED, "input_digest"))
        for updates in (frames.updates, frames.extra_updates):
            if updates is not None:
                update_outbox(con, updates, f"{refreshed}, updated_at = now()", pending)
        if frames.suppress is not None:
            update_outbox(
                con,
                frames.suppress,
                "status = 'suppressed', status_reason = u.reason, updated_at = now()",
                pending,
            )
        con.commit()
    except BaseException:
        con.rollback()
        raise


def update_outbox(
    con: duckdb.DuckDBPyConnection, rows: pa.Table, assignments: str, guard: str = "true"
) -> None:
    """One set-based UPDATE of the outbox rows named in ``rows`` (alias ``u``; the outbox is
    ``o``) that ``guard`` allows: the outbox has no key index, so a statement per message id
    would scan the table once per message.

    The rows are applied in the outbox's storage order (by rowid, looked up in the same
    transaction): DuckDB applies an ``UPDATE ... FROM`` in the join's order, and out of
    storage order 495,300 refreshed messages took 167 s under the writer lock (0.6 s in
    order, measured with ``bench/reminders_plan.py``)."""
    con.register("_outbox_updates", rows)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _outbox_rowids AS SELECT o.rowid AS _rid, u.* "
            "FROM _outbox_updates u JOIN reminder_outbox o ON o.message_id = u.message_id "
            f"WHERE {guard} ORDER BY _rid"
        )
        con.execute(
            f"UPDATE reminder_outbox o SET {assignments} FROM _outbox_rowids u "
            "WHERE o.rowid = u._rid"
        )
    finally:
        con.execute("DROP TABLE IF EXISTS _outbox_rowids")
        con.unregister("_outbox_updates")

"""Change detection and crash-safe bookkeeping for OCA publishing.

``oca_published_state`` remembers, per (entity type, county, recordid, environment), a hash
of every field as the service last ACCEPTED it. A run compares the validated dataset rows with
it: new records go whole, changed records go as key fields plus the changed fields (a field
that became empty goes as JSON null), records gone from the source go as deletes, unchanged
records are not sent.

Crash safety: every envelope is written to ``oca_envelopes`` (status 'pending') with its
records in ``oca_envelope_items`` BEFORE the request leaves; the state changes only in the
same transaction that marks the envelope acknowledged. An envelope left 'pending' by a dead
process (or 'failed' with no definite answer) may or may not have been applied, so its records
are flagged ``needs_full_resend`` and the next run sends them whole; sends are idempotent by
recordid and a repeated delete answers 404, which counts as done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from court_pipeline.publish.envelopes import KEY_FIELDS, Change, Envelope
from court_pipeline.publish.target import Target, check_target

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


def canonical(value: Any) -> Any:
    """The JSON value a dataset cell is sent as; equal facts give equal values across runs."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return value
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, list | dict):  # numpy scalars
        return canonical(value.item())
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


def _tagged(values: list[Any]) -> np.ndarray:
    """Type-tagged text of canonical values, so 1, 1.5, "1" and null all hash apart."""
    return np.array(
        ["s" + v if type(v) is str else f"{type(v).__name__}:{v!r}" for v in values],
        dtype=object,
    )


def column_hashes(values: list[Any]) -> np.ndarray:
    """64-bit hashes of one column's canonical values (pandas' stable, vectorized hash)."""
    if not values:
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_array(_tagged(values))


def field_hash(value: Any) -> int:
    """The hash of one canonical value, as stored in ``field_hashes``."""
    return int(column_hashes([value])[0])


def _canonical_column(series: pd.Series) -> list[Any]:
    """Canonical values of one column (fast paths for dates and strings)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        text = series.dt.strftime("%Y-%m-%d")
        return [None if pd.isna(v) else v for v in text.astype(object).tolist()]
    out: list[Any] = []
    for value in series.astype(object).tolist():
        if type(value) is str:
            out.append(value or None)
        elif value is None:
            out.append(None)
        else:
            out.append(canonical(value))
    return out


@dataclass
class Rejected:
    """A source row that cannot be planned (no recordid, wrong county, duplicate...)."""

    recordid: str
    reason_kind: str
    reason: str


@dataclass
class ChangePlan:
    """What one run must send for one entity type and county."""

    entity_type: str
    county: str
    publisher: str
    new: list[Change] = field(default_factory=list)
    updates: list[Change] = field(default_factory=list)
    deletes: list[Change] = field(default_factory=list)
    kept_upstream: list[str] = field(default_factory=list)  # held back by the datasets: no delete
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def changes(self) -> list[Change]:
        return [*self.new, *self.updates, *self.deletes]

    def summary(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "updates": len(self.updates),
            "deletes": len(self.deletes),
            "kept_held_upstream": len(self.kept_upstream),
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
        }


def _reject_reasons(
    recordids: list[Any], counties: list[Any], publishers: list[Any], county: str, publisher: str
) -> tuple[list[bool], list[Rejected]]:
    """Which rows can be planned; the others with their reason."""
    keep, rejected, seen = [], [], set()
    for recordid, row_county, row_publisher in zip(recordids, counties, publishers, strict=True):
        reason = None
        if recordid is None:
            reason = Rejected("", "invalid", "row has no recordid")
        elif row_county not in (None, county):
            reason = Rejected(str(recordid), "wrong_county", f"row is for county {row_county!r}, "
                              f"the credential publishes {county!r}")
        elif row_publisher not in (None, publisher):
            reason = Rejected(str(recordid), "wrong_publisher", f"row names publisher "
                              f"{row_publisher!r}, the agency publishes as {publisher!r}")
        elif str(recordid) in seen:
            reason = Rejected(str(recordid), "duplicate", "recordid appears twice in the source")
        if reason is None:
            seen.add(str(recordid))
        else:
            rejected.append(reason)
        keep.append(reason is None)
    return keep, rejected


def plan_changes(
    con: duckdb.DuckDBPyConnection,
    entity_type: str,
    county: str,
    publisher: str,
    current: pd.DataFrame,
    *,
    environment: str = "staging",
) -> ChangePlan:
    """Compare the validated rows of one entity type and county with what was accepted.

    ``current`` holds the contract's columns (recordid, county, publisher, ...), one row per
    record, and is the whole current truth for the county (records missing from it are
    deleted). ``publisher`` comes from the credential and fills rows that lack it.

    Vectorized: every column is hashed at once, a row hash settles unchanged records, and the
    per-field comparison runs only for the records whose row hash moved.
    """
    plan = ChangePlan(entity_type, county, publisher)
    n = len(current)
    values = {str(c): _canonical_column(current[c]) for c in current.columns}
    for key in KEY_FIELDS:
        values.setdefault(key, [None] * n)
    keep, plan.rejected = _reject_reasons(
        values["recordid"], values["county"], values["publisher"], county, publisher
    )
    kept = [i for i in range(n) if keep[i]]
    columns = sorted(values)
    values = {c: [values[c][i] for i in kept] for c in columns}
    values["recordid"] = [str(v) for v in values["recordid"]]
    values["county"] = [county] * len(kept)
    values["publisher"] = [publisher] * len(kept)
    matrix = np.column_stack([column_hashes(values[c]) for c in columns]) if kept else (
        np.zeros((0, len(columns)), dtype=np.uint64))
    row_hash = pd.util.hash_pandas_object(pd.DataFrame(matrix), index=False).to_numpy()

    state = con.execute(
        "SELECT recordid, publisher, record_hash, needs_full_resend FROM oca_published_state "
        "WHERE entity_type = ? AND county = ? AND environment = ?",
        [entity_type, county, environment],
    ).fetchdf()
    position = {rid: i for i, rid in enumerate(values["recordid"])}
    state_hash = dict(zip(state["recordid"], state["record_hash"], strict=True))
    full = set(state.loc[state["needs_full_resend"].astype(bool), "recordid"])

    def record(i: int) -> dict[str, Any]:
        return {c: values[c][i] for c in columns}

    def hashes(i: int) -> dict[str, int]:
        return dict(zip(columns, matrix[i].tolist(), strict=True))

    moved: list[int] = []
    for i, recordid in enumerate(values["recordid"]):
        old = state_hash.get(recordid)
        if old is None:
            plan.new.append(Change(entity_type, "new", record(i), hashes(i), int(row_hash[i])))
        elif recordid in full:
            plan.updates.append(
                Change(entity_type, "update", record(i), hashes(i), int(row_hash[i]))
            )
        elif int(old) == int(row_hash[i]):
            plan.unchanged += 1
        else:
            moved.append(i)
    old_fields = _old_field_hashes(con, entity_type, county, environment,
                                   [values["recordid"][i] for i in moved])
    for i in moved:
        old = old_fields.get(values["recordid"][i], {})
        new = hashes(i)
        changed = [
            c for c in columns
            if c not in KEY_FIELDS and new[c] != old.get(c)
            and not (c not in old and values[c][i] is None)  # a new contract field, still empty
        ]
        if changed:
            data = {k: values[k][i] for k in KEY_FIELDS} | {c: values[c][i] for c in changed}
            plan.updates.append(Change(entity_type, "update", data, new, int(row_hash[i])))
        else:
            plan.unchanged += 1
    publishers = dict(zip(state["recordid"], state["publisher"], strict=True))
    held_upstream = _held_back_by_datasets(con, entity_type)
    for recordid in state["recordid"]:
        if recordid in position:
            continue
        if recordid in held_upstream:
            # Missing because the OCA dataset held it back (a broken code map, a bad value),
            # not because it left the source: deleting it at OCA would lose a real record.
            plan.kept_upstream.append(recordid)
            continue
        keys = {"recordid": recordid, "county": county, "publisher": publishers[recordid]}
        plan.deletes.append(Change(entity_type, "delete", keys))
    return plan


def _held_back_by_datasets(con: duckdb.DuckDBPyConnection, entity_type: str) -> set[str]:
    """Record ids the OCA datasets currently hold back for this entity type (any agency:
    a collision across counties can only keep a record, never delete one)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'oca_dataset_held_back'"
    ).fetchall()[0][0]
    if not exists:
        return set()
    rows = con.execute(
        "SELECT DISTINCT recordid FROM oca_dataset_held_back "
        "WHERE entity_type = ? AND recordid IS NOT NULL",
        [entity_type],
    ).fetchall()
    return {r[0] for r in rows}


def _old_field_hashes(
    con: duckdb.DuckDBPyConnection, entity_type: str, county: str, environment: str,
    recordids: list[str],
) -> dict[str, dict[str, int]]:
    if not recordids:
        return {}
    con.register("_moved", pd.DataFrame({"recordid": recordids}))
    try:
        rows = con.execute(
            "SELECT s.recordid, s.field_hashes FROM oca_published_state AS s "
            "JOIN _moved USING (recordid) "
            "WHERE s.entity_type = ? AND s.county = ? AND s.environment = ?",
            [entity_type, county, environment],
        ).fetchall()
    finally:
        con.unregister("_moved")
    return {rid: json.loads(text) for rid, text in rows}


@dataclass
class HeldBack:
    """A change that was not accepted, and why."""

    change: Change
    reason_kind: str
    reason: str
    http_status: int | None = None
    errors: list[dict] | None = None


class PublishLockTimeout(RuntimeError):
    """Another run is publishing the same county to the same environment."""


class StateStore:
    """Bookkeeping for one (environment, agency, county) publishing run.

    Every method opens a short connection through ``connect`` (the warehouse writer lock is
    held only for the write, never across network calls). Thread-safe: callers may record
    outcomes from worker threads.
    """

    def __init__(
        self,
        connect: Connect,
        *,
        environment: str,
        agency_id: str,
        county: str,
        run_id: str | None = None,
        lock_dir: Path | None = None,
    ) -> None:
        self._connect = connect
        self.environment, self.agency_id, self.county = environment, agency_id, county
        self.run_id = run_id or str(uuid.uuid4())
        self._lock_dir = lock_dir

    @contextlib.contextmanager
    def publishing_lock(self, timeout_seconds: float = 600.0) -> Iterator[None]:
        """One publisher per (environment, county) at a time, across processes."""
        if self._lock_dir is None:
            yield
            return
        self._lock_dir.mkdir(parents=True, exist_ok=True)
        path = self._lock_dir / f"oca-publish-{self.environment}-{self.county}.lock"
        lock = FileLock(str(path), thread_local=False)
        try:
            lock.acquire(timeout=timeout_seconds)
        except Timeout as exc:
            raise PublishLockTimeout(
                f"another run is publishing {self.county} to {self.environment} "
                f"(waited {timeout_seconds:.0f}s for {path})"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def plan(self, entity_type: str, publisher: str, current: pd.DataFrame) -> ChangePlan:
        """Plan one entity type; close hold-backs of records that left the source unsent."""
        with self._tx() as con:
            plan = plan_changes(
                con, entity_type, self.county, publisher, current, environment=self.environment
            )
            ids = pd.DataFrame({"recordid": current["recordid"].astype(str)
                                if "recordid" in current else pd.Series(dtype=str)})
            con.register("_current_ids", ids)
            try:
                con.execute(
                    "UPDATE oca_held_back SET resolved_at = now(), "
                    "resolution = 'gone_from_source' WHERE resolved_at IS NULL "
                    "AND environment = ? AND county = ? AND entity_type = ? "
                    "AND recordid NOT IN (SELECT recordid FROM _current_ids) "
                    "AND recordid NOT IN (SELECT recordid FROM oca_published_state "
                    "WHERE environment = ? AND county = ? AND entity_type = ?)",
                    [self.environment, self.county, entity_type] * 2,
                )
            finally:
                con.unregister("_current_ids")
        return plan

    def check_target(self, messages_url: str, client_id: str) -> None:
        """Stop (OcaTargetChanged) when the state belongs to another endpoint or client."""
        target = Target(self.environment, self.county, messages_url, client_id)
        with self._tx() as con:
            check_target(con, target, self.agency_id)

    def deferred(self) -> set[tuple[str, str]]:
        """(entity type, recordid) a past run left for this one: open ``retry_next_run``
        hold-backs and records flagged for a full resend. They are sent first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT entity_type, recordid FROM oca_held_back WHERE resolved_at IS NULL "
                "AND reason_kind = 'retry_next_run' AND environment = ? AND county = ? "
                "UNION SELECT entity_type, recordid FROM oca_published_state "
                "WHERE needs_full_resend AND environment = ? AND county = ?",
                [self.environment, self.county] * 2,
            ).fetchall()
        return {(str(e), str(r)) for e, r in rows}

    def recover(self) -> int:
        """Settle envelopes a dead process left 'pending': their records get sent whole again."""
        with self._tx() as con:
            pending = [
                r[0]
                for r in con.execute(
                    "SELECT envelope_id FROM oca_envelopes WHERE status = 'pending' "
                    "AND environment = ? AND county = ?",
                    [self.environment, self.county],
                ).fetchall()
            ]
            if not pending:
                return 0
            self._flag_full_resend(con, pending)
            con.execute(
                "UPDATE oca_envelopes SET status = 'abandoned', finished_at = now(), "
                "errors = ? WHERE envelope_id IN (SELECT unnest(?))",
                [
                    json.dumps([{"message": "no acknowledgement recorded (process stopped); "
                                 "its records are sent again in full"}]),
                    pending,
                ],
            )
        return len(pending)

    def _flag_full_resend(self, con: duckdb.DuckDBPyConnection, envelope_ids: list[str]) -> None:
        con.execute(
            "UPDATE oca_published_state AS s SET needs_full_resend = true "
            "FROM oca_envelope_items AS i WHERE i.envelope_id IN (SELECT unnest(?)) "
            "AND i.action <> 'delete' AND s.entity_type = i.entity_type "
            "AND s.county = i.county AND s.recordid = i.recordid AND s.environment = ?",
            [envelope_ids, self.environment],
        )

    def record_intent(self, envelope: Envelope, parent_id: str | None = None) -> str:
        """Write the envelope as 'pending' with its records; returns the local envelope id."""
        envelope_id = str(uuid.uuid4())
        items = pd.DataFrame(
            {
                "envelope_id": envelope_id,
                "position": range(len(envelope.changes)),
                "entity_type": [c.entity_type for c in envelope.changes],
                "county": [c.county for c in envelope.changes],
                "recordid": [c.recordid for c in envelope.changes],
                "publisher": [c.publisher for c in envelope.changes],
                "action": [c.action for c in envelope.changes],
            }
        )
        with self._tx() as con:
            con.execute(
                "INSERT INTO oca_envelopes (envelope_id, parent_envelope_id, run_id, environment, "
                "agency_id, county, status, body_sha256, body_bytes, events, entities, counts) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                [
                    envelope_id, parent_id, self.run_id, self.environment, self.agency_id,
                    self.county, envelope.sha256, envelope.size, envelope.events,
                    len(envelope.changes), json.dumps(envelope.counts()),
                ],
            )
            con.register("_items", items)
            con.execute("INSERT INTO oca_envelope_items BY NAME SELECT * FROM _items")
            con.unregister("_items")
        return envelope_id

    def record_outcome(
        self,
        envelope_id: str,
        *,
        status: str,
        http_status: int | None,
        attempts: int,
        accepted: Sequence[Change] = (),
        held_back: Sequence[HeldBack] = (),
        service_envelope_id: str | None = None,
        errors: list[dict] | None = None,
        uncertain: bool = False,
    ) -> None:
        """Close an envelope: apply accepted changes to the state, file the held-back ones.

        ``uncertain``: no definite answer (retries exhausted on 5xx or dropped connections),
        so the service may have applied it; its records are sent whole next run.
        """
        with self._tx() as con:
            con.execute(
                "UPDATE oca_envelopes SET status = ?, http_status = ?, attempts = ?, "
                "service_envelope_id = ?, accepted = ?, held_back = ?, errors = ?, "
                "finished_at = now() WHERE envelope_id = ?",
                [
                    status, http_status, attempts, service_envelope_id, len(accepted),
                    len(held_back), json.dumps(errors) if errors else None, envelope_id,
                ],
            )
            if accepted:
                self._apply_accepted(con, envelope_id, accepted)
            if held_back:
                self._file_held_back(con, envelope_id, held_back)
            if uncertain:
                self._flag_full_resend(con, [envelope_id])

    def hold_back(self, held_back: Sequence[HeldBack], envelope_id: str | None = None) -> None:
        """File changes that were never sent (circuit open, county refused, too large)."""
        if held_back:
            with self._tx() as con:
                self._file_held_back(con, envelope_id, held_back)

    def _apply_accepted(
        self, con: duckdb.DuckDBPyConnection, envelope_id: str, accepted: Sequence[Change]
    ) -> None:
        frame = pd.DataFrame(
            {
                "entity_type": [c.entity_type for c in accepted],
                "county": [c.county for c in accepted],
                "recordid": [c.recordid for c in accepted],
                "publisher": [c.publisher for c in accepted],
                "action": [c.action for c in accepted],
                "field_hashes": [json.dumps(c.field_hashes or {}) for c in accepted],
                "record_hash": pd.array([c.record_hash for c in accepted], dtype="UInt64"),
            }
        )
        con.register("_accepted", frame)
        try:
            con.execute(
                "DELETE FROM oca_published_state AS s USING _accepted AS a "
                "WHERE s.entity_type = a.entity_type AND s.county = a.county "
                "AND s.recordid = a.recordid AND s.environment = ?",
                [self.environment],
            )
            con.execute(
                "INSERT INTO oca_published_state (entity_type, county, recordid, publisher, "
                "field_hashes, record_hash, needs_full_resend, environment, last_envelope_id, "
                "accepted_at) SELECT entity_type, county, recordid, publisher, field_hashes, "
                "record_hash, false, ?, ?, now() FROM _accepted WHERE action <> 'delete'",
                [self.environment, envelope_id],
            )
            con.execute(
                "UPDATE oca_held_back AS h SET resolved_at = now(), resolution = 'accepted' "
                "FROM _accepted AS a WHERE h.resolved_at IS NULL "
                "AND h.entity_type = a.entity_type AND h.county = a.county "
                "AND h.recordid = a.recordid AND h.environment = ?",
                [self.environment],
            )
        finally:
            con.unregister("_accepted")

    def _file_held_back(
        self, con: duckdb.DuckDBPyConnection, envelope_id: str | None, held: Sequence[HeldBack]
    ) -> None:
        frame = pd.DataFrame(
            {
                "run_id": self.run_id,
                "environment": self.environment,
                "agency_id": self.agency_id,
                "envelope_id": envelope_id,
                "entity_type": [h.change.entity_type for h in held],
                "county": [h.change.county for h in held],
                "recordid": [h.change.recordid for h in held],
                "action": [h.change.action for h in held],
                "reason_kind": [h.reason_kind for h in held],
                "http_status": pd.array([h.http_status for h in held], dtype="Int64"),
                "reason": [h.reason for h in held],
                "errors": [json.dumps(h.errors) if h.errors else None for h in held],
            }
        )
        con.register("_held", frame)
        try:
            con.execute(
                "UPDATE oca_held_back AS h SET resolved_at = now(), resolution = 'superseded' "
                "FROM _held AS n WHERE h.resolved_at IS NULL AND h.entity_type = n.entity_type "
                "AND h.county = n.county AND h.recordid = n.recordid "
                "AND h.environment = n.environment"
            )
            con.execute(
                "INSERT INTO oca_held_back (held_at, run_id, environment, agency_id, envelope_id, "
                "entity_type, county, recordid, action, reason_kind, http_status, reason, errors) "
                "SELECT now(), run_id, environment, agency_id, envelope_id, entity_type, county, "
                "recordid, action, reason_kind, http_status, reason, errors FROM _held"
            )
        finally:
            con.unregister("_held")

"""Warehouse side of a sync: cursor, failed calls, run rows, and the merge into clean tables.

Cursor rule: after a merge, ``odyssey_cursor`` moves to the wall-clock start of the sync only
when every FindParties page arrived (``pages_lost == 0``). Then every party changed since
the old cursor is known; per-party and per-case calls that were lost are rows of
``odyssey_failed_calls`` written in the same transaction, and the next run fetches them
first, so advancing loses nothing and a permanently failing case cannot pin the cursor.
If a page was lost, the parties on it are unknown, so the cursor stays and the next run
re-reads from the old cursor (minus the overlap). A failed merge rolls everything back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from court_pipeline.odyssey.sync import (
    KIND_CASE,
    KIND_PAGE,
    KIND_PARTY,
    MERGE_ORDER,
    Replay,
    SyncResult,
)
from court_pipeline.records.contact_lists import apply_contact_lists
from court_pipeline.records.merge import MergeStats, mark_hearings_removed, merge_records
from court_pipeline.records.resets import link_resets

SOURCE = "odyssey_api"


def load_cursor(con: duckdb.DuckDBPyConnection, agency_id: str) -> datetime | None:
    rows = con.execute(
        "SELECT modified_since FROM odyssey_cursor WHERE agency_id = ?", [agency_id]
    ).fetchall()
    return rows[0][0] if rows else None


def load_retry_calls(con: duckdb.DuckDBPyConnection, agency_id: str) -> tuple[list[str], list[str]]:
    """Unresolved lost per-party and per-case calls of earlier runs: (party ids, case ids)."""
    rows = con.execute(
        "SELECT DISTINCT call_kind, call_key FROM odyssey_failed_calls "
        "WHERE agency_id = ? AND resolved_at IS NULL AND retryable AND call_kind IN (?, ?) "
        "ORDER BY 1, 2",
        [agency_id, KIND_PARTY, KIND_CASE],
    ).fetchall()
    return (
        [k for kind, k in rows if kind == KIND_PARTY],
        [k for kind, k in rows if kind == KIND_CASE],
    )


def modified_since_for(cursor: datetime | None, overlap_minutes: int, mode: str) -> datetime | None:
    """ModifiedSince to send: None (full window) unless incremental with a cursor."""
    if mode == "full" or cursor is None:
        return None
    return cursor - timedelta(minutes=overlap_minutes)


def record_failed_sync(
    con: duckdb.DuckDBPyConnection,
    *,
    agency_id: str,
    sync_id: str,
    partition_key: str | None,
    mode: str,
    started_at: Any,
    modified_since: Any,
    error: str,
) -> None:
    """A sync that ended in an exception (401, config, crash) still gets its run row, status
    'failed' with the error (our exceptions carry no secrets), so a failure is visible in
    ``odyssey_sync_runs`` and never counts as fresh."""
    con.execute(
        "INSERT OR REPLACE INTO odyssey_sync_runs (agency_id, sync_id, partition_key, mode, "
        "started_at, finished_at, modified_since, status, error) "
        "VALUES (?, ?, ?, ?, ?, now(), ?, 'failed', ?)",
        [agency_id, sync_id, partition_key, mode, started_at, modified_since, error[:1000]],
    )


def mark_sync_failed(
    con: duckdb.DuckDBPyConnection, agency_id: str, sync_id: str, error: str
) -> None:
    """A fetched sync that must not be merged or counted (it read nothing of its window):
    status 'failed' with the reason; its lost calls stay open in the ledger."""
    con.execute(
        "UPDATE odyssey_sync_runs SET status = 'failed', error = ? "
        "WHERE agency_id = ? AND sync_id = ?",
        [error[:1000], agency_id, sync_id],
    )


def record_fetch(
    con: duckdb.DuckDBPyConnection, result: SyncResult, partition_key: str | None
) -> None:
    """Write the run row (status 'fetched'), its failed calls and rejected records."""
    stats = result.stats
    con.execute("BEGIN")
    try:
        con.execute(
            "INSERT OR REPLACE INTO odyssey_sync_runs (agency_id, sync_id, partition_key, mode, "
            "started_at, finished_at, window_from, window_to, modified_since, calls, retries, "
            "failed_calls, pages_lost, partial, elapsed_seconds, archive_path, status) "
            "VALUES (?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'fetched')",
            [
                result.agency_id,
                result.sync_id,
                partition_key,
                result.mode,
                result.started_at,
                result.window_from,
                result.window_to,
                result.modified_since,
                stats["calls"],
                stats["retries"],
                len(result.lost),
                result.pages_lost,
                result.partial,
                stats["elapsed_seconds"],
                str(result.archive_path or ""),
            ],
        )
        for f in result.failed:
            con.execute(
                "INSERT OR REPLACE INTO odyssey_failed_calls (agency_id, sync_id, call_kind, "
                "call_key, error_code, error, retryable) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    result.agency_id,
                    result.sync_id,
                    f.kind,
                    f.key,
                    f.error_code,
                    f.error,
                    f.retryable,
                ],
            )
        for r in result.rejected:
            con.execute(
                "INSERT INTO odyssey_rejected_records (agency_id, sync_id, record_kind, "
                "record_key, reason) VALUES (?, ?, ?, ?, ?)",
                [result.agency_id, result.sync_id, r["kind"], r["key"], r["reason"]],
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


@dataclass
class MergeOutcome:
    stats: dict[str, MergeStats]
    removed_hearings: int
    resolved_calls: int
    cursor_advanced: bool
    cursor: datetime | None


def latest_fetched_run(
    con: duckdb.DuckDBPyConnection, agency_id: str, partition_key: str | None = None
) -> dict[str, Any] | None:
    sql = (
        "SELECT sync_id, mode, started_at, window_from, window_to, pages_lost, partial, "
        "archive_path, status FROM odyssey_sync_runs WHERE agency_id = ? "
        + ("AND partition_key = ? " if partition_key else "")
        + "ORDER BY started_at DESC LIMIT 1"
    )
    params = [agency_id, partition_key] if partition_key else [agency_id]
    cur = con.execute(sql, params)
    rows = cur.fetchall()
    if not rows:
        return None
    names = [d[0] for d in cur.description]
    return dict(zip(names, rows[0], strict=True))


def merge_sync(
    con: duckdb.DuckDBPyConnection,
    agency_id: str,
    sync_id: str,
    replay: Replay,
    *,
    window_from: date,
    window_to: date,
    pages_lost: int,
    cursor_to: datetime,
) -> MergeOutcome:
    """Merge every frame, mark vanished hearings, resolve healed calls, move the cursor:
    all in one transaction."""
    con.execute("BEGIN")
    try:
        stats = {
            table: merge_records(
                con,
                table,
                replay.frames[table],
                agency_id=agency_id,
                source=SOURCE,
                source_ref=sync_id,
            )
            for table in MERGE_ORDER
        }
        removed = _mark_vanished(con, agency_id, sync_id, replay, window_from, window_to)
        link_resets(con, agency_id, SOURCE, sync_id)
        apply_contact_lists(
            con, agency_id, SOURCE, sync_id, replay.contact_lists, replay.frames["contacts"]
        )
        resolved = _resolve(con, agency_id, sync_id, replay)
        advanced = pages_lost == 0
        if advanced:
            # a lost page of a full sync is a hole in the hearing window: only a full sync
            # that read every page closes it; an incremental one only closes incremental holes
            resolved += con.execute(
                "UPDATE odyssey_failed_calls f SET resolved_at = now(), resolved_by_sync_id = ? "
                "WHERE f.agency_id = ? AND f.call_kind = ? AND f.resolved_at IS NULL "
                "AND ((SELECT mode FROM odyssey_sync_runs WHERE agency_id = ? AND sync_id = ?) "
                "= 'full' OR f.sync_id IN (SELECT sync_id FROM odyssey_sync_runs "
                "WHERE agency_id = ? AND mode = 'incremental'))",
                [sync_id, agency_id, KIND_PAGE, agency_id, sync_id, agency_id],
            ).fetchall()[0][0]
            con.execute(
                "INSERT OR REPLACE INTO odyssey_cursor (agency_id, modified_since, sync_id, "
                "updated_at) VALUES (?, ?, ?, now())",
                [agency_id, cursor_to, sync_id],
            )
        con.execute(
            "UPDATE odyssey_sync_runs SET status = 'merged' WHERE agency_id = ? AND sync_id = ?",
            [agency_id, sync_id],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return MergeOutcome(stats, removed, resolved, advanced, load_cursor(con, agency_id))


def _mark_vanished(con, agency_id, sync_id, replay: Replay, window_from, window_to) -> int:
    """Hearings we hold for a party whose hearings call succeeded, inside the window, that
    Odyssey no longer lists for anyone in this run: moved out of the window or deleted."""
    if not replay.parties_with_hearings:
        return 0
    seen = set(replay.frames["hearings"]["hearing_id"])
    con.register("_ody_parties", pd.DataFrame({"party_id": sorted(replay.parties_with_hearings)}))
    try:
        rows = con.execute(
            "SELECT DISTINCT h.hearing_id FROM hearings h "
            "JOIN hearing_parties hp USING (agency_id, hearing_id) "
            "JOIN _ody_parties p ON p.party_id = hp.party_id "
            "WHERE h.agency_id = ? AND h.source = ? AND h.removed_at IS NULL "
            "AND CAST(h.start_local AS DATE) BETWEEN ? AND ?",
            [agency_id, SOURCE, window_from, window_to],
        ).fetchall()
    finally:
        con.unregister("_ody_parties")
    gone = sorted(r[0] for r in rows if r[0] not in seen)
    return mark_hearings_removed(
        con,
        agency_id,
        gone,
        "no longer listed by GetScheduledHearingsByPartyID in the hearing window",
        SOURCE,
        sync_id,
    )


def _resolve(con, agency_id: str, sync_id: str, replay: Replay) -> int:
    """Mark earlier lost calls as resolved when this run fetched the same party/case."""
    fetched = [(KIND_PARTY, p) for p in replay.parties_with_hearings] + [
        (KIND_CASE, c) for c in replay.frames["cases"]["case_id"]
    ]
    if not fetched:
        return 0
    con.register(
        "_ody_fetched",
        pd.DataFrame(
            {"call_kind": [k for k, _ in fetched], "call_key": [str(v) for _, v in fetched]}
        ),
    )
    try:
        return int(
            con.execute(
                "UPDATE odyssey_failed_calls f SET resolved_at = now(), resolved_by_sync_id = ? "
                "FROM _ody_fetched x WHERE f.agency_id = ? AND f.resolved_at IS NULL "
                "AND f.sync_id <> ? AND f.call_kind = x.call_kind AND f.call_key = x.call_key",
                [sync_id, agency_id, sync_id],
            ).fetchall()[0][0]
        )
    finally:
        con.unregister("_ody_fetched")

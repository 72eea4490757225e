"""Realistic rows for the clean tables, inserted with plain SQL (as the loaders would)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb

from court_pipeline.reminders.render import fill_bodies

CHICAGO = ZoneInfo("America/Chicago")
AGENCY = "harris_jp"


def _replace(
    con: duckdb.DuckDBPyConnection, table: str, key: dict[str, object], sql: str, params: list
) -> None:
    """Insert a row, replacing the one with the same key (the core tables have no primary key,
    so no INSERT OR REPLACE: delete by key first, as the merge keeps one row per key)."""
    con.execute(
        f"DELETE FROM {table} WHERE " + " AND ".join(f"{k} = ?" for k in key), list(key.values())
    )
    con.execute(sql, params)


def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """An aware Chicago wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


def add_party(
    con: duckdb.DuckDBPyConnection,
    party_id: str,
    first: str = "MARIA",
    last: str = "DE LA CRUZ",
    language: str | None = "en",
    sms_opt_out: bool = False,
    agency: str = AGENCY,
) -> None:
    _replace(
        con,
        "parties",
        {"agency_id": agency, "party_id": party_id},
        "INSERT INTO parties (agency_id, party_id, first_name, last_name, "
        "preferred_language, sms_opt_out, source) VALUES (?, ?, ?, ?, ?, ?, 'odyssey_api')",
        [agency, party_id, first, last, language, sms_opt_out],
    )


def add_contact(
    con: duckdb.DuckDBPyConnection,
    party_id: str,
    value: str,
    kind: str = "phone",
    phone_type: str | None = "mobile",
    status: str = "valid",
    agency: str = AGENCY,
) -> None:
    _replace(
        con,
        "contacts",
        {"agency_id": agency, "contact_id": f"{party_id}:{kind}:{value}"},
        "INSERT INTO contacts (agency_id, contact_id, party_id, kind, raw_value, value, "
        "phone_type, status, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'odyssey_api')",
        [
            agency,
            f"{party_id}:{kind}:{value}",
            party_id,
            kind,
            value,
            value if status == "valid" else None,
            phone_type if kind == "phone" else None,
            status,
        ],
    )


def add_case(
    con: duckdb.DuckDBPyConnection,
    case_id: str = "5550001",
    case_number: str = "CR-26-000123",
    payment_status: str | None = "Unpaid",
    amount_due: str | None = "350.00",
    agency: str = AGENCY,
) -> None:
    _replace(
        con,
        "cases",
        {"agency_id": agency, "case_id": case_id},
        "INSERT INTO cases (agency_id, case_id, case_number, judge_name, payment_status,"
        " amount_due, source) VALUES (?, ?, ?, 'Hon. B. Chen', ?, ?, 'odyssey_api')",
        [agency, case_id, case_number, payment_status, amount_due],
    )


def add_hearing(
    con: duckdb.DuckDBPyConnection,
    hearing_id: str,
    start: datetime,
    party_ids: tuple[str, ...] = ("100234",),
    status: str = "Scheduled",
    role: str = "Defendant",
    case_id: str = "5550001",
    case_number: str = "CR-26-000123",
    hearing_type: str = "Arraignment",
    removed: bool = False,
    agency: str = AGENCY,
) -> None:
    """Insert or update a hearing (as a sync would: same id, new values) and its parties."""
    _replace(
        con,
        "hearings",
        {"agency_id": agency, "hearing_id": hearing_id},
        "INSERT INTO hearings (agency_id, hearing_id, case_id, case_number, "
        "hearing_type, start_at, start_local, court_timezone, status, location, courtroom, judge, "
        "removed_at, removed_reason, source) VALUES (?, ?, ?, ?, ?, ?, ?, 'America/Chicago', ?, "
        "'Harris County Criminal Justice Center, 1201 Franklin St', 'Courtroom 5B', "
        "'Hon. B. Chen', ?, ?, 'odyssey_api')",
        [
            agency,
            hearing_id,
            case_id,
            case_number,
            hearing_type,
            start,
            start.astimezone(CHICAGO).replace(tzinfo=None),
            status,
            start if removed else None,
            "missing from snapshot" if removed else None,
        ],
    )
    for party_id in party_ids:
        _replace(
            con,
            "hearing_parties",
            {"agency_id": agency, "hearing_id": hearing_id, "party_id": party_id},
            "INSERT INTO hearing_parties (agency_id, hearing_id, party_id, role, source)"
            " VALUES (?, ?, ?, ?, 'odyssey_api')",
            [agency, hearing_id, party_id, role],
        )


def outbox(
    con: duckdb.DuckDBPyConnection, where: str = "TRUE", render: tuple | None = None
) -> list[dict]:
    """Outbox rows as dicts (UTC times), oldest due first. With ``render`` (agency, flows)
    the reminder bodies, which are rendered at delivery, are rendered as review does."""
    cur = con.execute(
        "SELECT *, timezone('UTC', due_at) AS due_utc, timezone('UTC', hearing_start_at) AS "
        f"start_utc FROM reminder_outbox WHERE {where} ORDER BY due_at, kind, offset_key"
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    if render is not None:
        assert fill_bodies(con, *render, rows) == {}
    return rows

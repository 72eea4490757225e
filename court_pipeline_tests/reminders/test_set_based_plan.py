"""The set-based planner (``setplan``) writes exactly what the message-by-message planner
writes: same rows, same dedupe keys, message ids, due times, statuses, reasons and input
digests, on a first plan and on a rerun where some inputs changed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from court_pipeline.reminders.planner import MESSAGE_NAMESPACE, plan_reminders
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.reminders.seed import (
    add_case,
    add_contact,
    add_hearing,
    add_party,
    local,
)

NOW = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)  # Tuesday noon in Chicago
COLUMNS = (
    "dedupe_key, message_id, hearing_id, party_id, case_number, flow, kind, offset_key, "
    "timezone('UTC', hearing_start_at), channel, recipient, preferred_language, language, "
    "template, subject, body, segments, encoding, timezone('UTC', due_at), status, "
    "status_reason, attempts, input_digest"
)


def _seed(con) -> None:
    add_case(con)
    add_party(con, "p1", "MARIA", language="es")
    add_contact(con, "p1", "+17135550142")
    add_party(con, "p2", "LUIS", language="vi")
    add_contact(con, "p2", "luis@example.com", kind="email")
    add_party(con, "p3", "ANA", sms_opt_out=True)
    add_contact(con, "p3", "+17135550143")
    add_party(con, "p4", "NOCONTACT")
    add_hearing(con, "far", local(2026, 11, 2, 9), party_ids=("p1", "p3"))
    add_hearing(con, "mid", local(2026, 10, 27, 13, 30), party_ids=("p2", "p4"))
    add_hearing(con, "tomorrow", local(2026, 10, 21, 10), party_ids=("p1",))  # catch-up
    add_hearing(con, "today", local(2026, 10, 20, 14), party_ids=("p2",))  # too late
    add_hearing(con, "off", local(2026, 11, 4, 9), party_ids=("p1",), status="Cancelled")


def _change(con) -> None:
    """A rerun's news: a courtroom moves (inputs changed), a party joins a hearing."""
    con.execute("UPDATE hearings SET courtroom = 'Courtroom 9' WHERE hearing_id = 'far'")
    add_party(con, "p5", "JOSE", language="es")
    add_contact(con, "p5", "+17135550155")
    add_hearing(con, "mid", local(2026, 10, 27, 13, 30), party_ids=("p2", "p4", "p5"))


def _plan_both(tmp_path, agency, flows, step):
    out = {}
    for set_based in (False, True):
        path = tmp_path / f"set_based_{set_based}.duckdb"
        with connect_warehouse(path) as con:
            step(con, set_based)
            rows = con.execute(f"SELECT {COLUMNS} FROM reminder_outbox ORDER BY 1").fetchall()
        out[set_based] = rows
    return out


def _counts(result):
    return (
        dict(result.inserted),
        dict(result.suppressed_reasons),
        dict(result.planned_kinds),
        dict(result.languages),
        dict(result.fallbacks),
        dict(result.segments),
        result.refreshed,
    )


def test_set_based_and_per_message_plans_write_the_same_rows(tmp_path, agency, flows):
    results: dict[bool, list] = {False: [], True: []}

    def first(con, set_based):
        _seed(con)
        results[set_based].append(plan_reminders(con, agency, flows, now=NOW, set_based=set_based))

    rows = _plan_both(tmp_path, agency, flows, first)
    assert rows[True] == rows[False]
    assert len(rows[True]) == 24
    statuses = {(r[7], r[19], r[20]) for r in rows[True] if r[2] == "tomorrow"}
    assert statuses == {
        ("7d", "suppressed", "too late"),
        ("3d", "suppressed", "too late"),
        ("1d", "planned", "late: planned after its time"),
        ("morning_of", "planned", None),
    }
    assert all(r[1] == str(uuid.uuid5(MESSAGE_NAMESPACE, r[0])) for r in rows[True])
    assert _counts(results[True][0]) == _counts(results[False][0])

    def rerun(con, set_based):
        _change(con)
        results[set_based].append(
            plan_reminders(con, agency, flows, now=NOW + timedelta(hours=1), set_based=set_based)
        )

    rows = _plan_both(tmp_path, agency, flows, rerun)
    assert rows[True] == rows[False]
    assert len(rows[True]) == 28
    assert _counts(results[True][1]) == _counts(results[False][1])
    assert results[True][1].refreshed == 4  # the courtroom reaches Maria's pending messages
    assert results[True][1].inserted == {"planned": 4}  # Jose's reminders

    def again(con, set_based):
        results[set_based].append(
            plan_reminders(con, agency, flows, now=NOW + timedelta(hours=2), set_based=set_based)
        )

    _plan_both(tmp_path, agency, flows, again)
    assert _counts(results[True][2]) == _counts(results[False][2])
    assert sum(results[True][2].inserted.values()) == 0 and results[True][2].refreshed == 0


def test_a_hearing_moved_back_is_planned_one_by_one(tmp_path, agency, flows):
    """A -> B -> A: every message of A is there (history), but B's pending ones must be
    suppressed and a change notice planned: such a group never takes the set-based path."""
    a, b = local(2026, 11, 2, 9), local(2026, 11, 9, 9)

    def moves(con, set_based):
        _seed(con)
        for hours, start in enumerate((a, b, a)):
            add_hearing(con, "far", start, party_ids=("p1", "p3"))
            plan_reminders(
                con, agency, flows, now=NOW + timedelta(hours=hours), set_based=set_based
            )

    rows = _plan_both(tmp_path, agency, flows, moves)
    assert rows[True] == rows[False]
    far_p1 = [(r[6], r[7], r[8], r[19], r[20]) for r in rows[True] if r[2:4] == ("far", "p1")]
    assert ("changed", None, datetime(2026, 11, 2, 15, 0), "planned", None) in far_p1
    assert {r[3:] for r in far_p1 if r[2] == datetime(2026, 11, 9, 15, 0)} == {
        ("suppressed", "rescheduled")
    }

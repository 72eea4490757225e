"""Planning into the outbox over a real DuckDB warehouse: DST, changes, opt-outs, dedupe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from court_pipeline.reminders.optouts import import_replies_csv
from court_pipeline.reminders.planner import plan_reminders
from court_pipeline_tests.reminders.seed import (
    CHICAGO,
    add_case,
    add_contact,
    add_hearing,
    add_party,
    local,
    outbox,
)

NOW = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)  # Tuesday noon in Chicago


def _seed_maria(con, language="es"):
    add_party(con, "100234", "MARIA", language=language)
    add_contact(con, "100234", "+17135550142", phone_type="mobile")
    add_contact(con, "100234", "+17135550199", phone_type="landline")
    add_case(con)


def test_plans_every_offset_in_local_time_across_dst(con, agency, flows):
    _seed_maria(con)
    add_hearing(con, "9900017", local(2026, 11, 2, 9))  # Monday after DST ends (Nov 1)
    result = plan_reminders(con, agency, flows, now=NOW)
    assert {r[0] for r in con.execute("SELECT body FROM reminder_outbox").fetchall()} == {None}
    rows = outbox(con, render=(agency, flows))
    assert [(r["offset_key"], r["due_utc"]) for r in rows] == [
        ("7d", datetime(2026, 10, 26, 14, 0)),  # 9:00 CDT
        ("3d", datetime(2026, 10, 30, 14, 0)),  # 9:00 CDT
        ("1d", datetime(2026, 11, 1, 15, 0)),  # 9:00 CST (after the fall-back)
        ("morning_of", datetime(2026, 11, 2, 14, 0)),  # 8:00 CST
    ]
    assert {r["status"] for r in rows} == {"planned"}
    assert {r["channel"] for r in rows} == {"sms"}
    assert {r["recipient"] for r in rows} == {"+17135550142"}  # the mobile, not the landline
    assert {r["language"] for r in rows} == {"es"}
    assert rows[0]["body"].startswith(
        "Harris County Justice Courts: Maria, le recordamos su cita en la corte el lunes 2 de "
        "noviembre a las 9:00 a. m., Courtroom 5B"
    )
    assert rows[0]["dedupe_key"] == "harris_jp|9900017|100234|court_date|7d|2026-11-02T15:00Z"
    assert result.inserted == {"planned": 4}
    assert result.segments == {2: 4} and result.encodings == {"GSM-7": 4}


def test_reruns_and_hourly_syncs_never_duplicate(con, agency, flows):
    _seed_maria(con)
    add_hearing(con, "9900017", local(2026, 11, 2, 9))
    plan_reminders(con, agency, flows, now=NOW)
    first = outbox(con)
    for hours in (0, 1, 2, 3):
        again = plan_reminders(con, agency, flows, now=NOW + timedelta(hours=hours))
        assert sum(again.inserted.values()) == 0 and again.refreshed == 0
    assert outbox(con) == first
    count = con.execute("SELECT count(*), count(DISTINCT dedupe_key) FROM reminder_outbox")
    assert count.fetchone() == (4, 4)


def test_reschedule_suppresses_pending_and_plans_a_change_notice(con, agency, flows):
    _seed_maria(con, language="en")
    add_hearing(con, "9900017", local(2026, 11, 2, 9))
    plan_reminders(con, agency, flows, now=NOW)
    # the court moves the hearing to Nov 16 at 1:30 PM (same hearing id, still Scheduled)
    add_hearing(con, "9900017", local(2026, 11, 16, 13, 30))
    later = NOW + timedelta(hours=26)  # Wednesday 1 PM local
    result = plan_reminders(con, agency, flows, now=later)
    old = outbox(con, "hearing_start_at = TIMESTAMPTZ '2026-11-02 15:00+00'")
    assert {(r["status"], r["status_reason"]) for r in old} == {("suppressed", "rescheduled")}
    changed = outbox(con, "kind = 'changed'")
    assert len(changed) == 1
    assert changed[0]["due_utc"] == later.replace(tzinfo=None)
    assert changed[0]["status"] == "planned"
    assert "has changed. New date: Monday, November 16 at 1:30 PM" in changed[0]["body"]
    assert "It is no longer Monday, November 2." in changed[0]["body"]
    new = outbox(con, "kind = 'reminder' AND status = 'planned'")
    assert [r["offset_key"] for r in new] == ["7d", "3d", "1d", "morning_of"]
    assert new[0]["due_utc"] == datetime(2026, 11, 9, 19, 30)  # 1:30 PM CST
    assert result.suppressed_reasons == {"rescheduled": 4}
    # a second pass changes nothing: one change notice per new date
    again = plan_reminders(con, agency, flows, now=later + timedelta(hours=1))
    assert sum(again.inserted.values()) == 0
    assert len(outbox(con, "kind = 'changed'")) == 1


def test_reschedule_seen_only_in_hearing_changes_also_notifies(con, agency, flows):
    _seed_maria(con, language="en")
    add_hearing(con, "h2", local(2026, 11, 5, 10))
    con.execute(
        "INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, old_start_at, "
        "new_start_at, source, changed_at) VALUES ('harris_jp', 'h2', 'rescheduled', ?, ?, "
        "'ecr', ?)",
        [local(2026, 10, 29, 10), local(2026, 11, 5, 10), NOW - timedelta(hours=1)],
    )
    plan_reminders(con, agency, flows, now=NOW)
    changed = outbox(con, "kind = 'changed'")
    assert len(changed) == 1 and "It is no longer Thursday, October 29." in changed[0]["body"]


def test_cancellation_suppresses_and_notifies_held_sends_nothing(con, agency, flows):
    _seed_maria(con, language="en")
    add_party(con, "200111", "JOHN", language="en")
    add_contact(con, "200111", "+15125550100", phone_type="unknown")
    add_hearing(con, "c1", local(2026, 11, 10, 9), party_ids=("100234",))
    add_hearing(
        con,
        "c2",
        local(2026, 11, 12, 9),
        party_ids=("200111",),
        case_id="5550002",
        case_number="CR-26-000124",
    )
    plan_reminders(con, agency, flows, now=NOW)
    add_hearing(con, "c1", local(2026, 11, 10, 9), party_ids=("100234",), status="Cancelled")
    add_hearing(
        con,
        "c2",
        local(2026, 11, 12, 9),
        party_ids=("200111",),
        status="Held",
        case_id="5550002",
        case_number="CR-26-000124",
    )
    result = plan_reminders(con, agency, flows, now=NOW + timedelta(hours=2))
    c1 = outbox(con, "hearing_id = 'c1' AND kind = 'reminder'")
    assert {(r["status"], r["status_reason"]) for r in c1} == {("suppressed", "cancelled")}
    notice = outbox(con, "hearing_id = 'c1' AND kind = 'cancelled'")
    assert len(notice) == 1 and notice[0]["status"] == "planned"
    assert notice[0]["body"] == (
        "Harris County Justice Courts: Maria, your court date on Tuesday, November 10 at 9:00 AM "
        "for case CR-26-000123 is cancelled. You do not need to come to court on that date. "
        "Reply STOP to opt out."
    )
    c2 = outbox(con, "hearing_id = 'c2'")
    assert {(r["status"], r["status_reason"]) for r in c2} == {("suppressed", "held")}
    assert result.suppressed_reasons == {"cancelled": 4, "held": 4}
    again = plan_reminders(con, agency, flows, now=NOW + timedelta(hours=3))
    assert sum(again.inserted.values()) == 0


def test_removed_from_snapshot_suppresses_without_notice_by_default(con, agency, flows):
    _seed_maria(con, language="en")
    add_hearing(con, "r1", local(2026, 11, 10, 9))
    plan_reminders(con, agency, flows, now=NOW)
    add_hearing(con, "r1", local(2026, 11, 10, 9), removed=True)
    plan_reminders(con, agency, flows, now=NOW + timedelta(hours=1))
    rows = outbox(con, "hearing_id = 'r1'")
    assert {(r["kind"], r["status"], r["status_reason"]) for r in rows} == {
        ("reminder", "suppressed", "removed")
    }
    # with notify_removed the cancellation notice goes out (for a removal seen from then on)
    flow = flows.flows[0].model_copy(update={"notify_removed": True})
    noisy = flows.model_copy(update={"flows": [flow]})
    plan_reminders(con, agency, noisy, now=NOW + timedelta(hours=2))
    assert outbox(con, "hearing_id = 'r1' AND kind = 'cancelled'") == []  # not retroactive
    add_hearing(con, "r2", local(2026, 11, 12, 9))
    plan_reminders(con, agency, noisy, now=NOW + timedelta(hours=3))
    add_hearing(con, "r2", local(2026, 11, 12, 9), removed=True)
    plan_reminders(con, agency, noisy, now=NOW + timedelta(hours=4))
    notice = outbox(con, "hearing_id = 'r2' AND kind = 'cancelled'")
    assert [(r["status"], r["offset_key"]) for r in notice] == [("planned", None)]


def test_odyssey_sms_opt_out_falls_back_to_email_or_suppresses(con, agency, flows):
    add_case(con)
    add_party(con, "p1", "ANA", language="es", sms_opt_out=True)
    add_contact(con, "p1", "+17135550111")
    add_contact(con, "p1", "Ana.Lopez@example.com".lower(), kind="email")
    add_party(con, "p2", "LUIS", language="es", sms_opt_out=True)
    add_contact(con, "p2", "+17135550112")
    add_hearing(con, "o1", local(2026, 11, 10, 9), party_ids=("p1", "p2"))
    result = plan_reminders(con, agency, flows, now=NOW)
    p1 = outbox(con, "party_id = 'p1'", render=(agency, flows))
    assert {(r["channel"], r["recipient"], r["status"]) for r in p1} == {
        ("email", "ana.lopez@example.com", "planned")
    }
    assert p1[0]["subject"].startswith(
        "Recordatorio de su cita en la corte: martes 10 de noviembre"
    )
    p2 = outbox(con, "party_id = 'p2'")
    assert {(r["channel"], r["status"], r["status_reason"]) for r in p2} == {
        (None, "suppressed", "opted out")
    }
    assert result.party_opt_outs == 2
    assert con.execute(
        "SELECT count(*) FROM reminder_opt_outs WHERE source = 'odyssey'"
    ).fetchone() == (2,)


def test_stop_reply_file_blocks_a_number_and_pending_messages(con, agency, flows, tmp_path):
    _seed_maria(con)
    add_hearing(con, "s1", local(2026, 11, 10, 9))
    plan_reminders(con, agency, flows, now=NOW)
    replies = tmp_path / "replies.csv"
    replies.write_text(
        "received_at,recipient,keyword,agency_id\n"
        "2026-10-20T18:00:00Z,(713) 555-0142,Stop,harris_jp\n"
        "2026-10-20T18:05:00Z,713-555-0177,hola,harris_jp\n"
        "2026-10-20T18:06:00Z,not a phone,STOP,harris_jp\n"
        "2026-10-20T18:07:00Z,+15125550100,STOP,other_agency\n"
        "2026-10-20T18:08:00Z,+15125550101,STOP,\n"
        "2026-10-20T18:09:00Z,+15125550101,START,\n"
        "yesterday,+15125550102,STOP,\n",
        encoding="utf-8",
    )
    imported = import_replies_csv(con, agency.id, replies)
    assert imported.rows_in == 7 and imported.opted_out == 2 and imported.opted_in == 1
    assert imported.rejected == [
        (3, "reply is not a STOP or START keyword"),
        (4, "recipient is not a valid phone number or email address"),
        (5, "agency_id 'other_agency' is not 'harris_jp'"),
        (8, "received_at 'yesterday' is not a date-time"),
    ]
    assert imported.rows_loaded + len(imported.rejected) == imported.rows_in
    stops = con.execute(
        "SELECT subject FROM reminder_opt_outs WHERE source = 'reply' ORDER BY subject"
    ).fetchall()
    assert stops == [("+17135550142",)]  # +15125550101 said START after STOP
    # re-importing the same file is a no-op
    assert import_replies_csv(con, agency.id, replies).already_imported
    assert con.execute("SELECT count(*) FROM reminder_reply_rejects").fetchone() == (4,)
    result = plan_reminders(con, agency, flows, now=NOW + timedelta(hours=1))
    rows = outbox(con, "hearing_id = 's1'")
    # Maria has no email: her pending reminders are suppressed, none go to the STOP number
    assert {(r["status"], r["status_reason"]) for r in rows} == {("suppressed", "opted out")}
    assert result.suppressed_reasons == {"opted out": 4}


def test_reply_file_without_required_columns_is_a_clear_error(con, agency, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("phone,text\n+17135550142,STOP\n")
    try:
        import_replies_csv(con, agency.id, bad)
    except ValueError as exc:
        assert "lacks column(s) recipient, keyword" in str(exc)
    else:
        raise AssertionError("expected a ValueError")


def test_late_first_sight_sends_only_the_latest_missed_reminder(con, agency, flows):
    _seed_maria(con, language="en")
    # seen for the first time on Tuesday noon for a hearing on Friday 9:00: 7d and 3d missed
    add_hearing(con, "l1", local(2026, 10, 23, 9))
    plan_reminders(con, agency, flows, now=NOW)
    rows = {r["offset_key"]: r for r in outbox(con, "hearing_id = 'l1'")}
    assert (rows["7d"]["status"], rows["7d"]["status_reason"]) == ("suppressed", "too late")
    assert (rows["3d"]["status"], rows["3d"]["status_reason"]) == (
        "planned",
        "late: planned after its time",
    )
    assert rows["3d"]["due_utc"] == NOW.replace(tzinfo=None)
    assert rows["1d"]["due_utc"] == datetime(2026, 10, 22, 14, 0)
    assert rows["morning_of"]["due_utc"] == datetime(2026, 10, 23, 13, 0)


def test_quiet_hours_apply_to_planned_messages(con, agency, flows):
    _seed_maria(con, language="en")
    add_hearing(con, "q1", local(2026, 11, 10, 22, 0), hearing_type="Night Court")
    add_hearing(con, "q2", local(2026, 11, 10, 7, 30), hearing_type="Early Docket")
    plan_reminders(con, agency, flows, now=NOW)
    q1 = {r["offset_key"]: r for r in outbox(con, "hearing_id = 'q1'")}
    # 22:00 the day before is quiet -> 08:00 on the hearing day (before the 22:00 hearing)
    assert q1["1d"]["due_utc"] == datetime(2026, 11, 10, 14, 0)
    q2 = {r["offset_key"]: r for r in outbox(con, "hearing_id = 'q2'")}
    # morning-of 08:00 is after a 07:30 hearing: recorded, never sent
    assert (q2["morning_of"]["status"], q2["morning_of"]["status_reason"]) == (
        "suppressed",
        "due after hearing",
    )
    # 1d at 07:30 is quiet and 08:00 that day is fine (the hearing is the next day)
    assert q2["1d"]["due_utc"] == datetime(2026, 11, 9, 14, 0)
    for row in outbox(con, "status = 'planned'"):
        local_due = row["due_utc"].replace(tzinfo=UTC).astimezone(CHICAGO)
        assert 8 <= local_due.hour < 21


def test_pending_messages_follow_a_new_phone_and_language(con, agency, flows):
    _seed_maria(con, language="en")
    add_hearing(con, "u1", local(2026, 11, 10, 9))
    plan_reminders(con, agency, flows, now=NOW)
    con.execute("DELETE FROM contacts WHERE value = '+17135550142'")
    add_contact(con, "100234", "+17135550150", phone_type="mobile")
    add_party(con, "100234", "MARIA", language="es")
    result = plan_reminders(con, agency, flows, now=NOW + timedelta(hours=1))
    assert result.refreshed == 4
    rows = outbox(con, "hearing_id = 'u1'")
    assert {(r["recipient"], r["language"], r["status"]) for r in rows} == {
        ("+17135550150", "es", "planned")
    }
    assert [r["due_utc"] for r in rows] == [
        datetime(2026, 11, 3, 15),
        datetime(2026, 11, 7, 15),
        datetime(2026, 11, 9, 15),
        datetime(2026, 11, 10, 14),
    ]


def test_roles_types_and_no_contact(con, agency, flows):
    add_case(con)
    add_party(con, "w1", "WANDA")
    add_contact(con, "w1", "+17135550160")
    add_party(con, "d9", "DAN")  # a defendant without any contact
    add_hearing(con, "t1", local(2026, 11, 10, 9), party_ids=("w1",), role="Witness")
    add_hearing(con, "t2", local(2026, 11, 11, 9), party_ids=("d9",))
    plan_reminders(con, agency, flows, now=NOW)
    assert outbox(con, "party_id = 'w1'") == []
    assert {(r["status"], r["status_reason"]) for r in outbox(con, "party_id = 'd9'")} == {
        ("suppressed", "no contact")
    }


def test_fax_and_pager_never_get_sms_and_types_go_in_configured_order(con, agency, flows):
    add_party(con, "300001", "ANA", language="en")
    add_contact(con, "300001", "+17135550101", phone_type="fax")
    add_contact(con, "300001", "+17135550102", phone_type="pager")
    add_contact(con, "300001", "+17135550103", phone_type="work")
    add_contact(con, "300001", "ana@example.com", kind="email")
    add_party(con, "300002", "LUIS", language="en")
    add_contact(con, "300002", "+17135550201", phone_type="fax")
    add_contact(con, "300002", "+17135550202", phone_type="home")
    add_contact(con, "300002", "+17135550203", phone_type="unknown")
    add_case(con)
    add_hearing(con, "f1", local(2026, 11, 10, 9), party_ids=("300001", "300002"))
    plan_reminders(con, agency, flows, now=NOW)
    got = {(r["party_id"], r["channel"], r["recipient"]) for r in outbox(con)}
    # Ana: fax, pager and (by default) work phones get no SMS, so email; Luis: unknown before
    # home (the order of sms_phone_types), never the fax
    assert got == {("300001", "email", "ana@example.com"), ("300002", "sms", "+17135550203")}


def test_planning_releases_the_lock_between_reading_and_writing(db_path, agency, flows):
    """Delivery can take the warehouse while planning renders; the later write of the plan
    never overwrites what delivery did meanwhile."""
    import contextlib

    from court_pipeline.reminders.planner import plan_reminders_unlocked
    from court_pipeline.warehouse import connect_warehouse

    with connect_warehouse(db_path) as con:
        _seed_maria(con, language="en")
        add_hearing(con, "9900017", local(2026, 11, 2, 9))
        plan_reminders(con, agency, flows, now=NOW)
        add_hearing(con, "9900017", local(2026, 11, 16, 13, 30))  # moved: all 4 go stale
    opened: list[str] = []

    @contextlib.contextmanager
    def connect():
        with connect_warehouse(db_path) as con:
            opened.append("open")
            yield con
        opened.append("closed")
        if len(opened) == 2:  # the snapshot is read: another run gets the lock at once
            with connect_warehouse(db_path, lock_timeout_seconds=0.5) as other:
                other.execute("UPDATE reminder_outbox SET status = 'sent' WHERE offset_key = '7d'")

    result = plan_reminders_unlocked(connect, agency, flows, now=NOW + timedelta(hours=2))
    assert opened == ["open", "closed", "open", "closed"]
    with connect_warehouse(db_path) as con:
        old = {
            r["offset_key"]: (r["status"], r["status_reason"])
            for r in outbox(con, "hearing_start_at = TIMESTAMPTZ '2026-11-02 15:00+00'")
        }
    assert old == {
        "7d": ("sent", None),
        "3d": ("suppressed", "rescheduled"),
        "1d": ("suppressed", "rescheduled"),
        "morning_of": ("suppressed", "rescheduled"),
    }
    assert result.inserted["planned"] == 5  # 4 reminders and the change notice
    assert result.read_seconds > 0 and result.write_seconds > 0

"""Odyssey's date changes and phone changes, through real syncs, to the planned outbox.

The simulator behaves like Odyssey: a reset leaves the old hearing at its old date (status
Reset) and creates a new HearingID; a phone change replaces the party's whole list."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from court_pipeline.odyssey.simulator import OdysseySimulator
from court_pipeline_tests.reminders.odyssey_world import ZONE, OdysseyWorld


@pytest.fixture
def world(tmp_path):
    today = datetime.now(ZONE).date()
    sim = OdysseySimulator(parties=40, seed=23, anchor=today)
    sim.start()
    try:
        yield OdysseyWorld(sim, tmp_path / "wh.duckdb", tmp_path / "archive", today)
    finally:
        sim.stop()


def _messages(world: OdysseyWorld, hearing_id: str, party_id: str) -> list[tuple]:
    return world.query(
        "SELECT kind, offset_key, status, status_reason, recipient, body FROM reminder_outbox "
        "WHERE hearing_id = ? AND party_id = ? ORDER BY kind, offset_key",
        [hearing_id, party_id],
    )


def _new_date(world: OdysseyWorld, days: int) -> datetime:
    return datetime.combine(world.today + timedelta(days=days), datetime.min.time()).replace(
        hour=10, minute=30)


def test_reset_with_a_new_hearing_id_links_and_sends_one_change_notice(world):
    hid, pid = world.defendant_hearing()
    world.sim.replace_phones(pid, [("Cell", "(713) 555-0142")])
    world.sync("full")
    world.plan()
    before = _messages(world, hid, pid)
    assert [(k, s) for k, _, s, _, _, _ in before] == [("reminder", "planned")] * 4

    new_start = _new_date(world, 28)
    new_hid = world.sim.reschedule_hearing(hid, new_start)
    world.sync("incremental")
    assert world.query(
        "SELECT hearing_id, status, start_local FROM hearings WHERE hearing_id IN (?, ?) "
        "ORDER BY start_local", [hid, new_hid]) == [
        (hid, "Reset", world.sim.county.hearing_start(world.sim.county.hearings[hid])),
        (new_hid, "Scheduled", new_start),
    ]
    links = world.query(
        "SELECT hearing_id, linked_hearing_id, new_status, timezone('America/Chicago', "
        "new_start_at) FROM hearing_changes WHERE change_kind = 'reset'")
    assert links == [(new_hid, hid, "Reset", new_start)]

    result = world.plan()
    old = _messages(world, hid, pid)
    assert {(s, r) for _, _, s, r, _, _ in old} == {
        ("suppressed", f"date changed: replaced by hearing {new_hid}")}
    new = _messages(world, new_hid, pid)
    assert [(k, o, s) for k, o, s, _, _, _ in new] == [
        ("changed", None, "planned"),
        ("reminder", "1d", "planned"), ("reminder", "3d", "planned"),
        ("reminder", "7d", "planned"), ("reminder", "morning_of", "planned"),
    ]
    changed_body = new[0][5]
    assert "New date: " + f"{new_start:%A, %B} {new_start.day} at 10:30 AM" in changed_body
    assert {r for _, _, _, _, r, _ in new} == {"+17135550142"}
    assert result.suppressed_reasons[f"date changed: replaced by hearing {new_hid}"] == 4
    # nothing else is pending for this person: 4 reminders and one notice, one date
    pending = world.query(
        "SELECT count(*), count(DISTINCT hearing_start_at) FROM reminder_outbox "
        "WHERE party_id = ? AND status = 'planned'", [pid])
    assert pending == [(5, 1)]
    # a second sync and plan change nothing: one notice per new date
    world.sync("incremental")
    again = world.plan()
    assert sum(again.inserted.values()) == 0
    assert world.query("SELECT count(*) FROM hearing_changes WHERE change_kind = 'reset'") == [
        (1,)]


def test_same_hearing_id_moved_sends_one_change_notice(world):
    hid, pid = world.defendant_hearing()
    world.sim.replace_phones(pid, [("Cell", "(713) 555-0142")])
    world.sync("full")
    world.plan()
    new_start = _new_date(world, 27)
    world.sim.move_hearing(hid, new_start)
    world.sync("incremental")
    assert world.query("SELECT status, start_local FROM hearings WHERE hearing_id = ?",
                       [hid]) == [("Scheduled", new_start)]
    world.plan()
    rows = _messages(world, hid, pid)
    assert [(k, s, r) for k, _, s, r, _, _ in rows if s == "suppressed"] == [
        ("reminder", "suppressed", "rescheduled")] * 4
    assert [(k, o) for k, o, s, _, _, _ in rows if s == "planned"] == [
        ("changed", None), ("reminder", "1d"), ("reminder", "3d"), ("reminder", "7d"),
        ("reminder", "morning_of"),
    ]
    assert world.query("SELECT count(*) FROM hearing_changes WHERE change_kind = 'reset'") == [
        (0,)]


def test_continued_hearing_is_never_reminded_at_its_old_date(world):
    hid, pid = world.defendant_hearing()
    world.sim.replace_phones(pid, [("Cell", "(713) 555-0142")])
    world.sync("full")
    world.plan()
    world.sim.reschedule_hearing(hid, _new_date(world, 70), status="Continued")  # beyond window
    world.sync("incremental")
    world.plan()
    assert world.query("SELECT status FROM hearings WHERE hearing_id = ?", [hid]) == [
        ("Continued",)]
    assert {(s, r) for _, _, s, r, _, _ in _messages(world, hid, pid)} == {
        ("suppressed", "status Continued")}


def test_a_replaced_phone_list_replans_to_the_current_number_or_suppresses(world):
    hid, pid = world.defendant_hearing()
    world.sim.replace_phones(pid, [("Cell", "(713) 555-0142")])
    world.sim.replace_emails(pid, [])
    world.sync("full")
    world.plan()
    assert {r for _, _, _, _, r, _ in _messages(world, hid, pid)} == {"+17135550142"}

    # Odyssey now lists a Home phone and a fax: the Cell is gone, "mobile first" must not
    # pick it, and the fax never gets SMS
    world.sim.replace_phones(pid, [("Home", "(713) 555-0199"), ("Fax", "(713) 555-0198")])
    world.sync("incremental")
    assert world.query(
        "SELECT value, phone_type, status FROM contacts WHERE party_id = ? AND kind = 'phone' "
        "ORDER BY value", [pid]) == [
        ("+17135550142", "mobile", "retired"),
        ("+17135550198", "fax", "valid"),
        ("+17135550199", "home", "valid"),
    ]
    result = world.plan()
    rows = _messages(world, hid, pid)
    assert {(s, r) for _, _, s, _, r, _ in rows} == {("planned", "+17135550199")}
    assert result.refreshed == 4

    # then only the fax is left: nothing can be sent, and the table says why
    world.sim.replace_phones(pid, [("Fax", "(713) 555-0198")])
    world.sync("incremental")
    world.plan()
    reason = world.query(
        "SELECT retired_reason FROM contacts WHERE party_id = ? AND value = '+17135550199'",
        [pid])[0][0]
    assert reason.startswith("no longer listed by Odyssey (sim-")
    assert {(s, why) for _, _, s, why, _, _ in _messages(world, hid, pid)} == {
        ("suppressed", f"recipient retired ({reason}); no current contact")}


def test_delivery_never_sends_to_a_number_retired_after_planning(world):
    from court_pipeline.reminders.delivery import ReminderDelivery
    from court_pipeline.reminders.flows import BUNDLED_FLOWS, load_flows
    from court_pipeline.warehouse import connect_warehouse

    hid, pid = world.defendant_hearing()
    world.sim.replace_phones(pid, [("Cell", "(713) 555-0142")])
    world.sync("full")
    world.plan()
    world.sim.replace_phones(pid, [("Cell", "(713) 555-0143")])
    world.sync("incremental")  # no planning pass between the sync and the delivery
    pending = world.query("SELECT count(*) FROM reminder_outbox WHERE party_id = ? "
                          "AND status = 'planned'", [pid])[0][0]
    start = world.sim.county.hearing_start(world.sim.county.hearings[hid]).replace(tzinfo=ZONE)
    result = ReminderDelivery(mode="dry-run").deliver(
        lambda: connect_warehouse(world.db), world.agency, load_flows(BUNDLED_FLOWS),
        now=start - timedelta(minutes=1))  # every reminder of the hearing is due
    assert pending >= 3
    assert result.suppressed == {"recipient no longer a current contact": pending}
    assert {(s, why) for _, _, s, why, _, _ in _messages(world, hid, pid)} == {
        ("suppressed", "recipient no longer a current contact")}

"""What the group query (``reminders.groups``) decides, over a real warehouse: who a reminder
goes to (newest number first within a phone type, a STOP'd number skipped for the next one,
an 'all' opt-out blocking both channels), one group per party and hearing even when the
clean tables break their key, and the agency's zone for a court without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from court_pipeline.reminders.planner import plan_reminders
from court_pipeline_tests.reminders.seed import (
    add_case,
    add_contact,
    add_hearing,
    add_party,
    local,
    outbox,
)

NOW = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)  # Tuesday noon in Chicago


def _modified(con, value: str, when: datetime) -> None:
    con.execute("UPDATE contacts SET source_modified_at = ? WHERE value = ?", [when, value])


def _opt_out(con, channel: str, *, party_id: str | None = None, recipient: str | None = None):
    con.execute(
        "INSERT INTO reminder_opt_outs (agency_id, source, channel, subject, party_id, "
        "recipient, keyword) VALUES ('harris_jp', 'reply', ?, ?, ?, ?, 'STOP')",
        [channel, party_id or recipient, party_id, recipient],
    )


def _recipients(con) -> dict[str, set]:
    got: dict[str, set] = {}
    for row in outbox(con):
        got.setdefault(row["party_id"], set()).add(
            (row["channel"], row["recipient"], row["status"], row["status_reason"])
        )
    return got


def test_newest_number_first_a_stopped_number_is_skipped_and_all_blocks_both(con, agency, flows):
    add_case(con)
    add_party(con, "p1", "ANA")
    add_contact(con, "p1", "+17135550101")  # the older mobile
    add_contact(con, "p1", "+17135550102")  # the newer one
    _modified(con, "+17135550101", datetime(2026, 1, 5, tzinfo=UTC))
    _modified(con, "+17135550102", datetime(2026, 9, 1, tzinfo=UTC))
    add_party(con, "p2", "LUIS")
    add_contact(con, "p2", "luis@example.com", kind="email")
    _opt_out(con, "all", party_id="p2")  # an 'all' row blocks email as well as SMS
    add_party(con, "p3", "JOSE")
    add_contact(con, "p3", "+17135550103")
    add_contact(con, "p3", "jose@example.com", kind="email")
    _opt_out(con, "email", recipient="jose@example.com")  # email only: SMS still goes
    add_hearing(con, "h1", local(2026, 11, 10, 9), party_ids=("p1", "p2", "p3"))

    plan_reminders(con, agency, flows, now=NOW)
    got = _recipients(con)
    assert got["p1"] == {("sms", "+17135550102", "planned", None)}
    assert got["p2"] == {(None, None, "suppressed", "opted out")}
    assert got["p3"] == {("sms", "+17135550103", "planned", None)}

    # a STOP reply from the newer number: the pending messages move to the older one
    _opt_out(con, "sms", recipient="+17135550102")
    result = plan_reminders(con, agency, flows, now=NOW + timedelta(hours=1))
    assert _recipients(con)["p1"] == {("sms", "+17135550101", "planned", None)}
    assert result.refreshed == 4 and sum(result.inserted.values()) == 0


def test_a_duplicated_hearing_party_row_still_plans_each_message_once(con, agency, flows):
    """keys_unique fails on such a warehouse; planning must not double the messages."""
    add_case(con)
    add_party(con, "p1", "ANA")
    add_contact(con, "p1", "+17135550101")
    add_hearing(con, "h1", local(2026, 11, 10, 9), party_ids=("p1",))
    con.execute("INSERT INTO hearing_parties SELECT * FROM hearing_parties")
    result = plan_reminders(con, agency, flows, now=NOW)
    assert result.inserted == {"planned": 4}
    assert con.execute(
        "SELECT count(*), count(DISTINCT dedupe_key) FROM reminder_outbox"
    ).fetchone() == (4, 4)


def test_a_blank_or_missing_court_zone_plans_in_the_agency_zone(con, agency, flows):
    add_case(con)
    add_party(con, "p1", "ANA")
    add_contact(con, "p1", "+17135550101")
    add_party(con, "p2", "LUIS")
    add_contact(con, "p2", "+17135550102")
    add_hearing(con, "h1", local(2026, 11, 10, 9), party_ids=("p1",))
    add_hearing(con, "h2", local(2026, 11, 10, 9), party_ids=("p2",))
    con.execute("UPDATE hearings SET court_timezone = NULL WHERE hearing_id = 'h1'")
    con.execute("UPDATE hearings SET court_timezone = '' WHERE hearing_id = 'h2'")
    plan_reminders(con, agency, flows, now=NOW)
    due = con.execute(
        "SELECT hearing_id, timezone('UTC', due_at) FROM reminder_outbox "
        "WHERE offset_key = 'morning_of' ORDER BY 1"
    ).fetchall()
    # 8:00 in Chicago on the day (CST): 14:00 UTC, for both hearings, once each
    assert due == [("h1", datetime(2026, 11, 10, 14, 0)), ("h2", datetime(2026, 11, 10, 14, 0))]

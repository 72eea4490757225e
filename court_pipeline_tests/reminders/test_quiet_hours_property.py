"""Quiet hours, whatever time planning runs: property tests over planning times.

Every message the planner leaves planned is due outside quiet hours, before its hearing, and
(when planned in this pass) not before the pass; anything that cannot be is suppressed with a
reason a person can read."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from court_pipeline.registry import Agency
from court_pipeline.reminders.assets import CHECK_NOT_AFTER_HEARING, _check_queries
from court_pipeline.reminders.flows import BUNDLED_FLOWS, QuietHours, load_flows
from court_pipeline.reminders.planner import plan_reminders
from court_pipeline.reminders.timing import apply_quiet_hours, in_quiet_hours
from court_pipeline.warehouse.resource import apply_schema
from court_pipeline_tests.reminders.seed import (
    AGENCY,
    CHICAGO,
    add_case,
    add_contact,
    add_hearing,
    add_party,
)

FLOWS = load_flows(BUNDLED_FLOWS)
AGENCY_ROW = Agency(id=AGENCY, name="Harris County Justice Courts", county="Harris",
                    reminders=str(BUNDLED_FLOWS))
# any minute of 2026-2027: both DST changes, every clock time
instants = st.integers(0, 2 * 365 * 24 * 60).map(
    lambda m: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=m))
clocks = st.integers(0, 24 * 60 - 1).map(lambda m: time(m // 60, m % 60))


@settings(max_examples=300, deadline=None)
@given(due=instants, ahead=st.integers(-600, 3 * 24 * 60), start=clocks, end=clocks,
       bound=st.booleans())
def test_a_moved_due_time_is_allowed_or_none(due, ahead, start, end, bound):
    if start == end:
        end = time((end.hour + 1) % 24, end.minute)
    quiet = QuietHours(start=start, end=end)
    hearing = due + timedelta(minutes=ahead)
    got = apply_quiet_hours(due, hearing, CHICAGO, quiet, due if bound else None)
    if got is None:
        return
    assert got < hearing
    assert not in_quiet_hours(got, CHICAGO, quiet)
    if bound:
        assert got >= due
    if not in_quiet_hours(due, CHICAGO, quiet) and due < hearing:
        assert got == due  # an allowed time is never moved


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    apply_schema(con)
    add_party(con, "100234", "MARIA", language="en")
    add_contact(con, "100234", "+17135550142", phone_type="mobile")
    add_case(con)
    return con


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(now=instants, ahead=st.integers(1, 12 * 24 * 60), earlier=st.integers(1, 4 * 24 * 60),
       change=st.sampled_from(["fresh", "moved", "cancelled"]),
       moved_by=st.integers(-3 * 24 * 60, 3 * 24 * 60))
def test_whatever_time_planning_runs_nothing_is_due_in_quiet_hours_or_after_the_hearing(
        now, ahead, earlier, change, moved_by):
    con = _warehouse()
    try:
        start = now + timedelta(minutes=ahead)
        first = start - timedelta(minutes=moved_by) if change == "moved" else start
        add_hearing(con, "h1", first.astimezone(CHICAGO))
        if change != "fresh":  # an earlier pass planned for the hearing as it was
            plan_reminders(con, AGENCY_ROW, FLOWS, now=now - timedelta(minutes=earlier))
            add_hearing(con, "h1", start.astimezone(CHICAGO),
                        status="Cancelled" if change == "cancelled" else "Scheduled")
        plan_reminders(con, AGENCY_ROW, FLOWS, now=now)
        rows = con.execute(
            "SELECT status, status_reason, due_at, hearing_start_at, created_at FROM "
            "reminder_outbox").fetchall()
        quiet = FLOWS.quiet_hours
        for status, reason, due, hearing, created in rows:
            if status == "planned":
                assert due < hearing
                assert not in_quiet_hours(due, CHICAGO, quiet), (due, reason)
                if created == now:
                    assert due >= now
            else:
                assert status == "suppressed" and reason
        assert _check_queries(con, AGENCY)[CHECK_NOT_AFTER_HEARING] == 0
    finally:
        con.close()

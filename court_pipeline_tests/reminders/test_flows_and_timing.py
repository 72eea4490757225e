"""Flows config validation, offsets across DST, and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from court_pipeline.reminders.flows import FlowsError, Offset, QuietHours, load_flows
from court_pipeline.reminders.timing import apply_quiet_hours, offset_due
from court_pipeline_tests.reminders.seed import CHICAGO, local


def test_seven_days_before_a_monday_after_dst_end_keeps_local_nine_am():
    # 2026-11-01 is the end of DST in Chicago: Monday Nov 2 9:00 CST = 15:00 UTC.
    start = local(2026, 11, 2, 9).astimezone(UTC)
    assert start == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    week = offset_due(start, CHICAGO, Offset(days=7))
    # 7 days earlier is Monday Oct 26 9:00 CDT = 14:00 UTC (not 15:00: that would be 10:00 local)
    assert week == datetime(2026, 10, 26, 14, 0, tzinfo=UTC)
    assert week.astimezone(CHICAGO).hour == 9
    day = offset_due(start, CHICAGO, Offset(days=1))  # Sunday Nov 1, after the fall-back
    assert day == datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    morning = offset_due(start, CHICAGO, Offset(days=0, at="08:00"))
    assert morning == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    hours = offset_due(start, CHICAGO, Offset(hours=2))
    assert hours == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)


def test_offset_keys_are_stable_and_readable():
    assert Offset(days=7).key == "7d"
    assert Offset(days=0, at="08:00").key == "0d@0800"
    assert Offset(hours=2).key == "2h"
    assert Offset(days=0, at="08:00", name="morning_of").key == "morning_of"


def test_quiet_hours_move_to_their_end_but_never_past_the_hearing():
    quiet = QuietHours(start="21:00", end="08:00")
    hearing = local(2026, 11, 10, 9).astimezone(UTC)
    # 23:30 local the night before: moved to 08:00 local (still before the 9:00 hearing)
    due = local(2026, 11, 9, 23, 30).astimezone(UTC)
    assert apply_quiet_hours(due, hearing, CHICAGO, quiet) == local(2026, 11, 10, 8)
    # Outside quiet hours: unchanged
    due = local(2026, 11, 9, 12).astimezone(UTC)
    assert apply_quiet_hours(due, hearing, CHICAGO, quiet) == due
    # Hearing at 7:30: the end of quiet hours (8:00) is too late -> 20:59 the evening before
    early = local(2026, 11, 10, 7, 30).astimezone(UTC)
    due = local(2026, 11, 10, 6, 0).astimezone(UTC)
    assert apply_quiet_hours(due, early, CHICAGO, quiet) == local(2026, 11, 9, 20, 59)
    # Hearing at 21:30 with a message due 21:10 in quiet: end (08:00 next day) is after the
    # hearing, before-quiet is 20:59 the same day
    late = local(2026, 11, 10, 21, 30).astimezone(UTC)
    due = local(2026, 11, 10, 21, 10).astimezone(UTC)
    assert apply_quiet_hours(due, late, CHICAGO, quiet) == local(2026, 11, 10, 20, 59)


def test_bundled_flows_load(flows):
    flow = flows.flows[0]
    assert [o.key for o in flow.offsets] == ["7d", "3d", "1d", "morning_of"]
    assert flows.quiet_hours == QuietHours(start="21:00", end="08:00")
    assert flow.channels == ["sms", "email"]


def test_bundled_flows_remind_scheduled_only_and_never_sms_a_fax(flows):
    assert flows.flows[0].statuses == ["Scheduled"]
    assert flows.sms_phone_types == ["mobile", "unknown", "home"]


def test_a_flow_cannot_remind_reset_or_continued_hearings(tmp_path):
    path = _write(tmp_path, """
flows:
  - name: a
    statuses: [Scheduled, Reset, Continued]
    offsets: [{days: 7}]
""")
    with pytest.raises(FlowsError) as err:
        load_flows(path)
    assert "flow 'a', field 'statuses'" in str(err.value)
    assert "Reset, Continued cannot be reminded" in str(err.value)


def test_fax_and_pager_can_never_be_sms_phone_types(tmp_path):
    path = _write(tmp_path, """
sms_phone_types: [mobile, fax, Pager]
flows:
  - name: a
    offsets: [{days: 7}]
""")
    with pytest.raises(FlowsError) as err:
        load_flows(path)
    assert "sms_phone_types" in str(err.value)
    assert "fax, Pager numbers can never receive SMS" in str(err.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flows.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_errors_name_the_file_the_flow_and_the_field(tmp_path):
    path = _write(tmp_path, """
flows:
  - name: court_date
    offsets: [{days: 7}, {days: 0, at: "25:00"}]
    channels: [sms, fax]
""")
    with pytest.raises(FlowsError) as err:
        load_flows(path)
    text = str(err.value)
    assert str(path) in text
    assert "flow 'court_date', field 'offsets.1.at'" in text
    assert "'25:00' is not a time of day" in text
    assert "field 'channels.1'" in text


def test_unknown_key_and_duplicate_offsets_are_errors(tmp_path):
    path = _write(tmp_path, """
flows:
  - name: a
    offsets: [{days: 7}]
    quiet_hour: {start: "21:00", end: "08:00"}
""")
    with pytest.raises(FlowsError) as err:
        load_flows(path)
    assert "flow 'a', field 'quiet_hour': Extra inputs are not permitted" in str(err.value)
    path = _write(tmp_path, """
flows:
  - name: a
    offsets: [{days: 7}, {days: 7}]
""")
    with pytest.raises(FlowsError) as err:
        load_flows(path)
    assert "flow 'a', field '(the entry)'" in str(err.value)
    assert "offsets repeat: 7d" in str(err.value)


def test_missing_template_and_unknown_field_in_template_are_load_errors(tmp_path):
    (tmp_path / "tpl" / "en").mkdir(parents=True)
    (tmp_path / "tpl" / "en" / "short.j2").write_text("Hi {{ nmae }}, court {{ when }}.")
    path = _write(tmp_path, """
templates_dir: tpl
flows:
  - name: a
    offsets: [{days: 1}]
    template: short
""")
    with pytest.raises(FlowsError) as err:
        load_flows(path)
    assert "en/short.j2" in str(err.value) and "'nmae' is undefined" in str(err.value)
    path = _write(tmp_path, """
flows:
  - name: a
    offsets: [{days: 1}]
    template: nosuch
""")
    with pytest.raises(FlowsError) as err:
        load_flows(path)
    assert "no template en/nosuch.j2" in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(FlowsError, match="reminder flows file not found"):
        load_flows(tmp_path / "nope.yaml")
    with pytest.raises(FlowsError, match="not valid YAML"):
        load_flows(_write(tmp_path, "flows: [\n"))

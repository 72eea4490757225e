"""Whole syncs against the simulator, merged into a real DuckDB warehouse in tmp_path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.errors import OdysseyAuthError
from court_pipeline.odyssey.simulator import OdysseySimulator, envelope
from court_pipeline.odyssey.store import (
    latest_fetched_run,
    load_cursor,
    load_retry_calls,
    merge_sync,
    modified_since_for,
    record_fetch,
)
from court_pipeline.odyssey.sync import COLUMNS, read_archive, replay_archive, sync_agency
from court_pipeline.warehouse import connect_warehouse

from .conftest import ANCHOR, CREDS, WINDOW_DAYS, ZONE, make_client

GH = E.MessageType.GET_SCHEDULED_HEARINGS


def run_sync(sim, tmp_path, **kw):
    creds = kw.pop("creds", CREDS)
    return sync_agency(
        lambda: make_client(sim.base_url, creds),
        agency_id="sim",
        zone=ZONE,
        today=ANCHOR,
        hearing_window_days=WINDOW_DAYS,
        archive_root=tmp_path / "archive",
        **kw,
    )


def sync_and_merge(sim, tmp_path, db, **kw):
    with connect_warehouse(db) as con:
        cursor = load_cursor(con, "sim")
        retry_parties, retry_cases = load_retry_calls(con, "sim")
    mode = kw.pop("mode", "full")
    result = run_sync(
        sim,
        tmp_path,
        modified_since=modified_since_for(cursor, 15, mode),
        retry_parties=retry_parties,
        retry_cases=retry_cases,
        **kw,
    )
    with connect_warehouse(db) as con:
        record_fetch(con, result, None)
        run = latest_fetched_run(con, "sim")
        replay = replay_archive(result.archive_path, ZONE)
        outcome = merge_sync(
            con,
            "sim",
            run["sync_id"],
            replay,
            window_from=run["window_from"],
            window_to=run["window_to"],
            pages_lost=run["pages_lost"],
            cursor_to=result.started_local,
        )
    return result, outcome


def test_full_sync_pages_and_frames(sim, tmp_path):
    result = run_sync(sim, tmp_path, page_size=7)
    expected = sim.find_party_ids(ANCHOR, ANCHOR + timedelta(days=WINDOW_DAYS), None)
    assert len(expected) > 21  # several pages
    frames = result.frames
    assert sorted(frames["parties"]["party_id"]) == sorted(expected)
    assert result.stats["pages_fetched"] == -(-len(expected) // 7)
    assert result.failed == [] and not result.partial
    for table, columns in COLUMNS.items():
        # each parsed row names the fields its reply left out (contacts come from lists)
        absent = [] if table == "contacts" else ["_absent"]
        assert list(frames[table].columns) == columns + absent
    # every hearing the simulator holds for these parties in the window is there
    want = {
        h.hearing_id
        for p in expected
        for h in sim.party_hearings(p, ANCHOR, ANCHOR + timedelta(days=WINDOW_DAYS))
    }
    assert set(frames["hearings"]["hearing_id"]) == want
    assert set(frames["cases"]["case_id"]) >= {frames["hearings"]["case_id"].iloc[0]}
    calls = result.stats["by_message_type"]
    assert calls["GetScheduledHearingsByPartyID"] == len(expected)
    assert calls["FindCase"] == frames["cases"]["case_id"].nunique()
    # contacts: E.164 or rejected with a reason, never silently dropped
    contacts = frames["contacts"]
    valid = contacts[(contacts.status == "valid") & (contacts.kind == "phone")]
    assert len(valid) > 50 and valid["value"].str.match(r"^\+\d{11,15}$").all()
    emails = contacts[(contacts.status == "valid") & (contacts.kind == "email")]
    assert len(emails) > 5 and (emails["value"] == emails["value"].str.lower()).all()
    rejected = contacts[contacts.status == "rejected"]
    assert rejected["reject_reason"].notna().all()
    # the archive replays to the same records
    replay = replay_archive(result.archive_path, ZONE)
    for table in COLUMNS:
        assert len(replay.frames[table]) == len(frames[table]), table
    lines = list(read_archive(result.archive_path))
    assert len(lines) == result.stats["calls"] and all(line["status"] == 200 for line in lines)
    assert sim.log.message_types_seen <= E.READ_ONLY_MESSAGE_TYPES


def test_dst_day_hearings_are_correct_instants(sim, tmp_path):
    hearings = run_sync(sim, tmp_path).frames["hearings"]
    fall = hearings[hearings.start_local == datetime(2026, 11, 1, 1, 30)]
    spring = hearings[hearings.start_local == datetime(2027, 3, 14, 2, 30)]
    assert len(fall) >= 1 and len(spring) >= 1
    assert (fall.start_at == pd.Timestamp("2026-11-01 06:30", tz="UTC")).all()  # first 01:30
    assert (spring.start_at == pd.Timestamp("2027-03-14 08:30", tz="UTC")).all()  # = 03:30 CDT
    assert set(hearings.court_timezone) == {"America/Chicago"}
    after = hearings[hearings.start_local == datetime(2026, 11, 2, 9, 0)]
    assert (after.start_at == pd.Timestamp("2026-11-02 15:00", tz="UTC")).all()


def test_lost_calls_are_recorded_and_recovered_next_run(sim, tmp_path):
    db = tmp_path / "wh.duckdb"
    party_ids = sim.find_party_ids(ANCHOR, ANCHOR + timedelta(days=WINDOW_DAYS), None)
    lost_party = party_ids[3]
    lost_case = sim.county.parties[party_ids[5]].cases[0][0]
    sim.break_call(GH, lost_party, "503")
    sim.break_call(E.MessageType.FIND_CASE, lost_case, "drop")
    first, outcome1 = sync_and_merge(sim, tmp_path, db)
    assert first.partial
    assert {(f.kind, f.key, f.error_code) for f in first.lost} == {
        ("party_hearings", lost_party, "HTTP_503"),
        ("case", lost_case, "CONNECTION"),
    }
    assert outcome1.cursor_advanced  # all pages arrived; item losses are carried as rows
    with connect_warehouse(db) as con:
        assert load_retry_calls(con, "sim") == ([lost_party], [lost_case])
        assert (
            con.execute("SELECT count(*) FROM cases WHERE case_id = ?", [lost_case]).fetchall()[0][
                0
            ]
            == 0
        )
        assert con.execute("SELECT partial FROM odyssey_sync_runs").fetchall() == [(True,)]

    sim.heal()
    before = dict(sim.log.by_key)
    second, outcome2 = sync_and_merge(sim, tmp_path, db, mode="incremental")
    assert not second.partial and second.mode == "incremental"
    assert sim.log.by_key[(GH.value, lost_party)] == before[(GH.value, lost_party)] + 1
    assert outcome2.resolved_calls == 2
    with connect_warehouse(db) as con:
        assert load_retry_calls(con, "sim") == ([], [])
        assert (
            con.execute("SELECT count(*) FROM cases WHERE case_id = ?", [lost_case]).fetchall()[0][
                0
            ]
            == 1
        )
        resolved = con.execute("SELECT resolved_by_sync_id FROM odyssey_failed_calls").fetchall()
        assert {r[0] for r in resolved} == {second.sync_id}


def test_lost_page_holds_the_cursor(sim, tmp_path):
    db = tmp_path / "wh.duckdb"
    sync_and_merge(sim, tmp_path, db)
    with connect_warehouse(db) as con:
        cursor1 = load_cursor(con, "sim")
    sim.break_call(E.MessageType.FIND_PARTIES, "page:1", "soap_fault")
    result, outcome = sync_and_merge(sim, tmp_path, db, mode="incremental")
    assert result.pages_lost == 1 and not outcome.cursor_advanced
    with connect_warehouse(db) as con:
        assert load_cursor(con, "sim") == cursor1


def test_an_incremental_run_never_resolves_a_full_window_loss(sim, tmp_path):
    db = tmp_path / "wh.duckdb"
    sync_and_merge(sim, tmp_path, db)
    sim.break_call(E.MessageType.FIND_PARTIES, "page:1", "soap_fault")
    full, _ = sync_and_merge(sim, tmp_path, db, mode="full")
    assert full.pages_lost == 1
    sim.heal()
    sql = (
        "SELECT sync_id, resolved_by_sync_id FROM odyssey_failed_calls "
        "WHERE call_kind = 'parties_page'"
    )
    incremental, outcome = sync_and_merge(sim, tmp_path, db, mode="incremental")
    assert incremental.pages_lost == 0 and outcome.cursor_advanced
    with connect_warehouse(db) as con:
        assert con.execute(sql).fetchall() == [(full.sync_id, None)]  # still a hole
    healed, _ = sync_and_merge(sim, tmp_path, db, mode="full")
    with connect_warehouse(db) as con:
        assert con.execute(sql).fetchall() == [(full.sync_id, healed.sync_id)]


def test_incremental_sync_sees_move_reset_cancel_and_new_phone_list(sim, tmp_path):
    db = tmp_path / "wh.duckdb"
    sync_and_merge(sim, tmp_path, db)
    with connect_warehouse(db) as con:
        held = con.execute(
            "SELECT hearing_id, start_at FROM hearings h WHERE status = 'Scheduled' "
            "AND start_local > TIMESTAMP '2026-11-20' ORDER BY (SELECT count(*) FROM "
            "hearing_parties hp JOIN contacts c USING (agency_id, party_id) WHERE hp.hearing_id "
            "= h.hearing_id AND c.kind = 'phone') = 0, hearing_id LIMIT 3"
        ).fetchall()
        party_id = con.execute(
            "SELECT party_id FROM hearing_parties JOIN contacts USING (agency_id, party_id) "
            "WHERE hearing_id = ? AND kind = 'phone' LIMIT 1",
            [held[0][0]],
        ).fetchall()[0][0]
        old_phones = {
            r[0]
            for r in con.execute(
                "SELECT raw_value FROM contacts WHERE party_id = ? AND kind = 'phone'", [party_id]
            ).fetchall()
        }
    moved, cancelled, reset = (h[0] for h in held)
    reset_start = held[2][1]
    sim.move_hearing(moved, datetime(2027, 1, 12, 14, 0))
    sim.cancel_hearing(cancelled)
    new_id = sim.reschedule_hearing(reset, datetime(2027, 1, 19, 9, 0))
    sim.replace_phones(party_id, [("Home", "+1 (281) 555-0177"), ("Fax", "281-555-0178")])
    calls_before = sum(sim.log.by_type.values())
    result, _ = sync_and_merge(sim, tmp_path, db, mode="incremental")
    assert result.mode == "incremental"
    assert sum(sim.log.by_type.values()) - calls_before < 100  # changed parties (full: 158)
    with connect_warehouse(db) as con:
        rows = dict(
            (hid, (start.astimezone(UTC), status))
            for hid, start, status in con.execute(
                "SELECT hearing_id, start_at, status FROM hearings "
                "WHERE hearing_id IN (?, ?, ?, ?)",
                [moved, cancelled, reset, new_id],
            ).fetchall()
        )
        assert rows[moved] == (datetime(2027, 1, 12, 20, 0, tzinfo=UTC), "Scheduled")
        assert rows[cancelled][1] == "Cancelled"
        assert rows[reset] == (reset_start.astimezone(UTC), "Reset")  # stays at its old date
        assert rows[new_id] == (datetime(2027, 1, 19, 15, 0, tzinfo=UTC), "Scheduled")
        kinds = {
            r[0]
            for r in con.execute(
                "SELECT change_kind FROM hearing_changes WHERE hearing_id IN (?, ?)",
                [moved, cancelled],
            ).fetchall()
        }
        assert {"new", "rescheduled", "status"} <= kinds
        assert con.execute(
            "SELECT hearing_id, linked_hearing_id FROM hearing_changes WHERE change_kind = 'reset'"
        ).fetchall() == [(new_id, reset)]
        phones = con.execute(
            "SELECT raw_value, value, status, label, phone_type, source FROM contacts "
            "WHERE party_id = ? AND kind = 'phone' AND status <> 'retired' ORDER BY raw_value",
            [party_id],
        ).fetchall()
        assert phones == [
            ("+1 (281) 555-0177", "+12815550177", "valid", "Home", "home", "odyssey_api"),
            ("281-555-0178", "+12815550178", "valid", "Fax", "fax", "odyssey_api"),
        ]
        assert old_phones and old_phones.isdisjoint({p[0] for p in phones})
        retired = con.execute(
            "SELECT raw_value, retired_reason FROM contacts WHERE party_id = ? AND kind = 'phone' "
            "AND status = 'retired' AND retired_at IS NOT NULL",
            [party_id],
        ).fetchall()
        assert {r[0] for r in retired} == old_phones  # kept, with when and why
        assert {r[1] for r in retired} == {f"no longer listed by Odyssey ({result.sync_id})"}


def test_auth_failure_stops_the_sync(sim, tmp_path):
    from court_pipeline.odyssey.client import Credentials

    with pytest.raises(OdysseyAuthError) as err:
        run_sync(sim, tmp_path, creds=Credentials("api_user", "nope-secret", "SIMCOUNTY"))
    assert "401" in str(err.value) and "nope-secret" not in str(err.value)
    assert sim.log.unauthorized == 1


def test_random_faults_everything_arrives(sim, tmp_path):
    sim.set_faults(
        rate_429=0.05,
        retry_after_seconds=0.01,
        rate_5xx=0.05,
        rate_soap_fault=0.05,
        rate_drop=0.05,
        rate_garbage=0.05,
        rate_site_busy=0.05,
    )
    result = sync_agency(
        lambda: make_client(sim.base_url, max_attempts=8),
        agency_id="sim",
        zone=ZONE,
        today=ANCHOR,
        hearing_window_days=WINDOW_DAYS,
        archive_root=tmp_path / "a",
    )
    assert result.failed == [] and result.stats["retries"] > 0
    assert set(sim.log.faults) == {"429", "5xx", "soap_fault", "drop", "garbage", "site_busy"}
    with sim.__class__(parties=120, seed=11, anchor=ANCHOR) as clean_sim:
        clean = run_sync(clean_sim, tmp_path)
    for table in COLUMNS:
        assert len(result.frames[table]) == len(clean.frames[table]), table


def test_a_healed_hearings_call_without_its_case_keeps_the_known_role(sim, tmp_path):
    db = tmp_path / "wh.duckdb"
    sync_and_merge(sim, tmp_path, db)
    with connect_warehouse(db) as con:
        hearing_id, party_id, case_id = con.execute(
            "SELECT hp.hearing_id, hp.party_id, h.case_id FROM hearing_parties hp "
            "JOIN hearings h USING (agency_id, hearing_id) WHERE hp.role = 'Defendant' "
            "ORDER BY hp.hearing_id LIMIT 1"
        ).fetchall()[0]
    # run 2: the party changes, but its hearings call is lost
    sim.add_phone(party_id, "(713) 555-0100", "Cell")
    sim.break_call(GH, party_id, "503")
    second, _ = sync_and_merge(sim, tmp_path, db, mode="incremental")
    assert [f.key for f in second.lost] == [party_id]
    # run 3: the retried hearings call heals, but the case call and the FindParties page are
    # lost: nothing in this run says what the party's role is
    sim.heal()
    sim.break_call(E.MessageType.FIND_CASE, case_id, "503")
    sim.break_call(E.MessageType.FIND_PARTIES, "page:1", "503")
    third, _ = sync_and_merge(sim, tmp_path, db, mode="incremental")
    assert party_id not in set(third.frames["parties"]["party_id"])
    assert hearing_id in set(third.frames["hearing_parties"]["hearing_id"])
    assert (
        third.frames["hearing_parties"]
        .set_index(["hearing_id", "party_id"])
        .loc[(hearing_id, party_id), "role"]
        is None
    )
    assert sorted(f.key for f in third.lost) == sorted([case_id, "page:1"])
    with connect_warehouse(db) as con:
        assert con.execute(
            "SELECT role FROM hearing_parties WHERE hearing_id = ? AND party_id = ?",
            [hearing_id, party_id],
        ).fetchall() == [("Defendant",)]


def test_a_reply_without_a_hearings_status_element_keeps_the_known_status(tmp_path):
    """Any element may be absent: a <Hearing> without <Status> does not empty the status (a
    NULL status would read as Scheduled and restart reminders for a Cancelled hearing)."""
    from court_pipeline.odyssey.parse import parse_hearings, parse_reply
    from court_pipeline.records.merge import merge_records

    def reply(status_xml):
        inner = (f"<GetScheduledHearingsByPartyIDResult><PartyID>p1</PartyID><Sessions>"
                 f"<Session><SessionID>s1</SessionID><StartTime>11/02/2026 09:00 AM</StartTime>"
                 f"<Courtroom>2B</Courtroom><Hearings><Hearing><HearingID>h1</HearingID>"
                 f"<CaseID>c1</CaseID><CaseNumber>CR-1</CaseNumber>{status_xml}</Hearing>"
                 f"</Hearings></Session></Sessions></GetScheduledHearingsByPartyIDResult>")
        root = parse_reply(envelope(inner), E.MessageType.GET_SCHEDULED_HEARINGS, "")
        rows = parse_hearings(root, ZONE, "p1", datetime(2026, 10, 1, tzinfo=UTC)).hearings
        return pd.DataFrame(rows)[["hearing_id", "case_id", "case_number", "status",
                                   "courtroom", "_absent"]]

    with connect_warehouse(tmp_path / "wh.duckdb") as con:
        for ref, status_xml in (("s1", "<Status>Cancelled</Status>"), ("s2", "")):
            merge_records(con, "hearings", reply(status_xml), agency_id="a",
                          source="odyssey_api", source_ref=ref)
        assert con.execute("SELECT status, case_number FROM hearings").fetchall() == [
            ("Cancelled", "CR-1")]
        merge_records(con, "hearings", reply("<Status/>"), agency_id="a",
                      source="odyssey_api", source_ref="s3")
        assert con.execute("SELECT status FROM hearings").fetchall() == [(None,)]


def bad_day_sync(tmp_path, **client_settings):
    """The issue's bad day at its scale (421 calls needed, the issue's sync needed 419): a
    strict 20 req/s limit (429 Retry-After: 1) plus 5% 500, 5% SITE_BUSY, 3% drops and 2%
    garbage, drawn per attempt from (seed, message, key, attempt number), so the faults of a
    run are the same on every run. Returns (needed, result, injected faults, 429s, requests
    the server saw, requests that arrived during a Retry-After)."""
    with OdysseySimulator(parties=300, seed=11, anchor=ANCHOR) as clean_sim:
        needed = run_sync(clean_sim, tmp_path / "clean").stats["calls"]
    with OdysseySimulator(parties=300, seed=11, anchor=ANCHOR) as sim:
        sim.set_faults(
            latency_ms=20,
            rate_limit_per_second=20,
            retry_after_seconds=1,
            rate_5xx=0.05,
            rate_site_busy=0.05,
            rate_drop=0.03,
            rate_garbage=0.02,
        )
        result = sync_agency(
            lambda: make_client(sim.base_url, concurrency=16, max_attempts=5, **client_settings),
            agency_id="sim",
            zone=ZONE,
            today=ANCHOR,
            hearing_window_days=WINDOW_DAYS,
            archive_root=tmp_path / "a",
        )
        limited = sim.log.rate_limited
        requests = sum(sim.log.by_type.values()) + limited
        return needed, result, dict(sim.log.faults), limited, requests, sim.log.early


@pytest.mark.slow  # about 35 s: 500 requests at the server's 20 req/s
def test_rate_limited_faulty_server_full_sync_loses_nothing(tmp_path):
    """The rate unknown: one full sync at concurrency 16 loses 0 calls, sends no new request
    while a Retry-After runs (the simulator sees no more early arrivals than the client had in
    flight when it saw the 429s), and every request beyond the needed ones is one injected
    fault or one 429.

    Not asserted here: total <= 1.2x needed. This seed draws 79 faults on 421 needed calls
    (1/0.85 predicts 17.6%), so faults alone are 1.188x, leaving 5 requests for 429s; the
    first 429 of a sync always catches the requests already in flight before any rate is
    known. Measured: 1.21-1.25x. With the site's limit configured it is met (next test)."""
    needed, result, injected, limited, requests, early = bad_day_sync(tmp_path)
    assert result.failed == [] and result.stats["lost_calls"] == 0
    assert needed == 421
    # the same faults on every run: seeded per attempt, not by arrival order
    assert injected == {"5xx": 32, "site_busy": 22, "drop": 15, "garbage": 10}
    # every request beyond the needed ones is one injected fault or one 429, nothing else
    assert result.stats["calls"] == requests == needed + 79 + limited
    assert result.stats["errors"].get("HTTP_429", 0) == limited
    assert result.stats["throttle_pauses"] >= 1 and result.stats["sent_while_paused"] == 0
    # nothing new reached the server during a Retry-After: early arrivals were in flight
    assert early <= result.stats["in_flight_at_429"]


@pytest.mark.slow  # about 30 s: 500 requests at the server's 20 req/s
def test_a_configured_site_limit_meets_the_bad_day_in_at_most_1_2x_the_calls(tmp_path):
    """With the site's published limit configured (``odyssey.requests_per_second: 20``) the
    gate never sends faster, so the bad day costs only its injected faults: 0 lost, no 429,
    and at most 1.2x the calls needed."""
    needed, result, injected, limited, requests, early = bad_day_sync(
        tmp_path, requests_per_second=20
    )
    assert result.failed == [] and result.stats["lost_calls"] == 0
    assert injected == {"5xx": 32, "site_busy": 22, "drop": 15, "garbage": 10}
    assert (limited, early, result.stats["sent_while_paused"]) == (0, 0, 0)
    assert result.stats["calls"] == requests == needed + 79 == 500
    assert requests <= 1.2 * needed


def test_healing_fetches_no_case_or_party_twice_in_one_run(sim, tmp_path):
    """Retried calls from the last run that the window also meets are fetched once."""
    with_hearings = run_sync(sim, tmp_path / "first")
    party_ids = sorted(with_hearings.frames["parties"]["party_id"].astype(str))[:5]
    case_ids = sorted(with_hearings.frames["cases"]["case_id"].astype(str))[:5]
    sim.log.by_key.clear()
    result = run_sync(sim, tmp_path / "second", retry_parties=party_ids, retry_cases=case_ids)
    assert result.failed == []
    assert max(sim.log.by_key.values()) == 1  # every party, case and page asked for once
    assert result.stats["calls"] == sum(sim.log.by_key.values())

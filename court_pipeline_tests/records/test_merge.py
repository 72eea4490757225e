"""merge_records: upsert without duplicates, documented source precedence, hearing history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import yaml

from court_pipeline.ecr.load import load_file
from court_pipeline.ecr.template import load_template
from court_pipeline.odyssey.client import Credentials, OdysseyClient
from court_pipeline.odyssey.simulator import OdysseySimulator
from court_pipeline.odyssey.store import latest_fetched_run, merge_sync, record_fetch
from court_pipeline.odyssey.sync import replay_archive, sync_agency
from court_pipeline.records.merge import duplicate_keys, mark_hearings_removed, merge_records
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.ecr.conftest import BASE_COLUMNS, HEADER, row

ANCHOR = date(2026, 11, 2)


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture()
def con(tmp_path):
    with connect_warehouse(tmp_path / "w.duckdb") as connection:
        yield connection


def _party(con, party_id: str) -> dict:
    row = con.execute("SELECT * FROM parties WHERE party_id = ?", [party_id]).fetchdf()
    return row.iloc[0].to_dict()


def test_rerun_upserts_without_duplicates(con):
    frame = pd.DataFrame({"party_id": ["1", "2"], "first_name": ["MARIA", "JOSE"]})
    first = merge_records(con, "parties", frame, agency_id="a", source="ecr", source_ref="f1")
    again = merge_records(con, "parties", frame, agency_id="a", source="ecr", source_ref="f1")
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert con.execute("SELECT count(*) FROM parties").fetchone()[0] == 2


def test_duplicate_keys_in_one_frame_keep_the_newest(con):
    frame = pd.DataFrame(
        {
            "party_id": ["1", "1"],
            "last_name": ["OLD", "NEW"],
            "source_modified_at": [_ts("2026-11-01"), _ts("2026-11-02")],
        }
    )
    stats = merge_records(
        con, "parties", frame, agency_id="a", source="odyssey_api", source_ref="s"
    )
    assert stats.inserted == 1
    assert _party(con, "1")["last_name"] == "NEW"


def test_api_wins_ties_but_ecr_fills_gaps(con):
    api = pd.DataFrame({"party_id": ["1"], "first_name": ["MARIA"], "zip": [None]})
    ecr = pd.DataFrame({"party_id": ["1"], "first_name": ["Maria"], "zip": ["77002"]})
    merge_records(con, "parties", api, agency_id="a", source="odyssey_api", source_ref="s1")
    merge_records(con, "parties", ecr, agency_id="a", source="ecr", source_ref="f1")
    row = _party(con, "1")
    assert row["first_name"] == "MARIA"  # API over ECR when neither says when it changed
    assert row["zip"] == "77002"  # ...but the ECR value fills a field the API left empty
    assert row["source"] == "odyssey_api"


def test_newer_modification_wins_over_source_rank(con):
    api = pd.DataFrame(
        {"party_id": ["1"], "last_name": ["ROE"], "source_modified_at": [_ts("2026-11-01")]}
    )
    ecr = pd.DataFrame(
        {"party_id": ["1"], "last_name": ["DOE"], "source_modified_at": [_ts("2026-11-02")]}
    )
    merge_records(con, "parties", api, agency_id="a", source="odyssey_api", source_ref="s1")
    merge_records(con, "parties", ecr, agency_id="a", source="ecr", source_ref="f1")
    assert _party(con, "1")["last_name"] == "DOE"


def test_same_source_null_clears_but_absent_column_is_untouched(con):
    merge_records(
        con,
        "parties",
        pd.DataFrame({"party_id": ["1"], "zip": ["77002"], "city": ["Houston"]}),
        agency_id="a",
        source="odyssey_api",
        source_ref="s1",
    )
    stats = merge_records(
        con,
        "parties",
        pd.DataFrame({"party_id": ["1"], "zip": [None]}),
        agency_id="a",
        source="odyssey_api",
        source_ref="s2",
    )
    row = _party(con, "1")
    assert stats.updated == 1
    assert row["zip"] is None
    assert row["city"] == "Houston"


def test_agencies_do_not_collide(con):
    frame = pd.DataFrame({"party_id": ["1"], "first_name": ["X"]})
    merge_records(con, "parties", frame, agency_id="a", source="ecr", source_ref="f")
    merge_records(con, "parties", frame, agency_id="b", source="ecr", source_ref="f")
    assert con.execute("SELECT count(*) FROM parties").fetchone()[0] == 2


def test_hearing_reschedule_status_and_removal_are_recorded(con):
    start = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    moved = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
    base = {"hearing_id": ["h1"], "case_id": ["c1"], "status": ["Scheduled"]}
    merge_records(
        con,
        "hearings",
        pd.DataFrame({**base, "start_at": [start]}),
        agency_id="a",
        source="ecr",
        source_ref="f1",
    )
    merge_records(
        con,
        "hearings",
        pd.DataFrame({**base, "start_at": [moved], "status": ["Reset"]}),
        agency_id="a",
        source="ecr",
        source_ref="f2",
    )
    assert mark_hearings_removed(con, "a", ["h1"], "missing from snapshot f3", "ecr", "f3") == 1
    assert mark_hearings_removed(con, "a", ["h1"], "again", "ecr", "f4") == 0
    kinds = con.execute(
        "SELECT change_kind, old_status, new_status, old_start_at, new_start_at, reason "
        "FROM hearing_changes ORDER BY changed_at, change_kind"
    ).fetchall()
    by_kind = {k[0]: k for k in kinds}
    assert set(by_kind) == {"new", "rescheduled", "status", "removed"}
    assert by_kind["rescheduled"][3] == start and by_kind["rescheduled"][4] == moved
    assert by_kind["status"][1:3] == ("Scheduled", "Reset")
    assert by_kind["removed"][5] == "missing from snapshot f3"
    status, removed_at = con.execute("SELECT status, removed_at FROM hearings").fetchone()
    assert status == "Removed" and removed_at is not None
    # the hearing comes back in a later file: it is live again
    merge_records(
        con,
        "hearings",
        pd.DataFrame({**base, "start_at": [moved]}),
        agency_id="a",
        source="ecr",
        source_ref="f5",
    )
    status, removed_at = con.execute("SELECT status, removed_at FROM hearings").fetchone()
    assert status == "Scheduled" and removed_at is None


def test_unknown_columns_and_missing_keys_are_errors(con):
    with pytest.raises(ValueError, match="unknown columns"):
        merge_records(
            con,
            "parties",
            pd.DataFrame({"party_id": ["1"], "nope": [1]}),
            agency_id="a",
            source="ecr",
            source_ref="f",
        )
    with pytest.raises(ValueError, match="lacks key columns"):
        merge_records(
            con,
            "parties",
            pd.DataFrame({"first_name": ["x"]}),
            agency_id="a",
            source="ecr",
            source_ref="f",
        )


def test_a_phone_both_sources_carry_is_one_contacts_row(tmp_path, monkeypatch):
    """The same party's phone and email, loaded from a real ECR file (normalize.py's SQL) and
    from a real Odyssey sync against the simulator (contacts.py), land on one row each."""
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(tmp_path / "home"))
    db = tmp_path / "w.duckdb"
    sim = OdysseySimulator(parties=12, seed=5, anchor=ANCHOR)
    sim.start()
    try:
        party = sim.find_party_ids(ANCHOR, ANCHOR + timedelta(days=60), None)[0]
        sim.replace_phones(party, [("Cell", "(713) 555-0142"), ("Home", "555-01")])
        sim.replace_emails(party, ["Maria@Example.COM"])
        _odyssey_sync(sim, tmp_path, db)
    finally:
        sim.stop()
    template_path = tmp_path / "template.yaml"
    template_path.write_text(
        yaml.safe_dump({"name": "t", "delimiter": "|", "columns": dict(BASE_COLUMNS)})
    )
    ecr = tmp_path / "ecr.txt"
    ecr.write_text(
        "\n".join(
            [
                "|".join(HEADER),
                "|".join(row(pid=party, phone="713.555.0142 / 555-01", email="maria@example.com")),
            ]
        )
        + "\n"
    )
    with connect_warehouse(db) as con:
        loaded = load_file(
            con, ecr, load_template(template_path), agency_id="sim", timezone="America/Chicago"
        )
        assert (loaded.rows_loaded, loaded.rows_rejected) == (1, 0)
        rows = con.execute(
            "SELECT kind, value, raw_value, status, source FROM contacts "
            "WHERE agency_id = 'sim' AND party_id = ? ORDER BY kind, value NULLS LAST",
            [party],
        ).fetchall()
    # one row per contact; the API wins the fields (equal times), the ECR file inserted nothing
    assert rows == [
        ("email", "maria@example.com", "Maria@Example.COM", "valid", "odyssey_api"),
        ("phone", "+17135550142", "(713) 555-0142", "valid", "odyssey_api"),
        ("phone", None, "555-01", "rejected", "odyssey_api"),
    ]
    assert loaded.merged["contacts"].inserted == 0


def _odyssey_sync(sim: OdysseySimulator, tmp_path, db) -> None:
    """One full Odyssey sync merged into ``db``, as the odyssey asset runs it."""
    zone = ZoneInfo("America/Chicago")
    result = sync_agency(
        lambda: OdysseyClient(
            sim.base_url,
            Credentials("api_user", "api_password", "SIMCOUNTY"),
            wait_initial=0.01,
            wait_max=0.05,
            wait_jitter=0.01,
        ),
        agency_id="sim",
        zone=zone,
        today=ANCHOR,
        hearing_window_days=60,
        archive_root=tmp_path / "archive",
        modified_since=None,
    )
    assert not result.partial and result.failed == []
    with connect_warehouse(db) as con:
        record_fetch(con, result, None)
        run = latest_fetched_run(con, "sim")
        merge_sync(
            con,
            "sim",
            run["sync_id"],
            replay_archive(result.archive_path, zone),
            window_from=run["window_from"],
            window_to=run["window_to"],
            pages_lost=run["pages_lost"],
            cursor_to=result.started_local,
        )
        before = con.execute(
            "SELECT kind, value, source FROM contacts WHERE agency_id = 'sim' "
            "ORDER BY kind, value NULLS LAST"
        ).fetchall()
    assert ("phone", "+17135550142", "odyssey_api") in before  # the API wrote it first


def test_one_frame_can_insert_update_and_leave_rows_unchanged(con):
    first = pd.DataFrame({"party_id": ["1", "2"], "first_name": ["ANA", "LUIS"]})
    merge_records(con, "parties", first, agency_id="a", source="ecr", source_ref="f1")
    frame = pd.DataFrame({"party_id": ["1", "2", "3"], "first_name": ["ANA", "LUISA", "MAX"]})
    stats = merge_records(con, "parties", frame, agency_id="a", source="ecr", source_ref="f2")
    assert (stats.inserted, stats.updated, stats.unchanged) == (1, 1, 1)
    rows = con.execute(
        "SELECT party_id, first_name, source_ref FROM parties ORDER BY party_id"
    ).fetchall()
    # an unchanged row keeps the file that last changed it; a changed row names the new file
    assert rows == [("1", "ANA", "f1"), ("2", "LUISA", "f2"), ("3", "MAX", "f2")]


def test_duplicate_keys_dedupe_on_the_update_path_too(con):
    merge_records(
        con,
        "parties",
        pd.DataFrame({"party_id": ["1"], "last_name": ["A"]}),
        agency_id="a",
        source="odyssey_api",
        source_ref="s1",
    )
    frame = pd.DataFrame(
        {
            "party_id": ["1", "1", "2", "2"],
            "last_name": ["NEWER", "OLDER", "X", "Y"],
            "source_modified_at": [_ts("2026-11-03"), _ts("2026-11-01"), None, _ts("2026-11-01")],
        }
    )
    stats = merge_records(
        con, "parties", frame, agency_id="a", source="odyssey_api", source_ref="s2"
    )
    assert (stats.inserted, stats.updated, stats.unchanged) == (1, 1, 0)
    assert _party(con, "1")["last_name"] == "NEWER"
    assert _party(con, "2")["last_name"] == "Y"  # a known time beats an unknown one


def test_a_broken_unique_keys_promise_shows_in_duplicate_keys(con):
    frame = pd.DataFrame({"party_id": ["1", "1", "2"], "last_name": ["A", "B", "C"]})
    merge_records(
        con, "parties", frame, agency_id="a", source="ecr", source_ref="f", unique_keys=True
    )
    dupes = duplicate_keys(con, "parties", "a")
    assert dupes.to_dict("records") == [{"agency_id": "a", "party_id": "1", "copies": 2}]
    assert duplicate_keys(con, "parties", ["other agency"]).empty


def test_without_the_promise_duplicate_keys_are_merged_once(con):
    frame = pd.DataFrame({"party_id": ["1", "1", "2"], "last_name": ["A", "B", "C"]})
    stats = merge_records(con, "parties", frame, agency_id="a", source="ecr", source_ref="f")
    assert stats.inserted == 2
    assert duplicate_keys(con, "parties", "a").empty


def test_status_only_frame_logs_the_change_at_the_current_start(con):
    start = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    merge_records(
        con,
        "hearings",
        pd.DataFrame(
            {
                "hearing_id": ["h1", "h2"],
                "start_at": [start, start],
                "status": ["Scheduled", "Scheduled"],
            }
        ),
        agency_id="a",
        source="ecr",
        source_ref="f1",
    )
    stats = merge_records(
        con,
        "hearings",
        pd.DataFrame(
            {"hearing_id": ["h1", "h2", "h3"], "status": ["Cancelled", "Scheduled", "Scheduled"]}
        ),
        agency_id="a",
        source="ecr",
        source_ref="f2",
    )
    assert (stats.inserted, stats.updated, stats.unchanged) == (1, 1, 1)
    changes = con.execute(
        "SELECT hearing_id, change_kind, old_status, new_status, old_start_at, new_start_at "
        "FROM hearing_changes WHERE source_ref = 'f2' ORDER BY hearing_id"
    ).fetchall()
    assert changes == [
        ("h1", "status", "Scheduled", "Cancelled", start, start),
        ("h3", "new", None, "Scheduled", None, None),
    ]
    assert (
        con.execute("SELECT start_at FROM hearings WHERE hearing_id = 'h1'").fetchone()[0] == start
    )  # a frame without start_at never touches it


def test_arrow_frames_merge_like_pandas_frames(con):
    import pyarrow as pa

    frame = pa.table({"party_id": ["1", "2"], "first_name": ["ANA", None]})
    stats = merge_records(
        con, "parties", frame, agency_id="a", source="ecr", source_ref="f1", unique_keys=True
    )
    assert (stats.inserted, stats.updated, stats.unchanged) == (2, 0, 0)
    again = merge_records(
        con, "parties", frame, agency_id="a", source="ecr", source_ref="f1", unique_keys=True
    )
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_a_column_the_row_marks_absent_keeps_its_known_value(con):
    first = pd.DataFrame(
        {"hearing_id": ["h1", "h2"], "party_id": ["p", "p"], "role": ["Defendant", "Witness"]}
    )
    merge_records(
        con, "hearing_parties", first, agency_id="a", source="odyssey_api", source_ref="s1"
    )
    # a later run: h1's role not learned (absent), h2's role learned anew
    later = pd.DataFrame(
        {
            "hearing_id": ["h1", "h2"],
            "party_id": ["p", "p"],
            "role": [None, "Victim"],
            "_absent": ["|role|", None],
        }
    )
    stats = merge_records(
        con,
        "hearing_parties",
        later,
        agency_id="a",
        source="odyssey_api",
        source_ref="s2",
    )
    rows = con.execute("SELECT hearing_id, role FROM hearing_parties ORDER BY 1").fetchall()
    assert rows == [("h1", "Defendant"), ("h2", "Victim")]
    assert (stats.updated, stats.unchanged) == (1, 1)

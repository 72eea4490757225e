"""Loading ECR files into the clean tables: every template feature, rejects, reruns, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pytest

from court_pipeline.ecr.load import load_file
from court_pipeline.ecr.reader import EcrFileError, read_ecr_file
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.ecr.conftest import HEADER, row

TZ = "America/Chicago"


def load(warehouse, path, template, agency="a1", name=None):
    with warehouse() as con:
        return load_file(con, path, template, agency_id=agency, timezone=TZ, file_name=name)


def q(warehouse, sql, params=None):
    with warehouse() as con:
        return con.execute(sql, params or []).fetchall()


def test_rows_in_equals_loaded_plus_rejected_with_readable_reasons(
    warehouse, make_template, write_rows
):
    rows = [
        row(pid="P1"),
        row(pid="P2", date="13/45/2026"),
        row(pid="P3", time="25:99"),
        row(pid="P4", case=""),
        row(pid="", name=""),
        row(pid="P6", dob="not a date"),
        ["P7", "SHORT, ROW"],
        row(pid="P8", date=""),
        row(pid="P9", date="2026-12-02", time="0930"),
    ]
    path = write_rows(rows)
    result = load(warehouse, path, make_template())
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (9, 2, 7)
    reasons = dict(q(warehouse, "SELECT line_number, reason FROM ecr_rejects ORDER BY 1"))
    assert reasons[3] == (
        "line 3: Event Date '13/45/2026' matches none of the formats MM/DD/YYYY, YYYY-MM-DD"
    )
    assert reasons[4] == (
        "line 4: Event Time '25:99' matches none of the formats h:mm AM, HH:mm, HHmm"
    )
    assert reasons[5] == "line 5: Case Number is blank"
    assert reasons[6] == "line 6: no Party ID and no Name"
    assert reasons[7] == "line 7: DOB matches none of the formats MM/DD/YYYY, YYYY-MM-DD"
    assert reasons[8].startswith("line 8: fewer fields than the header (expected 14 fields")
    assert reasons[9] == "line 9: Event Date is blank"
    raw = dict(q(warehouse, "SELECT line_number, raw_row FROM ecr_rejects"))
    assert raw[8] == "P7|SHORT, ROW"
    loads = q(warehouse, "SELECT rows_in, rows_loaded, rows_rejected, status FROM file_loads")
    assert loads == [(9, 2, 7, "loaded")]
    assert q(warehouse, "SELECT party_id FROM parties ORDER BY 1") == [("P1",), ("P9",)]
    starts = q(warehouse, "SELECT start_local FROM hearings ORDER BY 1")
    assert [s[0] for s in starts] == [datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 2, 9, 30)]


def test_rerun_is_idempotent(warehouse, make_template, write_rows):
    path = write_rows(
        [
            row(pid="P1"),
            row(pid="P2", case="CR-2", phone="713-555-0100 / bad"),
            row(pid="P3", date="99/99/2026"),
        ]
    )
    template = make_template()
    first = load(warehouse, path, template)
    counts = {
        t: q(warehouse, f"SELECT count(*) FROM {t}")[0][0]
        for t in (
            "parties",
            "contacts",
            "cases",
            "case_parties",
            "hearings",
            "hearing_parties",
            "ecr_rejects",
            "file_loads",
            "hearing_changes",
        )
    }
    second = load(warehouse, path, template)
    again = {t: q(warehouse, f"SELECT count(*) FROM {t}")[0][0] for t in counts}
    assert again == counts
    assert counts["contacts"] == 5  # P1 phone+email, P2 phone, rejected 'bad', P2 email
    assert first.merged["hearings"].inserted == 2
    assert second.merged["hearings"].inserted == 0
    assert second.merged["hearings"].updated == 0


def test_names_values_languages_and_contacts(warehouse, make_template, write_rows):
    rows = [
        row(
            pid="P1",
            name="DE LA CRUZ JR, JOSÉ LUIS",
            lang="Spanish",
            status="SETT",
            phone="Cell: 713-555-0142 / 281.555.0100",
            email="Jose@Example.COM",
        ),
        row(
            pid="P2",
            name="Nguyễn, Thảo",
            lang="Vietnamese",
            status="Canceled",
            phone="12345",
            email="nope",
            case="CR-2",
        ),
        row(
            pid="P3",
            name="ACME BAIL BONDS",
            lang="vi",
            status="Mystery",
            phone="",
            email="",
            case="CR-3",
        ),
    ]
    template = make_template(value_maps={"event_status": {"SETT": "Scheduled"}})
    load(warehouse, write_rows(rows), template)
    parties = q(
        warehouse,
        "SELECT party_id, first_name, middle_name, last_name, suffix, "
        "preferred_language FROM parties ORDER BY 1",
    )
    assert parties == [
        ("P1", "JOSÉ", "LUIS", "DE LA CRUZ", "JR", "es"),
        ("P2", "Thảo", None, "Nguyễn", None, "vi"),
        ("P3", None, None, "ACME BAIL BONDS", None, "vi"),
    ]
    statuses = q(warehouse, "SELECT case_number, status FROM hearings ORDER BY 1")
    assert statuses == [("CR-1", "Scheduled"), ("CR-2", "Cancelled"), ("CR-3", "Mystery")]
    contacts = q(
        warehouse,
        "SELECT party_id, kind, value, phone_type, status, reject_reason "
        "FROM contacts ORDER BY party_id, kind, value NULLS LAST",
    )
    assert contacts == [
        ("P1", "email", "jose@example.com", None, "valid", None),
        ("P1", "phone", "+12815550100", "unknown", "valid", None),
        ("P1", "phone", "+17135550142", "mobile", "valid", None),
        ("P2", "email", None, None, "rejected", "not an email address (no @)"),
        ("P2", "phone", None, None, "rejected", "too few digits (5; a US number has 10)"),
    ]


def test_dst_days_get_the_right_offsets(warehouse, make_template, write_rows):
    rows = [
        row(pid="P1", date="03/07/2026", time="9:00 AM", case="C1"),  # CST, -06:00
        row(pid="P2", date="03/08/2026", time="9:00 AM", case="C2"),  # CDT, -05:00
        row(pid="P3", date="03/08/2026", time="2:30 AM", case="C3"),  # does not exist
        row(pid="P4", date="11/01/2026", time="1:30 AM", case="C4"),  # happens twice
        row(pid="P5", date="11/01/2026", time="9:00 AM", case="C5"),  # CST again
    ]
    load(warehouse, write_rows(rows), make_template())
    got = dict(q(warehouse, "SELECT case_number, start_at FROM hearings"))
    utc = {k: v.astimezone(UTC).replace(tzinfo=None) for k, v in got.items()}
    assert utc["C1"] == datetime(2026, 3, 7, 15, 0)
    assert utc["C2"] == datetime(2026, 3, 8, 14, 0)
    assert utc["C3"] == datetime(2026, 3, 8, 8, 30)  # 02:30 read as CST = 03:30 CDT
    assert utc["C4"] == datetime(2026, 11, 1, 7, 30)  # the second 01:30 (CST)
    assert utc["C5"] == datetime(2026, 11, 1, 15, 0)
    zones = q(warehouse, "SELECT DISTINCT court_timezone FROM hearings")
    assert zones == [(TZ,)]


def test_exclude_rule_rows_count_as_rejected_kind_excluded(warehouse, make_template, write_rows):
    rows = [
        row(pid="P1"),
        row(pid="P2", status="Held", case="C2"),
        row(pid="P3", status="heard", case="C3"),
    ]
    result = load(
        warehouse,
        write_rows(rows),
        make_template(exclude=[{"field": "event_status", "in": ["Held"]}]),
    )
    assert (result.rows_in, result.rows_loaded, result.rows_rejected, result.rows_excluded) == (
        3,
        1,
        2,
        2,
    )
    kinds = q(warehouse, "SELECT line_number, kind, reason FROM ecr_rejects ORDER BY 1")
    assert kinds == [
        (3, "excluded", "line 3: excluded by template rule: event_status is one of Held"),
        (4, "excluded", "line 4: excluded by template rule: event_status is one of Held"),
    ]


def test_snapshot_marks_missing_hearings_removed_delta_does_not(
    warehouse, make_template, write_rows, tmp_path
):
    snap = make_template(mode="snapshot")
    day1 = write_rows(
        [
            row(pid="P1", case="C1", date="12/01/2026"),
            row(pid="P2", case="C2", date="12/02/2026"),
            row(pid="P3", case="C3", date="12/20/2026"),
        ],
        name="day1.txt",
    )
    load(warehouse, day1, snap, name="day1.txt")
    day2 = write_rows(
        [
            row(pid="P1", case="C1", date="12/01/2026"),
            row(pid="P3", case="C3", date="12/20/2026", status="Continued"),
        ],
        name="day2.txt",
    )
    result = load(warehouse, day2, snap, name="day2.txt")
    assert result.hearings_removed == 1
    hearings = q(
        warehouse, "SELECT case_number, status, removed_reason IS NOT NULL FROM hearings ORDER BY 1"
    )
    assert hearings == [
        ("C1", "Scheduled", False),
        ("C2", "Removed", True),
        ("C3", "Continued", False),
    ]
    reason = q(warehouse, "SELECT removed_reason FROM hearings WHERE case_number = 'C2'")[0][0]
    assert reason == "not in snapshot file day2.txt (window 2026-12-01 to 2026-12-20)"
    changes = q(
        warehouse,
        "SELECT change_kind, new_status FROM hearing_changes WHERE change_kind <> 'new' ORDER BY 1",
    )
    assert changes == [("removed", "Removed"), ("status", "Continued")]
    # a delta file without C1 changes nothing
    delta = make_template(mode="delta")
    day3 = write_rows(
        [row(pid="P3", case="C3", date="12/20/2026", status="Continued")], name="day3.txt"
    )
    assert load(warehouse, day3, delta, name="day3.txt").hearings_removed == 0
    assert q(warehouse, "SELECT status FROM hearings WHERE case_number = 'C1'") == [("Scheduled",)]


def test_derived_keys_without_source_ids(warehouse, make_template, write_rows):
    columns = {k: v for k, v in make_template().columns.items() if k != "party_id"}
    template = make_template(columns=columns)
    rows = [
        row(pid="", name="SMITH, ANN"),
        row(pid="", name="SMITH, ANN", role="Witness"),
        row(pid="", name="SMITH, ANN", dob="02/02/1990", case="CR-9"),
    ]
    load(warehouse, write_rows(rows), template)
    parties = q(warehouse, "SELECT party_id, date_of_birth FROM parties ORDER BY 2")
    assert len(parties) == 2  # same name + dob = same person; other dob = other person
    assert all(p[0].startswith("d:") and len(p[0]) == 26 for p in parties)
    cases = q(warehouse, "SELECT case_id FROM cases ORDER BY 1")
    assert cases == [("n:CR-1",), ("n:CR-9",)]
    hearings = q(warehouse, "SELECT hearing_id FROM hearings")
    assert len(hearings) == 2 and all(h[0].startswith("d:") for h in hearings)
    roles = q(warehouse, "SELECT role FROM case_parties WHERE case_id = 'n:CR-1' ORDER BY 1")
    assert roles == [("Defendant",), ("Witness",)]


def test_positional_headerless_file_with_combined_datetime(warehouse, make_template, write_rows):
    template = make_template(
        has_header=False,
        columns={
            "case_number": 1,
            "last_name": 2,
            "first_name": 3,
            "event_datetime": 4,
            "event_status": 5,
        },
        datetime_formats=["MM/DD/YYYY h:mm AM", "YYYY-MM-DD HH:mm"],
    )
    path = write_rows(
        [
            ["C1", "Peña", "Ana", "12/01/2026 9:15am", "Set"],
            ["C2", "Lê", "Minh", "2026-12-02 14:00", "Scheduled"],
            ["C3", "Lê", "Minh", "tomorrow", "Scheduled"],
        ],
        header=None,
    )
    result = load(warehouse, path, template)
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    got = q(warehouse, "SELECT case_number, start_local, status FROM hearings ORDER BY 1")
    assert got == [
        ("C1", datetime(2026, 12, 1, 9, 15), "Scheduled"),
        ("C2", datetime(2026, 12, 2, 14, 0), "Scheduled"),
    ]
    reason = q(warehouse, "SELECT reason FROM ecr_rejects")[0][0]
    assert reason == (
        "line 3: column 4 'tomorrow' matches none of the formats "
        "MM/DD/YYYY h:mm AM, YYYY-MM-DD HH:mm"
    )


def test_case_insensitive_headers_skip_rows_and_footer(warehouse, make_template, write_rows):
    template = make_template(
        case_insensitive=True,
        skip_rows=2,
        footer_pattern="^\\*\\*\\* END",
        columns={
            "party_id": "party id",
            "full_name": "NAME",
            "event_date": "event date",
            "event_time": "event time",
            "case_number": "case number",
        },
    )
    path = write_rows(
        [row(pid="P1"), row(pid="P2", case="C2")],
        prefix="Odyssey ECR export\r\nrun 2026-11-22\r\n",
        suffix="*** END OF REPORT: 2 rows ***\r\n\r\n",
    )
    result = load(warehouse, path, template)
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    strict = make_template(
        columns={
            "party_id": "party id",
            "case_number": "Case Number",
            "event_date": "Event Date",
            "event_time": "Event Time",
        }
    )
    with pytest.raises(EcrFileError, match="'party id' \\(party_id\\)"):
        load(warehouse, write_rows([row()], name="strict.txt"), strict)


def test_columns_are_read_by_header_name_in_any_order(warehouse, make_template, write_rows):
    """The loader finds each mapped column by its header name, not its position: the same row
    written with the columns reversed loads every field into its own warehouse column."""
    values = row(
        pid="P7",
        name="GARZA, LUIS",
        role="Witness",
        lang="Spanish",
        phone="713-555-0199",
        email="luis@example.com",
        dob="03/04/1985",
        date="12/03/2026",
        time="2:15 PM",
        status="Scheduled",
        location="Annex B",
        judge="Hon. Ortiz",
        case="CR-77",
        htype="Pretrial",
    )
    path = write_rows([values[::-1]], header=HEADER[::-1])
    result = load(warehouse, path, make_template())
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (1, 1, 0)
    assert q(
        warehouse,
        "SELECT party_id, first_name, last_name, preferred_language, date_of_birth FROM parties",
    ) == [("P7", "LUIS", "GARZA", "es", date(1985, 3, 4))]
    assert q(warehouse, "SELECT case_id, party_id, role FROM case_parties") == [
        ("n:CR-77", "P7", "Witness")
    ]
    assert q(
        warehouse,
        "SELECT case_number, hearing_type, start_local, status, location, judge FROM hearings",
    ) == [
        ("CR-77", "Pretrial", datetime(2026, 12, 3, 14, 15), "Scheduled", "Annex B", "Hon. Ortiz")
    ]
    assert q(warehouse, "SELECT kind, value FROM contacts ORDER BY kind") == [
        ("email", "luis@example.com"),
        ("phone", "+17135550199"),
    ]


def test_second_of_two_concurrent_runs_skips_a_file_the_first_loaded(
    warehouse, make_template, write_rows
):
    """Both runs listed the file as pending before either wrote; the one that gets the lock
    second re-checks file_loads inside its transaction and skips with a clear note."""
    from court_pipeline.ecr.load import prepare_file, sha256_file, write_prepared

    path = write_rows([row(pid="P1"), row(pid="P2", case="CR-2"), row(pid="P3", date="bad")])
    template = make_template()
    sha = sha256_file(path)
    first_run = prepare_file(path, template, TZ)
    second_run = prepare_file(path, template, TZ)
    with warehouse() as con:
        first = write_prepared(
            con, first_run, agency_id="a1", content_sha256=sha, partition_key="a1|2026-11-22"
        )
    tables = ("parties", "contacts", "hearings", "hearing_changes", "ecr_rejects", "file_loads")
    before = {t: q(warehouse, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    with warehouse() as con:
        second = write_prepared(
            con, second_run, agency_id="a1", content_sha256=sha, partition_key="a1|2026-11-23"
        )
    assert first.skipped is None and first.rows_loaded == 2
    assert second.skipped is not None
    assert second.skipped.startswith(
        "ecr.txt: already loaded by the run for partition a1|2026-11-22 at "
    )
    assert second.skipped.endswith("; skipped")
    assert (second.rows_loaded, second.merged) == (0, {})
    assert {t: q(warehouse, f"SELECT count(*) FROM {t}")[0][0] for t in tables} == before
    assert before["hearing_changes"] == 2  # one 'new' row per hearing, not two
    assert q(warehouse, "SELECT partition_key, status FROM file_loads") == [
        ("a1|2026-11-22", "loaded")
    ]
    # a file that failed earlier is not 'loaded': a later run still loads it
    with warehouse() as con:
        con.execute("UPDATE file_loads SET status = 'failed'")
        again = write_prepared(
            con, second_run, agency_id="a1", content_sha256=sha, partition_key="a1|2026-11-23"
        )
    assert again.skipped is None and again.rows_loaded == 2


def test_a_contact_seen_on_several_lines_keeps_its_last_line(warehouse, make_template, write_rows):
    rows = [
        row(pid="P1", phone="713-555-0142", case="CR-1", email=""),
        row(pid="P1", phone="Cell: (713) 555-0142", case="CR-2", email=""),
        row(pid="P1", phone="(713) 555-0142 / 713.555.0142", case="CR-3", email="A@B.COM"),
    ]
    result = load(warehouse, write_rows(rows), make_template())
    assert result.merged["contacts"].inserted == 2  # one phone, one email
    phones = q(
        warehouse, "SELECT raw_value, value, label, phone_type FROM contacts WHERE kind = 'phone'"
    )
    # line 4 is last, and within it the last piece: its raw text and its (absent) label win
    assert phones == [("713.555.0142", "+17135550142", None, "unknown")]
    emails = q(warehouse, "SELECT raw_value, value FROM contacts WHERE kind = 'email'")
    assert emails == [("A@B.COM", "a@b.com")]


def test_attorney_fields_become_a_party_with_the_attorney_role(
    warehouse, make_template, write_rows
):
    header = [*HEADER, "Attorney", "Bar No"]
    rows = [
        [*row(pid="P1", case="CR-1"), "SMITH, JOHN Q", "24001234"],
        [*row(pid="P2", case="CR-2"), "SMITH, JOHN Q", "2400 1234"],  # same bar number
        [*row(pid="P3", case="CR-3"), "DOE JR, JANE", ""],  # no bar number: derived key
        [*row(pid="P4", case="CR-4"), "", ""],  # no attorney
    ]
    columns = {
        **make_template().columns,
        "attorney_name": "Attorney",
        "attorney_bar_number": "Bar No",
    }
    template = make_template(columns=columns)
    result = load(warehouse, write_rows(rows, header=header), template)
    assert result.rows_loaded == 4
    attorneys = q(
        warehouse,
        "SELECT party_id, last_name, first_name, middle_name, suffix, "
        "bar_number FROM parties WHERE party_id NOT LIKE 'P%' ORDER BY 1",
    )
    assert attorneys[0] == ("bar:24001234", "SMITH", "JOHN", "Q", None, "24001234")
    assert attorneys[1][0].startswith("d:") and attorneys[1][1:] == (
        "DOE",
        "JANE",
        None,
        "JR",
        None,
    )
    assert len(attorneys) == 2
    roles = q(
        warehouse,
        "SELECT case_id, party_id, role FROM case_parties WHERE role = 'Attorney' ORDER BY 1",
    )
    assert roles == [
        ("n:CR-1", "bar:24001234", "Attorney"),
        ("n:CR-2", "bar:24001234", "Attorney"),
        ("n:CR-3", attorneys[1][0], "Attorney"),
    ]
    defendants = q(
        warehouse, "SELECT party_id, bar_number FROM parties WHERE party_id LIKE 'P%' ORDER BY 1"
    )
    assert defendants == [("P1", None), ("P2", None), ("P3", None), ("P4", None)]


def test_bond_agent_is_kept_on_the_case(warehouse, make_template, write_rows):
    header = [*HEADER, "Bond Agent"]
    rows = [[*row(pid="P1", case="CR-1"), "  A-1 Bail Bonds "], [*row(pid="P2", case="CR-2"), ""]]
    template = make_template(columns={**make_template().columns, "bond_agent": "Bond Agent"})
    assert load(warehouse, write_rows(rows, header=header), template).rows_loaded == 2
    assert q(warehouse, "SELECT case_id, bond_agent FROM cases ORDER BY 1") == [
        ("n:CR-1", "A-1 Bail Bonds"),
        ("n:CR-2", None),
    ]


def test_a_warehouse_from_before_bond_agent_gets_the_column(tmp_path):
    import duckdb

    from court_pipeline.warehouse.resource import SCHEMA_DIR

    path = tmp_path / "old.duckdb"
    old_schema = (
        (SCHEMA_DIR / "10_core.sql")
        .read_text(encoding="utf-8")
        .split("-- Columns added after")[0]
        .replace("    bond_agent           VARCHAR,", "")
    )
    con = duckdb.connect(str(path))
    con.execute(old_schema)
    con.close()
    with connect_warehouse(path) as con:
        columns = [r[0] for r in con.execute("DESCRIBE cases").fetchall()]
    assert "bond_agent" in columns


def test_the_last_line_of_a_key_wins_in_every_table(warehouse, make_template, write_rows):
    rows = [
        row(pid="P1", name="DOE, JANE", case="CR-1", status="Scheduled", location="Annex"),
        row(pid="P2", name="ROE, RICK", case="CR-2"),
        row(pid="P1", name="DOE, JANET", case="CR-1", status="Cancelled", location="Main"),
        row(pid="P3", name="POE, PAM", case="CR-3"),
    ]
    result = load(warehouse, write_rows(rows), make_template())
    assert result.rows_loaded == 4
    assert {t: s.inserted for t, s in result.merged.items() if t != "contacts"} == {
        "parties": 3,
        "cases": 3,
        "case_parties": 3,
        "hearings": 3,
        "hearing_parties": 3,
    }
    assert q(warehouse, "SELECT party_id, first_name FROM parties ORDER BY 1") == [
        ("P1", "JANET"),
        ("P2", "RICK"),
        ("P3", "PAM"),
    ]
    assert q(warehouse, "SELECT case_number, status, location FROM hearings ORDER BY 1") == [
        ("CR-1", "Cancelled", "Main"),
        ("CR-2", "Scheduled", "Courthouse"),
        ("CR-3", "Scheduled", "Courthouse"),
    ]
    for table in ("parties", "cases", "case_parties", "hearings", "hearing_parties"):
        assert q(warehouse, f"SELECT count(*) FROM {table}") == [(3,)], table


@pytest.mark.parametrize(
    ("field", "value", "column", "expected"),
    [
        ("pid", " P1", "party_id", "P1"),  # at the start of the line
        ("judge", "Hon. A ", "judge", "Hon. A"),  # before a delimiter
        ("location", " Annex", "location", "Annex"),  # after a delimiter
        ("location", '" Annex | 2 "', "location", "Annex | 2"),  # inside quotes
        ("htype", "Arraignment  ", "hearing_type", "Arraignment"),  # at the end of the line
        ("judge", "Hon. A\u00a0", "judge", "Hon. A"),  # a no-break space
    ],
)
def test_a_space_at_either_end_of_a_value_is_trimmed_wherever_it_sits(
    warehouse, make_template, write_rows, field, value, column, expected
):
    clean = write_rows([row(pid="P2", case="CR-2")], name="clean.txt")
    messy = write_rows([row(pid="P2", case="CR-2"), row(**{field: value})], name="messy.txt")
    con = duckdb.connect()
    assert read_ecr_file(clean, make_template(), con).plain_columns == {
        f"c{i}" for i in range(1, len(HEADER) + 1)
    }
    raw = read_ecr_file(messy, make_template(), con)
    assert raw.field_columns[column] not in raw.plain_columns
    assert len(raw.plain_columns) == (0 if "\u00a0" in value else len(HEADER) - 1)
    result = load(warehouse, messy, make_template())
    assert result.rows_loaded == 2
    table = "parties" if column == "party_id" else "hearings"
    key = "party_id" if column == "party_id" else "case_number"
    got = q(
        warehouse,
        f"SELECT {column} FROM {table} WHERE {key} <> ? ORDER BY 1",
        ["P2" if column == "party_id" else "CR-2"],
    )
    assert got == [(expected,)]


def test_a_newer_file_replaces_the_partys_list_and_retires_what_it_dropped(
    warehouse, make_template, write_rows
):
    template = make_template()
    load(
        warehouse,
        write_rows(
            [row(pid="P1"), row(pid="P2", phone="281-555-0100", email="", case="CR-2")],
            name="day1.txt",
        ),
        template,
    )
    second = load(
        warehouse,
        write_rows([row(pid="P1", phone="Home: 713-555-0199", email="")], name="day2.txt"),
        template,
    )
    contacts = q(
        warehouse,
        "SELECT party_id, value, phone_type, status, retired_reason, "
        "retired_at IS NOT NULL FROM contacts ORDER BY party_id, value",
    )
    why = f"no longer listed by the ECR file ({second.content_sha256})"
    assert contacts == [
        ("P1", "+17135550142", "unknown", "retired", why, True),
        ("P1", "+17135550199", "home", "valid", None, False),
        ("P1", "maria@example.com", None, "retired", why, True),  # a blank cell: no email
        ("P2", "+12815550100", "unknown", "valid", None, False),  # not in day 2: unchanged
    ]
    # listed again by a later file: back in use, the retirement cleared
    third = load(
        warehouse, write_rows([row(pid="P1", email="", case="CR-9")], name="day3.txt"), template
    )
    assert q(
        warehouse,
        "SELECT value, status, retired_reason FROM contacts "
        "WHERE party_id = 'P1' AND kind = 'phone' ORDER BY value",
    ) == [
        ("+17135550142", "valid", None),
        ("+17135550199", "retired", f"no longer listed by the ECR file ({third.content_sha256})"),
    ]


def test_a_file_without_an_email_column_says_nothing_about_emails(
    warehouse, make_template, write_rows
):
    load(warehouse, write_rows([row(pid="P1")], name="day1.txt"), make_template())
    columns = {k: v for k, v in make_template().columns.items() if k != "email"}
    load(
        warehouse,
        write_rows([row(pid="P1", phone="713-555-0199")], name="day2.txt"),
        make_template(columns=columns),
    )
    assert q(warehouse, "SELECT value, status FROM contacts ORDER BY value") == [
        ("+17135550142", "retired"),
        ("+17135550199", "valid"),
        ("maria@example.com", "valid"),
    ]


def test_a_reset_in_a_file_links_the_new_hearing_to_the_old_one(
    warehouse, make_template, write_rows
):
    template = make_template()
    load(warehouse, write_rows([row(pid="P1")], name="day1.txt"), template)
    # the next file: the old setting is Reset (still at its date), a new setting is Scheduled
    load(
        warehouse,
        write_rows(
            [row(pid="P1", status="Reset"), row(pid="P1", date="12/15/2026", time="1:30 PM")],
            name="day2.txt",
        ),
        template,
    )
    hearings = dict(q(warehouse, "SELECT start_local, hearing_id FROM hearings"))
    old, new = hearings[datetime(2026, 12, 1, 9)], hearings[datetime(2026, 12, 15, 13, 30)]
    links = q(
        warehouse,
        "SELECT hearing_id, linked_hearing_id, new_status, source, reason "
        "FROM hearing_changes WHERE change_kind = 'reset'",
    )
    assert links == [(new, old, "Reset", "ecr", f"replaces hearing {old} (now Reset)")]


def test_mapped_language_values_become_iso_codes_and_unknown_ones_are_reported(
    warehouse, make_template, write_rows
):
    rows = [
        row(pid="P1", lang="SPA"),
        row(pid="P2", lang="Spanish"),
        row(pid="P3", lang="VN"),
        row(pid="P4", lang="Klingon"),
        row(pid="P5", lang="Klingon"),
        row(pid="P6", lang="Elvish"),
    ]
    template = make_template(
        value_maps={"preferred_language": {"SPA": "Spanish", "VN": "Vietnamese"}}
    )
    result = load(warehouse, write_rows(rows), template)
    assert q(warehouse, "SELECT party_id, preferred_language FROM parties ORDER BY 1") == [
        ("P1", "es"),
        ("P2", "es"),
        ("P3", "vi"),
        ("P4", "Klingon"),
        ("P5", "Klingon"),
        ("P6", "Elvish"),
    ]
    assert result.notes == [
        "preferred_language: values that are no known language, kept as written (add them "
        "to value_maps.preferred_language): 'Klingon' (2), 'Elvish' (1)"
    ]


def test_a_language_value_map_to_an_unknown_language_is_a_template_error(make_template):
    from court_pipeline.ecr.template import TemplateError

    with pytest.raises(
        TemplateError,
        match="field 'value_maps': Value error, "
        "preferred_language: 'Espanol!' is no language name or ISO 639-1 code",
    ):
        make_template(value_maps={"preferred_language": {"SPA": "Espanol!"}})

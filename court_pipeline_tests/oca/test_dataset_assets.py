"""Real Dagster runs of the OCA dataset assets over a tmp DuckDB warehouse."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest

from court_pipeline.oca.assets import CHECK_NAME, build_oca_assets
from court_pipeline.oca.contracts import json_validator
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.warehouse import WarehouseResource

PARTITION = dg.MultiPartitionKey({"agency": "harris", "date": "2026-11-22"})


def _run(registry, registry_file, warehouse_file, selection):
    partitions = agency_day_partitions(registry)
    assets = build_oca_assets(registry, partitions, registry_file)
    chosen = [a for a in assets if a.key.path[0] in selection]
    return dg.materialize(
        chosen,
        partition_key=PARTITION,
        resources={"warehouse": WarehouseResource(path=str(warehouse_file))},
    )


def test_factory_builds_nine_assets_with_clean_deps(registry, registry_file):
    assets = build_oca_assets(registry, agency_day_partitions(registry), registry_file)
    names = [a.key.path[0] for a in assets]
    assert names == [
        "oca_case_status",
        "oca_case_events",
        "oca_charges",
        "oca_attorney",
        "oca_appointments",
        "oca_party",
        "oca_dispositions_criminal",
        "oca_dispositions_non_criminal",
        "oca_unmapped_codes",
    ]
    deps = {k.path[0] for k in assets[2].dependency_keys}
    assert {"cases", "parties", "hearings", "charges", "attorneys", "case_events"} <= deps


def test_charges_dataset_materializes_rows_held_back_and_check(
    registry, registry_file, warehouse_file
):
    result = _run(registry, registry_file, warehouse_file, {"oca_charges"})
    assert result.success
    meta = result.asset_materializations_for_node("oca_charges")[0].metadata
    counts = (meta["rows"].value, meta["rows_passed"].value, meta["rows_held_back"].value)
    assert counts == (3, 2, 1)
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == CHECK_NAME
    assert check.passed is False
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert "plea_type" in check.metadata["top_failure_reasons"].value
    assert "code_map" in check.metadata["top_failure_reasons"].value

    con = duckdb.connect(str(warehouse_file), read_only=True)
    rows = con.execute(
        "SELECT * FROM oca_charges WHERE agency_id = 'harris' ORDER BY recordid"
    ).fetchdf()
    assert list(rows["recordid"]) == ["5550001-7001", "5550002-7002"]
    first = rows.iloc[0]
    assert first["county"] == "Harris" and first["publisher"] == "Tyler Tech-Odyssey"
    assert first["plea_type"] == "N - Not Guilty"
    assert first["level_and_degree_of_prosecuted_offense"] == "MB - Misdemeanor - Class B"
    assert first["filing_statute"] == "PC" and first["statute_citation"] == "49.04"
    assert first["party_race"] == "White" and first["party_ethnicity"] == "Hispanic"
    assert first["party_sex"] == "Female" and first["party_zip_code"] == "77002"
    assert first["party_age_at_time_of_offense"] == 36.0  # born 1990-06-15, offense 2026-10-30
    assert first["offense_date"] == "2026-10-30"
    assert first["judicial_council_offense_type"] == "DWI - First Offense"
    assert first["jcit_case_type"] == "Misdemeanor B"
    assert first["court_type"] == "Statutory County Court"
    second = rows.iloc[1]
    assert second["charge_disposition"] == "Convicted" and second["plea_type"] == "G - Guilty"
    # Every stored row is valid for the plain JSON Schema validator too.
    fields = list(json_validator("di-texas-oca-court-charges").schema["properties"])
    for _, row in rows.iterrows():
        record = {f: (None if row[f] is None or row[f] != row[f] else row[f]) for f in fields}
        assert json_validator("di-texas-oca-court-charges").is_valid(record), record
    held = con.execute(
        "SELECT recordid, field, value, rule, message, partition_key FROM oca_dataset_held_back"
    ).fetchall()
    assert held == [
        ("5550002-7003", "plea_type", "ZZ", "code_map", held[0][4], "harris|2026-11-22")
    ]
    assert "maps.plea" in held[0][4]
    build = con.execute(
        "SELECT rows, rows_passed, rows_held_back, top_reasons FROM oca_dataset_builds"
    ).fetchone()
    assert build[:3] == (3, 2, 1)
    assert json.loads(build[3]) == [{"field": "plea_type", "rule": "code_map", "rows": 1}]
    con.close()


def test_rerun_replaces_rows_instead_of_duplicating(registry, registry_file, warehouse_file):
    _run(registry, registry_file, warehouse_file, {"oca_case_status"})
    _run(registry, registry_file, warehouse_file, {"oca_case_status"})
    con = duckdb.connect(str(warehouse_file), read_only=True)
    ids = [
        r[0]
        for r in con.execute("SELECT recordid FROM oca_case_status ORDER BY recordid").fetchall()
    ]
    assert ids == ["5550001", "5550002", "5550004"]  # 5550003 is a Justice Court case: held
    assert con.execute("SELECT count(*) FROM oca_dataset_held_back").fetchone()[0] == 1
    status = con.execute(
        "SELECT current_case_status, case_status_event, case_status_date FROM oca_case_status "
        "WHERE recordid = '5550002'"
    ).fetchone()
    assert status == ("Disposed", "Case Disposed", "2026-10-01")
    con.close()


def test_events_attorney_party_and_dispositions(registry, registry_file, warehouse_file):
    result = _run(
        registry,
        registry_file,
        warehouse_file,
        {
            "oca_case_events",
            "oca_attorney",
            "oca_party",
            "oca_dispositions_criminal",
            "oca_dispositions_non_criminal",
            "oca_appointments",
        },
    )
    assert result.success
    con = duckdb.connect(str(warehouse_file), read_only=True)

    def ids(table):
        return [r[0] for r in con.execute(f"SELECT recordid FROM {table} ORDER BY 1").fetchall()]

    # BOND maps to null (not an OCA event); the future JT hearing has not happened yet.
    assert ids("oca_case_events") == ["5550001-61001", "5550002-H9900017"]
    assert con.execute("SELECT event_type FROM oca_case_events ORDER BY recordid").fetchall() == [
        ("Order Determining Indigency Issued",),
        ("Jury Trial",),
    ]
    assert ids("oca_attorney") == ["5550001-300045-100234"]
    assert con.execute("SELECT attorney_type, party_represented FROM oca_attorney").fetchone() == (
        "Appointed - public defender",
        "Defendant",
    )
    assert ids("oca_party") == ["5550001-100234", "5550002-100300"]
    assert ids("oca_dispositions_criminal") == []  # attorney type XYZ unmapped: held back
    assert ids("oca_dispositions_non_criminal") == ["5550004"]
    assert ids("oca_appointments") == []
    reasons = con.execute(
        "SELECT entity_type, recordid, field, rule FROM oca_dataset_held_back ORDER BY 1, 2, 3"
    ).fetchall()
    assert ("di-texas-oca-court-party", "5550004-100400", "party_race", "code_map") in reasons
    assert ("di-texas-oca-court-case-events", "5550002-61003", "event_type", "code_map") in reasons
    con.close()


def test_unmapped_codes_asset_counts_every_local_code(registry, registry_file, warehouse_file):
    result = _run(registry, registry_file, warehouse_file, {"oca_unmapped_codes"})
    assert result.success
    meta = result.asset_materializations_for_node("oca_unmapped_codes")[0].metadata
    assert meta["unmapped_codes"].value == 6
    con = duckdb.connect(str(warehouse_file), read_only=True)
    rows = con.execute(
        "SELECT code_kind, local_code, local_description, count FROM oca_unmapped_codes "
        "ORDER BY 1, 2"
    ).fetchall()
    con.close()
    assert rows == [
        ("attorney_type", "XYZ", "Mystery", 1),
        ("court_type", "Justice Court", "Justice Court", 1),
        ("event_type", "NEWX", "Some New Event", 1),
        ("plea", "ZZ", "Weird plea", 1),
        ("race", "Q", "Q", 1),
        ("sex", "X", "X", 1),
    ]


CODED_CHARGE_FIELDS = [
    "court_type",
    "primary_case_category",
    "judicial_council_case_category",
    "jcit_case_type",
    "judicial_council_offense_type",
    "case_judicial_officer_type",
    "party_race",
    "party_ethnicity",
    "party_sex",
    "party_indigency_status",
    "filing_statute",
    "level_and_degree_of_prosecuted_offense",
    "charge_manner_of_disposition",
    "charge_disposition",
    "plea_type",
]


def test_no_code_map_holds_everything_back_and_names_what_to_add(tmp_path, warehouse_file):
    """An agency without ``oca.code_map``: every row carrying a local code is held back with
    the code map entry to add (a missing mapping is never sent as null, which would report
    "no value" for a value the agency has), and nothing reaches the dataset."""
    from court_pipeline.registry.loader import load_registry

    from .conftest import write_registry

    (tmp_path / "nomap").mkdir()
    registry_file = write_registry(tmp_path / "nomap", code_map=None)
    result = _run(load_registry(registry_file), registry_file, warehouse_file, {"oca_charges"})
    meta = result.asset_materializations_for_node("oca_charges")[0].metadata
    counts = (meta["rows"].value, meta["rows_passed"].value, meta["rows_held_back"].value)
    assert counts == (3, 0, 3)
    assert meta["code_map"].value == "(no code map)"
    con = duckdb.connect(str(warehouse_file), read_only=True)
    sent = con.execute("SELECT count(*) FROM oca_charges").fetchone()[0]
    held = con.execute(
        "SELECT recordid, count(*), min(rule), max(rule), bool_and(message LIKE '%(no code map)%')"
        " FROM oca_dataset_held_back WHERE entity_type = 'di-texas-oca-court-charges'"
        " GROUP BY 1 ORDER BY 1"
    ).fetchall()
    entries = {
        row[0]
        for row in con.execute(
            "SELECT code_map_entry FROM oca_dataset_held_back "
            "WHERE entity_type = 'di-texas-oca-court-charges'"
        ).fetchall()
    }
    con.close()
    assert sent == 0
    assert [(r[0], r[2], r[3], r[4]) for r in held] == [
        ("5550001-7001", "code_map", "code_map", True),
        ("5550002-7002", "code_map", "code_map", True),
        ("5550002-7003", "code_map", "code_map", True),
    ]
    assert all(r[1] >= 1 for r in held)
    # what the operator is told to add (code_map_entries_to_add), kind by kind
    assert {e.split(".")[1] for e in entries} == {
        "case_category", "case_type", "charge_degree", "court_type", "disposition",
        "ethnicity", "judicial_officer_type", "offense", "plea", "race", "sex", "statute",
    }
    assert {'maps.plea."NG"', 'maps.plea."G"', 'maps.offense."5499"'} <= entries


def _metadata_text(result: dg.ExecuteInJobResult) -> str:
    """Every metadata value of every materialization and check evaluation of the run."""
    entries = [
        *(e.materialization.metadata for e in result.get_asset_materialization_events()),
        *(e.metadata for e in result.get_asset_check_evaluations()),
    ]
    return "\n".join(str(value.value) for metadata in entries for value in metadata.values())


@pytest.mark.parametrize("entity", ["oca_charges", "oca_party"])
def test_metadata_shows_no_real_personal_value(entity, registry, registry_file, warehouse_file):
    """The UI metadata (previews, failure reasons) holds none of the parties' real names and
    birth dates, read from the warehouse rather than guessed."""
    con = duckdb.connect(str(warehouse_file))
    con.execute("UPDATE cases SET judge_type = 'Chief Wizard' WHERE case_id = '5550001'")
    personal = {
        str(value)
        for row in con.execute(
            "SELECT first_name, middle_name, last_name, date_of_birth FROM parties "
            "WHERE agency_id = 'harris'"
        ).fetchall()
        for value in row
        if value is not None and len(str(value)) > 2
    }
    con.close()
    assert len(personal) >= 4
    result = _run(registry, registry_file, warehouse_file, {entity})
    text = _metadata_text(result)
    if entity == "oca_charges":
        reasons = result.get_asset_check_evaluations()[0].metadata["top_failure_reasons"].value
        assert "case_judicial_officer_type" in reasons and "Chief Wizard" in reasons
    assert len(text) > 200
    assert sorted(v for v in personal if v in text) == []


NEW_CASES = """
INSERT INTO cases (agency_id, case_id, case_number, case_category, case_category_code,
                   case_type, case_type_code, case_status, case_status_code, case_status_date,
                   file_date, court_name, court_type, oca_court_id, judge_name, judge_type,
                   source) VALUES
 ('harris', '5550005', 'CV-26-000201', 'Civil', 'CV', 'Debt/Contract', 'DC', 'Open', 'OPEN',
  DATE '2026-11-01', DATE '2026-11-01', 'Justice of the Peace Pct. 1 Pl. 2', 'Justice Court',
  '101060012', 'Hon. T. Nguyen', 'Judge', 'odyssey_api'),
 ('harris', '5550006', 'CV-26-000202', 'Civil', 'CV', 'Debt/Contract', 'DC', 'Odd', 'WEIRD',
  DATE '2026-11-01', DATE '2026-11-01', '180th District Court', 'District Court', '101010180',
  'Hon. D. O''Brien', 'Judge', 'odyssey_api'),
 ('harris', '5550007', 'CV-26-000203', 'Civil', 'CV', 'Debt/Contract', 'DC', 'Open', 'OPEN',
  DATE '2026-11-01', DATE '2026-11-01', '180th District Court', 'District Court', '101010180',
  'Hon. D. O''Brien', 'Judge', 'odyssey_api');
"""


def test_non_criminal_dispositions_hold_back_only_closed_or_status_unknown_cases(
    registry, registry_file, warehouse_file
):
    """Issue 16: an open case with an unmapped court type is no disposition to fix."""
    con = duckdb.connect(str(warehouse_file))
    con.execute(NEW_CASES)
    con.close()

    result = _run(
        registry,
        registry_file,
        warehouse_file,
        {"oca_dispositions_non_criminal", "oca_case_status"},
    )

    assert result.success
    con = duckdb.connect(str(warehouse_file), read_only=True)
    held = con.execute(
        "SELECT recordid, field, rule, code_map_entry FROM oca_dataset_held_back "
        "WHERE entity_type = 'di-texas-oca-court-dispositions-non-criminal' ORDER BY 1"
    ).fetchall()
    # 5550003: closed, court type unmapped; 5550006: status code unmapped (maybe closed).
    # 5550005 (open, court type unmapped) and 5550007 (open) are not dispositions at all.
    assert held == [
        ("5550003", "court_type", "code_map", 'maps.court_type."Justice Court"'),
        ("5550006", "current_case_status", "code_map", 'maps.case_status."WEIRD"'),
    ]
    passed = con.execute("SELECT recordid FROM oca_dispositions_non_criminal ORDER BY 1")
    assert passed.fetchall() == [("5550004",)]
    build = con.execute(
        "SELECT rows, rows_passed, rows_held_back, not_reported FROM oca_dataset_builds "
        "WHERE entity_type = 'di-texas-oca-court-dispositions-non-criminal'"
    ).fetchone()
    assert build == (3, 1, 2, 2)  # not reported: the open cases 5550005 and 5550007
    status_held = con.execute(
        "SELECT recordid, code_map_entry FROM oca_dataset_held_back "
        "WHERE entity_type = 'di-texas-oca-court-case-status' ORDER BY 1"
    ).fetchall()
    assert status_held == [
        ("5550003", 'maps.court_type."Justice Court"'),
        ("5550005", 'maps.court_type."Justice Court"'),
        ("5550006", 'maps.case_status."WEIRD"'),
    ]
    con.close()
    checks = {e.asset_key.path[0]: e for e in result.get_asset_check_evaluations()}
    status_check = checks["oca_case_status"]
    assert status_check.description == (
        "3 of 7 rows held back; see oca_dataset_held_back; add 2 code map entries for 3 row(s) "
        "(see code_map_entries_to_add)"
    )
    table = status_check.metadata["code_map_entries_to_add"].value
    assert table.splitlines()[2].split("|")[1:4] == [
        ' maps.court_type."Justice Court" ',
        " court_type          ",
        "      2 ",
    ]

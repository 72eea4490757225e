"""Contract files, contract swapping, and each real trap from the spec (pandera and jsonschema)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from court_pipeline.oca.contracts import (
    BUNDLED_CONTRACTS_DIR,
    CONTRACTS_ENV,
    ENTITY_TYPES,
    ContractError,
    json_validator,
    load_contract,
)
from court_pipeline.oca.validation import validate_frame
from court_pipeline.reference import oca_enums, texas_counties

CHARGES = "di-texas-oca-court-charges"
BASE = {"recordid": "5550001-7001", "county": "Harris", "publisher": "Tyler Tech-Odyssey"}


def verdicts(entity_type: str, row: dict) -> tuple[bool, bool, pd.DataFrame]:
    """(pandera passes, jsonschema passes, held-back lines) for one row."""
    result = validate_frame(entity_type, pd.DataFrame([row]))
    json_ok = json_validator(entity_type).is_valid(row)
    return result.held_back_rows == 0, json_ok, result.held_back


def test_eight_contract_files_with_provisional_markers():
    assert len(ENTITY_TYPES) == 8
    files = sorted(p.stem for p in BUNDLED_CONTRACTS_DIR.glob("*.json"))
    assert files == sorted(ENTITY_TYPES)
    provisional = {et for et in ENTITY_TYPES if load_contract(et).get("x-provisional")}
    assert provisional == {
        "di-texas-oca-court-party",
        "di-texas-oca-court-dispositions-criminal",
        "di-texas-oca-court-dispositions-non-criminal",
    }
    charges = load_contract(CHARGES)
    assert charges["additionalProperties"] is False
    assert charges["required"] == ["recordid", "county", "publisher"]
    assert charges["properties"]["county"]["enum"] == list(texas_counties())
    assert charges["properties"]["plea_type"]["enum"] == [*oca_enums()["plea_type"], None]
    assert charges["properties"]["victim_age"] == {"type": ["number", "null"]}
    assert charges["properties"]["offense_date"]["format"] == "date"
    assert len(charges["properties"]) == 15 + 28


def test_unknown_entity_type_is_a_clear_error():
    with pytest.raises(ContractError, match="unknown OCA entity type 'di-texas-oca-court-bogus'"):
        load_contract("di-texas-oca-court-bogus")


@pytest.mark.parametrize(
    ("field", "bad", "good", "hint"),
    [
        ("plea_type", "Guilty", "G - Guilty", "did you mean 'G - Guilty'"),
        ("party_race", "Not Available", "Not Available (Blank)", "Not Available (Blank)"),
        ("county", "Harris County", "Harris", "write 'Harris'"),
    ],
)
def test_enum_traps(field, bad, good, hint):
    ok_pa, ok_js, _ = verdicts(CHARGES, {**BASE, field: good})
    assert ok_pa and ok_js
    ok_pa, ok_js, held = verdicts(CHARGES, {**BASE, field: bad})
    assert not ok_pa and not ok_js
    line = held.iloc[0]
    assert (line["field"], line["rule"], line["value"]) == (field, "enum", json.dumps(bad))
    assert hint in line["message"]


def test_quoted_number_is_rejected_and_real_number_accepted():
    ok_pa, ok_js, held = verdicts(CHARGES, {**BASE, "party_age_at_time_of_offense": "42"})
    assert (ok_pa, ok_js) == (False, False)
    assert held.iloc[0]["rule"] == "type"
    assert held.iloc[0]["value"] == '"42"'
    assert "send a JSON number" in held.iloc[0]["message"]
    assert verdicts(CHARGES, {**BASE, "party_age_at_time_of_offense": 42})[:2] == (True, True)


@pytest.mark.parametrize(
    ("value", "rule"),
    [("11/02/2026", "pattern"), ("2026-02-30", "format"), ("2025-02-29", "format"),
     ("2026-13-01", "format"), ("2026-1-01", "pattern")],
)
def test_bad_dates(value, rule):
    ok_pa, ok_js, held = verdicts(CHARGES, {**BASE, "offense_date": value})
    assert (ok_pa, ok_js) == (False, False)
    assert list(held["rule"]) == [rule]


def test_real_dates_pass_including_leap_day():
    for value in ("2024-02-29", "2000-02-29", "2026-12-31", None):
        assert verdicts(CHARGES, {**BASE, "offense_date": value})[:2] == (True, True)


@pytest.mark.parametrize(
    ("wrong", "right"),
    [("filing_statute_citation", "statute_citation"),
     ("filing_level_and_degree_of_prosecuted_offense", "level_and_degree_of_prosecuted_offense")],
)
def test_misspelled_field_names(wrong, right):
    ok_pa, ok_js, held = verdicts(CHARGES, {**BASE, wrong: "x"})
    assert (ok_pa, ok_js) == (False, False)
    line = held.iloc[0]
    assert (line["field"], line["rule"]) == (wrong, "additionalProperties")
    assert f"did you mean {right!r}" in line["message"]
    value = "49.04" if right == "statute_citation" else "MB - Misdemeanor - Class B"
    assert verdicts(CHARGES, {**BASE, right: value})[:2] == (True, True)


@pytest.mark.parametrize(
    ("entity_type", "field", "as_spelled", "corrected"),
    [
        ("di-texas-oca-court-case-status", "judicial_council_case_category",
         "Criminal - Fine Only Misdemenanor", "Criminal - Fine Only Misdemeanor"),
        ("di-texas-oca-court-case-status", "jcit_case_type",
         "Managment Trust-Minor", "Management Trust-Minor"),
    ],
)
def test_misspelled_enum_values_are_sent_as_spelled(entity_type, field, as_spelled, corrected):
    row = {"recordid": "5550001", "county": "Harris", "publisher": "Tyler Tech-Odyssey"}
    assert verdicts(entity_type, {**row, field: as_spelled})[:2] == (True, True)
    assert verdicts(entity_type, {**row, field: corrected})[:2] == (False, False)


@pytest.mark.parametrize("critical", ["recordid", "county", "publisher"])
def test_missing_or_null_critical_field(critical):
    missing = {k: v for k, v in BASE.items() if k != critical}
    for row in (missing, {**BASE, critical: None}):
        ok_pa, ok_js, held = verdicts(CHARGES, row)
        assert (ok_pa, ok_js) == (False, False)
        assert (held.iloc[0]["field"], held.iloc[0]["rule"]) == (critical, "required")


def test_swapping_contract_dir_changes_validation_without_code(tmp_path, monkeypatch):
    """Dropping in an 'official' contract (here: one extra field, stricter zip) takes effect."""
    shutil.copytree(BUNDLED_CONTRACTS_DIR, tmp_path / "official")
    path = tmp_path / "official" / f"{CHARGES}.json"
    contract = json.loads(path.read_text())
    contract["properties"]["charge_sequence"] = {"type": ["number", "null"]}
    contract["properties"]["party_zip_code"] = {"type": ["string", "null"],
                                                "pattern": "^[0-9]{5}$"}
    path.write_text(json.dumps(contract))
    row = {**BASE, "charge_sequence": 1, "party_zip_code": "77002"}
    assert validate_frame(CHARGES, pd.DataFrame([row])).held_back_rows == 1  # bundled v3
    monkeypatch.setenv(CONTRACTS_ENV, str(tmp_path / "official"))
    assert validate_frame(CHARGES, pd.DataFrame([row])).held_back_rows == 0
    held = validate_frame(CHARGES, pd.DataFrame([{**row, "party_zip_code": "7700"}])).held_back
    assert list(held["rule"]) == ["pattern"]
    assert json_validator(CHARGES).is_valid(row)


def test_untranslated_keyword_falls_back_to_jsonschema(tmp_path):
    shutil.copytree(BUNDLED_CONTRACTS_DIR, tmp_path / "c")
    path = tmp_path / "c" / f"{CHARGES}.json"
    contract = json.loads(path.read_text())
    contract["properties"]["victim_age"] = {"type": ["number", "null"], "minimum": 0,
                                            "maximum": 120}
    path.write_text(json.dumps(contract))
    frame = pd.DataFrame([{**BASE, "victim_age": 30.0}, {**BASE, "victim_age": 130.0}])
    result = validate_frame(CHARGES, frame, tmp_path / "c")
    assert list(result.passed_mask) == [True, False]
    assert list(result.held_back["rule"]) == ["schema"]

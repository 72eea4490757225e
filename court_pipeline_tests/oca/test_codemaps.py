"""Code map files: loading, exact OCA spelling enforced, codes read as text, application."""

from __future__ import annotations

import pandas as pd
import pytest

from court_pipeline.oca.codemaps import BUNDLED_CODEMAP, CodeMapError, apply_codemap, load_codemap


def test_bundled_map_covers_spec_examples():
    cm = load_codemap(BUNDLED_CODEMAP)
    assert cm.maps["case_category"]["CR"] == {"primary_case_category": "Criminal"}
    assert cm.maps["case_type"]["MA"]["jcit_case_type"] == "Misdemeanor A"
    assert cm.maps["charge_degree"]["MB"] == {
        "level_and_degree_of_prosecuted_offense": "MB - Misdemeanor - Class B"}
    assert cm.maps["statute"]["PC"] == {"filing_statute": "PC", "disposition_statute": "PC"}
    assert cm.maps["plea"]["NG"] == {"plea_type": "N - Not Guilty"}
    assert cm.maps["disposition"]["CONV"]["charge_disposition"] == "Convicted"
    assert cm.maps["attorney_type"]["APD"] == {"attorney_type": "Appointed - public defender"}
    assert cm.maps["race"]["W"] == {"party_race": "White"}
    assert cm.maps["ethnicity"]["H"] == {"party_ethnicity": "Hispanic"}
    assert cm.maps["sex"]["F"] == {"party_sex": "Female"}
    assert cm.maps["hearing_type"]["ARR"] is None
    assert cm.maps["event_type"]["OIND"] == {"event_type": "Order Determining Indigency Issued"}
    assert cm.maps["case_type"]["MC"]["judicial_council_case_category"] == (
        "Criminal - Fine Only Misdemenanor")


def test_wrong_oca_spelling_in_map_is_an_error_naming_the_entry(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("version: 1\nmaps:\n  plea:\n    G: Guilty\n", encoding="utf-8")
    with pytest.raises(CodeMapError, match=r"maps\.plea\.'G': 'Guilty' is not an allowed OCA"):
        load_codemap(path)


def test_unknown_kind_and_missing_file(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("maps:\n  pleas: {}\n", encoding="utf-8")
    with pytest.raises(CodeMapError, match="unknown code kind 'pleas'"):
        load_codemap(path)
    with pytest.raises(CodeMapError, match="code map file not found"):
        load_codemap(tmp_path / "nope.yaml")


def test_codes_stay_text_and_none_value_is_a_string(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(
        "maps:\n  sex:\n    NO: Unknown\n    01: Male\n  statute:\n    PC: PC\n",
        encoding="utf-8",
    )
    cm = load_codemap(path)
    assert set(cm.maps["sex"]) == {"NO", "01"}


def test_a_loaded_map_is_reused_until_the_file_changes(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("maps:\n  sex:\n    F: Female\n", encoding="utf-8")
    first = load_codemap(path)
    assert load_codemap(path) is first  # same file version: parsed once
    path.write_text("maps:\n  sex:\n    F: Female\n    M: Male\n", encoding="utf-8")
    edited = load_codemap(path)
    assert edited is not first and edited.maps["sex"]["M"] == {"party_sex": "Male"}
    path.write_text("maps:\n  sex:\n    F: Fem\n", encoding="utf-8")
    with pytest.raises(CodeMapError, match="'Fem' is not an allowed OCA value"):
        load_codemap(path)  # a broken edit is reported, not hidden behind the cached map


def test_apply_holds_back_unmapped_and_drops_not_reported():
    cm = load_codemap(BUNDLED_CODEMAP)
    frame = pd.DataFrame({
        "recordid": ["a", "b", "c", "d"],
        "_code:event_type": ["OIND", "BOND", "WHAT", None],
        "_code:race": ["W", "W", "W", None],
    })
    mapped = apply_codemap(frame, cm, ["recordid", "event_type", "party_race"], "x")
    assert list(mapped.frame["recordid"]) == ["a", "c", "d"]
    assert list(mapped.frame["event_type"]) == ["Order Determining Indigency Issued", None, None]
    assert list(mapped.frame["party_race"]) == ["White", "White", "Not Available (Blank)"]
    assert mapped.dropped_rows == 1
    held = mapped.held_back
    assert list(held["recordid"]) == ["c"] and list(held["_row"]) == [1]
    assert held.iloc[0]["rule"] == "code_map" and held.iloc[0]["value"] == "WHAT"

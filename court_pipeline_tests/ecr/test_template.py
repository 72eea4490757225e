"""Upload templates: validation errors name file and field; formats and maps."""

from __future__ import annotations

import pytest

from court_pipeline.ecr.template import TemplateError, load_template, to_strptime
from court_pipeline.settings import BUNDLED_CONFIG_DIR


def test_bundled_demo_template_loads():
    template = load_template(BUNDLED_CONFIG_DIR / "templates" / "demo.yaml")
    assert template.name == "demo"
    assert template.mode == "snapshot"
    assert template.columns["full_name"] == "Defendant Name"
    assert template.date_strptime == ["%m/%d/%Y", "%Y-%m-%d"]
    assert template.time_strptime == ["%I:%M %p", "%H:%M", "%H%M"]


def test_human_formats_translate_to_strptime():
    assert to_strptime("MM/DD/YYYY") == "%m/%d/%Y"
    assert to_strptime("M/D/YYYY") == "%m/%d/%Y"
    assert to_strptime("h:mm AM") == "%I:%M %p"
    assert to_strptime("HHmm") == "%H%M"
    assert to_strptime("%d.%m.%Y") == "%d.%m.%Y"


def test_unknown_canonical_field_names_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("columns:\n  party_idd: Party ID\n", encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        load_template(path)
    assert str(path) in str(err.value)
    assert "field 'columns'" in str(err.value)
    assert "'party_idd' is not a canonical field" in str(err.value)


def test_typo_in_a_key_is_an_error_not_ignored(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("delimeter: ','\ncolumns:\n  party_id: ID\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="field 'delimeter'"):
        load_template(path)


def test_rules_between_keys(tmp_path):
    cases = {
        "columns: {party_id: ID}\nhas_header: false\n": "has_header is false",
        "columns: {event_date: D}\n": "event_time is not",
        "columns: {party_id: ID}\nexclude: [{field: event_status, in: [Held]}]\n": "not mapped",
        "columns: {party_id: 0}\nhas_header: false\n": "start at 1",
        "columns: {party_id: ID}\ndelimiter: '||'\n": "exactly one character",
        "columns: {party_id: ID}\nmode: snapshot\n": "snapshot mode needs",
    }
    for i, (body, message) in enumerate(cases.items()):
        path = tmp_path / f"t{i}.yaml"
        path.write_text(body, encoding="utf-8")
        with pytest.raises(TemplateError, match=message):
            load_template(path)


def test_missing_and_non_yaml_files(tmp_path):
    with pytest.raises(TemplateError, match="not found"):
        load_template(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [unclosed", encoding="utf-8")
    with pytest.raises(TemplateError, match="not valid YAML"):
        load_template(bad)


def test_value_maps_extend_defaults(make_template):
    template = make_template(value_maps={"event_status": {"SETT": "Scheduled"}})
    status = template.value_map("event_status")
    assert status["sett"] == "Scheduled"
    assert status["canceled"] == "Cancelled"
    assert template.value_map("preferred_language")["español"] == "es"
    plain = make_template(use_default_value_maps=False)
    assert plain.value_map("event_status") == {}


@pytest.mark.parametrize(("body", "message"), [
    ("columns: {party_id: ID, case_number: C}\n",
     "columns: nothing is mapped to the hearing date (map one of: event_date, event_datetime)"),
    ("columns: {party_id: ID, event_datetime: W}\n",
     "columns: nothing is mapped to the case (map one of: case_number, case_id)"),
    ("columns: {case_id: C, event_datetime: W}\n",
     "columns: nothing is mapped to the party (map one of: party_id, full_name, last_name)"),
    ("columns: {party_id: ID, case_id: C, event_datetime: W}\ndate_formats: ['MM/DD']\n",
     "date_formats: 'MM/DD' cannot read back what it writes (2026-11-05 14:07 -> '11/05' -> "
     "1900-11-05 00:00:00); a date format needs a year, month and day"),
    ("columns: {party_id: ID, case_id: C, event_datetime: W}\ntime_formats: ['%Q:%M']\n",
     "time_formats: '%Q:%M' is not a usable date/time format (Invalid Input Error: Failed to "
     "parse format specifier %Q:%M: Unrecognized format for strftime/strptime: %Q)"),
    ("columns: {party_id: ID, case_id: C, event_datetime: W}\n"
     "datetime_formats: ['YYYY-MM-DD']\n",
     "datetime_formats: 'YYYY-MM-DD' cannot read back what it writes"),
])
def test_templates_that_cannot_work_fail_when_loaded(tmp_path, body, message):
    path = tmp_path / "t.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        load_template(path)
    assert str(err.value).startswith(f"{path}: invalid upload template\n")
    assert message in str(err.value)

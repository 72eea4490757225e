"""Property test: pandera's verdict equals jsonschema's verdict, row by row, on the contracts.

Rows are generated valid or broken in each way the spec lists (wrong enum spelling,
"Harris County", quoted numbers, MM/DD/YYYY and impossible dates, misspelled field names,
missing/null critical fields, wrong types). A frame row is exactly the record sent: every
column of the frame, pandas nulls as JSON null.
"""

from __future__ import annotations

import math

import hypothesis.strategies as st
import pandas as pd
from hypothesis import HealthCheck, given, settings

from court_pipeline.oca.contracts import ENTITY_TYPES, json_validator, load_contract
from court_pipeline.oca.validation import field_rules, validate_frame

EXTRA_FIELDS = ["filing_statute_citation", "filing_level_and_degree_of_prosecuted_offense",
                "Recordid", "case_status "]
BAD_DATES = ["11/02/2026", "2026-02-30", "2025-02-29", "2026-13-01", "0000-01-01", "2026-1-1",
             "20260101", "2026-01-01T00:00:00", "", " 2026-01-01", "2026-01-01\n"]
GOOD_DATES = ["2026-11-02", "2024-02-29", "0001-01-01", "9999-12-31", "2000-02-29"]


def _value(rule, draw):
    """A valid value for the field, or a broken one, or null."""
    kind = draw(st.sampled_from(["valid", "valid", "null", "broken"]))
    if kind == "null":
        return None
    if rule.enum is not None:
        values = [v for v in rule.enum if v is not None]
        if kind == "valid":
            return draw(st.sampled_from(values))
        pick = draw(st.sampled_from(values))
        return draw(st.sampled_from([
            pick.lower(), pick + " County", pick.split(" - ")[-1], pick + " ", 42,
            "Not Available", "Guilty",
        ]))
    if rule.format == "date":
        if kind == "valid":
            return draw(st.sampled_from(GOOD_DATES))
        return draw(st.sampled_from([*BAD_DATES, 20261102]))
    if "number" in rule.types:
        if kind == "valid":
            return draw(st.one_of(st.integers(0, 120), st.floats(0, 1e6, allow_nan=False)))
        return draw(st.sampled_from(["42", "3.5", "", True, "forty"]))
    if kind == "valid":
        return draw(st.text(max_size=12))
    return draw(st.sampled_from([42, 1.5, True, False]))


@st.composite
def frames(draw):
    entity_type = draw(st.sampled_from(ENTITY_TYPES))
    rules = field_rules(load_contract(entity_type))
    n = draw(st.integers(1, 6))
    chosen = [r for r in rules if r.required or draw(st.booleans())]
    rows = []
    for _ in range(n):
        row = {}
        for rule in chosen:
            if rule.name in ("recordid", "county", "publisher"):
                broken = draw(st.sampled_from(["ok"] * 6 + ["null", "bad"]))
                if broken == "null":
                    row[rule.name] = None
                elif broken == "bad":
                    row[rule.name] = {"recordid": "", "county": "Harris County",
                                      "publisher": "Tyler Tech - Odyssey"}[rule.name]
                else:
                    row[rule.name] = {"recordid": str(draw(st.integers(1, 10**6))),
                                      "county": draw(st.sampled_from(["Harris", "El Paso",
                                                                      "DeWitt"])),
                                      "publisher": "Tyler Tech-Odyssey"}[rule.name]
            else:
                row[rule.name] = _value(rule, draw)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[r.name for r in chosen])
    if draw(st.integers(0, 9)) == 0:
        frame[draw(st.sampled_from(EXTRA_FIELDS))] = None
    if draw(st.integers(0, 14)) == 0:
        frame = frame.drop(columns=[draw(st.sampled_from(["recordid", "county", "publisher"]))])
    return entity_type, frame


def _as_sent(value):
    """A frame cell as it goes on the wire (pandas nulls -> JSON null)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_pandera_verdict_equals_jsonschema_verdict(case):
    entity_type, frame = case
    result = validate_frame(entity_type, frame)
    validator = json_validator(entity_type)
    for position, (_, row) in enumerate(frame.iterrows()):
        record = {column: _as_sent(row[column]) for column in frame.columns}
        json_ok = validator.is_valid(record)
        assert bool(result.passed_mask[position]) == json_ok, (
            entity_type, record, list(validator.iter_errors(record)),
            result.held_back[result.held_back["_row"] == position].to_dict("records"),
        )
    assert result.held_back_rows == int((~result.passed_mask).sum())

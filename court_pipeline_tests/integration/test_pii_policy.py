"""Masking by policy: one setting per deployment; by default nothing identifying in clear.

The demo runs as a user runs it (a subprocess); then every event its Dagster instance stored
(materialization and check metadata, log lines) is searched for the real values of every
personal or identifying column in the warehouse.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster._serdes import serialize_value

from court_pipeline.pii import FIELDS, POLICY_ENV, masked_frame, masked_preview, policy, show

PII_PAGE = Path(__file__).resolve().parents[2] / "docs" / "explanation" / "pii.md"
# Values this short ("JR", "1", "77") occur in ordinary text; every longer one is searched.
MIN_LENGTH = 4
# 'value' holds a phone or email only in contacts (elsewhere: held-back field values, codes).
CONTACT_TABLES = {"contacts", "reminder_outbox", "reminder_deliveries", "reminder_opt_outs"}


@pytest.mark.parametrize(
    ("kind", "value", "masked", "identifiers", "redacted"),
    [
        ("name", "MARIA", "M****", "M****", "***"),
        ("phone", "+17135550142", "+*********42", "+*********42", "***"),
        ("email", "maria@example.com", "m****@example.com", "m****@example.com", "***"),
        ("contact", "(713) 555-0142", "********42", "********42", "***"),
        ("birth_date", "1980-01-02", "****-**-**", "****-**-**", "***"),
        ("address", "2817 FM 1960 Rd", "2********", "2********", "***"),
        ("case_number", "CR-26-200001", "**********01", "CR-26-200001", "***"),
        ("party_id", "100007", "****07", "100007", "***"),
        ("bar_number", "24000001", "******01", "24000001", "***"),
        ("text", "State of Texas vs. Peña, María", "S********", "S********", "***"),
    ],
)
def test_each_kind_under_each_policy(monkeypatch, kind, value, masked, identifiers, redacted):
    monkeypatch.delenv(POLICY_ENV, raising=False)
    assert show(kind, value) == masked  # the default
    for name, expected in (("masked", masked), ("identifiers", identifiers),
                           ("redacted", redacted)):
        monkeypatch.setenv(POLICY_ENV, name)
        assert show(kind, value) == expected
        assert show(kind, None) is None


def test_unknown_policy_is_refused(monkeypatch):
    monkeypatch.setenv(POLICY_ENV, "Clear")
    with pytest.raises(ValueError, match="COURT_PIPELINE_PII_POLICY='clear' is not one of"):
        policy()


def test_preview_masks_identifiers_and_contact_values_by_kind(monkeypatch):
    monkeypatch.delenv(POLICY_ENV, raising=False)
    frame = pd.DataFrame({
        "case_number": ["CR-26-200001", None], "party_id": ["100007", "100008"],
        "kind": ["email", "phone"], "value": ["ana@example.com", "+17135550142"],
        "hearing_type": ["Arraignment", "Trial"],
    })
    out = masked_frame(frame)
    assert out.astype(object).where(out.notna(), None).to_dict("list") == {
        "case_number": ["**********01", None], "party_id": ["****07", "****08"],
        "kind": ["email", "phone"], "value": ["a**@example.com", "+*********42"],
        "hearing_type": ["Arraignment", "Trial"],
    }
    assert "CR-26-200001" not in masked_preview(frame)


def test_docs_policy_table_names_every_field():
    section = PII_PAGE.read_text(encoding="utf-8")
    missing = [column for column in FIELDS if f"`{column}`" not in section]
    assert missing == []


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _everything_dagster_stored(dagster_home: Path) -> str:
    """Every string of every event of every run: metadata, check results, log messages."""
    texts = []
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
        assert runs, "the demo stored no run"
        for run in runs:
            for entry in instance.all_logs(run.run_id):
                texts.extend(_strings(json.loads(serialize_value(entry))))
    return "\n".join(texts)


def _identifying_values(warehouse: Path) -> dict[tuple[str, str], set[str]]:
    """The real value of every personal or identifying column of every table."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main'"
        ).fetchall()
        found = {}
        for table, column in columns:
            kind = FIELDS.get(column)
            if kind is None or (kind == "contact" and table not in CONTACT_TABLES):
                continue
            values = con.execute(
                f'SELECT DISTINCT "{column}"::VARCHAR FROM "{table}" WHERE "{column}" IS NOT NULL'
            ).fetchall()
            found[(table, column)] = {
                v for (v,) in values if len(v.strip()) >= MIN_LENGTH
                # a raw contact with no digit and no '@' ('example') reaches no one
                and (kind != "contact" or "@" in v or any(c.isdigit() for c in v))
            }
        return found
    finally:
        con.close()


def _appears(value: str, text: str) -> bool:
    """``value`` as a whole token: zip 90530 is not inside timestamp 1796290530."""
    if value not in text:
        return False
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None


@pytest.mark.slow  # the whole demo in a subprocess
def test_default_policy_shows_no_identifying_value_anywhere_in_dagster(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURT_PIPELINE", "DEMO_"))}
    env["COURT_PIPELINE_HOME"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "court_pipeline.cli", "demo", "--rows", "400", "--day",
         "2026-11-23", "--free-ports"],  # the simulators bind ports the system picks
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    stored = _everything_dagster_stored(tmp_path / "data" / "dagster_home")
    assert "preview" in stored and "rows_loaded" in stored  # the search reads the metadata
    real = _identifying_values(tmp_path / "data" / "warehouse.duckdb")
    kinds_seen = {FIELDS[column] for (_, column), values in real.items() if values}
    assert kinds_seen >= {"name", "birth_date", "address", "case_number", "party_id",
                          "bar_number", "contact", "text"}
    contacts = real[("contacts", "value")]  # phones and emails live here, by kind
    assert any("@" in v for v in contacts) and any(v.startswith("+1") for v in contacts)
    leaked = {
        f"{table}.{column}": sorted(v for v in values if _appears(v, stored))[:5]
        for (table, column), values in real.items()
    }
    assert {where: values for where, values in leaked.items() if values} == {}
    # ... and what the demo printed to the terminal is a log too
    printed = done.stdout + done.stderr
    assert [v for vs in real.values() for v in vs if _appears(v, printed)] == []

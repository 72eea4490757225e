"""The clean-table quality checks: one real Dagster step, each rule its own check result."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from court_pipeline.partitions import agency_day_partitions
from court_pipeline.records.assets import QUALITY_RULES, build_clean_table_assets
from court_pipeline.records.merge import RECORD_KEYS, merge_records
from court_pipeline.registry import Agency, Registry
from court_pipeline.warehouse import WarehouseResource, connect_warehouse

PARTITION = dg.MultiPartitionKey({"agency": "q1", "date": "2026-11-22"})


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(tmp_path / "home"))
    return tmp_path / "wh.duckdb"


def _assets():
    registry = Registry(agencies=[Agency(id="q1", name="Q", county="Travis"),
                                  Agency(id="q2", name="Other", county="Bexar")])
    return build_clean_table_assets(agency_day_partitions(registry))


def _evaluations(warehouse: Path) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    result = dg.materialize(_assets(), partition_key=PARTITION,
                            resources={"warehouse": WarehouseResource(path=str(warehouse))})
    assert result.success
    return {(e.asset_key.path[-1], e.check_name): e
            for e in result.get_asset_check_evaluations()}


def _seed(con, agency: str, *, broken: bool) -> None:
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    merge_records(con, "parties", pd.DataFrame(
        {"party_id": ["p1", "p2"], "last_name": ["PEÑA", "" if broken else "LEE"]}),
        agency_id=agency, source="ecr", source_ref="f")
    merge_records(con, "hearings", pd.DataFrame(
        {"hearing_id": ["h1", "h2"], "start_at": [start, None if broken else start],
         "court_timezone": ["America/Chicago"] * 2, "status": ["Scheduled", "Scheduled"]}),
        agency_id=agency, source="ecr", source_ref="f")
    merge_records(con, "hearing_parties", pd.DataFrame(
        {"hearing_id": ["h1", "h2"], "party_id": ["p1", "p9" if broken else "p2"]}),
        agency_id=agency, source="ecr", source_ref="f")
    merge_records(con, "contacts", pd.DataFrame(
        {"contact_id": ["c1"], "party_id": ["p1"], "kind": ["phone"], "status": ["valid"],
         "value": ["713-555-0142" if broken else "+17135550142"]}),
        agency_id=agency, source="ecr", source_ref="f")
    if broken:  # a key stored twice: only a broken merge could do this
        merge_records(con, "cases", pd.DataFrame({"case_id": ["k1", "k1"]}),
                      agency_id=agency, source="ecr", source_ref="f", unique_keys=True)


def test_every_rule_and_key_is_its_own_check_and_clean_data_passes(warehouse):
    with connect_warehouse(warehouse) as con:
        _seed(con, "q1", broken=False)
        _seed(con, "q2", broken=True)  # another agency's problems are not this run's
    evaluations = _evaluations(warehouse)
    expected = {(r.asset, r.name) for r in QUALITY_RULES} | {
        (table, "keys_unique") for table in RECORD_KEYS}
    assert set(evaluations) == expected
    assert all(e.passed for e in evaluations.values())


def test_broken_rows_fail_the_matching_checks_with_masked_examples(warehouse):
    with connect_warehouse(warehouse) as con:
        _seed(con, "q1", broken=True)
    evaluations = _evaluations(warehouse)
    failed = {key for key, e in evaluations.items() if not e.passed}
    assert failed == {
        ("parties", "parties_have_a_name"),
        ("hearings", "hearings_have_start_time"),
        ("hearing_parties", "hearing_parties_resolve"),
        ("contacts", "valid_phones_are_e164"),
        ("cases", "keys_unique"),
    }
    assert evaluations[("parties", "parties_have_a_name")].severity == dg.AssetCheckSeverity.WARN
    assert evaluations[("cases", "keys_unique")].metadata["duplicated_keys"].value == 1
    phone = evaluations[("contacts", "valid_phones_are_e164")]
    assert phone.metadata["failing_rows"].value == 1
    assert "713-555-0142" not in phone.metadata["examples"].value  # PII masked

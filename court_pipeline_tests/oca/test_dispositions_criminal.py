"""A criminal disposition that passes: sentence, penalty and disposition codes mapped, the row
validated, published, and stored by the service exactly as written out below."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from court_pipeline.oca.assets import build_oca_assets
from court_pipeline.oca.contracts import contract_fields
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.publish.client import Credential, RetryPolicy
from court_pipeline.publish.publisher import PublishSettings, publish_county
from court_pipeline.publish.simulator import OcaSimulator
from court_pipeline.publish.state import StateStore
from court_pipeline.warehouse import WarehouseResource, connect_warehouse

ENTITY = "di-texas-oca-court-dispositions-criminal"
PUBLISHER = "Tyler Tech-Odyssey"

# charge 7002 of case 5550002 (conftest): CONV, sentence 'Fine', plea G, fines 300.00, court
# costs 289.00, no restitution; defendant born 1985-12-01, offense 2026-02-27
EXPECTED = {
    "recordid": "5550002-7002",
    "cause_number": "CR-26-000124",
    "county": "Harris",
    "publisher": "Tyler Tech-Odyssey",
    "court_id_number": "101010180",
    "court_name": "180th District Court",
    "court_type": "District Court",
    "primary_case_category": "Criminal",
    "judicial_council_case_category": "Criminal - Felony",
    "jcit_case_type": "Felony 2",
    "judicial_council_offense_type": "Aggravated Robbery or Robbery",
    "local_case_type": "Felony 2",
    "case_judicial_officer_name": "Hon. D. O'Brien",
    "case_judicial_officer_type": "Judge",
    "update_date": "2026-10-02",
    "charge_number": "1",
    "disposition_date": "2026-10-01",
    "criminal_disposition_detail": "Conviction by the Court",
    "party_age_at_time_of_offense": 40,
    "party_race": "Black or African American",
    "party_ethnicity": "Non-Hispanic",
    "party_sex": "Male",
    "attorney_type": "Appointed - public defender",
    "disposition_statute": "PC",
    "disposition_charge_modifier": None,
    "disposition_other_enhancements": None,
    "deadly_weapon_finding": None,
    "plea_type": "G - Guilty",
    "sentence_type": "Fine Only",
    "sentencing_date": "2026-10-01",
    "juvenile_disposition_type": None,
    "concurrent_consecutive_sentence": None,
    "victim_age": None,
    "monetary_penalty_amount_court_costs": 289,
    "monetary_penalty_amount_fines": 300,
    "monetary_penalty_amount_restitution": None,
}


@pytest.fixture
def mapped_warehouse(warehouse_file):
    """The conftest rows with a mapped attorney type on case 5550002 and fixed change times."""
    with connect_warehouse(warehouse_file) as con:
        con.execute("UPDATE attorneys SET type_code = 'APD' WHERE case_id = '5550002'")
        for table in ("cases", "charges", "attorneys", "parties", "case_parties"):
            con.execute(
                f"UPDATE {table} SET source_modified_at = TIMESTAMPTZ '2026-10-02 15:00:00+00'"
            )
    return warehouse_file


def test_criminal_disposition_passes_and_arrives_field_by_field(
    registry, registry_file, mapped_warehouse, tmp_path, monkeypatch
):
    assets = [
        a
        for a in build_oca_assets(registry, agency_day_partitions(registry), registry_file)
        if a.key.path[0] == "oca_dispositions_criminal"
    ]
    result = dg.materialize(
        assets,
        partition_key="harris|2026-11-22",
        resources={"warehouse": WarehouseResource(path=str(mapped_warehouse))},
    )
    assert result.success
    meta = result.asset_materializations_for_node("oca_dispositions_criminal")[0].metadata
    assert (meta["rows"].value, meta["rows_passed"].value, meta["rows_held_back"].value) == (
        2,
        1,
        1,
    )  # charge 7003's plea ZZ has no code map entry
    con = duckdb.connect(str(mapped_warehouse), read_only=True)
    frame = con.execute(
        f"SELECT {', '.join(contract_fields(ENTITY))} FROM oca_dispositions_criminal"
    ).fetchdf()
    held = con.execute("SELECT recordid, field, value, rule FROM oca_dataset_held_back").fetchall()
    con.close()
    assert held == [("5550002-7003", "plea_type", "ZZ", "code_map")]

    monkeypatch.setenv("OCA_T_ID", "harris-client")
    monkeypatch.setenv("OCA_T_SECRET", "harris-s3cret")
    with OcaSimulator({"harris-client": ("harris-s3cret", ["Harris"])}) as sim:
        store = StateStore(
            lambda: connect_warehouse(mapped_warehouse),
            environment="staging",
            agency_id="harris",
            county="Harris",
            lock_dir=tmp_path / "locks",
        )
        settings = PublishSettings(
            environment="staging",
            token_url=sim.token_url,
            messages_url=sim.messages_url,
            concurrency=1,
            retry=RetryPolicy(max_attempts=2, wait_initial=0.01, wait_max=0.02),
        )
        report = publish_county(
            store,
            {ENTITY: frame},
            Credential.from_env("OCA_T_ID", "OCA_T_SECRET", "Harris"),
            settings,
            publisher=PUBLISHER,
        )
        stored = sim.records(ENTITY)
    assert (report.accepted, report.held_back) == (1, 0)
    assert list(stored) == [(ENTITY, "Harris", PUBLISHER, "5550002-7002")]
    record = stored[(ENTITY, "Harris", PUBLISHER, "5550002-7002")]
    typed = {field: (value, type(value).__name__) for field, value in record.items()}
    assert typed == {field: (value, type(value).__name__) for field, value in EXPECTED.items()}

"""Real Dagster runs: table assets carry their column schema and report row counts and changes.

One ECR agency (local landing, bundled demo template) through the assembled Definitions: a
file is loaded, then a changed version (one hearing moved to another room, one new party with
a case and a hearing), and each materialization's counts are checked against the warehouse
and against literal expectations.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import dagster as dg
import pytest

import court_pipeline
from court_pipeline.definitions import build_definitions, build_resources
from court_pipeline.registry import load_registry
from court_pipeline.table_metadata import STAMPED, asset_table, diff_rows, row_metadata
from court_pipeline.warehouse import WarehouseResource, connect_warehouse
from court_pipeline.warehouse.dictionary import load_dictionary
from court_pipeline_tests.integration.conftest import write_registry

PARTITION = dg.MultiPartitionKey({"agency": "t1", "date": "2026-11-22"})
HEADER = (
    "Party ID|Defendant Name|Party Description|Preferred Language|Phone|Email|"
    "Date of Birth|Event Date|Event Time|Event Status|Location Name|Courtroom|Judge Name|"
    "Case Number|Hearing Type|Case Type|Event ID"
)
FIRST = [
    "P1|DOE, JANE|Defendant|English|7135550101||01/02/1980|12/01/2026|9:00 AM|Scheduled|"
    "Courthouse|1A|Hon. A|C-1|Arraignment|Theft|E1",
    "P2|ROE, RICK|Defendant|Spanish|7135550102||03/04/1981|12/02/2026|9:00 AM|Scheduled|"
    "Courthouse|1A|Hon. A|C-2|Arraignment|Theft|E2",
    "P3|POE, PAM|Defendant|English|7135550103||05/06/1982|12/03/2026|9:00 AM|Scheduled|"
    "Courthouse|1A|Hon. A|C-3|Jury Trial|Assault|E3",
]
# E1 moves to courtroom 2B; P4 is new, with a case, a hearing and a phone
CHANGED = [
    FIRST[0].replace("|1A|", "|2B|"),
    FIRST[1],
    FIRST[2],
    "P4|LOE, LIN|Defendant|English|7135550104||07/08/1983|12/03/2026|10:00 AM|"
    "Scheduled|Courthouse|1A|Hon. A|C-4|Jury Trial|Burglary|E4",
]
SELECTION = [
    "ecr_landed_files",
    "ecr_records",
    "odyssey_raw_responses",
    "parties",
    "contacts",
    "cases",
    "case_parties",
    "hearings",
    "hearing_parties",
    "hearing_changes",
    "charges",
    "attorneys",
    "case_events",
    "oca_unmapped_codes",
    "oca_case_status",
    "oca_envelope_log",
    "reminder_outbox",
]
TABLE_ASSETS = {
    "ecr_landed_files": "received_files",
    "ecr_records": "file_loads",
    "odyssey_raw_responses": "odyssey_sync_runs",
    "oca_envelope_log": "oca_envelope_log",
    "oca_unmapped_codes": "oca_unmapped_codes",
    "reminder_outbox": "reminder_outbox",
    **{
        t: t
        for t in (
            "parties",
            "contacts",
            "cases",
            "case_parties",
            "hearings",
            "hearing_parties",
            "hearing_changes",
            "charges",
            "attorneys",
            "case_events",
        )
    },
    **{
        t: t
        for t in (
            "oca_case_status",
            "oca_case_events",
            "oca_charges",
            "oca_attorney",
            "oca_appointments",
            "oca_party",
            "oca_dispositions_criminal",
            "oca_dispositions_non_criminal",
        )
    },
}


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    registry_file = write_registry(home, ["t1"])
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(home))
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(registry_file))
    monkeypatch.delenv("COURT_PIPELINE_WAREHOUSE", raising=False)
    defs = build_definitions(load_registry(registry_file))
    landing = home / "landing" / "t1"
    landing.mkdir(parents=True)
    return defs, landing, tmp_path / "wh.duckdb"


def _land(landing, name: str, rows: list[str]) -> None:
    path = landing / name
    path.write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")
    past = time.time() - 60
    os.utime(path, (past, past))


def _run(defs: dg.Definitions, warehouse) -> dict[str, dict]:
    result = dg.materialize(
        list(defs.assets),
        selection=SELECTION,
        partition_key=PARTITION,
        resources={**build_resources(), "warehouse": WarehouseResource(path=str(warehouse))},
    )
    assert result.success
    metadata = {
        event.asset_key.path[-1]: event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert sorted(metadata) == sorted(SELECTION)
    return metadata


def _changes(meta: dict) -> tuple:
    return tuple(meta[k].value for k in ("rows_inserted", "rows_updated", "rows_removed"))


def _counts(warehouse, table: str) -> int:
    with connect_warehouse(warehouse, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table} WHERE agency_id = 't1'").fetchone()[0]


def test_every_table_asset_carries_the_real_columns_and_reports_real_counts(pipeline):
    defs, landing, warehouse = pipeline
    graph = defs.resolve_asset_graph()
    tables = {k.path[-1]: asset_table(k.path[-1]) for k in graph.get_all_asset_keys()}
    assert {a: t for a, t in tables.items() if t} == TABLE_ASSETS
    assert sorted(a for a, t in tables.items() if t is None) == [
        "oca_publication",
        "odyssey_records",
        "reminder_deliveries",
    ]
    named_after_a_table = {a for a in tables if a in load_dictionary()}
    assert all(tables[a] == a for a in named_after_a_table)

    _land(landing, "ecr_1.txt", FIRST)
    first = _run(defs, warehouse)

    with connect_warehouse(warehouse, read_only=True) as con:
        for asset, table in TABLE_ASSETS.items():  # before any run: definition metadata
            schema = graph.get(dg.AssetKey(asset)).metadata["dagster/column_schema"]
            real = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                    "ORDER BY column_index",
                    [table],
                ).fetchall()
            ]
            assert [c.name for c in schema.columns] == real, asset
            assert all(c.description for c in schema.columns), asset
    hearing_cols = {
        c.name: c
        for c in graph.get(dg.AssetKey("hearings")).metadata["dagster/column_schema"].columns
    }
    assert hearing_cols["start_at"].type == "TIMESTAMP WITH TIME ZONE"
    assert hearing_cols["case_number"].tags == {"pii": "case_number"}
    assert not hearing_cols["agency_id"].constraints.nullable

    for asset in SELECTION:
        table = TABLE_ASSETS[asset]
        assert first[asset]["dagster/row_count"].value == _counts(warehouse, table), asset
    assert {
        a: _changes(first[a])
        for a in (
            "parties",
            "contacts",
            "cases",
            "case_parties",
            "hearings",
            "hearing_parties",
            "hearing_changes",
            "ecr_landed_files",
            "ecr_records",
            "charges",
            "oca_case_status",
        )
    } == {
        "parties": (3, 0, 0),
        "contacts": (3, 0, 0),
        "cases": (3, 0, 0),
        "case_parties": (3, 0, 0),
        "hearings": (3, 0, 0),
        "hearing_parties": (3, 0, 0),
        "hearing_changes": (3, 0, 0),
        "ecr_landed_files": (1, 0, 0),
        "ecr_records": (1, 0, 0),
        "charges": (0, 0, 0),
        "oca_case_status": (3, 0, 0),
    }
    # no update time in odyssey_sync_runs: unknown, not 0
    assert _changes(first["odyssey_raw_responses"]) == (0, "unknown", 0)

    _land(landing, "ecr_2.txt", CHANGED)
    second = _run(defs, warehouse)
    for asset in SELECTION:
        table = TABLE_ASSETS[asset]
        assert second[asset]["dagster/row_count"].value == _counts(warehouse, table), asset
    assert second["hearings"]["dagster/row_count"].value == 4
    assert {
        a: _changes(second[a])
        for a in (
            "parties",
            "contacts",
            "cases",
            "case_parties",
            "hearings",
            "hearing_parties",
            "hearing_changes",
            "ecr_landed_files",
            "ecr_records",
            "oca_case_status",
        )
    } == {
        "parties": (1, 0, 0),
        "contacts": (1, 0, 0),
        "cases": (1, 0, 0),
        "case_parties": (1, 0, 0),
        "hearings": (1, 1, 0),
        "hearing_parties": (1, 0, 0),
        "hearing_changes": (1, 0, 0),
        "ecr_landed_files": (1, 0, 0),
        "ecr_records": (1, 0, 0),
        # rebuilt by DELETE + INSERT, counted by key: only C-4's status row is new
        "oca_case_status": (1, 0, 0),
    }
    # a third run with nothing new changes nothing
    third = _run(defs, warehouse)
    assert {
        _changes(third[a]) for a in ("parties", "hearings", "ecr_records", "oca_case_status")
    } == {(0, 0, 0)}


def test_a_rebuilt_table_reports_inserted_updated_and_removed_by_key(tmp_path):
    path = tmp_path / "wh.duckdb"
    with connect_warehouse(path) as con:
        con.execute(
            "INSERT INTO oca_unmapped_codes SELECT agency, 'plea', code, NULL, n, "
            "TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-01 00:00:00+00' "
            "FROM (VALUES ('t1', 'A', 1), ('t1', 'B', 2), ('t1', 'C', 3), ('t2', 'A', 9)) "
            "v(agency, code, n)"
        )
        with diff_rows(con, "oca_unmapped_codes", "t1", ignore=("last_seen",)) as changes:
            con.execute("DELETE FROM oca_unmapped_codes WHERE agency_id = 't1'")
            con.execute(  # A unchanged (bar last_seen), B count changed, C gone, D new
                "INSERT INTO oca_unmapped_codes SELECT 't1', 'plea', code, NULL, n, "
                "TIMESTAMPTZ '2026-01-01 00:00:00+00', now() "
                "FROM (VALUES ('A', 1), ('B', 5), ('D', 1)) v(code, n)"
            )
        meta = row_metadata(con, "oca_unmapped_codes", "t1", changes)
    assert _changes(meta) == (1, 1, 1)
    assert meta["dagster/row_count"].value == 3


def test_tables_counted_by_timestamps_are_never_deleted_from():
    """rows_removed = 0 for STAMPED tables is a fact only while no code deletes from them."""
    statement = re.compile(
        r"(DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|DROP\s+TABLE(?:\s+IF\s+EXISTS)?)\s+(\w+)", re.I
    )
    stamped = {*STAMPED, "oca_envelopes"}  # oca_envelope_log is a view over oca_envelopes
    package = Path(court_pipeline.__file__).parent
    sources = [*package.rglob("*.py"), *package.rglob("*.sql")]
    assert len(sources) > 50
    hits = [
        f"{path.relative_to(package)}: {m.group(0)}"
        for path in sources
        for m in statement.finditer(path.read_text(encoding="utf-8"))
        if m.group(2).lower() in stamped
    ]
    assert hits == []

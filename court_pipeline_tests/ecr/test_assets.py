"""Real Dagster runs of ecr_landed_files -> ecr_records on a tmp warehouse."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from court_pipeline.ecr.assets import build_ecr_assets
from court_pipeline.ecr.generate import generate_ecr_file
from court_pipeline.landing.assets import build_landing_assets
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import Agency, EcrSource, LocalLanding, Registry
from court_pipeline.settings import BUNDLED_CONFIG_DIR
from court_pipeline.warehouse import WarehouseResource, connect_warehouse

PARTITION = dg.MultiPartitionKey({"agency": "t1", "date": "2026-11-22"})


@pytest.fixture
def setup(data_home, tmp_path):
    template = tmp_path / "demo.yaml"
    shutil.copy(BUNDLED_CONFIG_DIR / "templates" / "demo.yaml", template)
    registry = Registry(agencies=[
        Agency(id="t1", name="Test Courts", county="Travis",
               ecr=EcrSource(landing=LocalLanding(path="landing/t1"), template=str(template),
                             min_file_age_seconds=0)),
    ])
    parts = agency_day_partitions(registry)
    assets = [*build_landing_assets(registry, parts),
              *build_ecr_assets(registry, parts, registry_file=tmp_path / "agencies.yaml")]
    landing = data_home / "landing" / "t1"
    landing.mkdir(parents=True)
    warehouse = tmp_path / "wh.duckdb"
    return assets, landing, warehouse


def run(assets, warehouse, raise_on_error=True):
    return dg.materialize(
        assets, partition_key=PARTITION,
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        raise_on_error=raise_on_error,
    )


def test_materialize_loads_reports_and_reconciles(setup):
    assets, landing, warehouse = setup
    gen = generate_ecr_file(landing / "ecr_20261122.txt", 600, seed=5, junk_every=100)
    result = run(assets, warehouse)
    assert result.success
    mats = result.asset_materializations_for_node("ecr_records")
    meta = mats[0].metadata
    assert meta["files"].value == 1
    assert meta["rows_in"].value == 600
    assert meta["rows_rejected"].value == gen.junk_rows == 6
    assert meta["rows_loaded"].value == 594
    assert sum(meta["top_reject_reasons"].value.values()) == 6
    preview = meta["rejects_preview"].value
    assert "line 101:" in preview and "P1000" not in preview  # raw rows are masked
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("ecr_rows_reconcile", True)]
    with connect_warehouse(warehouse) as con:
        assert con.execute("SELECT count(*) FROM hearings WHERE agency_id = 't1'"
                           ).fetchall() == [(594,)]
        assert con.execute("SELECT status, partition_key FROM file_loads").fetchall() == [
            ("loaded", "t1|2026-11-22")]

    # the same bytes under a new name: received once, reported as a duplicate, not reloaded
    shutil.copy(landing / "ecr_20261122.txt", landing / "ecr_copy.txt")
    again = run(assets, warehouse)
    meta2 = again.asset_materializations_for_node("ecr_records")[0].metadata
    assert meta2["files"].value == 0
    assert "ecr_copy.txt" in meta2["duplicates"].value
    with connect_warehouse(warehouse) as con:
        assert con.execute("SELECT count(*) FROM file_loads").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM hearings").fetchall() == [(594,)]


def test_bad_file_fails_the_run_naming_it_and_good_file_still_loads(setup):
    assets, landing, warehouse = setup
    generate_ecr_file(landing / "a_good.txt", 50, seed=2, junk_every=0)
    (landing / "b_bad.txt").write_bytes(b"\x00\x01garbage" * 100)
    result = run(assets, warehouse, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error)
    assert "b_bad.txt: binary data" in text
    assert "1 other file(s) were loaded" in text
    with connect_warehouse(warehouse) as con:
        loads = con.execute("SELECT file_name, status, rows_loaded FROM file_loads ORDER BY 1"
                            ).fetchall()
    assert loads == [("a_good.txt", "loaded", 50), ("b_bad.txt", "failed", 0)]

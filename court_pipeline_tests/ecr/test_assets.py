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
    assert sorted((c.asset_key.path[-1], c.check_name, c.passed) for c in checks) == [
        ("ecr_landed_files", "no_quarantined_files", True),
        ("ecr_records", "ecr_reject_rate", True),
        ("ecr_records", "ecr_rows_reconcile", True),
        ("ecr_records", "no_quarantined_files", True)]
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


def checks_of(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(c.asset_key.path[-1], c.check_name): c for c in result.get_asset_check_evaluations()}


def test_unreadable_files_are_quarantined_once_and_never_block_the_agency(setup):
    assets, landing, warehouse = setup
    generate_ecr_file(landing / "a_good.txt", 50, seed=2, junk_every=0)
    (landing / "b_bad.txt").write_bytes(b"\x00\x01garbage" * 100)
    (landing / "c_empty.txt").write_bytes(b"")
    result = run(assets, warehouse)
    assert result.success  # the good file loaded; the check below says what was set aside
    meta = result.asset_materializations_for_node("ecr_records")[0].metadata
    assert meta["files"].value == 1
    assert meta["quarantined"].value == {
        "b_bad.txt": "b_bad.txt: binary data (NUL bytes), not a delimited text file",
        "c_empty.txt": "c_empty.txt: the file is empty (0 bytes)"}
    check = checks_of(result)[("ecr_records", "no_quarantined_files")]
    assert not check.passed
    assert check.metadata["quarantined"].value == 2 and check.metadata["retrying"].value == 0
    assert [(f["file"], f["status"], f["attempts"]) for f in check.metadata["files"].value] == [
        ("b_bad.txt", "quarantined", 1), ("c_empty.txt", "quarantined", 1)]
    with connect_warehouse(warehouse) as con:
        loads = con.execute("SELECT file_name, status, rows_loaded FROM file_loads ORDER BY 1"
                            ).fetchall()
    assert loads == [("a_good.txt", "loaded", 50), ("b_bad.txt", "failed", 0),
                     ("c_empty.txt", "failed", 0)]

    # next run: the quarantined files are not tried again, a new good file loads
    generate_ecr_file(landing / "d_good.txt", 20, seed=3, junk_every=0)
    again = run(assets, warehouse)
    meta = again.asset_materializations_for_node("ecr_records")[0].metadata
    assert meta["files"].value == 1 and meta["quarantined"].value == {}
    assert not checks_of(again)[("ecr_records", "no_quarantined_files")].passed
    with connect_warehouse(warehouse) as con:
        assert con.execute("SELECT file_name, attempts, status FROM quarantined_files "
                           "ORDER BY 1").fetchall() == [
            ("b_bad.txt", 1, "quarantined"), ("c_empty.txt", 1, "quarantined")]


def test_a_mostly_rejected_file_fails_the_reject_rate_check_and_keeps_its_rows(
        setup, tmp_path):
    """A template whose only date format is not the file's: every row is rejected. The load
    is recorded, the rows are in ecr_rejects, and the check fails pointing at date_formats."""
    assets, landing, warehouse = setup
    template = tmp_path / "demo.yaml"
    template.write_text(template.read_text(encoding="utf-8").replace(
        'date_formats: ["MM/DD/YYYY", "YYYY-MM-DD"]', 'date_formats: ["YYYY-MM-DD"]\n'
        "max_reject_rate: 0.25"), encoding="utf-8")
    generate_ecr_file(landing / "ecr.txt", 40, seed=4, junk_every=0)
    result = run(assets, warehouse)
    assert result.success
    check = checks_of(result)[("ecr_records", "ecr_reject_rate")]
    assert not check.passed
    [bad] = check.metadata["files"].value
    assert {k: bad[k] for k in ("file", "template", "rows", "rejected", "rate", "limit")} == {
        "file": "ecr.txt", "template": "demo", "rows": 40, "rejected": 40, "rate": 1.0,
        "limit": 0.25}
    assert bad["top_reason_rows"] == 30  # the other 10 rows give a different reason
    assert "matches none of the formats YYYY-MM-DD" in bad["top_reason"]
    assert bad["check_template_keys"] == "date_formats / time_formats / datetime_formats"
    assert check.description.startswith(
        "ecr.txt: 40 of 40 rows rejected (100%, template 'demo' allows 25%); most often (30):")
    with connect_warehouse(warehouse) as con:
        assert con.execute("SELECT count(*) FROM ecr_rejects").fetchall() == [(40,)]
        assert con.execute("SELECT status, rows_loaded, rows_rejected FROM file_loads"
                           ).fetchall() == [("loaded", 0, 40)]


def test_an_archive_read_error_is_retried_then_quarantined(setup, data_home):
    """An I/O error reading the archived bytes (here: the entry is gone, as with an unmounted
    volume) may pass: tried max_fetch_attempts (3) times, then quarantined."""
    assets, landing, warehouse = setup
    generate_ecr_file(landing / "ecr.txt", 10, seed=1, junk_every=0)
    run(assets, warehouse)
    with connect_warehouse(warehouse) as con:
        con.execute("DELETE FROM file_loads")  # as if the load had not happened yet
        [(archived,)] = con.execute("SELECT archive_path FROM received_files").fetchall()
    (data_home / archived).unlink()
    seen = []
    for _ in range(4):
        result = run(assets, warehouse)
        meta = result.asset_materializations_for_node("ecr_records")[0].metadata
        with connect_warehouse(warehouse) as con:
            seen.append((sorted(meta["retrying"].value), sorted(meta["quarantined"].value),
                         con.execute("SELECT status, attempts, permanent FROM quarantined_files"
                                     ).fetchall()))
    assert seen == [
        (["ecr.txt"], [], [("retrying", 1, False)]),
        (["ecr.txt"], [], [("retrying", 2, False)]),
        ([], ["ecr.txt"], [("quarantined", 3, False)]),
        ([], [], [("quarantined", 3, False)]),
    ]

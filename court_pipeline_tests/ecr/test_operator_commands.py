"""The docs' operator recipes as commands, run against real Dagster runs and a real
warehouse: `court-pipeline replay` and `court-pipeline quarantine list|release`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from court_pipeline.cli import main
from court_pipeline.ecr.assets import build_ecr_assets
from court_pipeline.ecr.generate import generate_ecr_file
from court_pipeline.landing.assets import build_landing_assets
from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import load_registry
from court_pipeline.settings import BUNDLED_CONFIG_DIR
from court_pipeline.warehouse import WarehouseResource, connect_warehouse
from court_pipeline_tests.docs.snippets import docs_commands

PARTITION = dg.MultiPartitionKey({"agency": "demo", "date": "2026-11-22"})


@pytest.fixture
def pipeline(data_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The bundled registry and demo template (a copy), a landing and run()."""
    config = tmp_path / "config"
    shutil.copytree(BUNDLED_CONFIG_DIR, config)
    registry_file = config / "agencies.yaml"
    registry_file.write_text(registry_file.read_text(encoding="utf-8").replace(
        "min_file_age_seconds: 30", "min_file_age_seconds: 0"), encoding="utf-8")
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(registry_file))
    landing = data_home / "landing" / "demo"
    landing.mkdir(parents=True)

    def run() -> dg.ExecuteInProcessResult:
        registry = load_registry(registry_file)
        parts = agency_day_partitions(registry)
        assets = [*build_landing_assets(registry, parts),
                  *build_ecr_assets(registry, parts, registry_file=registry_file)]
        return dg.materialize(assets, partition_key=PARTITION,
                              resources={"warehouse": WarehouseResource()},
                              run_config={"ops": {"ecr_landed_files": {"config": {"files": []}}}})

    return config / "templates" / "demo.yaml", landing, run


def q(sql: str) -> list[tuple]:
    with connect_warehouse() as con:
        return con.execute(sql).fetchall()


def test_replay_after_a_template_fix_loads_the_rejected_rows(pipeline, capsys):
    template, landing, run = pipeline
    good = template.read_text(encoding="utf-8")
    template.write_text(good.replace('date_formats: ["MM/DD/YYYY", "YYYY-MM-DD"]',
                                     'date_formats: ["YYYY-MM-DD"]'), encoding="utf-8")
    generate_ecr_file(landing / "ecr.txt", 40, seed=4, junk_every=0)
    run()
    assert q("SELECT rows_loaded, rows_rejected FROM file_loads") == [(0, 40)]
    template.write_text(good, encoding="utf-8")

    assert main(["replay", "demo", "ecr.txt"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("demo: replayed ecr.txt (sha256 ")
    assert out[0].endswith("rows in 40 = loaded 40 + rejected 0 (excluded 0); hearings removed "
                           "now 0, 0 in all; loaded 2 times")
    assert q("SELECT rows_loaded, rows_rejected, times_loaded FROM file_loads") == [(40, 0, 2)]
    assert q("SELECT count(*) FROM ecr_rejects") == [(0,)]
    assert q("SELECT count(*) FROM hearings WHERE agency_id = 'demo'") == [(40,)]


def test_replay_keeps_hearings_removed(pipeline, capsys):
    """A snapshot that dropped hearings, replayed: its removals stay counted (the rows are
    already removed, so this load removes none)."""
    _, landing, run = pipeline
    full = generate_ecr_file(landing / "a_full.txt", 60, seed=8, junk_every=0).path
    run()
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    (landing / "b_less.txt").write_text("".join(lines[:-10]), encoding="utf-8")
    run()
    [(removed,)] = q("SELECT hearings_removed FROM file_loads WHERE file_name = 'b_less.txt'")
    assert removed > 0
    assert q("SELECT count(*) FROM hearings WHERE removed_at IS NOT NULL") == [(removed,)]

    assert main(["replay", "demo", "b_less.txt"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(
        f"hearings removed now 0, {removed} in all; loaded 2 times")
    assert q("SELECT hearings_removed, times_loaded, first_loaded_at < loaded_at "
             "FROM file_loads WHERE file_name = 'b_less.txt'") == [(removed, 2, True)]


def test_replay_of_an_unknown_file_says_so(pipeline, capsys):
    assert main(["replay", "demo", "nope.txt"]) == 1
    assert capsys.readouterr().err == (
        "replay failed: agency 'demo' received no file named 'nope.txt' (see received_files / "
        "received_file_names)\n")


def test_quarantine_list_on_a_warehouse_from_an_older_version(data_home, capsys):
    """An upgrade, then `quarantine list` before any run: the table it reads is created, not
    a traceback."""
    con = duckdb.connect(str(data_home / "warehouse.duckdb"))
    con.execute("CREATE TABLE parties (agency_id VARCHAR, party_id VARCHAR)")
    con.close()
    assert main(["quarantine", "list"]) == 0
    assert capsys.readouterr().out == "no quarantined or retrying files\n"


def test_quarantine_list_and_release(pipeline, capsys):
    _, landing, run = pipeline
    (landing / "bad.txt").write_bytes(b"\x00\x01" * 50)
    run()
    assert main(["quarantine", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1] == "(1 file)"
    agency, stage, status, attempts, _, name, reason = out[0].split("\t")
    assert (agency, stage, status, attempts, name, reason) == (
        "demo", "load", "quarantined", "1", "bad.txt",
        "bad.txt: binary data (NUL bytes), not a delimited text file")

    assert main(["quarantine", "release", "demo", "bad.txt"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "released demo load bad.txt"
    assert q("SELECT status, attempts FROM quarantined_files") == [("released", 0)]
    assert main(["quarantine", "list"]) == 0
    assert capsys.readouterr().out == "no quarantined or retrying files\n"
    run()  # the next run tries it again: still unreadable, quarantined again after one try
    assert q("SELECT status, attempts FROM quarantined_files") == [("quarantined", 1)]
    capsys.readouterr()  # the run's log
    assert main(["quarantine", "release", "demo", "other.txt"]) == 1
    assert capsys.readouterr().err == "demo: no quarantined file matches\n"


# The pages (and sections) whose recipes this area owns: illustrative commands, on a warehouse
# prepared to match them (their runnable snippets run on the demo in court_pipeline_tests/docs).
RECIPE_PAGES = {
    "how-to/daily-checks.md": None,
    "how-to/replay-a-file.md": None,
    "how-to/release-quarantine.md": None,
    "reference/landing.md": None,
    "reference/ecr.md": None,
    "reference/cli.md": "## `court-pipeline check`",
}


def test_every_operator_recipe_in_the_docs_runs(pipeline, capsys):
    """The docs' commands, exactly as written (comments dropped), on a warehouse with a
    loaded file and a quarantined one named as in the docs."""
    import shlex

    _, landing, run = pipeline
    generate_ecr_file(landing / "ecr_20261122.txt", 30, seed=2, junk_every=10)
    (landing / "bad.txt").write_bytes(b"\x00" * 10)
    run()
    commands = docs_commands(RECIPE_PAGES)
    assert len(commands) >= 15
    assert {c.split()[1] for c in commands} == {"check", "sql", "quarantine", "replay"}
    for command in commands:
        argv = shlex.split(command, comments=True)[1:]
        if argv[:2] == ["check", "--config"]:
            argv[2] = os.environ["COURT_PIPELINE_CONFIG"]  # the docs' path is an example
        capsys.readouterr()
        assert main(argv) == 0, (command, capsys.readouterr())

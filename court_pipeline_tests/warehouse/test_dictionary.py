"""The data dictionary: every column of the real schema is described, once, and the docs'
table reference is exactly what the generator writes from it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb

import court_pipeline
from court_pipeline.cli import main as cli_main
from court_pipeline.warehouse import connect_warehouse
from court_pipeline.warehouse.connection import apply_schema
from court_pipeline.warehouse.dictionary import (
    ASSET_TABLES,
    load_dictionary,
    schema_files,
    stale_comments,
)
from court_pipeline.warehouse.table_reference import render

REPO = Path(court_pipeline.__file__).resolve().parents[1]
COMMENT = re.compile(r'COMMENT ON COLUMN (\w+)\."?(\w+)"? IS', re.IGNORECASE)


def _real_columns(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str | None]:
    return {
        (t, c): comment
        for t, c, comment in con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE table_name IN (SELECT table_name FROM duckdb_tables()) "
            "OR table_name IN (SELECT view_name FROM duckdb_views() WHERE NOT internal)"
        ).fetchall()
    }


def test_every_column_of_the_real_warehouse_is_described_once(tmp_path):
    with connect_warehouse(tmp_path / "wh.duckdb", read_only=True) as con:
        real = _real_columns(con)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert len(tables) == 42
    blank = sorted(f"{t}.{c}" for (t, c), comment in real.items() if not (comment or "").strip())
    # views keep no comments in a real warehouse (CREATE OR REPLACE drops them): described in
    # the dictionary, checked below
    assert blank == sorted(f"{t}.{c}" for (t, c) in real if t not in tables)

    statements = [
        m.groups() for f in schema_files() for m in COMMENT.finditer(f.read_text(encoding="utf-8"))
    ]
    described = set(statements)
    assert len(statements) == len(described), "a column is described twice"
    assert sorted(f"{t}.{c}" for t, c in described - set(real)) == []  # no stale description
    assert sorted(f"{t}.{c}" for t, c in set(real) - described) == []  # no column left out

    dictionary = load_dictionary()
    assert {(d.name, c.name) for d in dictionary.values() for c in d.columns} == set(real)
    assert all(d.description.strip() for d in dictionary.values())
    assert all(c.description.strip() for d in dictionary.values() for c in d.columns)
    assert set(ASSET_TABLES.values()) <= set(dictionary)


def test_the_warehouse_gets_the_descriptions_once_and_repairs_a_changed_one(tmp_path):
    path = tmp_path / "wh.duckdb"
    with connect_warehouse(path):
        pass
    con = duckdb.connect(str(path))
    try:
        assert stale_comments(con) == []
        con.execute("COMMENT ON COLUMN hearings.start_at IS 'stale'")
        assert stale_comments(con) == [
            'COMMENT ON COLUMN "hearings"."start_at" IS '
            "'Start instant (TIMESTAMPTZ), built from local court time in the court time zone, "
            "DST-correct.'"
        ]
        apply_schema(con)
        assert stale_comments(con) == []
    finally:
        con.close()


def test_committed_table_reference_is_the_generated_one():
    page = REPO / "docs" / "reference" / "tables.md"
    assert page.read_text(encoding="utf-8") == render(), (
        "docs/reference/tables.md is out of date: run `court-pipeline docs tables`"
    )
    assert "### `hearings`" in render() and "Dagster asset: `ecr_landed_files`." in render()


def test_docs_tables_command_writes_and_checks_without_dagster(tmp_path, capsys):
    out = tmp_path / "tables.md"
    assert cli_main(["docs", "tables", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
    out.write_text(render().replace("Start instant", "Start time"), encoding="utf-8")
    assert cli_main(["docs", "tables", "--check", "--out", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err
    probe = (
        "import sys; from court_pipeline.cli import main; "
        f"code = main(['docs', 'tables', '--out', {str(out)!r}]); "
        "assert 'dagster' not in sys.modules, 'dagster imported'; raise SystemExit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr

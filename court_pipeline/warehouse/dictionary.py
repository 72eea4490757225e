"""The data dictionary: table and column descriptions, read from the schema itself.

The one source is the ``COMMENT ON`` statements next to the DDL in ``schema/*.sql``. This
module applies the schema to an in-memory DuckDB once per process and reads DuckDB's own
catalog back (``duckdb_tables()``, ``duckdb_views()``, ``duckdb_columns()``), so the Dagster
column schemas, the docs' table reference and the real tables cannot disagree: a column is
described exactly when it exists. No dagster import (the CLI's docs command stays light).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
# The clean tables both sources merge into (records/merge.py), each its own Dagster asset.
CLEAN_TABLES: tuple[str, ...] = (
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
# The Dagster asset that materializes each table (or view). Explicit, so the docs know it
# without loading Dagster; a test checks it against the assembled Definitions.
ASSET_TABLES: dict[str, str] = {
    "ecr_landed_files": "received_files",
    "ecr_records": "file_loads",
    "odyssey_raw_responses": "odyssey_sync_runs",
    **{
        name: name
        for name in (
            *CLEAN_TABLES,
            "oca_case_status",
            "oca_case_events",
            "oca_charges",
            "oca_attorney",
            "oca_appointments",
            "oca_party",
            "oca_dispositions_criminal",
            "oca_dispositions_non_criminal",
            "oca_unmapped_codes",
            "oca_envelope_log",
            "reminder_outbox",
        )
    },
}


@dataclass(frozen=True)
class ColumnDoc:
    """One column as DuckDB created it, with its description."""

    name: str
    type: str
    nullable: bool
    primary_key: bool
    description: str


@dataclass(frozen=True)
class TableDoc:
    """One table (or view) of the warehouse; ``domain`` is its schema file's stem."""

    name: str
    kind: str  # 'table' | 'view'
    domain: str
    description: str
    columns: tuple[ColumnDoc, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def primary_key(self) -> list[str]:
        """The primary-key columns in table order (empty: the table declares none)."""
        return [c.name for c in self.columns if c.primary_key]


def schema_files() -> list[Path]:
    """Schema files in the order they are applied (one per domain)."""
    return sorted(SCHEMA_DIR.glob("*.sql"))


def schema_statements(path: Path) -> Iterator[tuple[str, bool]]:
    """Each statement of a schema file and whether it is a ``COMMENT ON`` (DuckDB's parser)."""
    for statement in duckdb.extract_statements(path.read_text(encoding="utf-8")):
        text = statement.query.strip()
        yield text, text[:10].upper().startswith("COMMENT")


@functools.cache
def load_dictionary() -> dict[str, TableDoc]:
    """Every table and view of the schema, by name, in schema-file order (cached per process)."""
    con = duckdb.connect()
    try:
        domains: dict[str, str] = {}
        for path in schema_files():
            con.execute(path.read_text(encoding="utf-8"))
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() UNION ALL "
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall():
                domains.setdefault(name, path.stem)
        described = {  # in creation order: the order of the DDL in each file
            (name, kind): comment
            for name, kind, comment, _ in con.execute(
                "SELECT table_name, 'table', comment, table_oid FROM duckdb_tables() UNION ALL "
                "SELECT view_name, 'view', comment, view_oid FROM duckdb_views() "
                "WHERE NOT internal ORDER BY 4"
            ).fetchall()
        }
        keys = {
            (table, column)
            for table, names in con.execute(
                "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'PRIMARY KEY'"
            ).fetchall()
            for column in names
        }
        columns: dict[str, list[ColumnDoc]] = {}
        for table, column, data_type, nullable, comment in con.execute(
            "SELECT table_name, column_name, data_type, is_nullable, comment FROM duckdb_columns() "
            "WHERE NOT internal ORDER BY table_name, column_index"
        ).fetchall():
            columns.setdefault(table, []).append(
                ColumnDoc(column, data_type, bool(nullable), (table, column) in keys, comment or "")
            )
    finally:
        con.close()
    return {
        name: TableDoc(name, kind, domains[name], comment or "", tuple(columns.get(name, ())))
        for (name, kind), comment in sorted(described.items(), key=lambda item: domains[item[0][0]])
    }


def table_doc(name: str) -> TableDoc:
    """The dictionary entry of one table or view (KeyError names the unknown table)."""
    return load_dictionary()[name]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stale_comments(con: duckdb.DuckDBPyConnection) -> list[str]:
    """``COMMENT ON`` statements that bring ``con``'s catalog in line with the dictionary.

    Empty when the warehouse already carries every description, so the per-process schema
    step rewrites nothing (a catalog write per comment on every start costs ~0.5 s). Views
    are left out: ``CREATE OR REPLACE VIEW`` drops their comments on every start, and their
    columns are described by the tables they select from."""
    current = {
        (t, c): comment or ""
        for t, c, comment in con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
        ).fetchall()
    }
    current_tables = {
        (t, kind): comment or ""
        for t, kind, comment in con.execute(
            "SELECT table_name, 'TABLE', comment FROM duckdb_tables()"
        ).fetchall()
    }
    statements = []
    for doc in load_dictionary().values():
        if doc.kind == "view":
            continue
        kind = doc.kind.upper()
        if current_tables.get((doc.name, kind), doc.description) != doc.description:
            statements.append(f'COMMENT ON {kind} "{doc.name}" IS {_quote(doc.description)}')
        for col in doc.columns:
            if current.get((doc.name, col.name), col.description) != col.description:
                statements.append(
                    f'COMMENT ON COLUMN "{doc.name}"."{col.name}" IS {_quote(col.description)}'
                )
    return statements

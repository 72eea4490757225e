"""Table metadata Dagster understands, from the data dictionary (warehouse/dictionary.py).

Two halves, one source:

- at definition time every table asset carries ``dagster/column_schema`` (the UI's Columns
  tab: name, DuckDB type, nullability, primary key, description, PII kind) and
  ``dagster/table_name``, so columns show before any run;
- every materialization of a table asset reports ``dagster/row_count`` (the agency's rows in
  the table: each table holds an agency's current state, not a day's) and
  ``rows_inserted`` / ``rows_updated`` / ``rows_removed`` for this run, counted the one way the
  table allows (``STAMPED`` timestamps or a before/after ``diff_rows``). A count the table
  cannot give is reported as the text ``unknown``, never as 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import duckdb

from court_pipeline.pii import FIELDS as PII_FIELDS
from court_pipeline.warehouse import WarehouseResource
from court_pipeline.warehouse.dictionary import ASSET_TABLES, CLEAN_TABLES, table_doc

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Stamps:
    """How a table tells this run's rows apart: SQL for when a row was first written and
    when it last changed (None: never updated if ``append_only``, else not recorded)."""

    first: str
    changed: str | None
    append_only: bool = False


_CLEAN = Stamps("first_seen_at", "updated_at")
# Tables whose rows the code only ever inserts or updates (no DELETE anywhere): rows_removed
# is then a known 0. Tables rebuilt by DELETE + INSERT use diff_rows instead.
STAMPED: dict[str, Stamps] = {
    **dict.fromkeys((t for t in CLEAN_TABLES if t != "hearing_changes"), _CLEAN),
    "hearing_changes": Stamps("changed_at", None, append_only=True),
    "received_files": Stamps("received_at", None, append_only=True),
    "file_loads": Stamps("coalesce(first_loaded_at, loaded_at)", "loaded_at"),
    # INSERT OR REPLACE and status updates leave no change time: updates are unknown
    "odyssey_sync_runs": Stamps("started_at", None),
    "reminder_outbox": Stamps("created_at", "updated_at"),
    "oca_envelope_log": Stamps("created_at", "finished_at"),
}


@dataclass
class RowChanges:
    """Rows this run inserted, updated and removed (None: the table cannot tell)."""

    inserted: int | None = None
    updated: int | None = None
    removed: int | None = None
    method: str = field(default="unknown")


def asset_table(asset_name: str) -> str | None:
    """The warehouse table (or view) an asset materializes, or None for a non-table asset."""
    return ASSET_TABLES.get(asset_name)


def column_schema(table: str) -> dg.TableSchema:
    """The table's columns as Dagster's TableSchema (descriptions from the dictionary)."""
    doc = table_doc(table)
    keys = doc.primary_key
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                c.type,
                description=c.description,
                constraints=dg.TableColumnConstraints(
                    nullable=c.nullable,
                    unique=keys == [c.name],
                    other=["primary key"] if c.primary_key else [],
                ),
                tags={"pii": PII_FIELDS[c.name]} if c.name in PII_FIELDS else {},
            )
            for c in doc.columns
        ],
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(keys)})"])
        if keys
        else None,
    )


def with_table_schema(spec: dg.AssetSpec) -> dg.AssetSpec:
    """An asset spec with its table's column schema (for ``dg.map_asset_specs``)."""
    table = asset_table(spec.key.path[-1])
    if table is None:
        return spec
    counted = (
        f"Row count: the agency's rows in {table} (its current state, every day), with the "
        "rows this run inserted, updated and removed."
    )
    return spec.replace_attributes(
        description=f"{spec.description or table_doc(table).description}\n\n{counted}"
    ).merge_attributes(
        metadata={
            "dagster/column_schema": column_schema(table),
            "dagster/table_name": f"warehouse.main.{table}",
        }
    )


def run_started_at(context: dg.AssetExecutionContext) -> datetime | None:
    """When this run started (rows written since then are this run's), None if unknown."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if record is None or record.start_time is None:
        return None
    return datetime.fromtimestamp(record.start_time, tz=UTC)


def stamped_changes(
    con: duckdb.DuckDBPyConnection, table: str, agency_id: str, since: datetime | None
) -> RowChanges:
    """This run's changes from the table's own timestamps (``STAMPED``)."""
    stamps = STAMPED[table]
    if since is None:
        return RowChanges(method="run start time unknown")
    changed = stamps.changed or "NULL"
    inserted, updated = con.execute(
        f"SELECT count(*) FILTER (WHERE {stamps.first} >= ?), "
        f"count(*) FILTER (WHERE {stamps.first} < ? AND {changed} >= ?) "
        f"FROM {table} WHERE agency_id = ?",
        [since, since, since, agency_id],
    ).fetchone() or (0, 0)
    return RowChanges(
        inserted=int(inserted),
        updated=int(updated) if stamps.changed or stamps.append_only else None,
        removed=0,
        method="timestamps since the run started",
    )


@contextlib.contextmanager
def diff_rows(
    con: duckdb.DuckDBPyConnection, table: str, agency_id: str, ignore: Sequence[str] = ()
) -> Iterator[RowChanges]:
    """Count what the block changed in the agency's rows of ``table``, by primary key.

    For tables rebuilt by DELETE + INSERT: a row whose key stays and whose values (bar the
    ``ignore`` bookkeeping columns) are equal is unchanged, not removed and inserted."""
    doc = table_doc(table)
    keys = doc.primary_key
    if not keys:
        raise ValueError(f"{table} has no primary key: its changes cannot be counted by key")
    values = [c.name for c in doc.columns if not c.primary_key and c.name not in ignore]
    quoted = ", ".join(f'"{c}"' for c in [*keys, *values])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _before AS SELECT {quoted} FROM {table} WHERE agency_id = ?",
        [agency_id],
    )
    changes = RowChanges(method="before/after comparison by primary key")
    try:
        yield changes
        match = " AND ".join(f'a."{k}" IS NOT DISTINCT FROM b."{k}"' for k in keys)
        differs = " OR ".join(f'a."{c}" IS DISTINCT FROM b."{c}"' for c in values) or "false"
        row = con.execute(
            f"""
            WITH after AS (SELECT {quoted} FROM {table} WHERE agency_id = ?)
            SELECT
              (SELECT count(*) FROM after a WHERE NOT EXISTS (SELECT 1 FROM _before b WHERE {match})),
              (SELECT count(*) FROM after a JOIN _before b ON {match} WHERE {differs}),
              (SELECT count(*) FROM _before b WHERE NOT EXISTS (SELECT 1 FROM after a WHERE {match}))
            """,  # noqa: E501
            [agency_id],
        ).fetchone() or (0, 0, 0)
        changes.inserted, changes.updated, changes.removed = (int(v) for v in row)
    finally:
        con.execute("DROP TABLE IF EXISTS _before")


def row_metadata(
    con: duckdb.DuckDBPyConnection, table: str, agency_id: str, changes: RowChanges
) -> dict[str, dg.MetadataValue]:
    """``dagster/row_count`` (the agency's rows now) and this run's inserted/updated/removed."""
    (total,) = con.execute(
        f"SELECT count(*) FROM {table} WHERE agency_id = ?", [agency_id]
    ).fetchone() or (0,)

    def count(value: int | None) -> dg.MetadataValue:
        return dg.MetadataValue.int(value) if value is not None else dg.MetadataValue.text(UNKNOWN)

    return {
        "dagster/row_count": dg.MetadataValue.int(int(total)),
        "rows_inserted": count(changes.inserted),
        "rows_updated": count(changes.updated),
        "rows_removed": count(changes.removed),
    }


def stamped_metadata(
    con: duckdb.DuckDBPyConnection, table: str, agency_id: str, since: datetime | None
) -> dict[str, dg.MetadataValue]:
    """``row_metadata`` for a ``STAMPED`` table."""
    return row_metadata(con, table, agency_id, stamped_changes(con, table, agency_id, since))


def table_rows_reporter(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, table: str
) -> Callable[[dict[str, dict]], dict[str, dict]]:
    """Adds ``stamped_metadata`` of ``table`` to each agency's metadata of this run (one
    read-only connection; the run start is read once, when the step starts)."""
    since = run_started_at(context)

    def report(per_agency: dict[str, dict]) -> dict[str, dict]:
        with warehouse.connect(read_only=True) as con:
            return {
                agency: {**meta, **stamped_metadata(con, table, agency, since)}
                for agency, meta in per_agency.items()
            }

    return report

"""Where publishing reads the validated OCA rows from (the OCA datasets' tables).

Kept in one small module so the link to the OCA datasets (asset keys, table names, columns)
is in one place. Only rows that passed validation are read; held-back rows of the datasets
never reach the publisher.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd

from court_pipeline.oca.contracts import ENTITY_TYPES, contract_fields
from court_pipeline.oca.datasets import dataset_table
from court_pipeline.registry.models import Agency

__all__ = ["DATASET_ASSET_KEYS", "ENTITY_TYPES", "dataset_table", "load_validated_rows"]


DATASET_ASSET_KEYS: list[dg.AssetKey] = [dg.AssetKey(dataset_table(et)) for et in ENTITY_TYPES]


class DatasetMissingError(RuntimeError):
    """The OCA dataset table is not there (its asset was never materialized)."""


def load_validated_rows(
    con: duckdb.DuckDBPyConnection, entity_type: str, agency: Agency
) -> pd.DataFrame:
    """All current validated rows of one entity type for the agency, in contract columns.

    Refuses (DatasetMissingError) when the dataset was never built for the agency: an empty
    table must not be read as "every record disappeared", which would delete them all.
    """
    table = dataset_table(entity_type)
    fields = contract_fields(entity_type)
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchone()[0]
    built = exists and con.execute(
        "SELECT count(*) FROM oca_dataset_builds WHERE agency_id = ? AND entity_type = ?",
        [agency.id, entity_type],
    ).fetchone()[0]
    if not built:
        raise DatasetMissingError(
            f"dataset {table} ({entity_type}) was never built for agency {agency.id!r}: "
            "materialize the OCA dataset assets first"
        )
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()}
    select = ", ".join(f'"{f}"' if f in columns else f'NULL AS "{f}"' for f in fields)
    where = "WHERE agency_id = ?" if "agency_id" in columns else "WHERE county = ?"
    param = agency.id if "agency_id" in columns else agency.county
    return con.execute(f"SELECT {select} FROM {table} {where} ORDER BY recordid", [param]).fetchdf()

"""The warehouse as a Dagster resource (the connection logic lives in ``connection``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from court_pipeline import settings
from court_pipeline.warehouse.connection import (
    DEFAULT_MEMORY_LIMIT,
    SCHEMA_DIR,
    WarehouseLockTimeout,
    apply_schema,
    connect_warehouse,
)

__all__ = [
    "DEFAULT_MEMORY_LIMIT", "SCHEMA_DIR", "WarehouseLockTimeout", "WarehouseResource",
    "apply_schema", "connect_warehouse",
]


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse. ``path`` empty means ``COURT_PIPELINE_WAREHOUSE`` or the data home."""

    path: str = Field(default="", description="DuckDB file; empty = <data home>/warehouse.duckdb")
    lock_timeout_seconds: float = Field(
        default=600.0, description="how long a run waits for another run's write to finish"
    )
    memory_limit: str = Field(
        default=DEFAULT_MEMORY_LIMIT,
        description="DuckDB memory cap per connection; beyond it work spills to "
        "<data home>/tmp/warehouse",
    )

    @property
    def db_path(self) -> Path:
        return Path(self.path).expanduser().resolve() if self.path else settings.warehouse_path()

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection under the cross-process writer lock."""
        with connect_warehouse(
            self.db_path, read_only=read_only, lock_timeout_seconds=self.lock_timeout_seconds,
            memory_limit=self.memory_limit,
        ) as con:
            yield con

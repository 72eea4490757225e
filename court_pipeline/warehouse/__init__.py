"""The DuckDB warehouse: connections with a cross-process writer lock, and the schema.

``WarehouseResource`` is imported lazily: the ``court-pipeline sql`` command uses the
connection helpers and must start without importing dagster.
"""

from court_pipeline.warehouse.connection import connect_warehouse

__all__ = ["WarehouseResource", "connect_warehouse"]


def __getattr__(name: str):
    if name == "WarehouseResource":
        from court_pipeline.warehouse.resource import WarehouseResource

        return WarehouseResource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

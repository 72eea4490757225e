"""The DuckDB warehouse: connections with a cross-process writer lock, and the schema."""

from court_pipeline.warehouse.resource import WarehouseResource, connect_warehouse

__all__ = ["WarehouseResource", "connect_warehouse"]

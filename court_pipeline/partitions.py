"""Agency x day partitions shared by every partitioned asset.

Keys read ``<agency>|<YYYY-MM-DD>`` (Dagster orders dimensions by name: agency, date), so
``--partition 'demo|2026-11-22'`` selects one agency-day everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from court_pipeline.registry import Registry

PARTITION_TIMEZONE = "America/Chicago"


def agency_day_partitions(registry: Registry) -> dg.MultiPartitionsDefinition:
    """The agency x day partitions definition for this registry."""
    return dg.MultiPartitionsDefinition(
        {
            "agency": dg.StaticPartitionsDefinition(registry.agency_ids),
            "date": dg.DailyPartitionsDefinition(
                start_date=registry.partitions_start_date,
                timezone=PARTITION_TIMEZONE,
                end_offset=1,
            ),
        }
    )


@dataclass(frozen=True)
class AgencyDay:
    """One partition, parsed."""

    agency_id: str
    day: date

    @property
    def key(self) -> str:
        return partition_key(self.agency_id, self.day)


def partition_key(agency_id: str, day: date | str) -> str:
    """Build the string key for an agency and a day."""
    return f"{agency_id}|{day if isinstance(day, str) else day.isoformat()}"


def parse_partition_key(key: str) -> AgencyDay:
    """Split ``agency|YYYY-MM-DD`` (or a MultiPartitionKey) into its parts."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
        return AgencyDay(dims["agency"], date.fromisoformat(dims["date"]))
    agency_id, _, day = str(key).partition("|")
    if not agency_id or not day:
        raise ValueError(f"partition key {key!r} is not '<agency>|<YYYY-MM-DD>'")
    return AgencyDay(agency_id, date.fromisoformat(day))


def context_agency_day(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> AgencyDay:
    """The agency-day of the running partition."""
    return parse_partition_key(context.partition_key)

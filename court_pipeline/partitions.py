"""Agency x day partitions shared by every partitioned asset.

Keys read ``<agency>|<YYYY-MM-DD>`` (Dagster orders dimensions by name: agency, date), so
``--partition 'demo|2026-11-22'`` selects one agency-day everywhere.

A backfill run covers a range of keys instead (``RANGE_BACKFILL_POLICY``): assets read the
run's agency-days with ``context_agencies`` (one agency-day for a normal run) and say in their
docstrings what a range means for them.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """The agency-day of a single-partition run (a backfill range run has several: assets
    use ``context_agencies``, which handles both)."""
    return parse_partition_key(context.partition_key)


# --- Ranges: backfill runs that cover many agency-days ---------------------------------------

# A backfill of N agency-days runs as ceil(N / 31) runs, each over one range of keys (a month of
# one agency, or one day of up to 31 agencies): few runs, but a failure costs at most a month of
# one agency and a statewide one-day backfill still spreads over several run processes. Every
# partitioned asset carries the same policy: Dagster only puts assets with the same policy in the
# same backfill run.
MAX_PARTITIONS_PER_RUN = 31
RANGE_BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)


@dataclass(frozen=True)
class AgencyDays:
    """The days of one agency in a run: one day for a normal run, several for a backfill."""

    agency_id: str
    days: tuple[date, ...]

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]

    @property
    def keys(self) -> list[str]:
        return [partition_key(self.agency_id, d) for d in self.days]

    @property
    def last_key(self) -> str:
        """The key that stands for the whole range where one key is stored (sync runs, builds)."""
        return partition_key(self.agency_id, self.last)

    @property
    def is_range(self) -> bool:
        return len(self.days) > 1

    def clamp(self, day: date) -> date:
        """``day`` moved into [first, last]: where a file of another day is accounted."""
        return min(max(day, self.first), self.last)

    def day_labels(self) -> list[str]:
        return [d.isoformat() for d in self.days]


def context_agency_days(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> list[AgencyDay]:
    """Every agency-day of the run, sorted: one for a partition run, all of a range run.

    Works for both because ``partition_keys`` expands a range (the run tags
    ``dagster/asset_partition_range_start``/``_end`` a backfill sets) into its keys, and a
    range over the multi-partitions is the product agency range x day range.
    """
    parsed = {parse_partition_key(k) for k in context.partition_keys}
    return sorted(parsed, key=lambda p: (p.agency_id, p.day))


def group_by_agency(parts: list[AgencyDay]) -> list[AgencyDays]:
    """The agency-days grouped per agency (agency order kept, days ascending)."""
    days: dict[str, list[date]] = {}
    for part in parts:
        days.setdefault(part.agency_id, []).append(part.day)
    return [AgencyDays(agency, tuple(sorted(ds))) for agency, ds in days.items()]


def context_agencies(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> list[AgencyDays]:
    """The run's agencies, each with its days (a backfill range may span several agencies)."""
    return group_by_agency(context_agency_days(context))


def range_metadata(group: AgencyDays) -> dict[str, dg.MetadataValue]:
    """What a run covered, so each partition's materialization says which run did its day."""
    if not group.is_range:
        return {}
    return {
        "days": dg.MetadataValue.json(group.day_labels()),
        "range": dg.MetadataValue.text(f"{group.first}..{group.last} ({len(group.days)} days)"),
    }


def _plain(value: object) -> object:
    """A metadata value as plain JSON (None for those that do not summarize: markdown, paths)."""
    skip = (dg.MarkdownMetadataValue, dg.PathMetadataValue, dg.TableMetadataValue)
    if isinstance(value, skip):
        return None
    if isinstance(value, dg.MetadataValue):
        value = value.value
    if value is None or isinstance(value, (int, float, str, bool, list, dict)):
        return value
    return str(value)


def combine_agency_metadata(
    per_agency: dict[str, dict[str, object]],
) -> dict[str, object]:
    """One metadata dict for a run over several agencies (one agency: its own, unchanged).

    Integer counts are summed; everything plain is kept per agency under ``per_agency``.
    """
    if len(per_agency) == 1:
        return dict(next(iter(per_agency.values())))
    plain = {agency: {k: p for k, v in meta.items() if (p := _plain(v)) is not None}
             for agency, meta in per_agency.items()}
    combined: dict[str, object] = {"agencies": dg.MetadataValue.json(sorted(per_agency))}
    keys = {k for meta in plain.values() for k in meta}
    for key in sorted(keys):
        values = [meta.get(key) for meta in plain.values()]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            combined[key] = dg.MetadataValue.int(sum(values))  # type: ignore[arg-type]
        elif all(v == "unknown" or (isinstance(v, int) and not isinstance(v, bool))
                 for v in values):
            combined[key] = dg.MetadataValue.text("unknown")  # a sum with an unknown part
    combined["per_agency"] = dg.MetadataValue.json(plain)
    return combined


def materialize_per_agency(
    groups: list[AgencyDays],
    work: Callable[[AgencyDays], tuple[dict, str | None]],
    report: Callable[[dict[str, dict]], dict[str, dict]] | None = None,
) -> dg.MaterializeResult:
    """Run ``work`` for every agency of the run (it returns the agency's metadata and a
    failure description or None). One agency's failure does not stop the others; the step
    fails at the end, naming each failure, with everyone's metadata attached. ``report``
    adds to every agency's metadata afterwards (the table's row counts), failures included."""
    per_agency: dict[str, dict] = {}
    failures: list[str] = []
    for group in groups:
        meta, failure = work(group)
        per_agency[group.agency_id] = meta
        if failure:
            failures.append(failure)
    if report is not None:
        per_agency = report(per_agency)
    combined = combine_agency_metadata(per_agency)
    if failures:
        raise dg.Failure(description=" | ".join(failures), metadata=combined)
    return dg.MaterializeResult(metadata=combined)

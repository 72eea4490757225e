"""Dagster assets: ``oca_publication`` (send the day's changes) and ``oca_envelope_log``.

``oca_publication`` runs per agency-day partition after the 8 OCA dataset assets (a backfill
range of days publishes once per agency). It publishes the agency's current validated rows
(the whole county, not only the day: records missing from them are deleted at the service),
tags the run with the environment, and reports envelopes, accepted / held-back /
retry-next-run counts and bytes. Two WARN asset checks keep a run that is not clean visible:
``oca_nothing_held_back`` (records a person must act on, with reasons) and
``oca_nothing_deferred`` (records left unsent, with the count; the next run sends them first).
"""


import json
from collections.abc import Callable, Sequence

import dagster as dg
import duckdb
import pandas as pd

from court_pipeline.partitions import (
    RANGE_BACKFILL_POLICY,
    AgencyDays,
    combine_agency_metadata,
    context_agencies,
    range_metadata,
)
from court_pipeline.publish.datasets import (
    DATASET_ASSET_KEYS,
    ENTITY_TYPES,
    DatasetMissingError,
    load_validated_rows,
)
from court_pipeline.publish.publisher import PublishReport, publish_county
from court_pipeline.publish.resources import CourtAnalyticsTXResource
from court_pipeline.publish.state import StateStore
from court_pipeline.registry.models import Agency, Registry
from court_pipeline.table_metadata import table_rows_reporter
from court_pipeline.warehouse import WarehouseResource

RUN_TAG = "court_pipeline/oca_environment"
CHECK_NAME = "oca_nothing_held_back"
DEFERRED_CHECK = "oca_nothing_deferred"
RowLoader = Callable[[duckdb.DuckDBPyConnection, str, Agency], pd.DataFrame]


def _held_back_table(
    con: duckdb.DuckDBPyConnection, run_id: str, agency_id: str
) -> pd.DataFrame:
    return con.execute(
        "SELECT reason_kind, entity_type, count(*) AS records, any_value(reason) AS example "
        "FROM oca_held_back WHERE run_id = ? AND agency_id = ? GROUP BY 1, 2 "
        "ORDER BY records DESC",
        [run_id, agency_id],
    ).fetchdf()


def _envelope_metadata(con: duckdb.DuckDBPyConnection, agency_id: str) -> dict:
    recent = con.execute(
        "SELECT created_at, environment, county, status, http_status, attempts, "
        "entities, accepted, held_back, body_bytes, service_envelope_id, envelope_id "
        "FROM oca_envelope_log WHERE agency_id = ? ORDER BY created_at DESC LIMIT 25",
        [agency_id],
    ).fetchdf()
    totals = con.execute(
        "SELECT status, count(*) FROM oca_envelope_log WHERE agency_id = ? GROUP BY 1",
        [agency_id],
    ).fetchall()
    open_held = con.execute(
        "SELECT count(*) FROM oca_open_held_back WHERE agency_id = ?", [agency_id]
    ).fetchall()[0][0]
    recent["created_at"] = recent["created_at"].astype(str)
    return {
        "envelopes_by_status": dg.MetadataValue.json({s: int(n) for s, n in totals}),
        "open_held_back": int(open_held),
        "recent": dg.MetadataValue.md(
            recent.to_markdown(index=False) if not recent.empty else "_none_"
        ),
        "query": "SELECT * FROM oca_envelope_log ORDER BY created_at DESC",
    }


def build_publish_assets(
    registry: Registry,
    partitions_def: dg.PartitionsDefinition,
    *,
    dataset_keys: Sequence[dg.AssetKey | str] | None = None,
    load_rows: RowLoader = load_validated_rows,
) -> list:
    """The publishing assets for this registry (deps on the 8 OCA dataset assets)."""
    deps = [dg.AssetKey(k) if isinstance(k, str) else k for k in (dataset_keys or
                                                                DATASET_ASSET_KEYS)]

    @dg.asset(
        name="oca_publication",
        group_name="oca",
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        deps=deps,
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_NAME, asset="oca_publication",
                description="no record was held back (refused, invalid, too large)",
            ),
            dg.AssetCheckSpec(
                DEFERRED_CHECK, asset="oca_publication",
                description="no record was left unsent for the next run (service down, rate "
                "limited past the time budget, circuit breaker open, token endpoint down)",
            ),
        ],
        description="Send new, changed and deleted OCA records to CourtAnalyticsTX.",
        kinds={"python", "duckdb"},
    )
    def oca_publication(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        courtanalyticstx: CourtAnalyticsTXResource,
    ):
        """Publish each agency of the run once. What is sent is the agency's current state
        (the whole county), not a day's rows: per-day runs of a backfill would send it with
        the first run and find nothing new afterwards, so a range publishes once."""
        per_agency: dict[str, dict] = {}
        checks: dict[str, dict[str, dg.AssetCheckResult]] = {CHECK_NAME: {}, DEFERRED_CHECK: {}}
        for group in context_agencies(context):
            meta, results = publish_one(context, warehouse, courtanalyticstx, group)
            per_agency[group.agency_id] = meta
            for result in results:
                checks[result.check_name][group.agency_id] = result
        yield dg.MaterializeResult(metadata=combine_agency_metadata(per_agency))
        for name, by_agency in checks.items():
            yield _combined_check(name, by_agency)

    def publish_one(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        courtanalyticstx: CourtAnalyticsTXResource,
        group: AgencyDays,
    ) -> tuple[dict, list[dg.AssetCheckResult]]:
        agency = registry.agency(group.agency_id)
        if agency.oca is None:
            return {"skipped": "agency has no oca publishing"}, [
                dg.AssetCheckResult(check_name=name, passed=True, metadata={"skipped": True})
                for name in (CHECK_NAME, DEFERRED_CHECK)]
        settings = courtanalyticstx.settings_for(registry, agency)
        context.instance.add_run_tags(context.run.run_id, {RUN_TAG: settings.environment})
        credential = courtanalyticstx.credential_for(agency)
        datasets, skipped = {}, []
        with warehouse.connect() as con:
            for entity_type in ENTITY_TYPES:
                try:
                    datasets[entity_type] = load_rows(con, entity_type, agency)
                except DatasetMissingError as exc:
                    skipped.append(entity_type)
                    context.log.warning(f"{exc}; not published (no deletes inferred)")
        store = StateStore(
            warehouse.connect, environment=settings.environment, agency_id=agency.id,
            county=agency.county, run_id=context.run.run_id, lock_dir=warehouse.db_path.parent,
        )
        report = publish_county(store, datasets, credential, settings, publisher=agency.publisher)
        for message in report.messages:
            context.log.warning(message)
        with warehouse.connect(read_only=True) as con:
            held = _held_back_table(con, context.run.run_id, agency.id)
        metadata = report.as_metadata() | {
            **range_metadata(group),
            "skipped_entity_types": dg.MetadataValue.json(skipped),
            "planned": dg.MetadataValue.json(report.planned),
            "held_back_reasons": dg.MetadataValue.md(
                held.to_markdown(index=False) if not held.empty else "_none_"
            ),
        }
        return metadata, _check_results(report, held)

    @dg.asset(
        name="oca_envelope_log",
        group_name="oca",
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        deps=[oca_publication],
        description="The envelope log (view oca_envelope_log) of the agency: recent envelopes.",
        kinds={"duckdb"},
    )
    def oca_envelope_log(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """The log is the agency's state: a backfill range reports it once per agency."""
        report = table_rows_reporter(context, warehouse, "oca_envelope_log")
        with warehouse.connect(read_only=True) as con:
            per_agency = {g.agency_id: {**_envelope_metadata(con, g.agency_id),
                                        **range_metadata(g)}
                          for g in context_agencies(context)}
        return dg.MaterializeResult(metadata=combine_agency_metadata(report(per_agency)))

    return [oca_publication, oca_envelope_log]


def _check_results(report: PublishReport, held: pd.DataFrame) -> list[dg.AssetCheckResult]:
    """Held back (a person must act) and deferred (the next run sends them first), apart."""
    reasons = {k: int(v) for k, v in report.reasons.items()}
    kept = held[held["reason_kind"] != "retry_next_run"] if not held.empty else held
    waiting = held[held["reason_kind"] == "retry_next_run"] if not held.empty else held
    return [
        dg.AssetCheckResult(
            check_name=CHECK_NAME,
            passed=report.held_back == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "held_back": report.held_back,
                "reasons": dg.MetadataValue.json(
                    {k: v for k, v in reasons.items() if k != "retry_next_run"}),
                "details": dg.MetadataValue.md(
                    kept.to_markdown(index=False) if not kept.empty else "_none_"),
            },
            description=None if report.held_back == 0 else (
                f"{report.held_back} record(s) held back; see oca_open_held_back and the "
                "docs (reference/publishing.md: held-back kinds and what to do)"),
        ),
        dg.AssetCheckResult(
            check_name=DEFERRED_CHECK,
            passed=report.retry_next_run == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "deferred": report.retry_next_run,
                "circuit_open": report.circuit_open,
                "rate_limited": report.rate_limited,
                "details": dg.MetadataValue.md(
                    waiting.to_markdown(index=False) if not waiting.empty else "_none_"),
            },
            description=None if report.retry_next_run == 0 else (
                f"{report.retry_next_run} record(s) not sent by this run; the next run sends "
                "them first"),
        ),
    ]


def _combined_check(name: str, by_agency: dict[str, dg.AssetCheckResult]) -> dg.AssetCheckResult:
    """One agency: its own result; several: passed only if all did, with per-agency notes."""
    if len(by_agency) == 1:
        return next(iter(by_agency.values()))
    count = "held_back" if name == CHECK_NAME else "deferred"
    total = sum(int(c.metadata[count].value) for c in by_agency.values()
                if count in c.metadata)
    return dg.AssetCheckResult(
        check_name=name,
        passed=all(c.passed for c in by_agency.values()),
        severity=dg.AssetCheckSeverity.WARN,
        description=None if total == 0 else f"{total} record(s) {count.replace('_', ' ')}",
        metadata={count: total, "per_agency": dg.MetadataValue.json(
            {a: {"passed": c.passed, "description": c.description or ""}
             for a, c in by_agency.items()})},
    )


def envelope_counts(counts_json: str) -> dict[str, dict[str, int]]:
    """Parse the ``counts`` column of the envelope log."""
    return json.loads(counts_json)

"""Dagster assets: ``oca_publication`` (send the day's changes) and ``oca_envelope_log``.

``oca_publication`` runs per agency-day partition after the 8 OCA dataset assets (a backfill
range of days publishes once per agency). It publishes the agency's current validated rows
(the whole county, not only the day: records missing from them are deleted at the service),
tags the run with the environment, and reports envelopes, accepted / held-back /
retry-next-run counts and bytes. Its asset check warns when anything was held back, listing
the reasons, so a run that is not clean is visible in the UI.
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
from court_pipeline.publish.publisher import publish_county
from court_pipeline.publish.resources import CourtAnalyticsTXResource
from court_pipeline.publish.state import StateStore
from court_pipeline.registry.models import Agency, Registry
from court_pipeline.warehouse import WarehouseResource

RUN_TAG = "court_pipeline/oca_environment"
CHECK_NAME = "oca_nothing_held_back"
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
                description="every record to publish was accepted (none held back or deferred)",
            )
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
        checks: dict[str, dg.AssetCheckResult] = {}
        for group in context_agencies(context):
            meta, check = publish_one(context, warehouse, courtanalyticstx, group)
            per_agency[group.agency_id] = meta
            checks[group.agency_id] = check
        yield dg.MaterializeResult(metadata=combine_agency_metadata(per_agency))
        if len(checks) == 1:
            yield next(iter(checks.values()))
            return
        yield dg.AssetCheckResult(
            check_name=CHECK_NAME,
            passed=all(c.passed for c in checks.values()),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"per_agency": dg.MetadataValue.json(
                {a: {"passed": c.passed, "description": c.description or ""}
                 for a, c in checks.items()})},
        )

    def publish_one(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        courtanalyticstx: CourtAnalyticsTXResource,
        group: AgencyDays,
    ) -> tuple[dict, dg.AssetCheckResult]:
        agency = registry.agency(group.agency_id)
        if agency.oca is None:
            return {"skipped": "agency has no oca publishing"}, dg.AssetCheckResult(
                check_name=CHECK_NAME, passed=True, metadata={"skipped": True})
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
        reasons = {k: int(v) for k, v in report.reasons.items()}
        return metadata, dg.AssetCheckResult(
            check_name=CHECK_NAME,
            passed=report.clean,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "held_back": report.held_back,
                "retry_next_run": report.retry_next_run,
                "reasons": dg.MetadataValue.json(reasons),
                "details": dg.MetadataValue.md(
                    held.to_markdown(index=False) if not held.empty else "_none_"
                ),
            },
            description=None if report.clean else "records were not accepted; see oca_held_back",
        )

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
        with warehouse.connect(read_only=True) as con:
            per_agency = {g.agency_id: {**_envelope_metadata(con, g.agency_id),
                                        **range_metadata(g)}
                          for g in context_agencies(context)}
        return dg.MaterializeResult(metadata=combine_agency_metadata(per_agency))

    return [oca_publication, oca_envelope_log]


def envelope_counts(counts_json: str) -> dict[str, dict[str, int]]:
    """Parse the ``counts`` column of the envelope log."""
    return json.loads(counts_json)

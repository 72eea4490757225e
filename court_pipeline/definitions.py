"""Everything Dagster loads: assets, checks, jobs, schedules, sensors and resources.

The agency registry (``COURT_PIPELINE_CONFIG``) decides the partitions, the per-agency sensors
and schedules. The registry and every file it names (upload templates, reminder flows and their
Jinja templates, code maps) are checked first: a problem stops the code location from loading
with a message that names the file, the agency and the field.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

from court_pipeline import settings
from court_pipeline.config_check import check_configuration, format_problems
from court_pipeline.ecr.assets import build_ecr_assets
from court_pipeline.landing.assets import build_landing_assets
from court_pipeline.landing.sensors import build_ecr_nightly_schedules, build_ecr_sensors
from court_pipeline.oca.assets import build_oca_assets
from court_pipeline.odyssey.assets import build_odyssey_assets, build_odyssey_schedules
from court_pipeline.odyssey.client import OdysseyResource
from court_pipeline.ops.freshness import build_freshness
from court_pipeline.ops.sensors import record_run_failures
from court_pipeline.partitions import RANGE_BACKFILL_POLICY, agency_day_partitions
from court_pipeline.private_files import restrict_process, secure_locations
from court_pipeline.publish.assets import build_publish_assets
from court_pipeline.publish.resources import CourtAnalyticsTXResource
from court_pipeline.records.assets import CLEAN_TABLES, build_clean_table_assets
from court_pipeline.registry import Registry
from court_pipeline.reminders.assets import build_reminder_assets
from court_pipeline.reminders.delivery import ReminderDelivery
from court_pipeline.schedules import build_reminder_schedules, build_state_reporting_schedules
from court_pipeline.table_metadata import with_table_schema
from court_pipeline.warehouse import WarehouseResource

CLEAN = dg.AssetSelection.assets(*CLEAN_TABLES)
# Who answers for each group of assets (shown and filterable in the UI).
GROUP_OWNERS = {
    "ecr": "team:court-data-engineering",
    "odyssey": "team:court-data-engineering",
    "court_records": "team:court-data-engineering",
    "reminders": "team:court-reminders",
    "oca": "team:state-reporting",
}


def with_owners(spec: dg.AssetSpec) -> dg.AssetSpec:
    owner = GROUP_OWNERS.get(spec.group_name or "")
    return spec.replace_attributes(owners=[owner]) if owner and not spec.owners else spec


def build_jobs() -> dict[str, dg.UnresolvedAssetJobDefinition]:
    """The jobs users see: one per path through the pipeline, plus everything at once.

    Each job's agency x day partitioning is inferred from its assets (Dagster 1.13 deprecates
    passing ``partitions_def`` to ``define_asset_job``)."""

    def job(name: str, selection: dg.AssetSelection, description: str):
        return dg.define_asset_job(
            name,
            selection=selection,
            description=description,
            tags={"court_pipeline/job": name},  # run-queue limits match on it (production)
        )

    oca = dg.AssetSelection.groups("oca")
    return {
        "ecr_ingest_job": job(
            "ecr_ingest_job",
            dg.AssetSelection.assets("ecr_landed_files", "ecr_records", "reminder_outbox") | CLEAN,
            "A new ECR file: archive it, load it into the clean tables, plan reminders.",
        ),
        "odyssey_sync_job": job(
            "odyssey_sync_job",
            dg.AssetSelection.groups("odyssey")
            | CLEAN
            | dg.AssetSelection.assets("reminder_outbox"),
            "Pull parties, hearings and cases from the Odyssey API, merge, plan reminders.",
        ),
        "reminders_job": job(
            "reminders_job",
            dg.AssetSelection.groups("reminders"),
            "Plan reminder messages and deliver those that are due.",
        ),
        "state_reporting_job": job(
            "state_reporting_job",
            oca,
            "Build the 8 OCA datasets, validate them and publish changes to CourtAnalyticsTX.",
        ),
        "everything_job": job(
            "everything_job",
            dg.AssetSelection.all(),
            "Every asset for one agency-day: ingest, sync, reminders, state reporting.",
        ),
    }


def require_range_backfill_policy(assets: list) -> list:
    """Fail loading if a partitioned asset lacks the shared backfill policy.

    Dagster puts assets in one backfill run only when their policies are equal: one asset
    without it would split a 14-day backfill of an agency into a run per day again.
    """
    odd = sorted(
        key.to_user_string()
        for a in assets if isinstance(a, dg.AssetsDefinition) and a.partitions_def is not None
        for key in a.keys if a.backfill_policy != RANGE_BACKFILL_POLICY
    )
    if odd:
        raise dg.DagsterInvariantViolationError(
            f"partitioned assets without RANGE_BACKFILL_POLICY: {', '.join(odd)}")
    return assets


def build_resources() -> dict[str, object]:
    """Resources; every secret is read from the environment at run time, never stored here."""
    return {
        "warehouse": WarehouseResource(path=os.environ.get(settings.WAREHOUSE_ENV, "")),
        "odyssey": OdysseyResource(),
        "courtanalyticstx": CourtAnalyticsTXResource(),
        "reminder_delivery": ReminderDelivery(
            mode=os.environ.get("COURT_PIPELINE_REMINDER_DELIVERY", "dry-run"),
            webhook_url=os.environ.get("COURT_PIPELINE_REMINDER_WEBHOOK_URL", ""),
        ),
    }


def build_definitions(registry: Registry) -> dg.Definitions:
    """Assemble the code location for one registry."""
    partitions_def = agency_day_partitions(registry)
    jobs = build_jobs()
    with warnings.catch_warnings():
        # `backfill_policy` is marked beta in Dagster 1.13; one warning per asset on every
        # load says nothing new (the policy is documented in partitions.py and
        # docs/reference/jobs.md).
        warnings.filterwarnings("ignore", message=".*`backfill_policy`.*",
                                category=dg.BetaWarning)
        assets = require_range_backfill_policy([
            *build_landing_assets(registry, partitions_def),
            *build_ecr_assets(registry, partitions_def),
            *build_odyssey_assets(registry, partitions_def),
            *build_clean_table_assets(partitions_def),
            *build_reminder_assets(registry, partitions_def),
            *build_oca_assets(registry, partitions_def),
            *build_publish_assets(registry, partitions_def),
        ])
    freshness_checks, freshness_sensor = build_freshness(registry)
    # Standalone checks go in as checks: mapping specs over them would turn each back into a
    # plain AssetsDefinition that Dagster then converts again (with a beta warning per load).
    checks = [a for a in assets if isinstance(a, dg.AssetChecksDefinition)]
    owned = dg.map_asset_specs(
        lambda spec: with_table_schema(with_owners(spec)),
        [a for a in assets if not isinstance(a, dg.AssetChecksDefinition)])
    return dg.Definitions(
        assets=owned,
        asset_checks=[*checks, *freshness_checks],
        jobs=list(jobs.values()),
        sensors=[
            *build_ecr_sensors(registry, jobs["ecr_ingest_job"]),
            record_run_failures,
            freshness_sensor,
        ],
        schedules=[
            *build_ecr_nightly_schedules(registry, jobs["ecr_ingest_job"]),
            *build_odyssey_schedules(registry, jobs["odyssey_sync_job"]),
            *build_reminder_schedules(registry, jobs["reminders_job"]),
            *build_state_reporting_schedules(registry, jobs["state_reporting_job"]),
        ],
        resources=build_resources(),
        # Runs are per agency-day (a backfill run: a range of them, see partitions.py) and the
        # warehouse takes one writer at a time, so parallelism
        # comes from runs, not steps; the multiprocess executor would re-import the code
        # location for every step (seconds each) for no gain.
        executor=dg.in_process_executor,
    )


def load_checked_registry() -> Registry:
    """The registry, after every file it names was loaded and checked (see config_check)."""
    registry, problems = check_configuration()
    if problems or registry is None:
        raise dg.DagsterInvalidDefinitionError(format_problems(problems))
    return registry


restrict_process()  # PII: everything the code location and its runs create is owner-only
secure_locations()
defs = build_definitions(load_checked_registry())

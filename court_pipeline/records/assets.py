"""The clean court-record tables as Dagster assets.

Both sources (``ecr_records`` and ``odyssey_records``) merge into the same warehouse tables;
this multi-asset is where the tables appear in the asset graph, with their row counts,
masked previews and data-quality checks per agency, so downstream work (reminders, OCA
datasets) depends on "hearings" rather than on whichever source happened to run.
"""


from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import pandas as pd

from court_pipeline.partitions import (
    RANGE_BACKFILL_POLICY,
    combine_agency_metadata,
    context_agencies,
    range_metadata,
)
from court_pipeline.pii import masked_preview
from court_pipeline.records.merge import RECORD_KEYS, duplicate_keys
from court_pipeline.table_metadata import run_started_at, stamped_metadata
from court_pipeline.warehouse import WarehouseResource
from court_pipeline.warehouse.dictionary import CLEAN_TABLES, table_doc

SOURCE_ASSETS = (dg.AssetKey("ecr_records"), dg.AssetKey("odyssey_records"))
_ORDER_BY = {
    "hearings": "start_at DESC NULLS LAST",
    "hearing_changes": "changed_at DESC",
}


def _table_metadata(
    con, table: str, agency_id: str, since: datetime | None
) -> dict[str, dg.MetadataValue]:
    order = _ORDER_BY.get(table, "updated_at DESC")
    preview = con.execute(
        f"SELECT * EXCLUDE (agency_id) FROM {table} WHERE agency_id = ? ORDER BY {order} LIMIT 10",
        [agency_id],
    ).fetchdf()
    return {
        **stamped_metadata(con, table, agency_id, since),
        "preview": dg.MetadataValue.md(masked_preview(preview)),
    }


def build_clean_table_assets(partitions_def: dg.PartitionsDefinition) -> list:
    """The multi-asset over every clean table, plus its data-quality checks."""

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                name,
                description=table_doc(name).description,
                deps=list(SOURCE_ASSETS),
                group_name="court_records",
                partitions_def=partitions_def,
                kinds={"duckdb"},
                skippable=False,
            )
            for name in CLEAN_TABLES
        ],
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        can_subset=True,
    )
    def court_records(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Report the clean tables for this agency after the sources merged into them.

        The tables hold the agency's state, not a day's: a backfill range reports them once
        per agency (each day's materialization carries the same counts and the range).
        """
        groups = context_agencies(context)
        since = run_started_at(context)  # the sources' steps of this run wrote after it
        with warehouse.connect(read_only=True) as con:
            for key in context.selected_asset_keys:
                table = key.path[-1]
                per_agency = {
                    g.agency_id: {
                        **_table_metadata(con, table, g.agency_id, since), **range_metadata(g)
                    }
                    for g in groups
                }
                yield dg.MaterializeResult(
                    asset_key=key, metadata=combine_agency_metadata(per_agency)
                )

    return [court_records, *build_clean_table_checks()]


@dataclass(frozen=True)
class QualityRule:
    """One data-quality rule: ``sql`` (agency as its parameter) returns the failing rows."""

    asset: str
    name: str
    description: str
    sql: str
    warn: bool = False


QUALITY_RULES: tuple[QualityRule, ...] = (
    QualityRule(
        "hearings", "hearings_have_start_time",
        "Every live hearing has a timezone-aware start time and its court time zone.",
        "SELECT hearing_id, status FROM hearings WHERE agency_id = ? AND removed_at IS NULL "
        "AND (start_at IS NULL OR court_timezone IS NULL)",
    ),
    QualityRule(
        "hearings", "hearings_have_known_status",
        "Statuses are one of Scheduled, Continued, Reset, Cancelled, Held, Removed.",
        "SELECT hearing_id, status FROM hearings WHERE agency_id = ? AND status NOT IN "
        "('Scheduled', 'Continued', 'Reset', 'Cancelled', 'Held', 'Removed')",
    ),
    QualityRule(
        "contacts", "valid_phones_are_e164",
        "Contacts marked valid hold an E.164 phone or an email with an @.",
        "SELECT contact_id, kind, value FROM contacts WHERE agency_id = ? AND status = 'valid' "
        "AND NOT ((kind = 'phone' AND regexp_full_match(value, '\\+[1-9][0-9]{7,14}')) "
        "OR (kind = 'email' AND value LIKE '%_@_%'))",
    ),
    QualityRule(
        "contacts", "contacts_belong_to_parties",
        "Every contact points at a known party.",
        "SELECT c.contact_id, c.party_id FROM contacts c LEFT JOIN parties p "
        "USING (agency_id, party_id) WHERE c.agency_id = ? AND p.party_id IS NULL",
    ),
    QualityRule(
        "parties", "parties_have_a_name",
        "Every party has a last name or a business name.",
        "SELECT party_id FROM parties WHERE agency_id = ? "
        "AND coalesce(last_name, business_name, '') = ''",
        warn=True,
    ),
    QualityRule(
        "hearing_parties", "hearing_parties_resolve",
        "Every hearing-party link points at a known hearing and party.",
        "SELECT hp.hearing_id, hp.party_id FROM hearing_parties hp "
        "LEFT JOIN hearings h USING (agency_id, hearing_id) "
        "LEFT JOIN parties p ON p.agency_id = hp.agency_id AND p.party_id = hp.party_id "
        "WHERE hp.agency_id = ? AND (h.hearing_id IS NULL OR p.party_id IS NULL)",
    ),
)


def _result(asset: str, name: str, bad: pd.DataFrame, *, warn: bool = False,
            count_label: str = "failing_rows") -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset, check_name=name, passed=bad.empty,
        severity=dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR,
        metadata={count_label: dg.MetadataValue.int(len(bad)),
                  "examples": dg.MetadataValue.md(masked_preview(bad, rows=5))},
    )


def build_clean_table_checks() -> list:
    """Data-quality checks on the clean tables, run as ONE step with one warehouse connection:
    every rule of QUALITY_RULES plus ``keys_unique`` on each core table (they declare no
    primary key, see 10_core.sql). Each is still its own check in the UI. A step costs a
    connection and a handful of stored events, which for a small agency is most of a run."""
    specs = [
        *(dg.AssetCheckSpec(r.name, asset=r.asset, description=r.description, blocking=False)
          for r in QUALITY_RULES),
        *(dg.AssetCheckSpec("keys_unique", asset=table, blocking=False,
                            description=f"Each ({', '.join(keys[1:])}) appears once per agency.")
          for table, keys in RECORD_KEYS.items()),
    ]

    @dg.multi_asset_check(specs=specs, name="clean_tables_quality")
    def clean_tables_quality(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ):
        """Checked once per agency of the run (a backfill range: once, not per day)."""
        agencies = [g.agency_id for g in context_agencies(context)]
        with warehouse.connect(read_only=True) as con:
            for rule in QUALITY_RULES:
                frames = [con.execute(f"SELECT * FROM ({rule.sql}) LIMIT 1000", [a]).fetchdf()
                          for a in agencies]
                bad = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
                yield _result(rule.asset, rule.name, bad, warn=rule.warn)
            for table in RECORD_KEYS:
                yield _result(table, "keys_unique", duplicate_keys(con, table, agencies),
                              count_label="duplicated_keys")

    return [clean_tables_quality]

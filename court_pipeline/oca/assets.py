"""Dagster assets: the 8 OCA dataset assets and ``oca_unmapped_codes`` (agency x day).

Each dataset asset rebuilds the agency's current snapshot of one entity type from the clean
tables, applies the agency's code map, validates every row against the contract file and
writes the rows that pass (``oca_<type>``) and the rows held back (``oca_dataset_held_back``).
Its asset check warns, listing the top reasons, whenever a row was held back.
"""


from pathlib import Path

import dagster as dg
import pandas as pd

from court_pipeline import settings
from court_pipeline.oca.codemaps import CodeMap, load_codemap, unmapped_codes
from court_pipeline.oca.contracts import ENTITY_TYPES
from court_pipeline.oca.datasets import (
    DatasetBuild,
    build_dataset_from,
    dataset_table,
    read_dataset_source,
    write_dataset,
    write_unmapped,
)
from court_pipeline.partitions import (
    RANGE_BACKFILL_POLICY,
    AgencyDays,
    combine_agency_metadata,
    context_agencies,
    range_metadata,
)
from court_pipeline.pii import PII_COLUMNS, mask_text
from court_pipeline.registry.loader import registry_relative
from court_pipeline.registry.models import Agency, Registry
from court_pipeline.table_metadata import diff_rows, row_metadata
from court_pipeline.warehouse import WarehouseResource

CLEAN_DEPS = [
    dg.AssetKey(name)
    for name in ("cases", "parties", "hearings", "charges", "attorneys", "case_events")
]
CHECK_NAME = "contract_validation"
_PII_FIELDS = PII_COLUMNS | {
    "case_judicial_officer_name", "event_judicial_officer_name", "approving_judicial_officer_name",
    "party_zip_code", "state_bar_card_number",
}

# Columns every rebuild rewrites: a row that differs only in these is not "updated".
BUILD_BOOKKEEPING = ("partition_key", "as_of", "built_at")


def agency_codemap(agency: Agency, registry_file: Path | None = None) -> CodeMap:
    """The agency's code map (``oca.code_map``, relative to the registry file); empty if none."""
    if agency.oca is None or not agency.oca.code_map:
        return load_codemap(None)
    return load_codemap(registry_relative(registry_file or settings.registry_path(),
                                          agency.oca.code_map))


def _reasons_markdown(build: DatasetBuild) -> str:
    top = build.top_reasons()
    if not len(top):
        return "nothing held back"
    top = top.copy()
    top["example"] = [
        mask_text(v) if f in _PII_FIELDS or "name" in f else v
        for f, v in zip(top["field"], top["example"], strict=True)
    ]
    return top.to_markdown(index=False)


def _entries_markdown(entries: pd.DataFrame) -> str:
    """Code map entries to add, with the rows each one holds back."""
    if entries.empty:
        return "none: no row is held back for a missing code map entry"
    return entries.to_markdown(index=False)


def _dataset_asset(
    entity_type: str, registry: Registry, partitions_def: dg.PartitionsDefinition,
    registry_file: Path | None,
) -> dg.AssetsDefinition:
    name = dataset_table(entity_type)

    @dg.asset(
        name=name,
        group_name="oca",
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        deps=CLEAN_DEPS,
        kinds={"duckdb", "pandera"},
        description=f"OCA {entity_type} rows of the agency that pass the contract "
        f"(table {name}); rows held back are in oca_dataset_held_back.",
        check_specs=[dg.AssetCheckSpec(CHECK_NAME, asset=name,
                                       description="rows held back by contract or code map")],
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Rebuild the agency's snapshot. A dataset is the agency's state as of a day, not a
        day's rows, and each per-day run replaces the previous one: a backfill range builds
        once per agency, as of its last day (the state the last per-day run would leave)."""
        per_agency: dict[str, dict] = {}
        checks: dict[str, tuple[int, int, str, pd.DataFrame]] = {}
        for group in context_agencies(context):
            build, meta = build_one(context, warehouse, group)
            per_agency[group.agency_id] = meta
            checks[group.agency_id] = (build.rows, build.held_back_rows,
                                       _reasons_markdown(build), build.code_map_entries())
        rows = sum(c[0] for c in checks.values())
        held = sum(c[1] for c in checks.values())
        reasons = "\n\n".join(f"**{a}**\n\n{c[2]}" if len(checks) > 1 else c[2]
                               for a, c in checks.items())
        entries = pd.concat([c[3].assign(agency=a) for a, c in checks.items()],
                            ignore_index=True)
        fix = "" if entries.empty else (
            f"; add {len(entries)} code map entr{'y' if len(entries) == 1 else 'ies'} "
            f"for {int(entries['rows'].sum())} row(s) (see code_map_entries_to_add)")
        return dg.MaterializeResult(
            metadata=combine_agency_metadata(per_agency),
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_NAME,
                    passed=held == 0,
                    severity=dg.AssetCheckSeverity.WARN,
                    description=None if held == 0 else (
                        f"{held} of {rows} rows held back; see oca_dataset_held_back{fix}"
                    ),
                    metadata={
                        "rows": dg.MetadataValue.int(rows),
                        "rows_held_back": dg.MetadataValue.int(held),
                        "top_failure_reasons": dg.MetadataValue.md(reasons),
                        "code_map_entries_to_add": dg.MetadataValue.md(
                            _entries_markdown(entries)),
                    },
                )
            ],
        )

    def build_one(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, group: AgencyDays
    ) -> tuple[DatasetBuild, dict]:
        agency = registry.agency(group.agency_id)
        codemap = agency_codemap(agency, registry_file)
        # read, then build and validate with no warehouse lock held, then write: other
        # agencies' runs wait on the lock only for the query and the write
        with warehouse.connect(read_only=True) as con:
            raw = read_dataset_source(con, entity_type, agency, group.last)
        build = build_dataset_from(raw, entity_type, agency, codemap, group.last_key)
        with warehouse.connect() as con:
            with diff_rows(con, name, agency.id, ignore=BUILD_BOOKKEEPING) as changes:
                write_dataset(con, build, group.last)
            rows = row_metadata(con, name, agency.id, changes)
        context.log.info(
            "%s %s: %d rows, %d passed, %d held back, %d not reported",
            agency.id, entity_type, build.rows, len(build.passed), build.held_back_rows,
            build.not_reported,
        )
        return build, {
            **range_metadata(group),
            **rows,
            "rows": dg.MetadataValue.int(build.rows),
            "rows_passed": dg.MetadataValue.int(len(build.passed)),
            "rows_held_back": dg.MetadataValue.int(build.held_back_rows),
            "not_reported": dg.MetadataValue.int(build.not_reported),
            "contract_dir": dg.MetadataValue.path(str(build.contract_dir)),
            "provisional_contract": dg.MetadataValue.bool(build.provisional),
            "code_map": dg.MetadataValue.text(build.code_map),
            "notes": dg.MetadataValue.text("; ".join(build.notes) or "-"),
            "top_failure_reasons": dg.MetadataValue.md(_reasons_markdown(build)),
            "code_map_entries_to_add": dg.MetadataValue.md(
                _entries_markdown(build.code_map_entries())),
            "table": dg.MetadataValue.text(name),
        }

    return _asset


def _unmapped_asset(
    registry: Registry, partitions_def: dg.PartitionsDefinition, registry_file: Path | None
) -> dg.AssetsDefinition:
    @dg.asset(
        name="oca_unmapped_codes",
        group_name="oca",
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        deps=[*CLEAN_DEPS, dg.AssetKey("case_parties")],
        kinds={"duckdb"},
        description="Local codes in the agency's clean tables with no code map entry, with "
        "counts: what to add to the code map (table oca_unmapped_codes).",
    )
    def oca_unmapped_codes(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Codes are the agency's state, not a day's: a backfill range lists them once."""
        return dg.MaterializeResult(metadata=combine_agency_metadata({
            group.agency_id: unmapped_one(warehouse, group)
            for group in context_agencies(context)
        }))

    def unmapped_one(warehouse: WarehouseResource, group: AgencyDays) -> dict:
        agency = registry.agency(group.agency_id)
        codemap = agency_codemap(agency, registry_file)
        with warehouse.connect() as con:
            found = unmapped_codes(con, agency.id, codemap)
            with diff_rows(con, "oca_unmapped_codes", agency.id, ignore=("last_seen",)) as changes:
                write_unmapped(con, agency.id, found)
            rows = row_metadata(con, "oca_unmapped_codes", agency.id, changes)
        preview = found.head(50)
        return {
            **range_metadata(group),
            **rows,
            "unmapped_codes": dg.MetadataValue.int(len(found)),
            "rows_affected": dg.MetadataValue.int(int(found["count"].sum()) if len(found)
                                                  else 0),
            "code_map": dg.MetadataValue.text(codemap.label),
            "codes": dg.MetadataValue.md(
                preview.to_markdown(index=False) if len(preview) else "every code is mapped"
            ),
        }

    return oca_unmapped_codes


def build_oca_assets(
    registry: Registry,
    partitions_def: dg.PartitionsDefinition,
    registry_file: Path | None = None,
) -> list:
    """The 8 dataset assets (``oca_case_status`` ... ) and ``oca_unmapped_codes``."""
    assets = [
        _dataset_asset(entity_type, registry, partitions_def, registry_file)
        for entity_type in ENTITY_TYPES
    ]
    assets.append(_unmapped_asset(registry, partitions_def, registry_file))
    return assets


def held_back_frame(con, agency_id: str, entity_type: str | None = None) -> pd.DataFrame:
    """The current hold-backs of an agency (optionally one entity type), for tools and tests."""
    sql = "SELECT * FROM oca_dataset_held_back WHERE agency_id = ?"
    params: list = [agency_id]
    if entity_type:
        sql += " AND entity_type = ?"
        params.append(entity_type)
    return con.execute(sql + " ORDER BY entity_type, recordid, field", params).fetchdf()

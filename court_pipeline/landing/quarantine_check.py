"""The ``no_quarantined_files`` asset check: a set-aside file keeps the check red.

Quarantining keeps the agency's other files moving; this check keeps the set-aside file
visible (counts and reasons) until someone releases it.
"""

# No `from __future__ import annotations`: Dagster reads the check's parameter types at runtime.

import dagster as dg

from court_pipeline.landing.quarantine import entries
from court_pipeline.partitions import context_agencies
from court_pipeline.warehouse import WarehouseResource


def quarantine_check(asset: dg.AssetsDefinition, stage: str) -> dg.AssetChecksDefinition:
    """Fails while an agency of the run has files retrying or quarantined at ``stage``."""
    @dg.asset_check(
        asset=asset, name="no_quarantined_files", blocking=False,
        description=f"Fails while the agency has files that could not be {_VERB[stage]}: "
        "quarantined (set aside until released) or retrying. See quarantined_files and "
        "`court-pipeline quarantine list`.",
    )
    def no_quarantined_files(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        agencies = [g.agency_id for g in context_agencies(context)]
        with warehouse.connect(read_only=True) as con:
            found = entries(con, agencies, stage=stage)
        quarantined = [e for e in found if e.status == "quarantined"]
        retrying = [e for e in found if e.status == "retrying"]
        return dg.AssetCheckResult(
            passed=not found,
            description=(f"{len(quarantined)} file(s) quarantined, {len(retrying)} retrying"
                         if found else None),
            metadata={
                "quarantined": dg.MetadataValue.int(len(quarantined)),
                "retrying": dg.MetadataValue.int(len(retrying)),
                "files": dg.MetadataValue.json([
                    {"agency": e.agency_id, "file": e.shown_name, "status": e.status,
                     "attempts": e.attempts, "reason": e.reason} for e in found[:50]]),
            },
        )

    return no_quarantined_files


_VERB = {"fetch": "fetched from the landing", "load": "read"}

"""``ecr_records``: load an agency's received ECR files into the clean tables.

Runs per agency-day after ``ecr_landed_files``. It loads every archived file of the agency that
is in ``received_files`` and not yet loaded (``file_loads`` status 'loaded'), oldest first, so a
file missed by an earlier failed run is picked up by the next one. Each file is parsed outside
the warehouse lock and written in one transaction. Files that cannot be read are recorded as
'failed' in ``file_loads`` and fail the run with a message naming the file and the problem,
after the agency's other files were loaded. The check ``ecr_rows_reconcile`` proves
rows in = loaded + rejected for every file of the partition.
"""


from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd

from court_pipeline import settings
from court_pipeline.ecr.load import FileLoadResult, prepare_file, record_failure, write_prepared
from court_pipeline.ecr.reader import EcrFileError
from court_pipeline.ecr.template import TemplateError, UploadTemplate, load_template
from court_pipeline.partitions import context_agency_day
from court_pipeline.pii import masked_preview
from court_pipeline.registry import Registry
from court_pipeline.registry.loader import registry_relative
from court_pipeline.warehouse import WarehouseResource

ASSET_NAME = "ecr_records"
LANDED = dg.AssetKey("ecr_landed_files")


def _pending(con, agency_id: str) -> list[tuple[str, str, str]]:
    """(sha256, original name, absolute archive path) of received files not loaded yet."""
    rows = con.execute(
        """
        SELECT r.content_sha256, r.original_name, r.archive_path FROM received_files r
        WHERE r.agency_id = ? AND NOT EXISTS (
            SELECT 1 FROM file_loads f WHERE f.agency_id = r.agency_id
              AND f.content_sha256 = r.content_sha256 AND f.status = 'loaded')
        ORDER BY r.received_at, r.original_name
        """,
        [agency_id],
    ).fetchall()
    home = settings.data_home()
    return [(sha, name, str(home / rel)) for sha, name, rel in rows]


def _duplicates(con, agency_id: str, partition_key: str) -> dict[str, str]:
    """Names received in this partition whose bytes were already loaded under another name."""
    rows = con.execute(
        """
        SELECT n.original_name, n.duplicate_of, n.content_sha256 FROM received_file_names n
        WHERE n.agency_id = ? AND n.partition_key = ? AND n.duplicate_of IS NOT NULL
        ORDER BY n.original_name
        """,
        [agency_id, partition_key],
    ).fetchall()
    return {name: f"same bytes as {first} (sha256 {sha[:12]}), loaded once"
            for name, first, sha in rows}


def _file_summary(result: FileLoadResult) -> dict:
    return {
        "file": result.file_name,
        "sha256": result.content_sha256[:12],
        "rows_in": result.rows_in,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
        "rows_excluded": result.rows_excluded,
        "hearings_removed": result.hearings_removed,
        "merged": {t: {"inserted": s.inserted, "updated": s.updated} for t, s in
                   result.merged.items()},
        "notes": result.notes,
    }


def build_ecr_assets(
    registry: Registry,
    partitions_def: dg.PartitionsDefinition,
    registry_file: Path | None = None,
) -> list:
    """``ecr_records`` and its ``ecr_rows_reconcile`` check for this registry.

    Templates are resolved relative to ``registry_file`` (default: the configured registry).
    """
    reg_file = registry_file or settings.registry_path()

    def template_for(agency_id: str) -> UploadTemplate:
        ecr = registry.agency(agency_id).ecr
        assert ecr is not None
        return load_template(registry_relative(reg_file, ecr.template))

    @dg.asset(
        name=ASSET_NAME,
        partitions_def=partitions_def,
        deps=[LANDED],
        group_name="ecr",
        kinds={"duckdb"},
        description=(
            "Received ECR files read with the agency's upload template into parties, contacts, "
            "cases, case_parties, hearings and hearing_parties; unreadable rows in ecr_rejects, "
            "per-file counts in file_loads."
        ),
    )
    def ecr_records(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        agency_day = context_agency_day(context)
        agency = registry.agency(agency_day.agency_id)
        if agency.ecr is None:
            return dg.MaterializeResult(metadata={
                "note": dg.MetadataValue.text(f"agency {agency.id!r} has no ECR source"),
                "files": 0,
            })
        try:
            template = template_for(agency.id)
        except TemplateError as exc:
            raise dg.Failure(description=str(exc)) from None
        with warehouse.connect() as con:
            pending = _pending(con, agency.id)
            duplicates = _duplicates(con, agency.id, agency_day.key)
        results: list[FileLoadResult] = []
        skipped: dict[str, str] = {}
        failures: dict[str, str] = {}
        previews: list[pd.DataFrame] = []
        reject_previews: list[pd.DataFrame] = []
        for sha, name, path in pending:
            try:
                prepared = prepare_file(path, template, agency.timezone, file_name=name)
            except EcrFileError as exc:
                failures[name] = str(exc)
                context.log.error("%s: %s", agency.id, exc)
                with warehouse.connect() as con:
                    record_failure(con, agency_id=agency.id, content_sha256=sha, file_name=name,
                                   partition_key=agency_day.key, template=template,
                                   error=str(exc))
                continue
            try:
                with warehouse.connect() as con:
                    result = write_prepared(con, prepared, agency_id=agency.id,
                                            content_sha256=sha, partition_key=agency_day.key)
                if result.skipped is None:
                    if "hearings" in prepared.clean.frames:
                        previews.append(
                            prepared.clean.frames["hearings"].slice(0, 5).to_pandas())
                    reject_previews.append(prepared.rejects.slice(0, 5).to_pandas())
            finally:
                prepared.close()
            if result.skipped is not None:  # a concurrent run of this agency loaded it first
                skipped[name] = result.skipped
                context.log.info("%s: %s", agency.id, result.skipped)
                continue
            results.append(result)
            context.log.info(
                "%s: %s rows in %d = loaded %d + rejected %d (excluded %d), removed %d",
                agency.id, name, result.rows_in, result.rows_loaded, result.rows_rejected,
                result.rows_excluded, result.hearings_removed,
            )
        for name, why in duplicates.items():
            context.log.info("%s: %s not loaded again: %s", agency.id, name, why)
        reasons: Counter[str] = Counter()
        for result in results:
            for reason, count in result.top_reasons:
                reasons[reason] += count
        meta: dict[str, object] = {
            "files": dg.MetadataValue.int(len(results)),
            "file_loads": dg.MetadataValue.json([_file_summary(r) for r in results]),
            "rows_in": dg.MetadataValue.int(sum(r.rows_in for r in results)),
            "rows_loaded": dg.MetadataValue.int(sum(r.rows_loaded for r in results)),
            "rows_rejected": dg.MetadataValue.int(sum(r.rows_rejected for r in results)),
            "hearings_removed": dg.MetadataValue.int(sum(r.hearings_removed for r in results)),
            "top_reject_reasons": dg.MetadataValue.json(dict(reasons.most_common(10))),
            "duplicates": dg.MetadataValue.json(duplicates),
            "skipped_already_loaded": dg.MetadataValue.json(skipped),
            "template": dg.MetadataValue.text(f"{template.name} ({template.mode})"),
            "hearings_preview": dg.MetadataValue.md(
                masked_preview(pd.concat(previews)) if previews else "_no rows_"),
            "rejects_preview": dg.MetadataValue.md(
                masked_preview(pd.concat(reject_previews)) if reject_previews else "_no rows_"),
        }
        if failures:
            meta["failures"] = dg.MetadataValue.json(failures)
            raise dg.Failure(
                description=(
                    f"{len(failures)} ECR file(s) of {agency.id} could not be read: "
                    + "; ".join(failures.values())
                    + (f". {len(results)} other file(s) were loaded." if results else "")
                ),
                metadata=meta,
            )
        return dg.MaterializeResult(metadata=meta)

    @dg.asset_check(
        asset=ecr_records,
        name="ecr_rows_reconcile",
        partitions_def=partitions_def,
        description="rows in = rows loaded + rows rejected for every file of the partition, and "
        "the rejects table holds exactly rows_rejected lines per file.",
    )
    def ecr_rows_reconcile(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        agency_day = context_agency_day(context)
        with warehouse.connect(read_only=True) as con:
            rows = con.execute(
                """
                SELECT f.file_name, f.content_sha256, f.rows_in, f.rows_loaded, f.rows_rejected,
                       (SELECT count(*) FROM ecr_rejects r WHERE r.agency_id = f.agency_id
                          AND r.content_sha256 = f.content_sha256) AS rejects_stored
                FROM file_loads f
                WHERE f.agency_id = ? AND f.partition_key = ? AND f.status = 'loaded'
                ORDER BY f.file_name
                """,
                [agency_day.agency_id, agency_day.key],
            ).fetchall()
        bad = [
            {"file": r[0], "rows_in": r[2], "rows_loaded": r[3], "rows_rejected": r[4],
             "rejects_stored": r[5]}
            for r in rows if r[2] != r[3] + r[4] or r[4] != r[5]
        ]
        return dg.AssetCheckResult(
            passed=not bad,
            metadata={
                "files_checked": dg.MetadataValue.int(len(rows)),
                "mismatches": dg.MetadataValue.json(bad),
            },
        )

    return [ecr_records, ecr_rows_reconcile]

"""``ecr_records``: load an agency's received ECR files into the clean tables.

Runs per agency-day after ``ecr_landed_files`` (a backfill run covers a range of days: see
the asset's docstring). It loads every archived file of the agency that
is in ``received_files`` and not yet loaded (``file_loads`` status 'loaded'), oldest first, so a
file missed by an earlier failed run is picked up by the next one. Each file is parsed outside
the warehouse lock and written in one transaction. A file that cannot be read is recorded as
'failed' in ``file_loads`` and quarantined (``quarantined_files``, stage 'load'): the agency's
other files load, and the ``no_quarantined_files`` check fails naming it until someone
releases it. The check ``ecr_rows_reconcile`` proves rows in = loaded + rejected for every file
of the partition.
"""


from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd

from court_pipeline import settings
from court_pipeline.ecr.load import FileLoadResult, prepare_file, record_failure, write_prepared
from court_pipeline.ecr.reader import EcrFileError
from court_pipeline.ecr.reject_rate import build_reject_rate_check
from court_pipeline.ecr.template import TemplateError, UploadTemplate, load_template
from court_pipeline.landing.quarantine import note_failure, note_success
from court_pipeline.landing.quarantine_check import quarantine_check
from court_pipeline.partitions import (
    RANGE_BACKFILL_POLICY,
    AgencyDays,
    context_agencies,
    context_agency_days,
    materialize_per_agency,
    range_metadata,
)
from court_pipeline.pii import masked_preview
from court_pipeline.registry import Registry
from court_pipeline.registry.loader import registry_relative
from court_pipeline.table_metadata import table_rows_reporter
from court_pipeline.warehouse import WarehouseResource

ASSET_NAME = "ecr_records"
LANDED = dg.AssetKey("ecr_landed_files")


def _pending(con, agency_id: str) -> list[tuple[str, str, str, str]]:
    """(sha256, original name, absolute archive path, partition received in) of received files
    not loaded yet, in arrival order."""
    rows = con.execute(
        """
        SELECT r.content_sha256, r.original_name, r.archive_path, r.partition_key
        FROM received_files r
        WHERE r.agency_id = ? AND NOT EXISTS (
            SELECT 1 FROM file_loads f WHERE f.agency_id = r.agency_id
              AND f.content_sha256 = r.content_sha256 AND f.status = 'loaded')
          AND NOT EXISTS (
            SELECT 1 FROM quarantined_files q WHERE q.agency_id = r.agency_id
              AND q.stage = 'load' AND q.file_key = r.content_sha256
              AND q.status = 'quarantined')
        ORDER BY r.received_at, r.original_name
        """,
        [agency_id],
    ).fetchall()
    home = settings.data_home()
    return [(sha, name, str(home / rel), key) for sha, name, rel, key in rows]


def _duplicates(con, agency_id: str, partition_keys: list[str]) -> dict[str, str]:
    """Names received in the run's partitions whose bytes were already loaded under another
    name."""
    rows = con.execute(
        """
        SELECT n.original_name, n.duplicate_of, n.content_sha256 FROM received_file_names n
        WHERE n.agency_id = ? AND list_contains(?, n.partition_key)
          AND n.duplicate_of IS NOT NULL
        ORDER BY n.original_name
        """,
        [agency_id, partition_keys],
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


def _load_key(received_key: str | None, group: AgencyDays) -> str:
    """The partition a file's load is recorded under: the day it was received in when that
    day is in the run, else the run's last day (a one-day run: always its day, as before)."""
    return received_key if received_key in group.keys else group.last_key


def _per_day(results: list[FileLoadResult], keys: dict[str, str]) -> dict[str, dict]:
    """Files and rows per partition day: what each per-day run would have reported."""
    out: dict[str, dict] = {}
    for r in results:
        day = keys[r.content_sha256].partition("|")[2]
        entry = out.setdefault(day, {"files": 0, "rows_in": 0, "rows_loaded": 0,
                                     "rows_rejected": 0, "hearings_removed": 0})
        entry["files"] += 1
        entry["rows_in"] += r.rows_in
        entry["rows_loaded"] += r.rows_loaded
        entry["rows_rejected"] += r.rows_rejected
        entry["hearings_removed"] += r.hearings_removed
    return dict(sorted(out.items()))


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

    def load_agency(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, group: AgencyDays
    ) -> tuple[dict, str | None]:
        """Load one agency's pending files; returns (metadata, failure description or None)."""
        agency = registry.agency(group.agency_id)
        if agency.ecr is None:
            return {
                "note": dg.MetadataValue.text(f"agency {agency.id!r} has no ECR source"),
                "files": 0,
            }, None
        try:
            template = template_for(agency.id)
        except TemplateError as exc:
            raise dg.Failure(description=str(exc)) from None
        with warehouse.connect() as con:
            pending = _pending(con, agency.id)
            duplicates = _duplicates(con, agency.id, group.keys)
        results: list[FileLoadResult] = []
        load_keys: dict[str, str] = {}
        skipped: dict[str, str] = {}
        quarantined: dict[str, str] = {}
        retrying: dict[str, str] = {}
        previews: list[pd.DataFrame] = []
        reject_previews: list[pd.DataFrame] = []
        for sha, name, path, received_key in pending:
            key = load_keys[sha] = _load_key(received_key, group)
            try:
                prepared = prepare_file(path, template, agency.timezone, file_name=name)
            except EcrFileError as exc:
                # unreadable bytes stay unreadable: quarantined after this one try (an I/O
                # error after max_fetch_attempts), so the agency's other files go on and the
                # no_quarantined_files check stays red
                with warehouse.connect() as con:
                    record_failure(con, agency_id=agency.id, content_sha256=sha, file_name=name,
                                   partition_key=key, template=template,
                                   error=str(exc))
                    entry = note_failure(
                        con, agency_id=agency.id, stage="load", file_key=sha, file_name=name,
                        reason=str(exc), permanent=not exc.transient,
                        max_attempts=agency.ecr.max_fetch_attempts)
                (quarantined if entry.status == "quarantined" else retrying)[name] = str(exc)
                context.log.error("%s: %s (%s, try %d)", agency.id, exc, entry.status,
                                  entry.attempts)
                continue
            try:
                with warehouse.connect() as con:
                    result = write_prepared(con, prepared, agency_id=agency.id,
                                            content_sha256=sha, partition_key=key)
                    note_success(con, agency_id=agency.id, stage="load", file_key=sha)
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
            "quarantined": dg.MetadataValue.json(quarantined),
            "retrying": dg.MetadataValue.json(retrying),
            "template": dg.MetadataValue.text(f"{template.name} ({template.mode})"),
            "hearings_preview": dg.MetadataValue.md(
                masked_preview(pd.concat(previews)) if previews else "_no rows_"),
            "rejects_preview": dg.MetadataValue.md(
                masked_preview(pd.concat(reject_previews)) if reject_previews else "_no rows_"),
            **range_metadata(group),
        }
        if group.is_range:
            meta["per_day"] = dg.MetadataValue.json(_per_day(results, load_keys))
        return meta, None

    @dg.asset(
        name=ASSET_NAME,
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
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
        """Load the agency's pending files, oldest first.

        A backfill range loads every pending file of the agency once, in arrival order (as
        the first per-day run would), and records each load under the day the file was
        received in; ``per_day`` in the metadata has the files and rows of each day.
        """
        return materialize_per_agency(
            context_agencies(context), lambda group: load_agency(context, warehouse, group),
            table_rows_reporter(context, warehouse, "file_loads"))

    @dg.asset_check(
        asset=ecr_records,
        name="ecr_rows_reconcile",
        description="rows in = rows loaded + rows rejected for every file of the partition, and "
        "the rejects table holds exactly rows_rejected lines per file.",
    )
    def ecr_rows_reconcile(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        """Every file loaded in the run's partitions (all days of a backfill range)."""
        keys = [part.key for part in context_agency_days(context)]
        with warehouse.connect(read_only=True) as con:
            rows = con.execute(
                """
                SELECT f.file_name, f.content_sha256, f.rows_in, f.rows_loaded, f.rows_rejected,
                       (SELECT count(*) FROM ecr_rejects r WHERE r.agency_id = f.agency_id
                          AND r.content_sha256 = f.content_sha256) AS rejects_stored
                FROM file_loads f
                WHERE list_contains(?, f.partition_key) AND f.status = 'loaded'
                ORDER BY f.file_name
                """,
                [keys],
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

    return [ecr_records, ecr_rows_reconcile, build_reject_rate_check(ecr_records),
            quarantine_check(ecr_records, "load")]

"""``ecr_landed_files``: fetch an agency's ECR files from its landing into the archive.

A sensor run names the file (``files: [name]``); the nightly schedule leaves ``files`` empty
and the asset sweeps every matching file not yet received at its current version. Each file is
archived under its content hash and recorded in ``received_files``; downstream (``ecr_records``)
reads the partition's new files from there. A repeat (same bytes again, or under a new name)
is recorded and reported, not loaded twice.
"""

# No `from __future__ import annotations`: Dagster reads the asset's parameter types at runtime.

import os
from datetime import UTC, date, datetime

import dagster as dg
from pydantic import Field

from court_pipeline.landing.archive import (
    ArchiveCorrupt,
    ReceiptOutcome,
    fetch_to_archive,
    received_versions,
    record_receipt,
)
from court_pipeline.landing.base import (
    BadFileName,
    LandingError,
    LandingUnavailable,
    PermanentFileProblem,
    check_name,
    open_landing,
)
from court_pipeline.landing.completion import complete_files, listing_pattern
from court_pipeline.landing.quarantine import (
    QuarantineEntry,
    note_failure,
    note_success,
    quarantined_keys,
)
from court_pipeline.landing.quarantine_check import quarantine_check
from court_pipeline.partitions import (
    RANGE_BACKFILL_POLICY,
    AgencyDays,
    context_agencies,
    materialize_per_agency,
    partition_key,
    range_metadata,
)
from court_pipeline.registry import Agency, Registry
from court_pipeline.table_metadata import table_rows_reporter
from court_pipeline.warehouse import WarehouseResource

ASSET_NAME = "ecr_landed_files"


class EcrLandedFilesConfig(dg.Config):
    """Which files to fetch. Empty = sweep everything new in the landing (the nightly run)."""

    files: list[str] = Field(
        default=[], description="file names in the landing; empty = every new matching file"
    )


def _metadata(
    outcomes: list[ReceiptOutcome], *, mode: str, landing: str, extra: dict | None = None
) -> dict[str, dg.MetadataValue]:
    new = [o for o in outcomes if o.is_new]
    dups = [o for o in outcomes if not o.is_new]
    meta: dict[str, dg.MetadataValue] = {
        "mode": dg.MetadataValue.text(mode),
        "landing": dg.MetadataValue.text(landing),
        "files_fetched": dg.MetadataValue.int(len(outcomes)),
        "files_new": dg.MetadataValue.int(len(new)),
        "duplicates": dg.MetadataValue.int(len(dups)),
        "bytes": dg.MetadataValue.int(sum(o.size_bytes for o in outcomes)),
        "names": dg.MetadataValue.json([o.name for o in outcomes]),
        "new_files": dg.MetadataValue.json(
            [{"name": o.name, "sha256": o.sha256, "bytes": o.size_bytes} for o in new]
        ),
        "duplicate_reasons": dg.MetadataValue.json(
            {o.name: o.duplicate_reason for o in dups}
        ),
    }
    for key, value in (extra or {}).items():
        meta[key] = value
    return meta


def _file_day(landed_at: datetime, agency: Agency, group: AgencyDays) -> date:
    """The run's day a swept file is accounted to: the agency-local date it landed, moved
    into the run's days (a one-day run accounts every file to its day, as before ranges)."""
    return group.clamp(landed_at.astimezone(agency.zone).date())


def _per_day(outcomes: list[ReceiptOutcome], keys: dict[str, str]) -> dict[str, dict]:
    """Files received per partition day (what a per-day run would have reported)."""
    out: dict[str, dict] = {}
    for o in outcomes:
        day = keys[o.name].partition("|")[2]
        entry = out.setdefault(day, {"files_fetched": 0, "files_new": 0, "bytes": 0})
        entry["files_fetched"] += 1
        entry["files_new"] += int(o.is_new)
        entry["bytes"] += o.size_bytes
    return dict(sorted(out.items()))


def build_landing_assets(
    registry: Registry, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The landing asset for this registry (agency x day partitioned)."""

    def land_agency(
        context: dg.AssetExecutionContext,
        config: EcrLandedFilesConfig,
        warehouse: WarehouseResource,
        group: AgencyDays,
    ) -> tuple[dict, str | None]:
        """Fetch one agency's files; returns (metadata, failure description or None)."""
        agency = registry.agency(group.agency_id)
        if agency.ecr is None:
            note = f"agency {agency.id!r} has no ecr section in the registry: nothing to fetch"
            context.log.info(note)
            return {"note": dg.MetadataValue.text(note), "files_fetched": 0}, None
        ecr = agency.ecr
        refused: list[str] = []
        requested: list[str] = []
        for name in config.files:
            try:
                requested.append(check_name(name))
            except BadFileName:
                refused.append(name)  # quarantined below, with the others' problems
        skipped_young: list[str] = []
        file_keys: dict[str, str] = {}
        with open_landing(ecr.landing, env=os.environ) as store:
            try:
                everything = store.list_files(listing_pattern(ecr))
            except LandingUnavailable as exc:
                raise dg.Failure(description=f"{agency.id}: landing unavailable: {exc}") from None
            versions = {f.name: f.version for f in everything}
            listing, waiting = complete_files(everything, ecr)
            with warehouse.connect() as con:
                set_aside = quarantined_keys(con, agency.id, "fetch")
                seen = set() if requested or refused else received_versions(con, agency.id)
            if requested or refused:
                names, mode = list(dict.fromkeys(requested)), "requested"
                file_keys = {name: group.last_key for name in names}
            else:
                mode = "sweep"
                now = datetime.now(UTC)
                names = []
                for landed in listing:
                    if (landed.name, landed.version) in seen:
                        continue
                    if (now - landed.modified_at).total_seconds() < ecr.min_file_age_seconds:
                        skipped_young.append(landed.name)  # still being written, maybe
                        continue
                    names.append(landed.name)
                    file_keys[landed.name] = partition_key(
                        agency.id, _file_day(landed.modified_at, agency, group))
            held = [n for n in names if f"{n}:{versions.get(n, '')}" in set_aside]
            names = [n for n in names if n not in held]
            context.log.info(
                "%s: fetching %d file(s) from %s (%s)", agency.id, len(names), store.uri(), mode
            )
            outcomes: list[ReceiptOutcome] = []
            failures: dict[str, str] = {}
            problems: list[QuarantineEntry] = []

            def set_aside_file(name: str, exc: LandingError) -> None:
                with warehouse.connect() as con:
                    entry = note_failure(
                        con, agency_id=agency.id, stage="fetch",
                        file_key=f"{name}:{versions.get(name, '')}", file_name=name,
                        reason=str(exc), permanent=isinstance(exc, PermanentFileProblem),
                        max_attempts=ecr.max_fetch_attempts)
                problems.append(entry)
                context.log.error("%s: %s (%s, try %d)", agency.id, exc, entry.status,
                                  entry.attempts)

            for name in refused:
                set_aside_file(name, BadFileName(f"{name!r} is not a plain file name"))
            for name in names:
                try:
                    blob = fetch_to_archive(store, name, agency_id=agency.id,
                                            max_bytes=ecr.max_file_mb * 1024 * 1024)
                except ArchiveCorrupt as exc:  # our archive is damaged: stop and say so
                    failures[name] = str(exc)
                    context.log.error("%s: %s", agency.id, exc)
                    continue
                except LandingError as exc:
                    set_aside_file(name, exc)
                    continue
                with warehouse.connect() as con:
                    outcome = record_receipt(
                        con,
                        blob,
                        landing_kind=store.kind,
                        landing_uri=store.uri(name),
                        partition_key=file_keys[name],
                        run_id=context.run.run_id,
                    )
                    note_success(con, agency_id=agency.id, stage="fetch",
                                 file_key=f"{name}:{versions.get(name, '')}")
                outcomes.append(outcome)
                if outcome.is_new:
                    context.log.info(
                        "%s: received %s (%d bytes, sha256 %s)",
                        agency.id, name, outcome.size_bytes, outcome.sha256[:12],
                    )
                else:
                    context.log.info(
                        "%s: %s not loaded again: %s", agency.id, name, outcome.duplicate_reason
                    )
            landing_uri = store.uri()
        extra: dict = dict(range_metadata(group))
        if group.is_range:
            extra["per_day"] = dg.MetadataValue.json(_per_day(outcomes, file_keys))
        if skipped_young:
            extra["skipped_too_young"] = dg.MetadataValue.json(skipped_young)
        extra["quarantined"] = dg.MetadataValue.json(
            {e.shown_name: e.reason for e in problems if e.status == "quarantined"})
        extra["retrying"] = dg.MetadataValue.json(
            {e.shown_name: f"try {e.attempts} of {ecr.max_fetch_attempts}: {e.reason}"
             for e in problems if e.status == "retrying"})
        if waiting and mode == "sweep":
            extra["waiting_for_completion"] = dg.MetadataValue.json(waiting)
        if held:
            extra["skipped_quarantined"] = dg.MetadataValue.json(held)
        meta = _metadata(outcomes, mode=mode, landing=landing_uri, extra=extra)
        if not failures:
            return meta, None
        meta["failures"] = dg.MetadataValue.json(failures)
        return meta, (
            f"{len(failures)} of {len(names)} file(s) could not be fetched from "
            f"{landing_uri}: "
            + "; ".join(f"{name}: {why}" for name, why in failures.items())
            + (f". {len(outcomes)} other file(s) were archived." if outcomes else "")
        )

    @dg.asset(
        name=ASSET_NAME,
        partitions_def=partitions_def,
        backfill_policy=RANGE_BACKFILL_POLICY,
        group_name="ecr",
        kinds={"sftp", "s3", "duckdb"},
        description=(
            "ECR report files fetched from the agency's landing (local folder, SFTP or S3) "
            "into the immutable archive, one row per distinct content in received_files."
        ),
    )
    def ecr_landed_files(
        context: dg.AssetExecutionContext,
        config: EcrLandedFilesConfig,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        """Fetch new files. A backfill range sweeps once per agency and accounts each file to
        the day it landed (moved into the range), as the per-day runs would have."""
        groups = context_agencies(context)
        if config.files and len(groups) > 1:
            raise dg.Failure(description="run config 'files' names files of one agency; "
                             f"this run covers {len(groups)} agencies")
        return materialize_per_agency(
            groups, lambda group: land_agency(context, config, warehouse, group),
            table_rows_reporter(context, warehouse, "received_files"))

    return [ecr_landed_files, quarantine_check(ecr_landed_files, "fetch")]

"""Replay one archived ECR file: read it again with the agency's current template and merge.

For after a template fix (a mostly rejected file) or a released quarantine. The archived
bytes are read (never the landing), the file's rejects are replaced, and ``file_loads`` keeps
its history: ``hearings_removed`` adds what this load removed to what earlier loads removed,
``times_loaded`` counts, ``first_loaded_at`` stays. Downstream assets (reminders, OCA) see the
change on their next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from court_pipeline import settings
from court_pipeline.ecr.load import FileLoadResult, prepare_file, write_prepared
from court_pipeline.ecr.template import load_template
from court_pipeline.landing.quarantine import note_success
from court_pipeline.registry import Registry
from court_pipeline.registry.loader import registry_relative
from court_pipeline.warehouse import connect_warehouse


class ReplayError(LookupError):
    """The agency or file is unknown, or the file was never received."""


@dataclass(frozen=True)
class Replayed:
    """What a replay did, and the file's totals after it."""

    result: FileLoadResult
    hearings_removed_total: int
    times_loaded: int


def find_received(agency_id: str, name: str, warehouse: Path | None = None
                  ) -> tuple[str, str, str, str]:
    """(sha256, first name, archive path, partition key) of a received file, by any name it
    arrived under or by a sha256 prefix (8+ characters)."""
    with connect_warehouse(warehouse) as con:
        rows = con.execute(
            """
            SELECT DISTINCT r.content_sha256, r.original_name, r.archive_path, r.partition_key
            FROM received_files r LEFT JOIN received_file_names n
              ON n.agency_id = r.agency_id AND n.content_sha256 = r.content_sha256
            WHERE r.agency_id = ? AND (r.original_name = ? OR n.original_name = ?
                  OR (length(?) >= 8 AND starts_with(r.content_sha256, lower(?))))
            ORDER BY r.content_sha256
            """, [agency_id, name, name, name, name]).fetchall()
    if not rows:
        raise ReplayError(f"agency {agency_id!r} received no file named {name!r} "
                          "(see received_files / received_file_names)")
    if len(rows) > 1:
        shas = ", ".join(r[0][:12] for r in rows)
        raise ReplayError(f"{name!r} names {len(rows)} different contents of {agency_id!r} "
                          f"({shas}): give the sha256 prefix instead")
    return rows[0]


def replay_file(registry: Registry, registry_file: Path, agency_id: str, name: str,
                warehouse: Path | None = None) -> Replayed:
    """Read the archived file again and merge it; raises EcrFileError if it cannot be read."""
    try:
        agency = registry.agency(agency_id)
    except KeyError as exc:
        raise ReplayError(str(exc.args[0])) from None
    if agency.ecr is None:
        raise ReplayError(f"agency {agency_id!r} has no ecr section in the registry")
    template = load_template(registry_relative(registry_file, agency.ecr.template))
    sha, first_name, archive_path, received_key = find_received(agency_id, name, warehouse)
    path = settings.data_home() / archive_path
    prepared = prepare_file(path, template, agency.timezone, file_name=first_name)
    try:
        with connect_warehouse(warehouse) as con:
            loaded_key = con.execute(
                "SELECT partition_key FROM file_loads WHERE agency_id = ? "
                "AND content_sha256 = ?", [agency_id, sha]).fetchall()
            key = loaded_key[0][0] if loaded_key and loaded_key[0][0] else received_key
            result = write_prepared(con, prepared, agency_id=agency_id, content_sha256=sha,
                                    partition_key=key, skip_loaded=False)
            note_success(con, agency_id=agency_id, stage="load", file_key=sha)
            total, times = con.execute(
                "SELECT hearings_removed, times_loaded FROM file_loads WHERE agency_id = ? "
                "AND content_sha256 = ?", [agency_id, sha]).fetchall()[0]
    finally:
        prepared.close()
    return Replayed(result, int(total), int(times))

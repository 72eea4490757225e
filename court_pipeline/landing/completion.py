"""Which listed files are complete: in-progress names ignored, completion markers honoured.

Uploaders write under temporary names (``*.filepart``, ``*.tmp``, dot files) and rename when
done; some also drop a marker (``NAME.done``) after the file. ``min_file_age_seconds`` alone
cannot tell a stalled upload from a finished one, so a landing can require the marker. A
complete file's time is the later of its own and its marker's, so a marker that arrives late
still makes the file new to the sensor.
"""

from __future__ import annotations

import dataclasses

from court_pipeline.landing.base import LandedFile, matches
from court_pipeline.registry.models import EcrSource


def listing_pattern(ecr: EcrSource) -> str:
    """What to list: everything when markers are needed (they rarely match the pattern)."""
    return "*" if ecr.completion_marker else ecr.file_pattern


def is_ignored(name: str, ecr: EcrSource) -> bool:
    """An in-progress name (``ignore_patterns``) or a completion marker itself."""
    if any(matches(name, pattern) for pattern in ecr.ignore_patterns):
        return True
    marker = ecr.completion_marker
    if marker:
        prefix, _, suffix = marker.partition("{name}")
        return len(name) > len(prefix) + len(suffix) and name.startswith(prefix) and \
            name.endswith(suffix)
    return False


def complete_files(
    listing: list[LandedFile], ecr: EcrSource
) -> tuple[list[LandedFile], dict[str, str]]:
    """The complete data files of a listing, and the waiting ones with why."""
    by_name = {f.name: f for f in listing}
    ready: list[LandedFile] = []
    waiting: dict[str, str] = {}
    for f in listing:
        if not matches(f.name, ecr.file_pattern) or is_ignored(f.name, ecr):
            continue
        if not ecr.completion_marker:
            ready.append(f)
            continue
        marker_name = ecr.completion_marker.replace("{name}", f.name)
        marker = by_name.get(marker_name)
        if marker is None:
            waiting[f.name] = f"waiting for its completion marker {marker_name!r}"
            continue
        ready.append(dataclasses.replace(f, modified_at=max(f.modified_at, marker.modified_at)))
    return sorted(ready, key=lambda f: (f.modified_at, f.name)), waiting

"""``court-pipeline replay`` and ``court-pipeline quarantine list|release``: the operator
commands for ECR intake (the docs' how-to recipes, as commands)."""

from __future__ import annotations

import argparse
import sys

from court_pipeline import settings


def _cmd_replay(args: argparse.Namespace) -> int:
    from court_pipeline.ecr.reader import EcrFileError
    from court_pipeline.ecr.replay import ReplayError, replay_file
    from court_pipeline.ecr.template import TemplateError
    from court_pipeline.registry import load_registry

    registry_file = settings.registry_path()
    try:
        done = replay_file(load_registry(registry_file), registry_file, args.agency, args.file)
    except (ReplayError, EcrFileError, TemplateError) as exc:
        print(f"replay failed: {exc}", file=sys.stderr)
        return 1
    r = done.result
    print(f"{args.agency}: replayed {r.file_name} (sha256 {r.content_sha256[:12]}): rows in "
          f"{r.rows_in} = loaded {r.rows_loaded} + rejected {r.rows_rejected} "
          f"(excluded {r.rows_excluded}); hearings removed now {r.hearings_removed}, "
          f"{done.hearings_removed_total} in all; loaded {done.times_loaded} times")
    for reason, count in r.top_reasons:
        print(f"  {count} x {reason}")
    return 0


def _cmd_quarantine_list(args: argparse.Namespace) -> int:
    from court_pipeline.landing.quarantine import entries
    from court_pipeline.warehouse import connect_warehouse

    statuses = ("retrying", "quarantined", "released") if args.all else (
        "retrying", "quarantined")
    with connect_warehouse(read_only=True) as con:
        found = entries(con, [args.agency] if args.agency else None, statuses)
    if not found:
        print("no quarantined or retrying files")
        return 0
    for e in found:
        print(f"{e.agency_id}\t{e.stage}\t{e.status}\t{e.attempts}\t"
              f"{e.last_failed_at:%Y-%m-%d %H:%M}\t{e.shown_name}\t{e.reason}")
    print(f"({len(found)} file{'s' if len(found) != 1 else ''})")
    return 0


def _cmd_quarantine_release(args: argparse.Namespace) -> int:
    from court_pipeline.landing.quarantine import release
    from court_pipeline.warehouse import connect_warehouse

    if not args.all and args.file is None:
        print("name a file, or give --all", file=sys.stderr)
        return 2
    with connect_warehouse() as con:
        released = release(con, args.agency, None if args.all else args.file)
    if not released:
        print(f"{args.agency}: no quarantined file matches", file=sys.stderr)
        return 1
    for e in released:
        print(f"released {e.agency_id} {e.stage} {e.shown_name}")
    print(f"{len(released)} file(s) released: the agency's next run retries them (load: any "
          "ecr_ingest_job run; fetch: the nightly sweep)")
    return 0


def add_intake_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``replay`` and ``quarantine`` on the top-level parser."""
    replay = sub.add_parser("replay", help="load an archived ECR file again (after a template "
                            "fix); keeps the file's history")
    replay.add_argument("agency")
    replay.add_argument("file", help="a name the file arrived under, or a sha256 prefix")
    replay.set_defaults(func=_cmd_replay)

    quarantine = sub.add_parser("quarantine", help="files set aside as unreadable")
    actions = quarantine.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="quarantined and retrying files")
    listing.add_argument("--agency", default=None)
    listing.add_argument("--all", action="store_true", help="released ones too")
    listing.set_defaults(func=_cmd_quarantine_list)
    rel = actions.add_parser("release", help="let the next run try a quarantined file again")
    rel.add_argument("agency")
    rel.add_argument("file", nargs="?", default=None, help="the file name as listed")
    rel.add_argument("--all", action="store_true", help="every quarantined file of the agency")
    rel.set_defaults(func=_cmd_quarantine_release)

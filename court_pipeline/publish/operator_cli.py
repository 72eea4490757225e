"""``court-pipeline oca ...``: operator commands for OCA publishing (no hand-written SQL).

- ``oca resend --all --agency ID``: every published record of the agency's county is sent
  whole by the next run (to the target now configured), and the state is bound to it.
- ``oca adopt --agency ID``: the target now configured already holds what was published;
  bind the state to it as it is.
- ``oca target --agency ID``: show the bound target and the configured one.

The target is resolved exactly as the publishing runs resolve it: the registry's
``oca_targets`` and the agency's ``oca.target`` (or ``--environment``), and the client id from
the environment variable the registry names. The client id is shown only as a fingerprint.
"""

from __future__ import annotations

import argparse
import os
import sys

from court_pipeline.publish.target import Target


class _Refused(Exception):
    """A message for the operator (exit code 2)."""


def _configured(args: argparse.Namespace) -> tuple[str, Target]:
    from court_pipeline.publish.resources import CourtAnalyticsTXResource, OcaConfigError
    from court_pipeline.registry import load_registry

    registry = load_registry()
    try:
        agency = registry.agency(args.agency)
    except (KeyError, ValueError) as exc:
        raise _Refused(str(exc)) from None
    if agency.oca is None:
        raise _Refused(f"agency {agency.id!r} has no oca publishing configured")
    try:
        settings = CourtAnalyticsTXResource(environment=args.environment or "").settings_for(
            registry, agency)
    except OcaConfigError as exc:
        raise _Refused(str(exc)) from None
    client_id = os.environ.get(agency.oca.client_id_env)
    if not client_id:
        raise _Refused(f"environment variable {agency.oca.client_id_env} (the client id of "
                       f"{agency.county} county) is not set")
    return agency.id, Target(settings.environment, agency.county, settings.messages_url,
                             client_id)


def _run(args: argparse.Namespace) -> int:
    from court_pipeline import settings
    from court_pipeline.publish.state import PublishLockTimeout, StateStore
    from court_pipeline.warehouse import connect_warehouse

    try:
        agency_id, target = _configured(args)
    except _Refused as exc:
        print(exc, file=sys.stderr)
        return 2
    store = StateStore(connect_warehouse, environment=target.environment, agency_id=agency_id,
                       county=target.county, lock_dir=settings.warehouse_path().parent)
    try:  # never while a run publishes this county: it would apply answers of the old target
        with store.publishing_lock(args.wait):
            return _act(args, agency_id, target)
    except PublishLockTimeout as exc:
        print(exc, file=sys.stderr)
        return 2


def _act(args: argparse.Namespace, agency_id: str, target: Target) -> int:
    from court_pipeline.publish import target as targets
    from court_pipeline.warehouse import connect_warehouse

    where = (f"{target.county} ({agency_id}) in {target.environment}: "
             f"{target.messages_url}, client {target.client_fingerprint}")
    with connect_warehouse() as con:
        bound = targets.bound_target(con, target.environment, target.county)
        if args.action == "target":
            print(f"configured  {where}")
            print("bound       " + (f"{bound.messages_url}, client {bound.client_fingerprint} "
                                    f"({bound.bound_by}, {bound.bound_at})" if bound else
                                    "(nothing yet: the next run binds the configured target)"))
            return 0
        if args.action == "adopt":
            records = targets.adopt(con, target)
            print(f"{where}: adopted; the {records} published record(s) are trusted to be "
                  "held there already. The next run sends only changes.")
            return 0
        if not args.all:
            print("oca resend needs --all (every published record of the county)",
                  file=sys.stderr)
            return 2
        records = targets.resend_all(con, target)
    print(f"{where}: the next run sends all {records} published record(s) whole, plus "
          "anything new; records gone from the source are deleted there.")
    return 0


def add_oca_commands(sub: argparse._SubParsersAction) -> None:
    """``oca resend --all``, ``oca adopt`` and ``oca target``."""
    oca = sub.add_parser("oca", help="OCA publishing: choose what a new target gets")
    actions = oca.add_subparsers(dest="action", required=True)
    for name, text in (
        ("resend", "send every published record again, whole, to the configured target"),
        ("adopt", "trust that the configured target already holds what was published"),
        ("target", "show the bound and the configured target"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("--agency", required=True, help="agency id in the registry")
        parser.add_argument("--environment", choices=["staging", "production"], default=None,
                            help="default: the agency's oca.target")
        parser.add_argument("--wait", type=float, default=600.0,
                            help="seconds to wait for a run publishing the county")
        if name == "resend":
            parser.add_argument("--all", action="store_true", required=True,
                                help="every published record of the county")
        parser.set_defaults(func=_run)

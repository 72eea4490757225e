"""The ``court-pipeline`` command: demo, read-only SQL, OCA operator commands, simulators."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _cmd_check(args: argparse.Namespace) -> int:
    """Check the registry and every file it names, as the code location does when it loads."""
    from court_pipeline.config_check import check_configuration, format_problems

    registry, problems = check_configuration(args.config)
    if problems or registry is None:
        print(format_problems(problems), file=sys.stderr)
        return 1
    count = len(registry.agencies)
    print(f"configuration OK: {count} agenc{'y' if count == 1 else 'ies'}, every upload template, "
          "reminder flow and code map loaded")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from court_pipeline.demo import run_demo

    return run_demo(rows=args.rows, seed=args.seed, day=args.day, free_ports=args.free_ports)


def _cmd_simulate(args: argparse.Namespace) -> int:
    return args.simulator_main(args)


def _cmd_reminders_export(args: argparse.Namespace) -> int:
    from court_pipeline.reminders.export import main as export_main

    argv = ["--agency", args.agency, "--out", str(args.out)]
    for status in args.status or ():
        argv += ["--status", status]
    return export_main(argv + (["--mask"] if args.mask else []))


def _cmd_reminders_import(args: argparse.Namespace) -> int:
    """Apply a provider's STOP/START reply file to the agency's opt-out list."""
    from court_pipeline.registry import load_registry
    from court_pipeline.reminders.optouts import import_replies_csv
    from court_pipeline.warehouse import connect_warehouse

    agency = load_registry().agency(args.agency)
    with connect_warehouse() as con:
        result = import_replies_csv(con, agency.id, args.file)
    if result.already_imported:
        print(f"{args.file}: already imported earlier (same bytes); nothing changed")
        return 0
    print(
        f"{args.file}: {result.rows_in} rows = {result.opted_out} opted out + "
        f"{result.opted_in} opted back in + {len(result.rejected)} rejected"
    )
    for line, reason in result.rejected[:20]:
        print(f"  line {line}: {reason}")
    return 0


def _add_reminders(sub: argparse._SubParsersAction) -> None:
    reminders = sub.add_parser("reminders", help="reminder review export and STOP replies")
    actions = reminders.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="CSV of planned/ready messages for staff review")
    export.add_argument("--agency", required=True)
    export.add_argument("--out", required=True, type=Path)
    export.add_argument(
        "--status", action="append",
        choices=["planned", "ready", "sent", "failed", "suppressed"],
        help="statuses to include (repeatable; default planned and ready)",
    )
    export.add_argument("--mask", action="store_true", help="mask phone numbers and emails")
    export.set_defaults(func=_cmd_reminders_export)
    replies = actions.add_parser("import-replies", help="apply a CSV of STOP/START replies")
    replies.add_argument("--agency", required=True)
    replies.add_argument("file", type=Path)
    replies.set_defaults(func=_cmd_reminders_import)


def _add_docs(sub: argparse._SubParsersAction) -> None:
    from court_pipeline.warehouse import table_reference

    docs = sub.add_parser("docs", help="generate documentation pages from the code")
    pages = docs.add_subparsers(dest="page", required=True)
    tables = pages.add_parser(
        "tables", help="write docs/reference/tables.md from the schema's table and column comments")
    table_reference.add_arguments(tables)
    tables.set_defaults(func=table_reference.run)


def _add_simulators(sub: argparse._SubParsersAction) -> None:
    simulate = sub.add_parser("simulate", help="run a bundled simulator as a local HTTP server")
    kinds = simulate.add_subparsers(dest="kind", required=True)
    from court_pipeline.odyssey import cli as odyssey_cli
    from court_pipeline.publish import cli as publish_cli

    for name, module, text in (
        ("odyssey", odyssey_cli, "the Odyssey API Toolkit message API"),
        ("oca", publish_cli, "the CourtAnalyticsTX token and Messages endpoints"),
    ):
        parser = kinds.add_parser(name, help=f"simulate {text}")
        module.add_cli_arguments(parser)
        parser.set_defaults(func=_cmd_simulate, simulator_main=module.main_from_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="court-pipeline",
        description="Texas court data: Odyssey ECR files and API to DuckDB, reminders, OCA.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate demo data and run the whole pipeline in-process")
    demo.add_argument("--rows", type=int, default=2000, help="rows in the generated ECR file")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--day", default=None, help="partition day YYYY-MM-DD (default: today)")
    demo.add_argument(
        "--free-ports", action="store_true",
        help="run the simulators on ports the system picks instead of 8765/8766 (several "
        "demos side by side; a data home keeps the endpoint of its first publish)")
    demo.set_defaults(func=_cmd_demo)

    check = sub.add_parser(
        "check", help="check the registry, upload templates, reminder flows and code maps")
    check.add_argument("--config", type=Path, default=None,
                       help="registry file (default: COURT_PIPELINE_CONFIG or the bundled one)")
    check.set_defaults(func=_cmd_check)

    sql = sub.add_parser("sql", help="run a read-only SQL query against the warehouse")
    from court_pipeline.warehouse import adhoc

    adhoc.add_arguments(sql)
    sql.set_defaults(func=adhoc.run)

    from court_pipeline.intake_cli import add_intake_commands

    add_intake_commands(sub)
    _add_reminders(sub)
    _add_docs(sub)
    _add_simulators(sub)
    from court_pipeline.publish.operator_cli import add_oca_commands

    add_oca_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from court_pipeline.private_files import restrict_process

    restrict_process()  # the warehouse, archive and exports it writes hold PII
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sql"]:  # fast path: the other commands' parsers import dagster
        from court_pipeline.warehouse.adhoc import main as sql_main

        return sql_main(argv[1:])
    if argv[:2] == ["docs", "tables"]:  # fast path too: no dagster for a docs page
        from court_pipeline.warehouse.table_reference import main as tables_main

        return tables_main(argv[2:])
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``court-pipeline`` command: demo, read-only SQL, and the bundled simulators."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import duckdb


def _cmd_sql(args: argparse.Namespace) -> int:
    """Run one read-only query against the warehouse and print it."""
    from court_pipeline.warehouse import connect_warehouse

    try:
        with connect_warehouse(read_only=True, lock_timeout_seconds=args.wait) as con:
            frame = con.execute(args.query).fetchdf()
    except duckdb.Error as exc:
        print(f"query failed: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        frame.to_csv(sys.stdout, index=False)
    elif frame.empty:
        print("(no rows)")
    else:
        print(frame.to_markdown(index=False, tablefmt="simple"))
        print(f"({len(frame)} row{'s' if len(frame) != 1 else ''})")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from court_pipeline.demo import run_demo

    return run_demo(rows=args.rows, seed=args.seed, day=args.day)


def _cmd_simulate(args: argparse.Namespace) -> int:
    return args.simulator_main(args)


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
    demo.set_defaults(func=_cmd_demo)

    sql = sub.add_parser("sql", help="run a read-only SQL query against the warehouse")
    sql.add_argument("query")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.add_argument("--wait", type=float, default=60.0, help="seconds to wait for a running write")
    sql.set_defaults(func=_cmd_sql)

    _add_simulators(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())

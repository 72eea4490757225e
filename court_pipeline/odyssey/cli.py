"""``court-pipeline simulate odyssey``: arguments and entry point (the lead wires the CLI)."""

from __future__ import annotations

import argparse
from datetime import date

from court_pipeline.odyssey.simulator import run_simulator


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``simulate odyssey``."""
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = free)")
    parser.add_argument("--parties", type=int, default=5000, help="parties in the county")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the county")
    parser.add_argument(
        "--anchor",
        type=date.fromisoformat,
        default=None,
        help="'today' of the synthetic hearings (YYYY-MM-DD; default today)",
    )
    parser.add_argument("--password", default="api_password", help="Basic auth password")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per call")
    parser.add_argument("--rate-429", type=float, default=0.0, help="share of calls getting 429")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds")
    parser.add_argument("--rate-5xx", type=float, default=0.0, help="share of calls getting 503")
    parser.add_argument("--rate-soap-fault", type=float, default=0.0, help="share: soap:Fault")
    parser.add_argument("--rate-site-busy", type=float, default=0.0, help="share: SITE_BUSY")
    parser.add_argument("--rate-drop", type=float, default=0.0, help="share: dropped connection")
    parser.add_argument("--rate-garbage", type=float, default=0.0, help="share: garbage reply")
    parser.add_argument("--rate-html-error", type=float, default=0.0, help="share: 200 HTML page")
    parser.add_argument("--rate-gzip-bomb", type=float, default=0.0, help="share: gzip bomb")
    parser.add_argument("--bomb-mb", type=int, default=100, help="decoded size of a bomb, MB")
    parser.add_argument("--pad-mb", type=float, default=0.0, help="MB added to valid replies")
    parser.add_argument(
        "--rate-limit", type=int, default=0, help="strict requests per second (0 = none)"
    )


def main_from_args(args: argparse.Namespace) -> int:
    run_simulator(
        port=args.port,
        parties=args.parties,
        seed=args.seed,
        anchor=args.anchor,
        password=args.password,
        latency_ms=args.latency_ms,
        rate_429=args.rate_429,
        retry_after_seconds=args.retry_after,
        rate_5xx=args.rate_5xx,
        rate_soap_fault=args.rate_soap_fault,
        rate_site_busy=args.rate_site_busy,
        rate_drop=args.rate_drop,
        rate_garbage=args.rate_garbage,
        rate_html_error=args.rate_html_error,
        rate_gzip_bomb=args.rate_gzip_bomb,
        bomb_mb=args.bomb_mb,
        pad_mb=args.pad_mb,
        rate_limit_per_second=args.rate_limit,
    )
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="court-pipeline simulate odyssey")
    add_cli_arguments(ap)
    raise SystemExit(main_from_args(ap.parse_args()))

"""``court-pipeline simulate oca``: run the CourtAnalyticsTX simulator on a local port.

The simulator's client id/secret come from environment variables (default names
OCA_SIM_CLIENT_ID / OCA_SIM_CLIENT_SECRET; when unset the demo pair ``demo-client`` /
``demo-secret`` is used, fine for a local simulator and never for a real service).
"""

from __future__ import annotations

import argparse
import os
import sys

from court_pipeline.publish.simulator import SimulatorFaults, run_simulator
from court_pipeline.reference import texas_counties


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``simulate oca``."""
    parser.add_argument("--port", type=int, default=8766, help="port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--client-id-env", default="OCA_SIM_CLIENT_ID")
    parser.add_argument("--client-secret-env", default="OCA_SIM_CLIENT_SECRET")
    parser.add_argument(
        "--county", action="append", default=None,
        help="county the client may publish (repeatable; default: all 254)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds")
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="share answered 429")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds")
    parser.add_argument("--server-error-rate", type=float, default=0.0, help="share answered 503")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped requests")
    parser.add_argument(
        "--lost-ack-rate", type=float, default=0.0,
        help="share applied but answered by a dropped connection",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--fast-validation", action="store_true",
        help="pre-check valid records with a compiled checker (jsonschema still reports errors)",
    )


def main_from_args(args: argparse.Namespace) -> int:
    """Run until interrupted."""
    client_id = os.environ.get(args.client_id_env) or "demo-client"
    secret = os.environ.get(args.client_secret_env) or "demo-secret"
    counties = args.county or list(texas_counties())
    unknown = [c for c in counties if c not in texas_counties()]
    if unknown:
        print(f"not Texas counties: {', '.join(unknown)}", file=sys.stderr)
        return 2
    faults = SimulatorFaults(
        latency_ms=args.latency_ms,
        token_lifetime_seconds=args.token_lifetime,
        rate_limit_rate=args.rate_limit_rate,
        retry_after_seconds=args.retry_after,
        server_error_rate=args.server_error_rate,
        drop_rate=args.drop_rate,
        lost_ack_rate=args.lost_ack_rate,
        seed=args.seed,
    )
    sim = run_simulator(
        args.port, host=args.host, clients={client_id: (secret, counties)}, faults=faults,
        block=False, fast_validation=args.fast_validation,
    )
    print(f"OCA simulator: token {sim.token_url}  messages {sim.messages_url}  "
          f"records {sim.base_url}/debug/records  (client id {client_id!r}; Ctrl-C stops)",
          flush=True)
    try:
        sim._thread.join() if sim._thread else None
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":  # python -m court_pipeline.publish.cli --port N (same as the CLI)
    _parser = argparse.ArgumentParser(prog="court-pipeline simulate oca")
    add_cli_arguments(_parser)
    raise SystemExit(main_from_args(_parser.parse_args()))

"""Benchmark: publish 100,000 new OCA records, then a day with 1% changed.

The simulator runs in its own process (``court-pipeline simulate oca``) with 50 ms latency
per Messages call, so its JSON Schema validation does not share our GIL. For each phase it
prints envelopes, bytes, wall time, and the ratio to the floor. The floor comes from the
MINIMAL calls the phase needs, not the calls made: the records that really changed (known from
how the bench changed the source), packed as tightly as the limits allow (max entities per
event of one entity type and action, max events per envelope), rounds of ``concurrency``
envelopes x latency. A publisher that sends unchanged records or half-empty envelopes makes
more calls than the floor counts, so its ratio rises.

    python bench/oca_publish.py [--records 100000] [--concurrency 4] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from court_pipeline.oca.contracts import contract_fields, sample_rows  # noqa: E402
from court_pipeline.publish.client import Credential  # noqa: E402
from court_pipeline.publish.publisher import PublishSettings, publish_county  # noqa: E402
from court_pipeline.publish.state import StateStore  # noqa: E402
from court_pipeline.warehouse import connect_warehouse  # noqa: E402

STATUS = "di-texas-oca-court-case-status"
CHARGES = "di-texas-oca-court-charges"
COUNTY, PUBLISHER = "Harris", "Tyler Tech-Odyssey"


def make_rows(entity_type: str, n: int, seed: int) -> pd.DataFrame:
    rows = sample_rows(
        entity_type,
        n,
        county=COUNTY,
        publisher=PUBLISHER,
        seed=seed,
        recordid=entity_type[-6:] + "-{i:07d}",
    )
    return pd.DataFrame(rows, columns=contract_fields(entity_type))


def start_simulator(latency_ms: float) -> tuple[subprocess.Popen, str]:
    env = os.environ | {
        "OCA_SIM_CLIENT_ID": "bench-client",
        "OCA_SIM_CLIENT_SECRET": "bench-s",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "court_pipeline.publish.cli",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--county",
            COUNTY,
            "--fast-validation",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if "token" not in line:
        proc.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    base = line.split("token ", 1)[1].split()[0].rsplit("/oauth2/token", 1)[0]
    return proc, base


def minimal_envelopes(needed: dict[tuple[str, str], int], settings: PublishSettings) -> int:
    """Fewest envelopes that carry ``needed`` records ((entity type, action) -> count): an
    event holds one entity type and action, up to max_entities; an envelope max_events."""
    events = sum(math.ceil(n / settings.max_entities) for n in needed.values() if n)
    return math.ceil(events / settings.max_events)


def phase(
    name: str,
    store_args: dict,
    datasets: dict,
    settings: PublishSettings,
    latency_ms: float,
    needed: dict[tuple[str, str], int],
) -> None:
    store = StateStore(**store_args)
    credential = Credential("bench-client", "bench-s", "bench")
    t0 = time.perf_counter()
    report = publish_county(store, datasets, credential, settings, publisher=PUBLISHER)
    wall = time.perf_counter() - t0
    least = minimal_envelopes(needed, settings)
    floor = math.ceil(least / settings.concurrency) * latency_ms / 1000
    changed = sum(sum(v for k, v in p.items() if k != "unchanged") for p in report.planned.values())
    print(
        f"{name:<22} records needed {sum(needed.values()):>7} sent {changed:>7}  "
        f"envelopes needed {least:>3} made {report.envelopes:>3}  "
        f"bytes {report.bytes_sent:>11,}  wall {wall:7.2f}s  floor {floor:6.2f}s  "
        f"ratio {wall / floor if floor else float('nan'):6.1f}x  accepted {report.accepted}  "
        f"held {report.held_back + report.retry_next_run}"
    )
    steps = ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items())
    print(f"{'':<22} steps: {steps}")


def _changed(before: pd.Series, after: pd.Series) -> int:
    """Rows whose value really differs (null equals null)."""
    both_null = before.isna() & after.isna()
    return int(((before != after) & ~both_null).sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    proc, base = start_simulator(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            warehouse = Path(tmp) / "bench.duckdb"
            store_args = {
                "connect": lambda: connect_warehouse(warehouse),
                "environment": "staging",
                "agency_id": "bench",
                "county": COUNTY,
            }
            settings = PublishSettings(
                "staging",
                base + "/oauth2/token",
                base + "/exchange/Messages",
                concurrency=args.concurrency,
            )
            half = args.records // 2
            t0 = time.perf_counter()
            status, charges = make_rows(STATUS, half, 1), make_rows(CHARGES, args.records - half, 2)
            print(
                f"generated {args.records:,} rows in {time.perf_counter() - t0:.1f}s; "
                f"latency {args.latency_ms:g} ms, concurrency {args.concurrency}"
            )
            phase(
                "first publish",
                store_args,
                {STATUS: status, CHARGES: charges},
                settings,
                args.latency_ms,
                {(STATUS, "new"): len(status), (CHARGES, "new"): len(charges)},
            )

            rng = random.Random(3)
            n = max(1, args.records // 100)  # 1%: 60% updates, 20% nullified, 20% deleted
            picks = rng.sample(range(half), n // 2)
            status2 = status.copy()
            charges2 = charges.copy()
            upd, nul, dele = (
                picks[: len(picks) * 6 // 10],
                picks[len(picks) * 6 // 10 : len(picks) * 8 // 10],
                picks[len(picks) * 8 // 10 :],
            )
            status2.loc[upd, "court_name"] = "renamed court"
            status2.loc[nul, "case_status_date"] = None
            status2 = status2.drop(index=dele)
            picks = rng.sample(range(len(charges)), n - n // 2)
            charges2.loc[picks[: len(picks) * 8 // 10], "victim_age"] = 17
            charges2 = charges2.drop(index=picks[len(picks) * 8 // 10 :])
            kept = status2.index
            status_updates = int(
                (
                    status.loc[kept].astype(object).ne(status2.astype(object))
                    & ~(status.loc[kept].isna() & status2.isna())
                )
                .any(axis=1)
                .sum()
            )
            kept_charges = charges2.index
            needed = {
                (STATUS, "update"): status_updates,
                (STATUS, "delete"): len(status) - len(status2),
                (CHARGES, "update"): _changed(
                    charges.loc[kept_charges, "victim_age"], charges2["victim_age"]
                ),
                (CHARGES, "delete"): len(charges) - len(charges2),
            }
            phase(
                "1% changed",
                store_args,
                {STATUS: status2, CHARGES: charges2},
                settings,
                args.latency_ms,
                needed,
            )
            phase(
                "no change (rerun)",
                store_args,
                {STATUS: status2, CHARGES: charges2},
                settings,
                args.latency_ms,
                {},
            )
            with urllib.request.urlopen(base + "/debug/records?summary=1") as response:  # noqa: S310
                summary = json.load(response)
            expected = len(status2) + len(charges2)
            print(
                f"simulator holds {summary['count']:,} records (source: {expected:,}) "
                f"{'OK' if summary['count'] == expected else 'MISMATCH'}; "
                f"max requests in flight at the simulator: {summary['max_concurrent']}"
            )
            if summary["count"] != expected:
                raise SystemExit(1)  # a bench that lost records has no number worth reading
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()

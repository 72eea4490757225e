"""Odyssey sync throughput: 5,000 parties, 150 ms latency per call (a hosted Odyssey answers in
100-300 ms), concurrency 16; ``--rate-limit 20`` adds a strict 20 req/s gateway limit
(429 Retry-After: 1), judged as wall <= 1.15x needed calls / limit with 0 calls lost.

The floor is computed from the calls a sync NEEDS, read from the simulator's own data (the
same seeded county): FindParties pages + one hearings call per party in the window + one
FindCase per distinct case those parties are on. Redundant or retried calls therefore raise
the ratio instead of raising the floor with them. Floor = needed x latency / concurrency
(and, rate-limited, at least needed / limit); target 1.1x (1.15x rate-limited).

``--client httpx|aiohttp|both`` (default both): the package's client (httpx) and the same
client with aiohttp doing the HTTP exchange (bench/odyssey_aiohttp.py), one after the other
against the same simulator, printed side by side: wall, ratio to the floor, client CPU per
call. The exit status is non-zero when the shipped client (httpx) misses a target or loses a
call; aiohttp is printed for the comparison.

The simulator runs in its own process (its own GIL), as a real server would. Also printed so
a slow run can be told apart from a busy machine: the simulator's CPU per call (from /proc),
the load average, and a transport baseline per client measured in the same run (bare
exchanges at the same latency and concurrency: what the machine allows right now).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the aiohttp client beside this file

from court_pipeline.odyssey import messages as M  # noqa: E402
from court_pipeline.odyssey.client import Credentials, OdysseyClient  # noqa: E402
from court_pipeline.odyssey.simulator import OdysseySimulator  # noqa: E402
from court_pipeline.odyssey.sync import sync_agency  # noqa: E402

CREDENTIALS = Credentials("api_user", "api_password", "SIMCOUNTY")
TARGET = 1.1
RATE_TARGET = 1.15
SEED = 7
PAGE_SIZE = 200
ANCHOR = date(2026, 10, 15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_cpu_seconds(pid: int) -> float | None:
    """user + system CPU of another process (Linux /proc), None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_class(name: str) -> type[OdysseyClient]:
    if name == "aiohttp":
        from odyssey_aiohttp import AiohttpOdysseyClient

        return AiohttpOdysseyClient
    return OdysseyClient


def needed_calls(parties: int, window_days: int) -> dict[str, int]:
    """The minimal calls of one full sync, from the simulator's data (same seed, same county)."""
    sim = OdysseySimulator(parties=parties, seed=SEED, anchor=ANCHOR)  # built, never started
    ids = sim.find_party_ids(ANCHOR, ANCHOR + timedelta(days=window_days), None)
    cases = {case_id for p in ids for case_id, _, _ in sim.county.parties[p].cases}
    return {
        "FindParties": max(1, math.ceil(len(ids) / PAGE_SIZE)),
        "GetScheduledHearingsByPartyID": len(ids),
        "FindCase": len(cases),
    }


async def transport_baseline(
    cls: type[OdysseyClient], base_url: str, calls: int, concurrency: int
) -> float:
    """Wall seconds for ``calls`` bare exchanges (a FindCase for a case that does not exist:
    full simulator latency, tiny reply) through the client's pool at ``concurrency``."""
    async with cls(base_url, CREDENTIALS, concurrency=concurrency) as client:
        body = M.soap_envelope(M.find_case(case_id="0"), CREDENTIALS.site_key)
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                status, _, _, _ = await client._exchange(body, "FindCase", "baseline")
            if status != 200:
                raise RuntimeError(f"baseline call got HTTP {status}")

        t0 = time.monotonic()
        await asyncio.gather(*(one() for _ in range(calls)))
        return time.monotonic() - t0


@dataclass
class Run:
    client: str
    calls: int
    lost: int
    wall: float
    cpu: float
    sim_cpu: float | None
    base_ratio: float
    throttling: str
    by_type: dict


def warm_up() -> None:
    """One small sync in this process before anything is timed: first-use costs (imports,
    phone metadata, the parser's caches) would otherwise be charged to whichever client runs
    first."""
    with (
        OdysseySimulator(parties=60, seed=SEED, anchor=ANCHOR) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        sync_agency(
            lambda: OdysseyClient(sim.base_url, CREDENTIALS),
            agency_id="warmup",
            zone=ZoneInfo("America/Chicago"),
            today=ANCHOR,
            hearing_window_days=90,
            archive_root=Path(tmp),
        )


def run_one(name: str, base: str, sim_pid: int, args: argparse.Namespace) -> Run:
    cls = client_class(name)
    base_calls = 0 if args.rate_limit else args.baseline_calls  # a baseline would be 429s
    latency = args.latency_ms / 1000
    base_ratio = float("nan")
    if base_calls:
        base_wall = asyncio.run(transport_baseline(cls, base, base_calls, args.concurrency))
        base_ratio = base_wall / (base_calls * latency / args.concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        sim_cpu0 = process_cpu_seconds(sim_pid)
        times0 = os.times()
        t0 = time.monotonic()
        result = sync_agency(
            lambda: cls(base, CREDENTIALS, concurrency=args.concurrency),
            agency_id="bench",
            zone=ZoneInfo("America/Chicago"),
            today=ANCHOR,
            hearing_window_days=args.window_days,
            page_size=PAGE_SIZE,
            archive_root=Path(tmp),
        )
        wall = time.monotonic() - t0
        times1 = os.times()
        sim_cpu1 = process_cpu_seconds(sim_pid)
    cpu = (times1.user - times0.user) + (times1.system - times0.system)
    stats = result.stats
    throttling = (
        f"{stats['errors'].get('HTTP_429', 0)} x 429, {stats['throttle_pauses']} pauses, "
        f"{stats['sent_while_paused']} sent while paused"
    )
    sim_cpu = None if sim_cpu0 is None or sim_cpu1 is None else sim_cpu1 - sim_cpu0
    return Run(
        name,
        stats["calls"],
        stats["lost_calls"],
        wall,
        cpu,
        sim_cpu,
        base_ratio,
        throttling,
        stats["by_message_type"],
    )


def start_simulator(args: argparse.Namespace, port: int) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own module
        [
            sys.executable,
            "-m",
            "court_pipeline.odyssey.cli",
            "--port",
            str(port),
            "--parties",
            str(args.parties),
            "--seed",
            str(SEED),
            "--anchor",
            ANCHOR.isoformat(),
            "--latency-ms",
            str(args.latency_ms),
            "--rate-limit",
            str(args.rate_limit),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parties", type=int, default=5000)
    ap.add_argument("--latency-ms", type=float, default=150.0)
    ap.add_argument("--rate-limit", type=int, default=0, help="strict req/s at the simulator")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--window-days", type=int, default=90)
    ap.add_argument("--baseline-calls", type=int, default=1000)
    ap.add_argument("--client", choices=["httpx", "aiohttp", "both"], default="both")
    args = ap.parse_args()
    latency = args.latency_ms / 1000
    need = needed_calls(args.parties, args.window_days)
    needed = sum(need.values())
    floor = needed * latency / args.concurrency
    if args.rate_limit:
        floor = max(floor, needed / args.rate_limit)
    target = RATE_TARGET if args.rate_limit else TARGET
    clients = ["httpx", "aiohttp"] if args.client == "both" else [args.client]
    warm_up()
    load_before = os.getloadavg()[0]
    runs: list[Run] = []
    for name in clients:  # a fresh simulator per client: no warm state carried over
        port = free_port()
        sim = start_simulator(args, port)
        try:
            print(sim.stdout.readline().strip())
            runs.append(run_one(name, f"http://127.0.0.1:{port}", sim.pid, args))
        finally:
            sim.terminate()
            sim.wait(timeout=10)

    print(f"needed calls      {needed} {need}  (from the simulator's data)")
    print(
        f"floor             {floor:.2f} s  (needed x {args.latency_ms:g} ms / {args.concurrency}"
        + (f", at least needed / {args.rate_limit} req/s" if args.rate_limit else "")
        + ")"
    )
    print(f"{'':18}" + "".join(f"{r.client:>22}" for r in runs))
    rows = [
        ("calls made", [f"{r.calls} ({r.calls / needed:.3f}x)" for r in runs]),
        ("calls lost", [str(r.lost) for r in runs]),
        ("wall", [f"{r.wall:.2f} s" for r in runs]),
        ("ratio to floor", [f"{r.wall / floor:.3f}x" for r in runs]),
        ("client CPU/call", [f"{r.cpu / r.calls * 1000:.3f} ms" for r in runs]),
        ("client CPU", [f"{r.cpu:.2f} s" for r in runs]),
        (
            "sim CPU/call",
            ["n/a" if r.sim_cpu is None else f"{r.sim_cpu / r.calls * 1000:.3f} ms" for r in runs],
        ),
    ]
    if args.rate_limit:
        rows.append(("throttling", [r.throttling for r in runs]))
    else:
        rows.append(("bare transport", [f"{r.base_ratio:.3f}x floor" for r in runs]))
    for label, cells in rows:
        print(f"{label:18}" + "".join(f"{c:>22}" for c in cells))
    print(
        f"load average      {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        f"({os.cpu_count()} CPUs)"
    )
    status = 0
    for r in runs:
        met = r.wall / floor <= target and r.lost == 0
        verdict = "target met" if met else "TARGET MISSED"
        judged = r.client == "httpx"
        print(
            f"verdict {r.client:9} {verdict} (<= {target}x, 0 lost)"
            + ("" if judged else "  [comparison only]")
        )
        if judged and not met:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

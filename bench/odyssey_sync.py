"""Odyssey sync throughput: 5,000 parties, 20 ms latency per call, concurrency 16.

The simulator runs in its own process (its own core and GIL), as a real server would.
Prints calls made, wall time, the latency floor (calls x latency / concurrency) and the ratio,
plus the CPU each side spent per call (client: this process; simulator: its process, read
from /proc) and the machine's load average, so a slow run can be told apart from a busy
machine: wall time can only approach the floor when the client gets a core to itself.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from court_pipeline.odyssey.client import Credentials, OdysseyClient
from court_pipeline.odyssey.sync import sync_agency


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parties", type=int, default=5000)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--window-days", type=int, default=90)
    args = ap.parse_args()
    port = free_port()
    anchor = date(2026, 10, 15)
    sim = subprocess.Popen(  # noqa: S603 - our own module
        [
            sys.executable,
            "-m",
            "court_pipeline.odyssey.cli",
            "--port",
            str(port),
            "--parties",
            str(args.parties),
            "--seed",
            "7",
            "--anchor",
            anchor.isoformat(),
            "--latency-ms",
            str(args.latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        print(sim.stdout.readline().strip())
        base = f"http://127.0.0.1:{port}"
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            sim_cpu0 = process_cpu_seconds(sim.pid)
            times0 = os.times()
            t0 = time.monotonic()
            result = sync_agency(
                lambda: OdysseyClient(
                    base,
                    Credentials("api_user", "api_password", "SIMCOUNTY"),
                    concurrency=args.concurrency,
                ),
                agency_id="bench",
                zone=ZoneInfo("America/Chicago"),
                today=anchor,
                hearing_window_days=args.window_days,
                archive_root=Path(tmp),
            )
            wall = time.monotonic() - t0
            times1 = os.times()
            user, system = times1.user - times0.user, times1.system - times0.system
            cpu = user + system
            sim_cpu1 = process_cpu_seconds(sim.pid)
        calls = result.stats["calls"]
        floor = calls * args.latency_ms / 1000 / args.concurrency
        print(f"calls made        {calls} {result.stats['by_message_type']}")
        print(f"failed calls      {len(result.failed)}")
        print(f"rows              {result.stats['rows']}")
        print(f"wall time         {wall:.2f} s")
        print(
            f"latency floor     {floor:.2f} s  (calls x {args.latency_ms:g} ms / "
            f"{args.concurrency})"
        )
        print(f"ratio             {wall / floor:.2f}x  (target <= 1.5x)")
        print(
            f"client CPU        {cpu:.2f} s  ({cpu / calls * 1000:.2f} ms per call; "
            f"user {user:.2f} s, system {system:.2f} s)"
        )
        if sim_cpu0 is not None and sim_cpu1 is not None:
            sim_cpu = sim_cpu1 - sim_cpu0
            print(f"simulator CPU     {sim_cpu:.2f} s  ({sim_cpu / calls * 1000:.2f} ms per call)")
        print(
            f"load average      {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
            f"({os.cpu_count()} CPUs; above ~1 per CPU other work competes for the cores)"
        )
    finally:
        sim.terminate()
        sim.wait(timeout=10)


if __name__ == "__main__":
    main()

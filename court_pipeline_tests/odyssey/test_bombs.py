"""Gzip bombs and huge replies against the real simulator; peak RSS read in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from court_pipeline.odyssey import messages as M
from court_pipeline.odyssey.parse import parse_case

from .conftest import make_client

CLIENT_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    from court_pipeline.odyssey import messages as M
    from court_pipeline.odyssey.client import Credentials, OdysseyClient

    async def go(url, calls, cap):
        creds = Credentials("api_user", "api_password", "SIMCOUNTY")
        async with OdysseyClient(url, creds, concurrency=4, max_attempts=1,
                                 max_reply_bytes=cap) as client:
            results = await asyncio.gather(
                *(client.call(M.find_case(case_id=str(i))) for i in range(calls)),
                return_exceptions=True)
            return [getattr(r, "code", "ok") for r in results], client.stats.calls

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    codes, calls = asyncio.run(go(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"codes": codes, "calls": calls, "growth_kb": peak - before}))
    """
)


def test_200_gzip_bombs_keep_peak_rss_bounded(sim):
    """200 replies of 100 MB decoded each (about 100 KB on the wire), cap 8 MB, 4 in flight:
    each is refused at the cap and the client's peak RSS grows far less than one bomb."""
    sim.set_faults(rate_gzip_bomb=1.0, bomb_mb=100)
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT, sim.base_url, "200", str(8 << 20)],
        capture_output=True, text=True, env=env, check=True, timeout=300,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["calls"] == 200 and sim.log.faults["gzip_bomb"] == 200
    assert result["codes"] == ["REPLY_TOO_LARGE"] * 200
    # bounded: 4 replies in flight x 8 MB cap, plus allocator slack; one bomb would be 100 MB
    assert result["growth_kb"] < 64 * 1024


def test_a_large_valid_reply_is_read_whole(sim):
    """A valid reply padded to 48 MB (the largest size tested) parses within the timeouts."""
    import asyncio

    sim.set_faults(pad_mb=48)
    case_id = next(iter(sim.county.cases))

    async def go():
        async with make_client(sim.base_url, max_attempts=1, timeout_seconds=30.0) as client:
            return await client.call(M.find_case(case_id=case_id)), client.stats

    root, stats = asyncio.run(go())
    assert parse_case(root, sim.zone).case["case_id"] == case_id
    assert stats.calls == 1 and stats.errors == {}

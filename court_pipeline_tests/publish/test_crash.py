"""A crash between send and bookkeeping, and a real kill -9 mid-run, then convergence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from court_pipeline.publish.publisher import StopAfterSend
from court_pipeline_tests.publish.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    STATUS,
    assert_matches,
    make_rows,
    query,
)

pytestmark = pytest.mark.slow  # kill -9 of a publishing process


def _crash_on(n: int):
    calls = {"n": 0}

    def hook(envelope_id, result):
        calls["n"] += 1
        if calls["n"] == n:
            raise StopAfterSend(f"stopped after sending {envelope_id}")

    return hook


def test_crash_after_send_before_state_update_converges(sim, publish, warehouse):
    status = make_rows(STATUS, 30)
    publish({STATUS: status})
    original_name = status.loc[0, "court_name"]

    changed = status.copy()
    changed.loc[0, "court_name"] = "Court B"  # applied by the service, never recorded
    changed = changed.drop(index=[7]).reset_index(drop=True)  # delete, applied, not recorded
    with pytest.raises(StopAfterSend):
        publish({STATUS: changed}, after_send=_crash_on(1))
    assert sim.records(STATUS)[(STATUS, "Harris", "Tyler Tech-Odyssey", "C000000")][
        "court_name"] == "Court B"
    assert query(warehouse, "SELECT status FROM oca_envelopes ORDER BY created_at") == [
        ("acked",), ("pending",)]

    # next day the source went back to the old value: a diff against the stale state would
    # see "no change" for court_name, but the interrupted envelope forces a full resend
    back = changed.copy()
    back.loc[0, "court_name"] = original_name
    report = publish({STATUS: back})

    assert report.recovered_envelopes == 1 and report.clean
    assert report.deletes_not_found == 1  # the delete went through before the crash
    assert_matches(sim, STATUS, back)
    assert query(warehouse, "SELECT status FROM oca_envelopes ORDER BY created_at") == [
        ("acked",), ("abandoned",), ("rejected",), ("acked",)]
    assert query(warehouse, "SELECT count(*) FROM oca_published_state "
                            "WHERE needs_full_resend") == [(0,)]


def test_crash_in_the_middle_of_many_envelopes_converges(sim, publish, warehouse):
    status = make_rows(STATUS, 120)
    with pytest.raises(StopAfterSend):
        publish({STATUS: status}, max_events=1, max_entities=10, after_send=_crash_on(4))
    assert 30 <= len(sim.records(STATUS)) < 120

    report = publish({STATUS: status}, max_events=1, max_entities=10)

    assert report.recovered_envelopes == 1 and report.clean
    assert report.accepted == 120 - 30  # the three acknowledged envelopes are not resent
    assert_matches(sim, STATUS, status)


def test_kill_minus_9_mid_run_then_rerun_converges(sim, publish, warehouse, tmp_path, credential):
    sim.faults.latency_ms = 150
    status = make_rows(STATUS, 200)
    dataset = tmp_path / "status.parquet"
    status.to_parquet(dataset)
    env = os.environ | {"OCA_HARRIS_CLIENT_ID": CLIENT_ID,
                        "OCA_HARRIS_CLIENT_SECRET": CLIENT_SECRET}
    child = subprocess.Popen(
        [sys.executable, "-m", "court_pipeline_tests.publish._child_publisher", sim.token_url,
         sim.messages_url, str(warehouse), str(tmp_path / "locks"), str(dataset)],
        env=env, cwd=os.getcwd(),
    )
    deadline = time.monotonic() + 60
    while sim.stats.applied_envelopes < 5 and time.monotonic() < deadline:
        assert child.poll() is None, "child finished before it could be killed"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    applied_before = len(sim.records(STATUS))
    assert 0 < applied_before < 200
    sim.faults.latency_ms = 0

    report = publish({STATUS: status}, max_events=1, max_entities=10)

    assert report.clean
    assert_matches(sim, STATUS, status)
    statuses = dict(query(warehouse, "SELECT status, count(*) FROM oca_envelopes GROUP BY 1"))
    assert "pending" not in statuses
    assert statuses.get("abandoned", 0) >= 1

"""Fixtures: a real simulator on loopback, a fast-retrying real client, a tmp warehouse."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from court_pipeline.odyssey.client import Credentials, OdysseyClient
from court_pipeline.odyssey.simulator import Faults, OdysseySimulator

ZONE = ZoneInfo("America/Chicago")
ANCHOR = date(2026, 10, 15)  # window below covers both DST change days
WINDOW_DAYS = 180
CREDS = Credentials("api_user", "api_password", "SIMCOUNTY")


def make_client(base_url: str, creds: Credentials = CREDS, **kw) -> OdysseyClient:
    settings = {
        "concurrency": 8,
        "max_attempts": 4,
        "max_retry_seconds": 10.0,
        "wait_initial": 0.01,
        "wait_max": 0.05,
        "wait_jitter": 0.01,
        "timeout_seconds": 5.0,
        "count_connections": True,  # keep-alive evidence (connections["opened"])
    }
    settings.update(kw)
    return OdysseyClient(base_url, creds, **settings)


@pytest.fixture
def sim():
    simulator = OdysseySimulator(parties=120, seed=11, anchor=ANCHOR)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def shared_sim():
    """A read-only simulator shared by tests that do not mutate it or inject faults."""
    simulator = OdysseySimulator(parties=120, seed=11, anchor=ANCHOR, faults=Faults())
    simulator.start()
    yield simulator
    simulator.stop()

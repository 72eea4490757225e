"""Reference data and bundled contracts cannot drift, and the `court-pipeline simulate` commands
serve real HTTP on loopback as the docs say."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from court_pipeline.oca.make_contracts import write_contracts
from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey import messages as M
from court_pipeline.odyssey.parse import parse_find_parties, parse_reply
from court_pipeline.reference import oca_enums, texas_counties

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
BUNDLED_CONTRACTS = ROOT / "court_pipeline" / "oca" / "contracts" / "v3"


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the checkout needs ../shared beside it (as CI has)")
    return path


def test_counties_match_the_shared_list():
    lines = _shared("tx_counties.txt").read_text(encoding="utf-8").splitlines()
    shared = tuple(line.strip() for line in lines if line.strip())
    assert len(texas_counties()) == 254
    assert texas_counties() == shared


def test_oca_enums_match_the_shared_file():
    shared = json.loads(_shared("oca_v3_enums.json").read_text(encoding="utf-8"))
    assert oca_enums() == shared


def test_bundled_contracts_are_what_make_contracts_writes(tmp_path):
    written = sorted(write_contracts(tmp_path))
    bundled = sorted(BUNDLED_CONTRACTS.glob("*.json"))
    assert [p.name for p in written] == [p.name for p in bundled]
    assert len(bundled) == 8
    for new, old in zip(written, bundled, strict=True):
        assert json.loads(new.read_text()) == json.loads(old.read_text()), old.name


@contextmanager
def _simulate(*args: str) -> Iterator[str]:
    """`court-pipeline simulate ...` in a subprocess on a free port; yields its banner line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCA_SIM_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "court_pipeline.cli", "simulate", *args, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        banner = process.stdout.readline()
        assert banner, process.stderr.read()
        yield banner
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_simulate_oca_issues_tokens_and_refuses_wrong_secrets():
    with _simulate("oca", "--county", "Travis") as banner:
        token_url = re.search(r"token (\S+)", banner).group(1)
        assert token_url.startswith("http://127.0.0.1:")
        form = {"grant_type": "client_credentials"}
        good = httpx.post(token_url, data=form, auth=("demo-client", "demo-secret"))
        bad = httpx.post(token_url, data=form, auth=("demo-client", "nope"))
    assert good.status_code == 200 and good.json()["token_type"] == "Bearer"
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_client"}


def test_simulate_odyssey_serves_the_county_it_announces():
    anchor = "2026-11-20"
    with _simulate("odyssey", "--parties", "30", "--anchor", anchor) as banner:
        url = re.search(r"at (\S+):", banner).group(1)
        assert url.startswith("http://127.0.0.1:") and url.endswith(E.SERVICE_PATH)
        assert re.search(r": 30 parties", banner)
        request = M.find_parties(page_number=1, page_size=E.PAGE_SIZE_MAX,
                                 hearing_date_from=date(2026, 11, 1),
                                 hearing_date_to=date(2027, 3, 1))
        body = M.soap_envelope(request, "SIMCOUNTY")
        headers = {"Content-Type": E.CONTENT_TYPE}
        answer = httpx.post(url, content=body, headers=headers,
                            auth=("api_user", "api_password"))
        refused = httpx.post(url, content=body, headers=headers, auth=("api_user", "wrong"))
    assert answer.status_code == 200
    root = parse_reply(answer.content, E.MessageType.FIND_PARTIES, request.reference)
    page = parse_find_parties(root, ZoneInfo("America/Chicago"))
    assert 0 < page.total_results <= 30
    assert refused.status_code == 401

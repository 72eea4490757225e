"""The real client vs the simulator: every fault kind, retry bounds, 401, INVALID_MESSAGE."""

from __future__ import annotations

import asyncio

import pytest

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey import messages as M
from court_pipeline.odyssey.client import Credentials, OdysseyClient
from court_pipeline.odyssey.errors import (
    OdysseyApplicationError,
    OdysseyAuthError,
    OdysseyConfigError,
    OdysseyError,
)
from court_pipeline.registry import OdysseySource

from .conftest import make_client

FC = E.MessageType.FIND_CASE


def _call(sim, request, **kw):
    async def go():
        async with make_client(sim.base_url, **kw) as client:
            try:
                return await client.call(request), client.stats
            except OdysseyError as exc:
                return exc, client.stats

    return asyncio.run(go())


def _a_case(sim) -> str:
    return next(iter(sim.county.cases))


@pytest.mark.parametrize(
    "kind", ["drop", "429", "503", "soap_fault", "garbage", "site_busy", "html_error"]
)
def test_transient_faults_are_retried_then_succeed(sim, kind):
    sim.set_faults(retry_after_seconds=0.05)
    case_id = _a_case(sim)
    sim.break_call(FC, case_id, kind, times=2)
    root, stats = _call(sim, M.find_case(case_id=case_id))
    assert not isinstance(root, Exception), root
    assert root.find("Case/CaseID").text == case_id
    assert stats.calls == 3 and stats.retries == 2
    assert sim.log.by_key[(FC.value, case_id)] == 3
    if kind == "429":
        assert stats.retry_after_waits == [0.05, 0.05]  # Retry-After honoured
    if kind == "html_error":  # a 200 text/html IIS page is an error page, not an attack
        assert stats.errors == {"ERROR_PAGE": 2}


def test_throttles_do_not_use_up_the_failure_budget(sim):
    """Five 429s then a 503 then success, with max_attempts=2: throttled attempts are waited
    out in the gate, only the 503 counts as a failure."""
    sim.set_faults(retry_after_seconds=0.02)
    case_id = _a_case(sim)
    sim.break_call(FC, case_id, "429", times=5)
    root, stats = _call(sim, M.find_case(case_id=case_id), max_attempts=2)
    assert root.find("Case/CaseID").text == case_id
    assert stats.errors == {"HTTP_429": 5} and stats.calls == 6
    sim.break_call(FC, case_id, "site_busy", times=3)
    root, stats = _call(sim, M.find_case(case_id=case_id), max_attempts=1)
    assert root.find("Case/CaseID").text == case_id
    assert stats.errors == {"SITE_BUSY": 3} and stats.calls == 4


def test_gzip_bomb_is_refused_at_the_cap_and_retried(sim):
    sim.set_faults(bomb_mb=8)  # 8 MB of zeros, about 8 KB on the wire
    case_id = _a_case(sim)
    sim.break_call(FC, case_id, "gzip_bomb", times=2)
    root, stats = _call(sim, M.find_case(case_id=case_id), max_reply_bytes=1 << 20)
    assert root.find("Case/CaseID").text == case_id
    assert stats.errors == {"REPLY_TOO_LARGE": 2} and stats.calls == 3


@pytest.mark.parametrize("kind", ["503", "drop", "soap_fault"])
def test_retries_are_bounded_by_attempts(sim, kind):
    case_id = _a_case(sim)
    sim.break_call(FC, case_id, kind)
    exc, stats = _call(sim, M.find_case(case_id=case_id), max_attempts=3)
    assert isinstance(exc, OdysseyError) and exc.retryable
    assert stats.calls == 3 and sim.log.by_key[(FC.value, case_id)] == 3


def test_retries_are_bounded_by_total_time(sim):
    case_id = _a_case(sim)
    sim.break_call(FC, case_id, "429")
    sim.set_faults(retry_after_seconds=0.3)
    exc, stats = _call(sim, M.find_case(case_id=case_id), max_attempts=50, max_retry_seconds=0.5)
    assert isinstance(exc, OdysseyError) and exc.code == "HTTP_429"
    assert 2 <= stats.calls <= 4  # stopped by time, far below 50 attempts


def test_invalid_message_is_never_retried(sim):
    case_id = _a_case(sim)
    sim.break_call(FC, case_id, "invalid")
    exc, stats = _call(sim, M.find_case(case_id=case_id))
    assert isinstance(exc, OdysseyApplicationError) and exc.code == "INVALID_MESSAGE"
    assert stats.calls == 1


def test_not_found_is_an_answer_not_retried(sim):
    exc, stats = _call(sim, M.find_case(case_id="999"))
    assert isinstance(exc, OdysseyApplicationError) and exc.code == "CASE_NOT_FOUND"
    assert stats.calls == 1


@pytest.mark.parametrize(
    "creds",
    [
        Credentials("api_user", "WRONG-secret-pw", "SIMCOUNTY"),
        Credentials("api_user", "api_password", "WRONGSITE"),
    ],
)
def test_401_is_not_retried_and_hides_secrets(sim, creds):
    async def go():
        async with make_client(sim.base_url, creds, auth_hint="check env vars U, P, S") as c:
            with pytest.raises(OdysseyAuthError) as err:
                await c.call(M.find_case(case_id="1"))
            with pytest.raises(OdysseyAuthError):  # later calls fail fast, no new request
                await c.call(M.find_case(case_id="2"))
            return err.value, c.stats

    err, stats = asyncio.run(go())
    assert stats.calls == 1 and sim.log.unauthorized == 1
    text = str(err) + repr(err) + repr(creds)
    assert "HTTP 401" in text and "check env vars U, P, S" in text
    assert "WRONG-secret-pw" not in text and "WRONGSITE" not in text


def test_hostile_reply_is_refused_not_retried(sim):
    sim.set_faults(hostile="billion_laughs")
    exc, stats = _call(sim, M.find_parties(page_number=1, page_size=10))
    assert exc.code == "HOSTILE_XML" and stats.calls == 1
    sim.set_faults(hostile="xxe")
    exc, _ = _call(sim, M.find_parties(page_number=1, page_size=10))
    assert exc.code == "HOSTILE_XML"
    sim.set_faults(hostile="envelope_dtd")  # a DOCTYPE in a text/xml SOAP reply: refused
    exc, stats = _call(sim, M.find_parties(page_number=1, page_size=10))
    assert exc.code == "HOSTILE_XML" and not exc.retryable and stats.calls == 1


def test_credentials_from_env_name_missing_variables():
    source = OdysseySource(
        base_url="https://odyssey.example.org",
        site_key_env="ODY_SITE",
        username_env="ODY_USER",
        password_env="ODY_PASS",
    )
    with pytest.raises(OdysseyConfigError) as err:
        OdysseyClient.from_source(source, env={"ODY_USER": "u"})
    assert "ODY_PASS" in str(err.value) and "ODY_SITE" in str(err.value)
    client = OdysseyClient.from_source(
        source, env={"ODY_USER": "u", "ODY_PASS": "p4ss", "ODY_SITE": "HARRIS"}
    )
    assert client.url == "https://odyssey.example.org/WebServices/APIWebService.asmx"
    assert client.verify is True and "p4ss" not in repr(client._credentials)


def test_a_429_pauses_the_client_and_teaches_it_the_rate(sim):
    """A strict 5 req/s limit, Retry-After 1 s, one slot (nothing else in flight): after the
    first 429 no request arrives before the Retry-After has passed, and the learned rate keeps
    every later request under the limit."""
    sim.set_faults(rate_limit_per_second=5, retry_after_seconds=1, latency_ms=20)
    cases = sorted(sim.county.cases, key=int)[:12]

    async def go():
        async with make_client(sim.base_url, concurrency=1, max_retry_seconds=30.0) as client:
            roots = [await client.call(M.find_case(case_id=c)) for c in cases]
            return roots, client.stats, client.gate.stats

    roots, stats, gate = asyncio.run(go())
    assert [r.find("Case/CaseID").text for r in roots] == cases
    assert sim.log.rate_limited == 1 and stats.errors == {"HTTP_429": 1}
    assert sim.log.early == 0 and gate.sent_while_paused == 0
    assert gate.rate == 5 and stats.calls == 13

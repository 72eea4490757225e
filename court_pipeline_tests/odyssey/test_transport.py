"""The client's transport (httpx keep-alive pool), its gate, proxies, TLS and the fast hardened
parser, against the real simulator. Orderings are driven by observed state (queued in the gate,
arrived at the simulator), never by sleeps."""

from __future__ import annotations

import asyncio
import socket
import ssl
import xml.etree.ElementTree as ET  # noqa: S405 - serialising trees for comparison only
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import defusedxml.ElementTree as DET
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from defusedxml import DTDForbidden

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey import messages as M
from court_pipeline.odyssey.errors import OdysseyApplicationError, OdysseyTransportError
from court_pipeline.odyssey.parse import (
    _strip_namespaces,
    defused_fromstring,
    parse_case,
    safe_fromstring,
)
from court_pipeline.odyssey.simulator import BILLION_LAUGHS, XXE, OdysseySimulator, envelope
from court_pipeline.odyssey.throttle import Gate

from .conftest import ANCHOR, CREDS, make_client

FC = E.MessageType.FIND_CASE
LOOPBACK = IPv4Address("127.0.0.1")


def test_concurrent_calls_share_a_few_keep_alive_connections(shared_sim):
    cases = sorted(shared_sim.county.cases, key=int)[:40]

    async def go():
        async with make_client(shared_sim.base_url, concurrency=4) as client:
            roots = await asyncio.gather(*(client.call(M.find_case(case_id=c)) for c in cases))
            return roots, client.connections["opened"], client.stats.calls

    roots, opened, calls = asyncio.run(go())
    assert [parse_case(r, shared_sim.zone).case["case_id"] for r in roots] == cases
    assert calls == 40
    assert 1 <= opened <= 4  # one pool, never more connections than the concurrency


def test_dropped_connection_is_replaced_and_the_call_retried(sim):
    case_id = next(iter(sim.county.cases))
    sim.break_call(FC, case_id, "drop", times=1)

    async def go():
        async with make_client(sim.base_url, concurrency=1) as client:
            first = await client.call(M.find_case(case_id=case_id))
            second = await client.call(M.find_case(case_id=case_id))
            return first, second, client.connections["opened"], client.stats

    first, second, opened, stats = asyncio.run(go())
    assert parse_case(first, sim.zone).case["case_id"] == case_id
    assert parse_case(second, sim.zone).case["case_id"] == case_id
    assert stats.calls == 3 and stats.errors == {"CONNECTION": 1}
    assert opened == 2  # the dropped one, then one kept alive for both later calls
    assert sim.log.by_key[(FC.value, case_id)] == 3


def test_timed_out_connections_are_discarded_not_reused(sim):
    case_id = next(iter(sim.county.cases))
    sim.set_faults(latency_ms=400)

    async def go():
        async with make_client(
            sim.base_url, concurrency=1, timeout_seconds=0.1, max_attempts=2
        ) as client:
            with pytest.raises(OdysseyTransportError) as err:
                await client.call(M.find_case(case_id=case_id))
            sim.set_faults(latency_ms=0)
            root = await client.call(M.find_case(case_id=case_id))
            return err.value, root, client.connections["opened"], client.stats

    err, root, opened, stats = asyncio.run(go())
    assert err.code == "TIMEOUT"
    assert parse_case(root, sim.zone).case["case_id"] == case_id
    assert stats.calls == 3 and stats.errors == {"TIMEOUT": 2}
    assert opened == 3  # a connection with a reply still owed is never handed out again


def test_https_proxy_from_env_and_registry_proxy_field_carry_the_calls(sim, monkeypatch):
    """The simulator stands in for a forward proxy: a proxied request carries the absolute URL
    of the (unreachable) origin, and the simulator still answers on its one endpoint."""
    case_id = next(iter(sim.county.cases))
    origin = "http://odyssey.county.invalid:8080"  # never resolved: only the proxy is dialled

    async def go(**kw):
        async with make_client(origin, concurrency=1, max_attempts=1, **kw) as client:
            return await client.call(M.find_case(case_id=case_id))

    monkeypatch.setenv("HTTP_PROXY", sim.base_url)
    monkeypatch.setenv("HTTPS_PROXY", sim.base_url)
    assert parse_case(asyncio.run(go()), sim.zone).case["case_id"] == case_id
    monkeypatch.setenv("NO_PROXY", "odyssey.county.invalid")
    with pytest.raises(OdysseyTransportError) as err:  # NO_PROXY: straight to the origin
        asyncio.run(go())
    assert err.value.code == "CONNECTION"
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("NO_PROXY")
    assert parse_case(asyncio.run(go(proxy=sim.base_url)), sim.zone).case["case_id"] == case_id
    assert sim.log.by_key[(FC.value, case_id)] == 2 and sim.log.proxied == 2


def test_request_larger_than_the_write_buffer_arrives_whole(sim):
    number = "CR-" + "9" * 70_000  # a >64 KiB envelope: sent as it is written, not held

    async def go():
        async with make_client(sim.base_url) as client:
            with pytest.raises(OdysseyApplicationError) as err:
                await client.call(M.find_case(case_number=number))
            return err.value, client.stats.calls

    err, calls = asyncio.run(go())
    assert err.code == "CASE_NOT_FOUND" and calls == 1
    assert sim.log.by_key[(FC.value, f"n:{number}")] == 1


def _canonical(root: ET.Element) -> bytes:
    return ET.tostring(_strip_namespaces(root))


def test_fast_parser_builds_the_same_tree_as_defusedxml(shared_sim):
    case_id = next(iter(shared_sim.county.cases))
    _, _, _, result = shared_sim.handle_message(M.find_case(case_id=case_id).message_xml)
    for text in (envelope(result), result.encode("utf-8")):
        fast, _ = defused_fromstring(text)
        assert _canonical(fast) == _canonical(DET.fromstring(text, forbid_dtd=True))
    assert result.count("<") > 40  # a real case reply, not a stub


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, XXE])
def test_fast_parser_keeps_defusedxml_guards(hostile):
    with pytest.raises(DTDForbidden):
        defused_fromstring(hostile)


def test_undefined_entity_is_malformed_not_expanded():
    with pytest.raises(ET.ParseError):
        defused_fromstring(b"<FindCaseResult>&evil;</FindCaseResult>")


def _parse(text: str) -> ET.Element:
    return safe_fromstring(text, what="message", message_type="FindCase", reference="r")


def test_namespaced_names_are_stripped_plain_ones_untouched():
    plain = _parse('<FindCaseResult><Case Code="A"/></FindCaseResult>')
    assert (plain.tag, plain[0].tag, plain[0].attrib) == ("FindCaseResult", "Case", {"Code": "A"})
    namespaced = _parse(
        '<r:FindCaseResult xmlns:r="urn:odyssey" xmlns:a="urn:attr"><r:Case a:Code="B" '
        'xml:lang="es"/></r:FindCaseResult>'
    )
    case = namespaced[0]
    assert (namespaced.tag, case.tag) == ("FindCaseResult", "Case")
    assert case.attrib == {"Code": "B", "lang": "es"}
    only_xml_prefix = _parse('<FindCaseResult xml:lang="en"/>')
    assert only_xml_prefix.attrib == {"lang": "en"}


# --- TLS: the pool's connections verify certificates ------------------------------------------
def _self_signed(tmp_path) -> tuple[str, str]:
    """A throwaway self-signed certificate for 127.0.0.1 (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odyssey-sim")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(LOOPBACK)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "sim.pem", tmp_path / "sim.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_sim(tmp_path):
    """The simulator served over TLS on loopback (its ``ssl_context``)."""
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with OdysseySimulator(parties=120, seed=11, anchor=ANCHOR, ssl_context=context) as sim:
        yield sim, cert


def test_tls_calls_verify_the_certificate_and_keep_connections(tls_sim):
    sim, ca_bundle = tls_sim
    base_url = sim.base_url
    assert base_url.startswith("https://")
    cases = sorted(sim.county.cases, key=int)[:6]

    async def go(verify):
        async with make_client(base_url, concurrency=2, verify=verify, max_attempts=1) as client:
            results = await asyncio.gather(
                *(client.call(M.find_case(case_id=c)) for c in cases), return_exceptions=True
            )
            return results, client.connections["opened"]

    trusted, opened = asyncio.run(go(ca_bundle))
    assert [parse_case(r, sim.zone).case["case_id"] for r in trusted] == cases
    assert 1 <= opened <= 2
    untrusted, _ = asyncio.run(go(True))  # system/certifi CAs do not know this certificate
    assert all(isinstance(r, OdysseyTransportError) for r in untrusted)
    assert all(r.code == "CONNECTION" and "ConnectError" in str(r) for r in untrusted)


# --- dispatch: the queue, urgent requests, cancelled callers ----------------------------------
def _find_case_bytes(case_id: str) -> bytes:
    return M.soap_envelope(M.find_case(case_id=case_id), CREDS.site_key)


async def until(condition) -> None:
    """Yield to the loop until ``condition()`` holds (a state, not a duration)."""
    for _ in range(100_000):
        if condition():
            return
        await asyncio.sleep(0.0005)
    raise AssertionError("condition never held")


def test_urgent_requests_jump_the_queue_and_cancelled_ones_are_never_sent(sim):
    sim.set_faults(latency_ms=50)
    cases = sorted(sim.county.cases, key=int)[:3]
    order: list[str] = []

    async def go():
        async with make_client(sim.base_url, concurrency=1) as client:

            async def one(request, label: str) -> None:
                await client.call(request)
                order.append(label)

            gate = client.gate
            first = asyncio.ensure_future(one(M.find_case(case_id=cases[0]), cases[0]))
            await until(lambda: gate.in_flight == 1)  # the first holds the only slot
            queued = [asyncio.ensure_future(one(M.find_case(case_id=c), c)) for c in cases[1:]]
            dropped = asyncio.ensure_future(one(M.find_case(case_id="0"), "0"))
            urgent = asyncio.ensure_future(one(M.find_parties(page_number=1, page_size=10), "page"))
            await until(lambda: len(gate._normal) == 3 and len(gate._urgent) == 1)
            assert sum(sim.log.by_type.values()) <= 1  # nothing queued has been sent
            dropped.cancel()  # still queued: it must never reach the server
            await asyncio.gather(first, *queued, urgent)
            return client.connections["opened"], client.gate.stats.peak_in_flight

    opened, peak = asyncio.run(go())
    assert order == [cases[0], "page", cases[1], cases[2]]
    assert (opened, peak) == (1, 1)
    assert (FC.value, "0") not in sim.log.by_key
    assert sum(sim.log.by_type.values()) == 4


def test_a_caller_cancelled_in_flight_frees_its_slot(sim):
    sim.set_faults(latency_ms=100)
    cases = sorted(sim.county.cases, key=int)[:2]

    async def go():
        async with make_client(sim.base_url, concurrency=1) as client:
            gone = asyncio.ensure_future(client.call(M.find_case(case_id=cases[0])))
            await until(lambda: sim.log.in_flight == 1)  # arrived, waiting out its latency
            gone.cancel()
            root = await client.call(M.find_case(case_id=cases[1]))  # queued behind it
            return root, client.connections["opened"]

    root, opened = asyncio.run(go())
    assert parse_case(root, sim.zone).case["case_id"] == cases[1]
    assert opened == 2  # httpx closes a connection whose reply was abandoned; a new one serves
    assert sim.log.by_key[(FC.value, cases[0])] == 1


def test_refused_connection_fails_the_call_and_frees_the_slot():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes

    async def go():
        async with make_client(f"http://127.0.0.1:{port}", concurrency=1, max_attempts=2) as c:
            results = await asyncio.gather(
                *(c.call(M.find_case(case_id=str(i))) for i in range(3)),
                return_exceptions=True,
            )
            return results, c.stats, c.gate.in_flight

    results, stats, active = asyncio.run(go())
    assert all(isinstance(r, OdysseyTransportError) and r.code == "CONNECTION" for r in results)
    assert stats.calls == 6 and active == 0  # every attempt made, no slot left held


def test_gate_starts_slow_doubles_per_clean_round_and_stops_at_the_first_throttle():
    """4 slots, 8 after 4 clean replies, 16 (the maximum) after 8 more; after a throttle the
    limit halves and grows by one per round again (AIMD), never doubling."""

    async def go():
        gate = Gate(16)
        limits = [gate.limit]
        for _ in range(2):  # two clean rounds: every slot granted, then released ok
            for _ in range(gate.limit):
                await gate.acquire()
            assert gate._free() is False  # the round's slots are all taken
            for _ in range(gate.limit):
                gate.release(ok=True)
            limits.append(gate.limit)
        gate.throttled(0.0)
        limits.append(gate.limit)
        for _ in range(gate.limit):
            await gate.acquire()
        for _ in range(gate.limit):
            gate.release(ok=True)
        limits.append(gate.limit)
        return limits, gate.stats.peak_in_flight

    limits, peak = asyncio.run(go())
    assert limits == [4, 8, 16, 8, 9] and peak == 8


def test_a_known_rate_steps_down_by_one_per_429_at_most():
    """A 429 that sees few sends in its second (right after a pause) must not teach a rate far
    below the server's: the first 429 learns 20 - 1 = 19 from 20 sends, a later one at most
    one less."""

    async def go():
        gate = Gate(32)
        gate.limit = 32
        for _ in range(20):
            sent_at = await gate.acquire()
            gate.release(ok=True)
        gate.throttled(0.0, sent_at)  # 20 sends in the second before: the server allows 19
        first = gate.stats.rate
        later = await gate.acquire()
        gate.release(ok=False)
        gate._sent.clear()  # as after a long pause: nothing sent in the second before
        gate.throttled(0.0, later)
        return first, gate.stats.rate

    assert asyncio.run(go()) == (19, 18)

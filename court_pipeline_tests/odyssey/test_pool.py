"""The client's one connection pool and fast hardened parser, against the real simulator."""

from __future__ import annotations

import asyncio
import ssl
import threading
import xml.etree.ElementTree as ET  # noqa: S405 - serialising trees for comparison only
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from ipaddress import IPv4Address

import defusedxml.ElementTree as DET
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from defusedxml import DTDForbidden

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey import messages as M
from court_pipeline.odyssey.client import KeepAlivePool
from court_pipeline.odyssey.errors import OdysseyApplicationError, OdysseyTransportError
from court_pipeline.odyssey.parse import (
    _strip_namespaces,
    defused_fromstring,
    parse_case,
    safe_fromstring,
)
from court_pipeline.odyssey.simulator import BILLION_LAUGHS, XXE, _Handler, envelope

from .conftest import make_client

FC = E.MessageType.FIND_CASE
LOOPBACK = IPv4Address("127.0.0.1")


def test_concurrent_calls_share_a_few_keep_alive_connections(shared_sim):
    cases = sorted(shared_sim.county.cases, key=int)[:40]

    async def go():
        async with make_client(shared_sim.base_url, concurrency=4) as client:
            roots = await asyncio.gather(*(client.call(M.find_case(case_id=c)) for c in cases))
            return roots, client.pool.opened, client.stats.calls

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
            return first, second, client.pool.opened, client.stats

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
            return err.value, root, client.pool.opened, client.stats

    err, root, opened, stats = asyncio.run(go())
    assert err.code == "TIMEOUT" and "ReadTimeout" in str(err)
    assert parse_case(root, sim.zone).case["case_id"] == case_id
    assert stats.calls == 3 and stats.errors == {"TIMEOUT": 2}
    assert opened == 3  # a connection with a reply still owed is never handed out again


def test_pool_waits_for_a_free_connection_then_times_out(sim):
    url = sim.base_url + E.SERVICE_PATH  # GET is answered 405 without auth: a cheap exchange
    short = {"timeout": {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 0.05}}

    async def go():
        pool = KeepAlivePool(1)
        held = await pool.handle_async_request(httpx.Request("GET", url, extensions=short))
        with pytest.raises(httpx.PoolTimeout):
            await pool.handle_async_request(httpx.Request("GET", url, extensions=short))
        await held.aread()
        await held.aclose()  # frees the slot and keeps the connection
        again = await pool.handle_async_request(httpx.Request("GET", url, extensions=short))
        body = await again.aread()
        await again.aclose()
        await pool.aclose()
        return held.status_code, again.status_code, body, pool.opened

    held_status, again_status, body, opened = asyncio.run(go())
    assert (held_status, again_status, body) == (405, 405, b"POST only")
    assert opened == 1


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
def tls_sim(sim, tmp_path):
    """The simulator's own request handler served over TLS on loopback."""
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("TLSHandler", (_Handler,), {"sim": sim}))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_tls_calls_verify_the_certificate_and_keep_connections(tls_sim, sim):
    base_url, ca_bundle = tls_sim
    cases = sorted(sim.county.cases, key=int)[:6]

    async def go(verify):
        async with make_client(base_url, concurrency=2, verify=verify, max_attempts=1) as client:
            results = await asyncio.gather(
                *(client.call(M.find_case(case_id=c)) for c in cases), return_exceptions=True
            )
            return results, client.pool.opened

    trusted, opened = asyncio.run(go(ca_bundle))
    assert [parse_case(r, sim.zone).case["case_id"] for r in trusted] == cases
    assert 1 <= opened <= 2
    untrusted, _ = asyncio.run(go(True))  # system/certifi CAs do not know this certificate
    assert all(isinstance(r, OdysseyTransportError) for r in untrusted)
    assert all(r.code == "CONNECTION" and "ConnectError" in str(r) for r in untrusted)

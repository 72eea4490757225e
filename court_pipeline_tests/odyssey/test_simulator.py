"""The asyncio simulator on loopback: every fault kind, latency as a timer, HTTP/1.1 framing,
render caching; and the client's pool against reply framings the simulator does not use."""

from __future__ import annotations

import asyncio
import base64
import gzip
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey import messages as M
from court_pipeline.odyssey.errors import OdysseyTransportError
from court_pipeline.odyssey.parse import (
    parse_case,
    parse_fault,
    parse_find_parties,
    parse_hearings,
    parse_reply,
)
from court_pipeline.odyssey.simulator import GARBAGE, OdysseySimulator, envelope

from .conftest import ANCHOR, CREDS, make_client

FC = E.MessageType.FIND_CASE
AUTH = "Basic " + base64.b64encode(f"{CREDS.username}:{CREDS.password}".encode()).decode()


def _post_bytes(body: bytes, *, connection: str = "keep-alive", auth: str = AUTH) -> bytes:
    head = (
        f"POST {E.SERVICE_PATH} HTTP/1.1\r\nHost: sim\r\nAuthorization: {auth}\r\n"
        f"Content-Type: {E.CONTENT_TYPE}\r\nConnection: {connection}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _read_replies(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Read ``count`` Content-Length framed replies off a raw socket."""
    data, out = b"", []
    while len(out) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        while b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            length = int(headers["content-length"])
            if len(rest) < length:
                break
            out.append((int(lines[0].split()[1]), headers, rest[:length]))
            data = rest[length:]
    return out


def _case_body(case_id: str) -> bytes:
    return M.soap_envelope(M.find_case(case_id=case_id), CREDS.site_key)


@pytest.mark.parametrize("kind", ["429", "5xx", "soap_fault", "garbage", "site_busy", "drop"])
def test_each_fault_rate_injects_its_fault(sim, kind):
    rate = {"5xx": "rate_5xx", "soap_fault": "rate_soap_fault", "garbage": "rate_garbage"}
    sim.set_faults(**{rate.get(kind, f"rate_{kind}"): 1.0}, retry_after_seconds=7, latency_ms=5)
    case_id = next(iter(sim.county.cases))
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
        sock.sendall(_post_bytes(_case_body(case_id)))
        replies = _read_replies(sock, 1)
    assert sim.log.faults == {kind: 1} and sim.log.by_key[(FC.value, case_id)] == 1
    if kind == "drop":
        assert replies == []  # the connection closed without an answer
        return
    [(status, headers, body)] = replies
    if kind == "429":
        assert (status, headers["retry-after"]) == (429, "7")
    elif kind == "5xx":
        assert status == 503
    elif kind == "soap_fault":
        fault = parse_fault(body, message_type=FC.value, reference="r")
        assert status == 500 and fault is not None and fault.faultcode == "soap:Server"
    elif kind == "garbage":
        assert status == 200 and body in GARBAGE
    else:
        assert status == 200 and b"SITE_BUSY" in body


def test_keep_alive_pipelined_requests_are_answered_in_order(sim):
    cases = sorted(sim.county.cases, key=int)[:3]
    requests = [M.find_case(case_id=c) for c in cases]
    payload = b"".join(_post_bytes(M.soap_envelope(r, CREDS.site_key)) for r in requests)
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
        sock.sendall(payload)  # three requests in one write, one connection
        replies = _read_replies(sock, 3)
    assert [status for status, _, _ in replies] == [200, 200, 200]
    got = [
        parse_case(parse_reply(body, FC, r.reference), sim.zone).case["case_id"]
        for (_, _, body), r in zip(replies, requests, strict=True)
    ]
    assert got == cases


def test_http_errors_and_connection_close(sim):
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: sim\r\n\r\n")
        sock.sendall(_post_bytes(b"<not-soap/>"))
        sock.sendall(_post_bytes(_case_body("1"), auth="Basic d3Jvbmc6d3Jvbmc="))
        sock.sendall(_post_bytes(_case_body("1"), connection="close"))
        replies = _read_replies(sock, 4)
        assert sock.recv(10) == b""  # closed after the Connection: close request
    assert [status for status, _, _ in replies] == [405, 400, 401, 200]
    assert replies[2][1]["www-authenticate"] == 'Basic realm="Odyssey"'
    assert sim.log.unauthorized == 1


def test_latency_is_a_timer_not_a_blocked_worker(sim):
    """32 requests on 32 connections, sent at once (bare exchanges, past the client's gate):
    the simulator holds all 32 in their latency wait at the same time, not one after another."""
    sim.set_faults(latency_ms=1000)
    cases = sorted(sim.county.cases, key=int)[:32]

    async def go():
        async with make_client(sim.base_url, concurrency=32) as client:
            bodies = [M.soap_envelope(M.find_case(case_id=c), CREDS.site_key) for c in cases]
            replies = await asyncio.gather(
                *(client._exchange(body, "FindCase", "overlap") for body in bodies)
            )
            return [status for status, _, _, _ in replies], client.connections["opened"]

    statuses, opened = asyncio.run(go())
    assert statuses == [200] * 32 and opened == 32
    assert sim.log.peak_in_flight == 32 and sim.log.in_flight == 0


def test_rendered_replies_follow_mutations(sim):
    sim.prerender()
    party_id = sim.find_party_ids(None, None, None)[3]

    def phones() -> list[str]:
        _, _, ref, result = sim.handle_message(
            M.find_parties(page_number=1, page_size=500).message_xml
        )
        root = parse_reply(envelope(result), E.MessageType.FIND_PARTIES, ref)
        page = parse_find_parties(root, sim.zone)
        return [p["raw_value"] for p in page.phones if p["party_id"] == party_id]

    before = phones()
    sim.add_phone(party_id, "(713) 555-0100", "Cell")
    assert phones() == [*before, "(713) 555-0100"]


def test_a_phone_change_replaces_the_whole_list_over_http(sim):
    party_id = sim.find_party_ids(None, None, None)[5]
    sim.add_phone(party_id, "(713) 555-0100", "Cell")
    sim.replace_phones(party_id, [("Home", "713.555.0101"), ("Fax", "713-555-0102")])

    async def go():
        async with make_client(sim.base_url) as client:
            return await client.call(M.find_parties(page_number=1, page_size=500))

    page = parse_find_parties(asyncio.run(go()), sim.zone)
    assert [(p["label"], p["raw_value"]) for p in page.phones if p["party_id"] == party_id] == [
        ("Home", "713.555.0101"),
        ("Fax", "713-555-0102"),
    ]


def test_a_reset_leaves_the_old_hearing_and_creates_a_new_one_over_http(sim):
    county = sim.county
    hid = next(
        h
        for h, x in county.hearings.items()
        if x.status == "Scheduled" and county.hearing_start(x).date() > ANCHOR
    )
    case_id = county.hearings[hid].case_id
    party_id = next(p for p, code, _ in county.cases[case_id].parties if code == "DEF")
    old_start = county.hearing_start(county.hearings[hid])
    new_start = datetime.combine(
        old_start.date() + timedelta(days=14), datetime.min.time()
    ).replace(hour=13, minute=30)
    new_id = sim.reschedule_hearing(hid, new_start)
    moved_id = next(
        h
        for h, x in county.hearings.items()
        if x.status == "Scheduled"
        and h not in (hid, new_id)
        and county.hearing_start(x).date() > ANCHOR
    )
    sim.move_hearing(moved_id, new_start)

    async def go():
        async with make_client(sim.base_url) as client:
            return await client.call(
                M.get_scheduled_hearings(party_id, ANCHOR, ANCHOR + timedelta(days=400))
            )

    reply = parse_hearings(asyncio.run(go()), sim.zone, party_id, datetime.now(UTC))
    got = {h["hearing_id"]: (h["status"], h["start_local"], h["case_id"]) for h in reply.hearings}
    assert new_id != hid
    assert got[hid] == ("Reset", old_start, case_id)  # still at its old date
    assert got[new_id] == ("Scheduled", new_start, case_id)  # the new date, a new HearingID
    assert county.hearings[moved_id].status == "Scheduled"
    assert county.hearing_start(county.hearings[moved_id]) == new_start


def test_queued_calls_wait_for_a_slot_without_timing_out(sim):
    sim.set_faults(latency_ms=100)
    cases = sorted(sim.county.cases, key=int)[:6]

    async def go():
        async with make_client(sim.base_url, concurrency=1, timeout_seconds=0.3) as client:
            roots = await asyncio.gather(*(client.call(M.find_case(case_id=c)) for c in cases))
            return roots, client.stats

    roots, stats = asyncio.run(go())  # 0.6 s of queueing, a 0.3 s timeout per exchange
    assert [parse_case(r, sim.zone).case["case_id"] for r in roots] == cases
    assert stats.calls == 6 and stats.errors == {}


# --- reply framings a real gateway may use: chunked bodies, gzip ---------------------------
async def _reframing_server(sim: OdysseySimulator, mode: str) -> asyncio.Server:
    """A loopback server answering with the simulator's reply, re-framed per ``mode``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            body = await reader.readexactly(int(headers["content-length"]))
            reply, pending = sim.accept("POST", E.SERVICE_PATH, headers["authorization"], body)
            reply = reply or sim.finish(pending)
            payload, extra = reply.body, ""
            if mode == "gzip":
                payload, extra = gzip.compress(payload), "Content-Encoding: gzip\r\n"
            if mode == "close":
                extra = "Connection: close\r\n"
            if mode == "chunked":
                size = len(payload) // 3 + 1
                parts = [payload[i : i + size] for i in range(0, len(payload), size)]
                framed = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts)
                writer.write(
                    f"HTTP/1.1 {reply.status} OK\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                )
                for piece in (framed, b"0\r\nX-Trailer: 1\r\n\r\n"):
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.005)  # arrives in pieces
            else:
                writer.write(
                    f"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 {reply.status} OK\r\n{extra}"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
            await writer.drain()
            if mode == "close":
                writer.close()
                return

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize("mode", ["chunked", "gzip", "close"])
def test_client_reads_chunked_gzip_and_closing_replies(sim, mode):
    cases = sorted(sim.county.cases, key=int)[:4]

    async def go():
        server = await _reframing_server(sim, mode)
        port = server.sockets[0].getsockname()[1]
        async with make_client(f"http://127.0.0.1:{port}", concurrency=2) as client:
            roots = [await client.call(M.find_case(case_id=c)) for c in cases]
            opened = client.connections["opened"]
        server.close()
        return roots, opened

    roots, opened = asyncio.run(go())
    assert [parse_case(r, sim.zone).case["case_id"] for r in roots] == cases
    assert opened == (4 if mode == "close" else 1)  # keep-alive unless the server closes


def test_reply_cut_short_is_a_retryable_connection_error(sim):
    async def go():
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<soap:Env")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with make_client(f"http://127.0.0.1:{port}", max_attempts=2) as client:
            with pytest.raises(OdysseyTransportError) as err:
                await client.call(M.find_case(case_id="1"))
            stats = client.stats
        server.close()
        return err.value, stats

    err, stats = asyncio.run(go())
    assert err.code == "CONNECTION" and err.retryable
    assert stats.calls == 2 and stats.errors == {"CONNECTION": 2}


def test_cli_simulator_prerenders_every_reply():
    sim = OdysseySimulator(parties=60, seed=3, anchor=ANCHOR)
    sim.prerender()
    assert {k for k, *_ in sim._render_cache} == {"party", "case"}
    assert len(sim._render_cache) == len(sim.county.parties) + len(sim.county.cases)
    sim.cancel_hearing(next(iter(sim.county.hearings)))
    assert sim._render_cache == {}  # a mutation drops every rendered reply


def test_simulators_share_one_serving_thread_and_stop_independently():
    sims = [OdysseySimulator(parties=30, seed=s, anchor=ANCHOR) for s in (1, 2, 3)]
    for s in sims:
        s.start()
    serving = [t for t in threading.enumerate() if t.name == "odyssey-sim"]
    assert len(serving) == 1 and len({s.port for s in sims}) == 3
    sims[0].stop()
    with pytest.raises(OSError):  # stopped: nothing listens on its port any more
        socket.create_connection(("127.0.0.1", sims[0].port), timeout=2).close()
    case_id = next(iter(sims[1].county.cases))
    root, _ = _call_once(sims[1], case_id)
    assert parse_case(root, sims[1].zone).case["case_id"] == case_id
    with pytest.raises(OSError):  # a taken port is reported by start()
        OdysseySimulator(parties=30, seed=9, anchor=ANCHOR, port=sims[2].port).start()
    for s in sims[1:]:
        s.stop()


def _call_once(sim: OdysseySimulator, case_id: str):
    async def go():
        async with make_client(sim.base_url) as client:
            return await client.call(M.find_case(case_id=case_id)), client.stats

    return asyncio.run(go())

"""Request building: the spec's envelope, a fresh ReferenceNumber, and read-only by construction."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import date, datetime

import defusedxml.ElementTree as DET
import pytest

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey import messages as M
from court_pipeline.odyssey.errors import ReadOnlyViolation

from .conftest import make_client


def test_envelope_matches_spec():
    req = M.find_parties(
        page_number=2,
        page_size=50,
        hearing_date_from=date(2026, 11, 22),
        hearing_date_to=date(2027, 2, 20),
        modified_since=datetime(2026, 11, 21, 0, 0),
    )
    body = M.soap_envelope(req, "HARRISJP")
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert b'<OdysseyMsgExecution xmlns="http://tylertech.com/">' in body
    assert b'&lt;Message MessageType="FindParties"' in body
    env = DET.fromstring(body)
    op = env.find(f"{{{E.SOAP_ENV_NS}}}Body/{{{E.TYLER_NS}}}OdysseyMsgExecution")
    assert op.find(f"{{{E.TYLER_NS}}}siteKey").text == "HARRISJP"
    msg = DET.fromstring(op.find(f"{{{E.TYLER_NS}}}message").text)
    assert msg.get("MessageType") == "FindParties"
    assert msg.get("NodeID") == "1" and msg.get("Source") == "court_pipeline"
    assert uuid.UUID(hex=msg.get("ReferenceNumber")).version == 4
    assert [(c.tag, c.text) for c in msg] == [
        ("HearingDateFrom", "2026-11-22"),
        ("HearingDateTo", "2027-02-20"),
        ("ModifiedSince", "2026-11-21T00:00:00"),
        ("PageSize", "50"),
        ("PageNumber", "2"),
    ]


def test_reference_number_is_fresh_per_call():
    refs = {M.find_case(case_id="1").reference for _ in range(50)}
    assert len(refs) == 50


def test_only_read_only_types_exist():
    assert {m.value for m in E.MessageType} == {
        "FindParties",
        "GetScheduledHearingsByPartyID",
        "FindCase",
    }
    with pytest.raises(ValueError):
        E.MessageType("SavePartyPhone")


def test_forged_requests_are_refused_before_send(shared_sim):
    legit = M.find_case(case_id="5550001")
    forged_type = dataclasses.replace(legit, message_type="UpdateCase")  # type: ignore[arg-type]
    forged_body = dataclasses.replace(
        legit, message_xml=legit.message_xml.replace('"FindCase"', '"SavePartyPhone"')
    )
    smuggled = dataclasses.replace(
        legit, message_xml=legit.message_xml + '<Message MessageType="DeleteCase"/>'
    )
    for bad in (forged_type, forged_body, smuggled):
        with pytest.raises(ReadOnlyViolation):
            M.assert_read_only(bad)

    before = sum(shared_sim.log.by_type.values())

    async def send_all():
        async with make_client(shared_sim.base_url) as client:
            for bad in (forged_type, forged_body, smuggled):
                with pytest.raises(ReadOnlyViolation):
                    await client.call(bad)
            assert client.stats.calls == 0

    asyncio.run(send_all())
    assert sum(shared_sim.log.by_type.values()) == before  # nothing reached the server
    assert shared_sim.log.message_types_seen <= E.READ_ONLY_MESSAGE_TYPES

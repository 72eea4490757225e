"""Parsing: hostile and malformed XML, error replies, namespaces, dates and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

import pytest

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.errors import OdysseyApplicationError, OdysseyReplyError, SoapFault
from court_pipeline.odyssey.parse import (
    is_ambiguous,
    is_nonexistent,
    normalize_language,
    parse_find_parties,
    parse_local_datetime,
    parse_reply,
)
from court_pipeline.odyssey.simulator import BILLION_LAUGHS, XXE, envelope, fault_envelope

from .conftest import ZONE

FP = E.MessageType.FIND_PARTIES


def test_billion_laughs_in_message_is_refused_with_clear_error():
    with pytest.raises(OdysseyReplyError) as err:
        parse_reply(envelope(BILLION_LAUGHS), FP, "ref-123")
    assert err.value.code == "HOSTILE_XML" and not err.value.retryable
    assert "FindParties ref ref-123" in str(err.value) and "hostile XML" in str(err.value)


def test_external_entity_is_refused():
    with pytest.raises(OdysseyReplyError) as err:
        parse_reply(envelope(XXE), FP, "r")
    assert err.value.code == "HOSTILE_XML"
    assert "root:" not in str(err.value)


def test_dtd_in_envelope_is_refused():
    body = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "http://127.0.0.1:1/x">]>'
        + envelope("<FindPartiesResult/>").split(b"?>", 1)[1]
    )
    with pytest.raises(OdysseyReplyError) as err:
        parse_reply(body, FP, "r")
    assert err.value.code == "HOSTILE_XML"


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>502</body></html>", b"<soap:Env", b"\x00\xff garbage"]
)
def test_malformed_replies_are_retryable_reply_errors(body):
    with pytest.raises(OdysseyReplyError) as err:
        parse_reply(body, FP, "r9")
    assert err.value.retryable
    assert err.value.code in ("MALFORMED_XML",)
    assert "ref r9" in str(err.value)


def test_error_replies_map_to_codes():
    def error(code):
        return envelope(
            f"<Error><Code>{code}</Code><Message>m</Message>"
            f"<ReferenceNumber>r</ReferenceNumber></Error>"
        )

    for code, retryable in [
        ("SITE_BUSY", True),
        ("INVALID_MESSAGE", False),
        ("CASE_NOT_FOUND", False),
        ("PARTY_NOT_FOUND", False),
    ]:
        with pytest.raises(OdysseyApplicationError) as err:
            parse_reply(error(code), FP, "r")
        assert err.value.code == code and err.value.retryable is retryable


def test_soap_fault_in_200_raises_fault():
    with pytest.raises(SoapFault) as err:
        parse_reply(fault_envelope("soap:Server", "boom"), FP, "r")
    assert err.value.retryable and "boom" in str(err.value)


def test_namespaces_are_ignored_and_fields_parsed():
    inner = (
        '<FindPartiesResult xmlns="urn:site:odyssey"><ReferenceNumber>r</ReferenceNumber>'
        "<TotalResults>1</TotalResults><PageNumber>1</PageNumber><PageSize>200</PageSize>"
        "<Parties><Party><PartyID>100234</PartyID><Name><First>MARÍA</First><Middle>L</Middle>"
        "<Last>DE LA CRUZ</Last><Suffix/></Name><BusinessName/>"
        "<DateOfBirth>04/17/1990</DateOfBirth><Sex>F</Sex><Race>W</Race><Ethnicity>H</Ethnicity>"
        "<PreferredLanguage>Spanish</PreferredLanguage><InterpreterNeeded>true</InterpreterNeeded>"
        '<Phones><Phone Type="Cell">(713) 555-0142</Phone></Phones>'
        "<Emails><Email>maria@example.com</Email></Emails>"
        "<Address><Line1>1 Main St</Line1><City>Houston</City><State>TX</State><Zip>77002</Zip>"
        "</Address><SmsOptOut>false</SmsOptOut><CaseParties><CaseParty><CaseID>5550001</CaseID>"
        '<CaseNumber>CR-26-000123</CaseNumber><Connection Code="DEF">Defendant</Connection>'
        "</CaseParty></CaseParties><ModifiedDate>11/21/2026 04:12 PM</ModifiedDate></Party>"
        "</Parties></FindPartiesResult>"
    )
    root = parse_reply(envelope(inner), FP, "r")
    page = parse_find_parties(root, ZONE)
    party = page.parties[0]
    assert party["first_name"] == "MARÍA" and party["last_name"] == "DE LA CRUZ"
    assert party["suffix"] is None and party["business_name"] is None
    assert party["date_of_birth"] == date(1990, 4, 17)
    assert party["preferred_language"] == "es" and party["interpreter_needed"] is True
    assert party["sms_opt_out"] is False
    assert party["source_modified_at"].astimezone(UTC) == datetime(2026, 11, 21, 22, 12, tzinfo=UTC)
    assert page.phones == [
        {
            "party_id": "100234",
            "raw_value": "(713) 555-0142",
            "label": "Cell",
            "source_modified_at": party["source_modified_at"],
        }
    ]
    assert page.case_parties[0]["role"] == "Defendant"
    assert page.case_parties[0]["role_code"] == "DEF"


def test_bad_party_is_rejected_not_lost():
    inner = (
        "<FindPartiesResult><TotalResults>2</TotalResults><Parties>"
        "<Party><PartyID>1</PartyID><DateOfBirth>31/31/1990</DateOfBirth></Party>"
        "<Party><PartyID>2</PartyID></Party></Parties></FindPartiesResult>"
    )
    page = parse_find_parties(parse_reply(envelope(inner), FP, "r"), ZONE)
    assert [p["party_id"] for p in page.parties] == ["2"]
    assert page.rejected[0]["key"] == "1" and "31/31/1990" in page.rejected[0]["reason"]


def test_reply_echoing_other_reference_is_refused():
    with pytest.raises(OdysseyReplyError) as err:
        parse_reply(
            envelope(
                "<FindPartiesResult><ReferenceNumber>other</ReferenceNumber></FindPartiesResult>"
            ),
            FP,
            "mine",
        )
    assert err.value.code == "REFERENCE_MISMATCH"


def test_markup_characters_in_values_survive_both_layers_of_escaping():
    """The result travels as an escaped string inside the envelope, and its values are
    escaped once more inside that string: our parser must undo exactly both layers."""
    business = 'TÍO PEPE\'S <TAQUERÍA> & SONS "LLC"'
    inner = (
        "<FindPartiesResult><TotalResults>1</TotalResults><Parties><Party>"
        f"<PartyID>7</PartyID><BusinessName>{escape(business)}</BusinessName>"
        "</Party></Parties></FindPartiesResult>"
    )
    wire = envelope(inner)
    assert b"&amp;lt;TAQUER" in wire  # doubly escaped on the wire
    page = parse_find_parties(parse_reply(wire, FP, "r"), ZONE)
    assert [p["business_name"] for p in page.parties] == [business]
    assert page.rejected == []


@pytest.mark.parametrize(
    ("text", "utc", "flag"),
    [
        ("11/01/2026 01:30 AM", datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "ambiguous"),  # 1st (CDT)
        ("11/01/2026 09:00 AM", datetime(2026, 11, 1, 15, 0, tzinfo=UTC), None),  # CST after
        # 02:30 does not exist: read as 03:30 CDT
        ("03/14/2027 02:30 AM", datetime(2027, 3, 14, 8, 30, tzinfo=UTC), "nonexistent"),
        ("03/14/2027 09:00 AM", datetime(2027, 3, 14, 14, 0, tzinfo=UTC), None),  # CDT after
        ("03/13/2027 09:00 AM", datetime(2027, 3, 13, 15, 0, tzinfo=UTC), None),  # CST before
        ("12/03/2026 12:00 PM", datetime(2026, 12, 3, 18, 0, tzinfo=UTC), None),
        ("12/03/2026 12:15 AM", datetime(2026, 12, 3, 6, 15, tzinfo=UTC), None),
    ],
)
def test_dst_correct_local_times(text, utc, flag):
    instant, local = parse_local_datetime(text, ZONE)
    assert instant.astimezone(UTC) == utc
    assert local == datetime.strptime(text, "%m/%d/%Y %I:%M %p")
    assert is_ambiguous(local, ZONE) is (flag == "ambiguous")
    assert is_nonexistent(local, ZONE) is (flag == "nonexistent")


def test_language_normalization():
    assert [
        normalize_language(x)
        for x in [
            "Spanish",
            "ENGLISH",
            "Vietnamese",
            "Chinese - Mandarin",
            "Cantonese",
            "es",
            "Kanjobal",
            None,
        ]
    ] == ["es", "en", "vi", "zh", "zh", "es", None, None]

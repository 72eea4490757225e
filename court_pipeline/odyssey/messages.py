"""Request messages: only the three read-only queries can be built, and only they are sent.

Building writes the XML text directly, every value escaped (``xml.sax.saxutils``): the same
text ElementTree's serialiser produced, without its per-call namespace walk (building a
message cost more CPU than sending it). Only *parsing* untrusted XML needs defusedxml.
``assert_read_only`` is called by the client immediately before every HTTP send
and re-reads the serialized message, so not even a hand-made ``OdysseyRequest`` can carry a
message type outside the whitelist.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape, quoteattr

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.errors import ReadOnlyViolation


@dataclass(frozen=True)
class OdysseyRequest:
    """One message ready to send. ``key`` names what it asks for (page, party or case)."""

    message_type: E.MessageType
    reference: str
    message_xml: str
    key: str


def new_reference() -> str:
    """A fresh ReferenceNumber per call, echoed by Odyssey, used to correlate logs."""
    return uuid.uuid4().hex


_FIXED_ATTRS = (
    f" {E.ATTR_NODE_ID}={quoteattr(E.DEFAULT_NODE_ID)}"
    f" {E.ATTR_USER_ID}={quoteattr(E.DEFAULT_USER_ID)}"
)
_SOURCE_ATTR = f" {E.ATTR_SOURCE}={quoteattr(E.DEFAULT_SOURCE)}"


def _build(message_type: E.MessageType, fields: list[tuple[str, str]], key: str) -> OdysseyRequest:
    if message_type.value not in E.READ_ONLY_MESSAGE_TYPES:  # defensive: enum is the whitelist
        raise ReadOnlyViolation(f"message type {message_type!r} is not read-only")
    reference = new_reference()
    head = (
        f"<{E.MESSAGE} {E.ATTR_MESSAGE_TYPE}={quoteattr(message_type.value)}{_FIXED_ATTRS}"
        f" {E.ATTR_REFERENCE}={quoteattr(reference)}{_SOURCE_ATTR}"
    )
    body = "".join(
        f"<{name}>{escape(value)}</{name}>" if value else f"<{name} />" for name, value in fields
    )
    xml = f"{head}>{body}</{E.MESSAGE}>" if body else f"{head} />"
    return OdysseyRequest(message_type, reference, xml, key)


def find_parties(
    *,
    page_number: int,
    page_size: int,
    hearing_date_from: date | None = None,
    hearing_date_to: date | None = None,
    modified_since: datetime | None = None,
) -> OdysseyRequest:
    """FindParties for a hearing window and/or ModifiedSince (court local time, no offset)."""
    if not E.PAGE_SIZE_MIN <= page_size <= E.PAGE_SIZE_MAX:
        raise ValueError(f"page_size must be {E.PAGE_SIZE_MIN}..{E.PAGE_SIZE_MAX}")
    if page_number < 1:
        raise ValueError("page_number is 1-based")
    fields: list[tuple[str, str]] = []
    if hearing_date_from:
        fields.append((E.REQ_HEARING_DATE_FROM, hearing_date_from.strftime(E.REQUEST_DATE_FORMAT)))
    if hearing_date_to:
        fields.append((E.REQ_HEARING_DATE_TO, hearing_date_to.strftime(E.REQUEST_DATE_FORMAT)))
    if modified_since:
        local = modified_since.replace(tzinfo=None)
        fields.append((E.REQ_MODIFIED_SINCE, local.strftime(E.REQUEST_DATETIME_FORMAT)))
    fields += [(E.REQ_PAGE_SIZE, str(page_size)), (E.REQ_PAGE_NUMBER, str(page_number))]
    return _build(E.MessageType.FIND_PARTIES, fields, f"page:{page_number}")


def get_scheduled_hearings(party_id: str, start: date, end: date) -> OdysseyRequest:
    """GetScheduledHearingsByPartyID for one party and the hearing window."""
    fields = [
        (E.REQ_PARTY_ID, str(party_id)),
        (E.REQ_START_DATE, start.strftime(E.REQUEST_DATE_FORMAT)),
        (E.REQ_END_DATE, end.strftime(E.REQUEST_DATE_FORMAT)),
    ]
    return _build(E.MessageType.GET_SCHEDULED_HEARINGS, fields, str(party_id))


def find_case(*, case_id: str | None = None, case_number: str | None = None) -> OdysseyRequest:
    """FindCase by CaseID (preferred: stable) or CaseNumber."""
    if bool(case_id) == bool(case_number):
        raise ValueError("give exactly one of case_id or case_number")
    if case_id:
        return _build(E.MessageType.FIND_CASE, [(E.REQ_CASE_ID, str(case_id))], str(case_id))
    return _build(
        E.MessageType.FIND_CASE, [(E.REQ_CASE_NUMBER, str(case_number))], f"n:{case_number}"
    )


_MESSAGE_TYPE_ATTR = re.compile(r"\b" + E.ATTR_MESSAGE_TYPE + r"\s*=\s*[\"']([^\"']*)[\"']")


def assert_read_only(request: OdysseyRequest) -> None:
    """Refuse to send anything but the three read-only queries (checked right before send)."""
    declared = str(getattr(request.message_type, "value", request.message_type))
    found = _MESSAGE_TYPE_ATTR.findall(request.message_xml)
    if declared not in E.READ_ONLY_MESSAGE_TYPES:
        raise ReadOnlyViolation(f"refusing to send message type {declared!r}: read-only client")
    if (
        len(found) != 1
        or found[0] != declared
        or not request.message_xml.lstrip().startswith("<" + E.MESSAGE)
    ):
        raise ReadOnlyViolation(
            f"refusing to send: message body declares {found or 'no'} MessageType, "
            f"expected exactly {declared!r}"
        )


def soap_envelope(request: OdysseyRequest, site_key: str) -> bytes:
    """The SOAP 1.1 envelope carrying the message as an escaped string, plus the site key."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<soap:Envelope xmlns:soap="{E.SOAP_ENV_NS}">'
        "<soap:Body>"
        f'<{E.OPERATION} xmlns="{E.TYLER_NS}">'
        f"<{E.OPERATION_MESSAGE}>{escape(request.message_xml)}</{E.OPERATION_MESSAGE}>"
        f"<{E.OPERATION_SITE_KEY}>{escape(site_key)}</{E.OPERATION_SITE_KEY}>"
        f"</{E.OPERATION}>"
        "</soap:Body>"
        "</soap:Envelope>"
    ).encode()

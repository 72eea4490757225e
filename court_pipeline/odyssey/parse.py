"""Hardened parsing of Odyssey replies into plain row dicts.

* XML is parsed only with defusedxml, with DTDs, entities and external references forbidden,
  both for the SOAP envelope and for the escaped message inside it. Hostile input raises
  ``OdysseyReplyError`` (code ``HOSTILE_XML``, not retryable) naming the message type and the
  ReferenceNumber; malformed input raises it with code ``MALFORMED_XML`` (retryable: a gateway
  that cut a reply short usually answers properly the next time).
* Namespaces are ignored: every tag is reduced to its local name before anything looks at it.
* Speed: ``DefusedTreeParser`` is defusedxml's parser with its hardening handlers untouched; only
  the per-element callbacks go straight to the C ``TreeBuilder`` instead of through Python
  methods (which cost more CPU than the HTTP call itself at thousands of replies a sync).
* Times: Odyssey sends ``MM/dd/yyyy hh:mm tt`` in court local time without an offset.
  ``local_to_instant`` attaches the court zone with zoneinfo. A wall time that does not exist
  (spring forward, 02:30 on 2027-03-14 in Chicago) is read with the offset in force before the
  gap, i.e. it lands on 03:30 CDT, the moment a clock that was not yet moved forward would
  show 02:30. A wall time that occurs twice (fall back, 01:30 on 2026-11-01) is read as its
  first occurrence (CDT), so a reminder computed from it is never late. ``start_local``
  always keeps the wall time exactly as Odyssey sent it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder  # noqa: S405 - no parsing
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.errors import (
    OdysseyApplicationError,
    OdysseyReplyError,
    SoapFault,
)
from court_pipeline.records.merge import ABSENT_COLUMN

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


# --- XML --------------------------------------------------------------------------------
def _strip_namespaces(root: Element) -> Element:
    for node in root.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.rsplit("}", 1)[1]
        if node.attrib and any("}" in k for k in node.attrib):
            node.attrib = {k.rsplit("}", 1)[-1]: v for k, v in node.attrib.items()}
    return root


class DefusedTreeParser(DET.DefusedXMLParser):
    """defusedxml's parser, DTDs, entity declarations and external references forbidden.

    The expat handlers that refuse those stay exactly as defusedxml installs them. Element
    start/end events are routed to the C ``TreeBuilder`` directly rather than through the
    pure-Python ``XMLParser._start``/``_end`` (a Python frame, a name fix-up and an attribute
    list-to-dict per element): the same tree at about half the CPU. Tags then arrive as
    ``uri}local`` instead of ``{uri}local``, which ``_strip_namespaces`` reduces the same way.
    """

    def __init__(self) -> None:
        super().__init__(
            target=TreeBuilder(), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        self.saw_namespace = False
        expat = self.parser
        expat.ordered_attributes = False  # attributes as a dict, as TreeBuilder.start wants
        expat.StartElementHandler = self.target.start
        expat.EndElementHandler = self.target.end
        expat.StartNamespaceDeclHandler = self._namespace_declared

    def _namespace_declared(self, prefix: str | None, uri: str | None) -> None:
        self.saw_namespace = True


def defused_fromstring(text: str | bytes) -> tuple[Element, bool]:
    """``defusedxml.ElementTree.fromstring(text, forbid_dtd=True)`` on the fast tree path,
    plus whether any name may be namespaced (a declaration was seen, or an ``xml:`` name)."""
    parser = DefusedTreeParser()
    parser.feed(text)
    namespaced = parser.saw_namespace or ("xml:" if isinstance(text, str) else b"xml:") in text
    return parser.close(), namespaced


def safe_fromstring(text: str | bytes, *, what: str, message_type: str, reference: str) -> Element:
    """Parse untrusted XML: no DTD, no entities, no external fetches; namespaces dropped."""
    if isinstance(text, str):
        text = _XML_DECL.sub("", text, count=1)
    try:
        root, namespaced = defused_fromstring(text)
    except DefusedXmlException as exc:
        raise OdysseyReplyError(
            f"hostile XML in the {what} refused ({type(exc).__name__}: DTDs, entities and "
            "external references are not allowed)",
            retryable=False,
            code="HOSTILE_XML",
            message_type=message_type,
            reference=reference,
        ) from None
    except (ParseError, ValueError) as exc:
        raise OdysseyReplyError(
            f"the {what} is not well-formed XML ({exc})",
            retryable=True,
            code="MALFORMED_XML",
            message_type=message_type,
            reference=reference,
        ) from None
    # a result message usually declares no namespace: then no name has one to strip
    return _strip_namespaces(root) if namespaced else root


def _child(node: Element | None, name: str) -> Element | None:
    return None if node is None else node.find(name)


def text(node: Element | None, name: str | None = None) -> str | None:
    """Stripped text of ``node`` (or of its child ``name``); empty -> None."""
    target = node if name is None else _child(node, name)
    if target is None or target.text is None:
        return None
    value = target.text.strip()
    return value or None


def attr(node: Element | None, name: str) -> str | None:
    if node is None:
        return None
    value = (node.get(name) or "").strip()
    return value or None


# --- absent vs empty --------------------------------------------------------------------
class _Absent:
    """The value of a field whose element Odyssey did not send: unknown, not empty."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        cls._instance = cls._instance or super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def ftext(node: Element | None, name: str | None = None) -> Any:
    """Like :func:`text` for a field the merge writes: ABSENT when the element (or its
    parent ``node``) is missing; None when it is present but empty or ``xsi:nil``."""
    target = node if name is None else _child(node, name)
    return ABSENT if target is None else text(target)


def fattr(node: Element | None, name: str) -> Any:
    """An attribute of a field element: ABSENT when the element is missing. On a present
    element a missing attribute is empty (the element is the unit Odyssey sends or not)."""
    return ABSENT if node is None else attr(node, name)


def _keeps_absent(parse: Any) -> Any:
    """Wrap a value parser so ABSENT passes through unparsed."""

    def wrapped(value: Any, *args: Any) -> Any:
        return ABSENT if value is ABSENT else parse(value, *args)

    wrapped.__doc__ = parse.__doc__
    return wrapped


def _absent_if_none(value: Any) -> Any:
    return ABSENT if value is None else value


def finish(row: dict[str, Any]) -> dict[str, Any]:
    """Replace ABSENT values by None and list their columns in ``row['_absent']``
    ('|col|col|', the format records.merge reads), so the merge keeps what it knew."""
    absent = [key for key, value in row.items() if value is ABSENT]
    for key in absent:
        row[key] = None
    row[ABSENT_COLUMN] = "|" + "|".join(absent) + "|" if absent else None
    return row


def parse_fault(body: bytes | str, *, message_type: str, reference: str) -> SoapFault | None:
    """The SoapFault in a reply body, or None when the body holds no soap:Fault."""
    try:
        root = safe_fromstring(
            body, what="SOAP fault", message_type=message_type, reference=reference
        )
    except OdysseyReplyError:
        return None
    fault = next((n for n in root.iter(E.FAULT)), None)
    if fault is None:
        return None
    return SoapFault(
        text(fault, E.FAULT_CODE) or "?",
        (text(fault, E.FAULT_STRING) or "")[:300],
        message_type=message_type,
        reference=reference,
    )


def parse_reply(body: bytes | str, message_type: E.MessageType, reference: str) -> Element:
    """Unwrap a 200 SOAP reply to the message result root (e.g. ``FindPartiesResult``).

    Raises SoapFault, OdysseyApplicationError (an ``<Error>`` reply) or OdysseyReplyError.
    """
    mt = message_type.value
    envelope = safe_fromstring(body, what="SOAP envelope", message_type=mt, reference=reference)
    fault = next((n for n in envelope.iter(E.FAULT)), None)
    if fault is not None:
        raise SoapFault(
            text(fault, E.FAULT_CODE) or "?",
            (text(fault, E.FAULT_STRING) or "")[:300],
            message_type=mt,
            reference=reference,
        )
    result = next((n for n in envelope.iter(E.OPERATION_RESULT)), None)
    if result is None or not (result.text or "").strip():
        raise OdysseyReplyError(
            f"reply has no {E.OPERATION_RESULT} content",
            retryable=True,
            code="MALFORMED_XML",
            message_type=mt,
            reference=reference,
        )
    root = safe_fromstring(result.text, what="result message", message_type=mt, reference=reference)
    if root.tag == E.ERROR:
        code = text(root, E.ERROR_CODE) or "UNKNOWN"
        raise OdysseyApplicationError(
            code,
            (text(root, E.ERROR_MESSAGE) or "")[:300],
            retryable=code in E.RETRYABLE_ERROR_CODES,
            message_type=mt,
            reference=text(root, E.REFERENCE) or reference,
        )
    expected = E.RESULT_ROOT[message_type]
    if root.tag != expected:
        raise OdysseyReplyError(
            f"expected <{expected}>, got <{root.tag}>",
            retryable=False,
            code="UNEXPECTED_REPLY",
            message_type=mt,
            reference=reference,
        )
    echoed = text(root, E.REFERENCE)
    if echoed and echoed != reference:
        raise OdysseyReplyError(
            f"reply echoes ReferenceNumber {echoed}, not ours",
            retryable=True,
            code="REFERENCE_MISMATCH",
            message_type=mt,
            reference=reference,
        )
    return root


# --- values -----------------------------------------------------------------------------
def parse_date(value: str | None) -> date | None:
    """``MM/dd/yyyy`` -> date; empty -> None; anything else raises ValueError."""
    if not value:
        return None
    return _parse_date_text(value.strip())


# strptime costs ~10 us a value and a sync meets the same few hundred dates and session times
# over and over; the results are immutable, so a bounded cache is safe (errors are not cached).
@lru_cache(maxsize=8192)
def _parse_date_text(value: str) -> date:
    return datetime.strptime(value, E.REPLY_DATE_FORMAT).date()


_CANONICAL_LOCAL = re.compile(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d) ([AP])M")


@lru_cache(maxsize=8192)
def _parse_local_text(value: str) -> datetime:
    text = " ".join(value.split()).upper()
    match = _CANONICAL_LOCAL.fullmatch(text)
    if match is not None:  # the shape Odyssey sends: read it without strptime's machinery
        month, day, year, hour, minute, half = match.groups()
        hour12 = int(hour)
        if 1 <= hour12 <= 12:
            try:
                return datetime(
                    int(year),
                    int(month),
                    int(day),
                    hour12 % 12 + (12 if half == "P" else 0),
                    int(minute),
                )
            except ValueError:
                pass  # let strptime raise its own message
    return datetime.strptime(text, E.REPLY_DATETIME_FORMAT)


def local_to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """Court wall time -> aware instant (gap: pre-transition offset; overlap: first)."""
    return local.replace(tzinfo=zone, fold=0)


def is_nonexistent(local: datetime, zone: ZoneInfo) -> bool:
    """True for a wall time skipped by a spring-forward gap."""
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local


def is_ambiguous(local: datetime, zone: ZoneInfo) -> bool:
    """True for a wall time that occurs twice (fall back); gap times are not ambiguous."""
    differs = (
        local.replace(tzinfo=zone, fold=0).utcoffset()
        != local.replace(tzinfo=zone, fold=1).utcoffset()
    )
    return differs and not is_nonexistent(local, zone)


def parse_local_datetime(
    value: str | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """``MM/dd/yyyy hh:mm tt`` -> (aware instant, naive wall time). Empty -> (None, None)."""
    if not value:
        return None, None
    local = _parse_local_text(value)
    return local_to_instant(local, zone), local


def parse_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    low = value.strip().lower()
    if low in E.TRUE_VALUES:
        return True
    if low in E.FALSE_VALUES:
        return False
    return None


def parse_money(value: str | None) -> float | None:
    if not value:
        return None
    return round(float(value.replace("$", "").replace(",", "")), 2)


def parse_int(value: str | None) -> int | None:
    return int(value) if value else None


fdate = _keeps_absent(parse_date)
fmoney = _keeps_absent(parse_money)
fint = _keeps_absent(parse_int)
fbool = _keeps_absent(parse_bool)


def normalize_language(value: str | None) -> str | None:
    """Odyssey language text -> ISO 639-1 ('Spanish' -> 'es'); unknown -> None."""
    if not value:
        return None
    low = " ".join(value.strip().lower().split())
    if low in E.LANGUAGE_CODES:
        return E.LANGUAGE_CODES[low]
    if len(low) == 2 and low.isalpha() and low in set(E.LANGUAGE_CODES.values()):
        return low
    return None


# --- FindParties ------------------------------------------------------------------------
@dataclass
class PartiesPage:
    total_results: int
    page_number: int
    page_size: int
    parties: list[dict[str, Any]] = field(default_factory=list)
    phones: list[dict[str, Any]] = field(default_factory=list)  # party_id, raw_value, label
    emails: list[dict[str, Any]] = field(default_factory=list)
    case_parties: list[dict[str, Any]] = field(default_factory=list)
    # (party_id, kind) of every <Phones>/<Emails> list a party carried: the full current list
    contact_lists: list[dict[str, str]] = field(default_factory=list)
    unknown_languages: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)  # kind, key, reason


def parse_find_parties(root: Element, zone: ZoneInfo) -> PartiesPage:
    page = PartiesPage(
        total_results=parse_int(text(root, E.TOTAL_RESULTS)) or 0,
        page_number=parse_int(text(root, E.PAGE_NUMBER)) or 1,
        page_size=parse_int(text(root, E.PAGE_SIZE)) or 0,
    )
    for position, node in enumerate(root.iterfind(f"{E.PARTIES}/{E.PARTY}"), start=1):
        party_id = text(node, E.PARTY_ID)
        try:
            if not party_id:
                raise ValueError("the <Party> has no PartyID")
            _parse_party(node, party_id, zone, page)
        except ValueError as exc:
            key = party_id or f"page {page.page_number} position {position}"
            page.rejected.append({"kind": "party", "key": key, "reason": str(exc)})
    return page


def _parse_party(node: Element, party_id: str, zone: ZoneInfo, page: PartiesPage) -> None:
    """One <Party>: rows are appended only once every field parsed (all or nothing)."""
    modified, _ = parse_local_datetime(text(node, E.MODIFIED_DATE), zone)
    name = _child(node, E.NAME)
    address = _child(node, E.ADDRESS)
    language_raw = ftext(node, E.PREFERRED_LANGUAGE)
    language = ABSENT if language_raw is ABSENT else normalize_language(language_raw)
    if language_raw and language_raw is not ABSENT and language is None:
        page.unknown_languages.append(language_raw)
    party = {
        "party_id": party_id,
        "first_name": ftext(name, E.NAME_FIRST),
        "middle_name": ftext(name, E.NAME_MIDDLE),
        "last_name": ftext(name, E.NAME_LAST),
        "suffix": ftext(name, E.NAME_SUFFIX),
        "business_name": ftext(node, E.BUSINESS_NAME),
        "date_of_birth": fdate(ftext(node, E.DATE_OF_BIRTH)),
        "sex": ftext(node, E.SEX),
        "race": ftext(node, E.RACE),
        "ethnicity": ftext(node, E.ETHNICITY),
        "preferred_language": language,
        "interpreter_needed": fbool(ftext(node, E.INTERPRETER_NEEDED)),
        "address_line1": ftext(address, E.ADDRESS_LINE1),
        "city": ftext(address, E.ADDRESS_CITY),
        "state": ftext(address, E.ADDRESS_STATE),
        "zip": ftext(address, E.ADDRESS_ZIP),
        "bar_number": ftext(node, E.BAR_NUMBER),
        # consent fails safe: only an explicit false lifts an opt-out; an empty or unreadable
        # <SmsOptOut> is unknown (kept), never "not opted out"
        "sms_opt_out": _absent_if_none(fbool(ftext(node, E.SMS_OPT_OUT))),
        "source_modified_at": modified,
    }
    phones, emails, case_parties = [], [], []
    for phone in node.iterfind(f"{E.PHONES}/{E.PHONE}"):
        if text(phone):
            phones.append(
                {
                    "party_id": party_id,
                    "raw_value": text(phone),
                    "label": attr(phone, E.ATTR_TYPE),
                    "source_modified_at": modified,
                }
            )
    for email in node.iterfind(f"{E.EMAILS}/{E.EMAIL}"):
        if text(email):
            emails.append(
                {
                    "party_id": party_id,
                    "raw_value": text(email),
                    "label": attr(email, E.ATTR_TYPE),
                    "source_modified_at": modified,
                }
            )
    for cp in node.iterfind(f"{E.CASE_PARTIES}/{E.CASE_PARTY}"):
        case_parties.append(_case_party(cp, party_id, text(cp, E.CASE_ID), modified))
    page.parties.append(finish(party))
    page.phones += phones
    page.emails += emails
    page.contact_lists += [
        {"party_id": party_id, "kind": kind}
        for kind, tag in (("phone", E.PHONES), ("email", E.EMAILS))
        if node.find(tag) is not None  # an absent list is unknown, an empty one is empty
    ]
    page.case_parties += case_parties


def _case_party(node: Element, party_id: str | None, case_id: str | None, modified: Any) -> dict:
    connection = _child(node, E.CONNECTION)
    code = attr(connection, E.ATTR_CODE)
    return {
        "case_id": case_id,
        "case_number": text(node, E.CASE_NUMBER),
        "party_id": party_id,
        "role": text(connection) or code or "Unknown",
        "role_code": code,
        "source_modified_at": modified,
    }


# --- GetScheduledHearingsByPartyID ----------------------------------------------------------
@dataclass
class HearingsReply:
    party_id: str
    hearings: list[dict[str, Any]] = field(default_factory=list)
    nonexistent_times: int = 0
    ambiguous_times: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)


def parse_hearings(
    root: Element, zone: ZoneInfo, party_id: str, observed_at: datetime
) -> HearingsReply:
    """Sessions flattened to one row per hearing; the session fields repeat on each row."""
    reply = HearingsReply(party_id=text(root, E.PARTY_ID) or party_id)
    for session in root.iterfind(f"{E.SESSIONS}/{E.SESSION}"):
        start_text = ftext(session, E.START_TIME)
        try:
            start_at, start_local = (
                (ABSENT, ABSENT) if start_text is ABSENT else parse_local_datetime(start_text, zone)
            )
        except ValueError as exc:
            ids = [
                text(h, E.HEARING_ID) or "?" for h in session.iterfind(f"{E.HEARINGS}/{E.HEARING}")
            ]
            for hid in ids:
                reply.rejected.append(
                    {"kind": "hearing", "key": hid, "reason": f"StartTime: {exc}"}
                )
            continue
        if start_local is not None and start_local is not ABSENT:
            reply.nonexistent_times += is_nonexistent(start_local, zone)
            reply.ambiguous_times += is_ambiguous(start_local, zone)
        common = {
            "session_id": ftext(session, E.SESSION_ID),
            "calendar": ftext(session, E.CALENDAR),
            "start_at": start_at,
            "start_local": start_local,
            "court_timezone": zone.key,
            "courtroom": ftext(session, E.COURTROOM),
            "location": ftext(session, E.LOCATION),
            "judge": ftext(session, E.JUDICIAL_OFFICER),
        }
        for hearing in session.iterfind(f"{E.HEARINGS}/{E.HEARING}"):
            hearing_id = text(hearing, E.HEARING_ID)
            htype = _child(hearing, E.HEARING_TYPE)
            status = _child(hearing, E.STATUS)
            try:
                if not hearing_id:
                    raise ValueError("the <Hearing> has no HearingID")
                status_date = fdate(fattr(status, E.ATTR_DATE))
            except ValueError as exc:
                reply.rejected.append(
                    {
                        "kind": "hearing",
                        "key": hearing_id or f"party {party_id}",
                        "reason": str(exc),
                    }
                )
                continue
            reply.hearings.append(
                finish(
                    {
                        "hearing_id": hearing_id,
                        "case_id": ftext(hearing, E.CASE_ID),
                        "case_number": ftext(hearing, E.CASE_NUMBER),
                        "hearing_type": ftext(htype),
                        "hearing_type_code": fattr(htype, E.ATTR_CODE),
                        "status": ftext(status),
                        "status_date": status_date,
                        **common,
                        "source_modified_at": observed_at,
                    }
                )
            )
    return reply


# --- FindCase ----------------------------------------------------------------------------
@dataclass
class CaseReply:
    case: dict[str, Any]
    case_parties: list[dict[str, Any]] = field(default_factory=list)
    charges: list[dict[str, Any]] = field(default_factory=list)
    attorneys: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def parse_case(root: Element, zone: ZoneInfo) -> CaseReply:
    node = _child(root, E.CASE)
    if node is None:
        raise ValueError("FindCaseResult has no <Case>")
    case_id = text(node, E.CASE_ID)
    if not case_id:
        raise ValueError("a <Case> has no CaseID")
    modified, _ = parse_local_datetime(text(node, E.MODIFIED_DATE), zone)
    category, ctype, status = (
        _child(node, n) for n in (E.CASE_CATEGORY, E.CASE_TYPE, E.CASE_STATUS)
    )
    court, judge, fin = (_child(node, n) for n in (E.COURT, E.JUDICIAL_OFFICER, E.FINANCIAL))
    reply = CaseReply(
        case=finish(
            {
                "case_id": case_id,
                "case_number": ftext(node, E.CASE_NUMBER),
                "case_style": ftext(node, E.CASE_STYLE),
                "case_category": ftext(category),
                "case_category_code": fattr(category, E.ATTR_CODE),
                "case_type": ftext(ctype),
                "case_type_code": fattr(ctype, E.ATTR_CODE),
                "case_status": ftext(status),
                "case_status_code": fattr(status, E.ATTR_CODE),
                "case_status_date": fdate(fattr(status, E.ATTR_DATE)),
                "file_date": fdate(ftext(node, E.FILE_DATE)),
                "court_code": fattr(court, E.ATTR_CODE),
                "court_name": ftext(court),
                "court_type": fattr(court, E.ATTR_TYPE),
                "oca_court_id": fattr(court, E.ATTR_OCA_COURT_ID),
                "judge_name": ftext(judge),
                "judge_type": fattr(judge, E.ATTR_TYPE),
                "payment_status": ftext(fin, E.PAYMENT_STATUS),
                "amount_due": fmoney(ftext(fin, E.AMOUNT_DUE)),
                "amount_paid": fmoney(ftext(fin, E.AMOUNT_PAID)),
                "fines": fmoney(ftext(fin, E.FINES)),
                "source_modified_at": modified,
            }
        )
    )
    # no <Parties> at all: the charged party is unknown (kept), not "none"
    defendant: Any = None if node.find(E.PARTIES) is not None else ABSENT
    for cp in node.iterfind(f"{E.PARTIES}/{E.CASE_PARTY}"):
        row = _case_party(cp, text(cp, E.PARTY_ID), case_id, modified)
        row["case_number"] = reply.case["case_number"]
        if row["party_id"]:
            reply.case_parties.append(row)
            if defendant in (None, ABSENT) and row["role_code"] in E.DEFENDANT_CONNECTION_CODES:
                defendant = row["party_id"]
    for ch in node.iterfind(f"{E.CHARGES}/{E.CHARGE}"):
        statute, degree, plea, dispo, sentence = (
            _child(ch, n) for n in (E.STATUTE, E.DEGREE, E.PLEA, E.DISPOSITION, E.SENTENCE)
        )
        reply.charges.append(
            finish(
                {
                    "case_id": case_id,
                    "charge_id": text(ch, E.CHARGE_ID) or f"n:{text(ch, E.CHARGE_NUMBER)}",
                    "party_id": defendant,
                    "charge_number": ftext(ch, E.CHARGE_NUMBER),
                    "statute_code": fattr(statute, E.ATTR_CODE),
                    "statute": ftext(statute),
                    "offense_code": ftext(ch, E.OFFENSE_CODE),
                    "description": ftext(ch, E.DESCRIPTION),
                    "degree_code": fattr(degree, E.ATTR_CODE),
                    "degree": ftext(degree),
                    "offense_date": fdate(ftext(ch, E.OFFENSE_DATE)),
                    "arrest_date": fdate(ftext(ch, E.ARREST_DATE)),
                    "filing_date": fdate(ftext(ch, E.FILING_DATE)),
                    "plea_code": fattr(plea, E.ATTR_CODE),
                    "plea": ftext(plea),
                    "plea_date": fdate(fattr(plea, E.ATTR_DATE)),
                    "disposition_code": fattr(dispo, E.ATTR_CODE),
                    "disposition": ftext(dispo),
                    "disposition_date": fdate(fattr(dispo, E.ATTR_DATE)),
                    "sentence_type": fattr(sentence, E.ATTR_TYPE),
                    "sentence_date": fdate(fattr(sentence, E.ATTR_DATE)),
                    "fine_amount": fmoney(ftext(sentence, E.FINE_AMOUNT)),
                    "court_costs": fmoney(ftext(sentence, E.COURT_COSTS)),
                    "restitution": fmoney(ftext(sentence, E.RESTITUTION)),
                    "confinement_days": fint(ftext(sentence, E.CONFINEMENT_DAYS)),
                    "source_modified_at": modified,
                }
            )
        )
    for att in node.iterfind(f"{E.ATTORNEYS}/{E.ATTORNEY}"):
        atype = _child(att, E.ATTR_TYPE)
        attorney_id = text(att, E.PARTY_ID)
        represents = [attr(r, E.ATTR_PARTY_ID) for r in att.iterfind(E.REPRESENTS)]
        for party_id in [p for p in represents if p] or [
            "" if defendant in (None, ABSENT) else defendant
        ]:
            reply.attorneys.append(
                finish(
                    {
                        "case_id": case_id,
                        "attorney_party_id": attorney_id or f"bar:{text(att, E.BAR_NUMBER)}",
                        "represents_party_id": party_id,
                        "name": ftext(att, E.NAME),
                        "bar_number": ftext(att, E.BAR_NUMBER),
                        "type_code": fattr(atype, E.ATTR_CODE),
                        "type": ftext(atype),
                        "start_date": fdate(ftext(att, E.START_DATE)),
                        "end_date": fdate(ftext(att, E.END_DATE)),
                        "source_modified_at": modified,
                    }
                )
            )
    for ev in node.iterfind(f"{E.CASE_EVENTS}/{E.EVENT}"):
        etype = _child(ev, E.EVENT_TYPE)
        event_id = text(ev, E.EVENT_ID)
        if not event_id:
            continue
        reply.events.append(
            finish(
                {
                    "case_id": case_id,
                    "event_id": event_id,
                    "event_date": fdate(ftext(ev, E.EVENT_DATE)),
                    "type_code": fattr(etype, E.ATTR_CODE),
                    "type": ftext(etype),
                    "source_modified_at": modified,
                }
            )
        )
    return reply

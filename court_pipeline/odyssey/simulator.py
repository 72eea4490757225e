"""A local Odyssey API Toolkit: a real HTTP server speaking the SOAP contract of the spec.

Used by the tests, the bench and the demo (``court-pipeline simulate odyssey``), and by anyone
without Odyssey access. It binds 127.0.0.1 (port 0 = a free port), checks Basic auth and the
site key (401), accepts only the three read-only message types (anything else gets
INVALID_MESSAGE), pages FindParties, honours ModifiedSince, and can inject faults: latency,
429 with Retry-After, 5xx, SOAP faults, SITE_BUSY, dropped connections, garbage replies, and
hostile XML (billion laughs, external entities), IIS-style HTML error pages on 200, gzip bombs
(``bomb_mb`` of zeros, a few hundred KB on the wire), huge valid replies (``pad_mb`` of
whitespace inside a valid envelope) and a strict per-second limit (``rate_limit_per_second``:
a sliding one-second window that counts every arrival, refused ones included, answering 429
with Retry-After; arrivals before an issued Retry-After has passed are ``log.early``).
``break_call`` makes one party's or case's
calls fail deterministically, so tests can lose exactly the calls they choose.

Serving: one asyncio event loop (uvloop when installed) in a background thread, shared by
every simulator of the process, one protocol object per keep-alive connection; latency is a
loop timer. Rendered reply bodies are cached per party, case and hearing query until a
mutation (reschedule, move, cancel, add_phone, replace_phones) changes the county, so a reply
costs a lookup, not a re-render. ``ssl_context`` serves HTTPS.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import gzip
import hmac
import logging
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from xml.etree import ElementTree as ET  # noqa: S405 - edits our own replies only
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.county import Case, County, Hearing, Party
from court_pipeline.odyssey.parse import defused_fromstring

log = logging.getLogger(__name__)

D = E.REPLY_DATE_FORMAT
DT = E.REPLY_DATETIME_FORMAT
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass
class Faults:
    """Fault injection rates (0..1 per request) and settings."""

    latency_ms: float = 0.0
    rate_429: float = 0.0
    retry_after_seconds: float = 1.0
    rate_5xx: float = 0.0
    rate_soap_fault: float = 0.0
    rate_site_busy: float = 0.0
    rate_drop: float = 0.0
    rate_garbage: float = 0.0
    hostile: str | None = None  # 'billion_laughs' | 'xxe' | 'envelope_dtd'
    rate_html_error: float = 0.0  # 200 text/html IIS error page
    rate_gzip_bomb: float = 0.0
    bomb_mb: int = 100  # decoded size of a bomb reply
    pad_mb: float = 0.0  # whitespace added to every valid reply (huge valid replies)
    rate_limit_per_second: int = 0  # 0 = none; strict sliding window, early arrivals counted


@dataclass
class RequestLog:
    """What the simulator received, for tests (read-only proof, attempt counts)."""

    by_type: Counter = field(default_factory=Counter)
    by_key: Counter = field(default_factory=Counter)  # (message type, key) -> attempts
    faults: Counter = field(default_factory=Counter)
    unauthorized: int = 0
    rate_limited: int = 0  # 429s from the per-second limit (gateway: not in by_key)
    early: int = 0  # arrivals before a Retry-After the limit issued had passed
    proxied: int = 0  # requests in absolute form (the simulator acting as a forward proxy)
    in_flight: int = 0  # accepted requests waiting out their latency right now
    peak_in_flight: int = 0  # the most ever waiting at once (overlap, as a count)
    message_types_seen: set = field(default_factory=set)


def _el(name: str, value: object = None, **attrs: object) -> str:
    attr_text = "".join(f" {k}={quoteattr('' if v is None else str(v))}" for k, v in attrs.items())
    if value is None or value == "":
        return f"<{name}{attr_text}/>"
    return f"<{name}{attr_text}>{escape(str(value))}</{name}>"


def _d(value: date | None) -> str:
    return value.strftime(D) if value else ""


def _dt(value: datetime) -> str:
    return value.strftime(DT)


def envelope(result_xml: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{E.SOAP_ENV_NS}"><soap:Body>'
        f'<OdysseyMsgExecutionResponse xmlns="{E.TYLER_NS}">'
        f"<{E.OPERATION_RESULT}>{escape(result_xml)}</{E.OPERATION_RESULT}>"
        "</OdysseyMsgExecutionResponse></soap:Body></soap:Envelope>"
    ).encode()


def fault_envelope(code: str, text: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{E.SOAP_ENV_NS}">'
        f"<soap:Body><soap:Fault><faultcode>{code}</faultcode>"
        f"<faultstring>{escape(text)}</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def error_result(code: str, text: str, ref: str) -> str:
    inner = _el(E.ERROR_CODE, code) + _el(E.ERROR_MESSAGE, text) + _el(E.REFERENCE, ref)
    return f"<{E.ERROR}>{inner}</{E.ERROR}>"


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<FindPartiesResult><TotalResults>&lol3;</TotalResults></FindPartiesResult>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<FindPartiesResult><TotalResults>&xxe;</TotalResults></FindPartiesResult>"
)
IIS_ERROR_PAGE = (
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
    b"<html><head><title>IIS 10.0 Detailed Error - 500.19 - Internal Server Error</title>"
    b"</head><body><h1>Server Error in Application</h1></body></html>"
)

GARBAGE = [
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Bo',
    b"",
    b"\x00\xff\xfe garbage bytes",
]


class Renderer:
    """County objects -> reply XML strings (spec shapes)."""

    def __init__(self, county: County) -> None:
        self.c = county

    def party(self, p: Party) -> str:
        name = "".join(
            [
                _el(E.NAME_FIRST, p.first),
                _el(E.NAME_MIDDLE, p.middle),
                _el(E.NAME_LAST, p.last),
                _el(E.NAME_SUFFIX, p.suffix),
            ]
        )
        phones = "".join(_el(E.PHONE, raw, Type=kind) for kind, raw in p.phones)
        emails = "".join(_el(E.EMAIL, e) for e in p.emails)
        line1, city, state, zip_ = p.address
        cps = "".join(
            f"<{E.CASE_PARTY}>{_el(E.CASE_ID, cid)}{_el(E.CASE_NUMBER, self.c.cases[cid].number)}"
            f"{_el(E.CONNECTION, text, Code=code)}</{E.CASE_PARTY}>"
            for cid, code, text in p.cases
        )
        return (
            f"<{E.PARTY}>{_el(E.PARTY_ID, p.party_id)}{_el(E.NODE_ID, 1)}"
            f"<{E.NAME}>{'' if p.business else name}</{E.NAME}>{_el(E.BUSINESS_NAME, p.business)}"
            f"{_el(E.DATE_OF_BIRTH, _d(p.dob))}{_el(E.SEX, p.sex)}{_el(E.RACE, p.race)}"
            f"{_el(E.ETHNICITY, p.ethnicity)}{_el(E.PREFERRED_LANGUAGE, p.language)}"
            f"{_el(E.INTERPRETER_NEEDED, str(p.interpreter).lower())}"
            f"<{E.PHONES}>{phones}</{E.PHONES}><{E.EMAILS}>{emails}</{E.EMAILS}>"
            f"<{E.ADDRESS}>{_el(E.ADDRESS_LINE1, line1)}{_el(E.ADDRESS_CITY, city)}"
            f"{_el(E.ADDRESS_STATE, state)}{_el(E.ADDRESS_ZIP, zip_)}</{E.ADDRESS}>"
            f"{_el(E.SMS_OPT_OUT, str(p.sms_opt_out).lower())}"
            f"{_el(E.BAR_NUMBER, p.bar_number) if p.bar_number else ''}"
            f"<{E.CASE_PARTIES}>{cps}</{E.CASE_PARTIES}>{_el(E.MODIFIED_DATE, _dt(p.modified))}"
            f"</{E.PARTY}>"
        )

    def sessions(self, hearings: list[Hearing]) -> str:
        by_session: dict[str, list[Hearing]] = {}
        for h in hearings:
            by_session.setdefault(h.session_id, []).append(h)
        out = []
        for sid in sorted(by_session, key=lambda s: self.c.sessions[s].start):
            s = self.c.sessions[sid]
            hs = "".join(
                f"<{E.HEARING}>{_el(E.HEARING_ID, h.hearing_id)}{_el(E.CASE_ID, h.case_id)}"
                f"{_el(E.CASE_NUMBER, self.c.cases[h.case_id].number)}"
                f"{_el(E.HEARING_TYPE, h.type_text, Code=h.type_code)}"
                f"{_el(E.STATUS, h.status, Date=_d(h.status_date))}</{E.HEARING}>"
                for h in by_session[sid]
            )
            out.append(
                f"<{E.SESSION}>{_el(E.SESSION_ID, sid)}{_el(E.NODE_ID, 1)}"
                f"{_el(E.CALENDAR, s.calendar)}{_el(E.START_TIME, _dt(s.start))}"
                f"{_el(E.COURTROOM, s.courtroom)}{_el(E.LOCATION, s.location)}"
                f"{_el(E.JUDICIAL_OFFICER, s.judge)}<{E.HEARINGS}>{hs}</{E.HEARINGS}></{E.SESSION}>"
            )
        return "".join(out)

    def case(self, c: Case) -> str:
        parties = "".join(
            f"<{E.CASE_PARTY}>{_el(E.PARTY_ID, pid)}{_el(E.CONNECTION, text, Code=code)}"
            f"</{E.CASE_PARTY}>"
            for pid, code, text in c.parties
        )
        charges = []
        for ch in c.charges:
            plea, dispo, sent = ch["plea"], ch["disposition"], ch["sentence"]
            sentence = (
                _el(E.SENTENCE, None, Date="", Type="")
                if not sent
                else f'<{E.SENTENCE} Date="{_d(sent["date"])}" Type="{sent["type"]}">'
                f"{_el(E.FINE_AMOUNT, sent['fine'])}{_el(E.COURT_COSTS, sent['costs'])}"
                f"{_el(E.RESTITUTION, sent['restitution'])}{_el(E.CONFINEMENT_DAYS, sent['days'])}"
                f"</{E.SENTENCE}>"
            )
            charges.append(
                f"<{E.CHARGE}>{_el(E.CHARGE_ID, ch['id'])}{_el(E.CHARGE_NUMBER, ch['number'])}"
                f"{_el(E.STATUTE, ch['statute'][1], Code=ch['statute'][0])}"
                f"{_el(E.OFFENSE_CODE, ch['offense_code'])}{_el(E.DESCRIPTION, ch['description'])}"
                f"{_el(E.DEGREE, ch['degree'][1], Code=ch['degree'][0])}"
                f"{_el(E.OFFENSE_DATE, _d(ch['offense_date']))}"
                f"{_el(E.ARREST_DATE, _d(ch['arrest_date']))}"
                f"{_el(E.FILING_DATE, _d(ch['filing_date']))}"
                + (_el(E.PLEA, plea[1], Date=_d(plea[2]), Code=plea[0]) if plea else "")
                + (
                    _el(E.DISPOSITION, dispo[1], Date=_d(dispo[2]), Code=dispo[0])
                    if dispo
                    else _el(E.DISPOSITION, None, Date="", Code="")
                )
                + sentence
                + f"</{E.CHARGE}>"
            )
        attorneys = "".join(
            f"<{E.ATTORNEY}>{_el(E.PARTY_ID, a['party_id'])}{_el(E.NAME, a['name'])}"
            f"{_el(E.BAR_NUMBER, a['bar'])}{_el(E.REPRESENTS, None, PartyID=a['represents'])}"
            f"{_el(E.ATTR_TYPE, a['type'][1], Code=a['type'][0])}"
            f"{_el(E.START_DATE, _d(a['start']))}{_el(E.END_DATE, _d(a['end']))}</{E.ATTORNEY}>"
            for a in c.attorneys
        )
        events = "".join(
            f"<{E.EVENT}>{_el(E.EVENT_ID, eid)}{_el(E.EVENT_DATE, _d(day))}"
            f"{_el(E.EVENT_TYPE, text, Code=code)}</{E.EVENT}>"
            for eid, day, code, text in c.events
        )
        due, paid, status, fines = c.financial
        court_code, court_type, oca, court_name, judge = c.court[:5]
        return (
            f"<{E.CASE}>{_el(E.CASE_ID, c.case_id)}{_el(E.NODE_ID, 1)}"
            f"{_el(E.CASE_NUMBER, c.number)}{_el(E.CASE_STYLE, c.style)}"
            f"{_el(E.CASE_CATEGORY, c.category[1], Code=c.category[0])}"
            f"{_el(E.CASE_TYPE, c.ctype[1], Code=c.ctype[0])}"
            f"{_el(E.CASE_STATUS, c.status[1], Date=_d(c.status[2]), Code=c.status[0])}"
            f"{_el(E.FILE_DATE, _d(c.file_date))}"
            f"{_el(E.COURT, court_name, Code=court_code, Type=court_type, OcaCourtID=oca)}"
            f"{_el(E.JUDICIAL_OFFICER, judge, Type='Judge')}"
            f"<{E.PARTIES}>{parties}</{E.PARTIES}><{E.CHARGES}>{''.join(charges)}</{E.CHARGES}>"
            f"<{E.ATTORNEYS}>{attorneys}</{E.ATTORNEYS}><{E.CASE_EVENTS}>{events}</{E.CASE_EVENTS}>"
            f"<{E.FINANCIAL}>{_el(E.AMOUNT_DUE, due)}{_el(E.AMOUNT_PAID, paid)}"
            f"{_el(E.PAYMENT_STATUS, status)}{_el(E.FINES, fines)}</{E.FINANCIAL}>"
            f"{_el(E.MODIFIED_DATE, _dt(c.modified))}</{E.CASE}>"
        )


class OdysseySimulator:
    """``OdysseySimulator(parties=200, seed=7).start() -> base_url``; ``stop()`` when done."""

    def __init__(
        self,
        parties: int = 200,
        seed: int = 7,
        faults: Faults | None = None,
        *,
        anchor: date | None = None,
        timezone: str = "America/Chicago",
        username: str = "api_user",
        password: str = "api_password",  # noqa: S107 - simulator default, not a real secret
        site_key: str = "SIMCOUNTY",
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.anchor = anchor or datetime.now(self.zone).date()
        self.county = County(parties, seed, self.anchor, self.zone, self.now_local())
        self.render = Renderer(self.county)
        self.faults = faults or Faults()
        self.username, self.password, self.site_key = username, password, site_key
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.log = RequestLog()
        self.broken: dict[tuple[str, str], str] = {}  # (message type, key) -> fault kind
        self._broken_left: dict[tuple[str, str], int] = {}
        self._fault_rng = random.Random(seed + 1)
        self._fault_seed = seed + 1
        self._bomb_cache: tuple[int, bytes] = (0, b"")
        self._arrivals: collections.deque[float] = collections.deque()
        self._retry_until = 0.0
        self._lock = threading.RLock()
        # (parent path, child tag) -> 'omit' | 'empty' | 'nil': see omit_elements
        self.element_edits: dict[tuple[str, str], str] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._query_cache: dict[tuple, list[str]] = {}
        self._render_cache: dict[tuple, object] = {}
        self._expected_auth = (
            "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        )

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> str:
        """Bind and serve on the process's simulator loop; returns the base URL once listening."""
        loop = _serving_loop()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(loop), loop).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self.base_url

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> asyncio.Server:
        return await loop.create_server(
            lambda: _Connection(self, loop), self.host, self.port, ssl=self.ssl_context, backlog=256
        )

    async def _close(self, server: asyncio.Server) -> None:
        server.close()
        for connection in list(self._connections):
            connection.close()
        await asyncio.sleep(0)

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            asyncio.run_coroutine_threadsafe(self._close(server), _serving_loop()).result(10)

    def __enter__(self) -> OdysseySimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Foreground serving for the CLI (Ctrl-C stops)."""
        self.start()
        try:
            _LOOP_THREAD.join()
        except KeyboardInterrupt:
            self.stop()

    # --- test API: mutations bump ModifiedDate ------------------------------------------
    def now_local(self) -> datetime:
        return datetime.now(self.zone).replace(tzinfo=None, second=0, microsecond=0)

    def _touch_case(self, case: Case) -> None:
        now = self.now_local()
        case.modified = now
        for party_id, _, _ in case.parties:
            self.county.parties[party_id].modified = now
        self._changed()

    def _changed(self) -> None:
        """The county changed: drop cached query results and rendered replies."""
        self._query_cache.clear()
        self._render_cache.clear()

    def _session_at(self, hearing: Hearing, new_start: datetime) -> str:
        """A new session like the hearing's current one, at ``new_start``."""
        c = self.county
        old = c.sessions[hearing.session_id]
        sid = c.next_id("session")
        c.sessions[sid] = type(old)(
            sid, old.calendar, new_start, old.courtroom, old.location, old.judge
        )
        return sid

    def reschedule_hearing(
        self, hearing_id: str, new_start: datetime, status: str = "Reset"
    ) -> str:
        """What Odyssey does on a reset or continuance: the old hearing stays at its old date
        with status Reset (or Continued), and a new Scheduled hearing with a new HearingID is
        created for the new date. Returns the new HearingID."""
        with self._lock:
            c = self.county
            old = c.hearings[hearing_id]
            today = self.now_local().date()
            new = Hearing(
                c.next_id("hearing"),
                old.case_id,
                self._session_at(old, new_start),
                old.type_code,
                old.type_text,
                "Scheduled",
                today,
            )
            c.hearings[new.hearing_id] = new
            c.cases[old.case_id].hearing_ids.append(new.hearing_id)
            old.status, old.status_date = status, today
            self._touch_case(c.cases[old.case_id])
            return new.hearing_id

    def move_hearing(self, hearing_id: str, new_start: datetime) -> None:
        """The same HearingID moved to a new time (a docket moved); it stays Scheduled."""
        with self._lock:
            hearing = self.county.hearings[hearing_id]
            hearing.session_id = self._session_at(hearing, new_start)
            hearing.status_date = self.now_local().date()
            self._touch_case(self.county.cases[hearing.case_id])

    def cancel_hearing(self, hearing_id: str) -> None:
        with self._lock:
            hearing = self.county.hearings[hearing_id]
            hearing.status, hearing.status_date = "Cancelled", self.now_local().date()
            self._touch_case(self.county.cases[hearing.case_id])

    def add_phone(self, party_id: str, raw: str, kind: str = "Cell") -> None:
        with self._lock:
            party = self.county.parties[party_id]
            party.phones.append((kind, raw))
            party.modified = self.now_local()
            self._changed()

    def replace_phones(self, party_id: str, phones: list[tuple[str, str]]) -> None:
        """A phone change as Odyssey makes it: the party's whole list is replaced by
        ``phones`` ((Type, raw text) pairs); numbers not in it are gone from every reply."""
        with self._lock:
            party = self.county.parties[party_id]
            party.phones = list(phones)
            party.modified = self.now_local()
            self._changed()

    def replace_emails(self, party_id: str, emails: list[str]) -> None:
        """The party's whole email list replaced, as :meth:`replace_phones`."""
        with self._lock:
            party = self.county.parties[party_id]
            party.emails = list(emails)
            party.modified = self.now_local()
            self._changed()

    def omit_elements(self, elements: Iterable[tuple[str, str]], mode: str = "omit") -> None:
        """Send replies as a partial or sparse Odyssey reply does: every child ``tag`` of an
        element matching ``parent`` (an ElementTree path such as ``.//Party`` or
        ``.//Charge/Sentence``) is left out (``omit``), sent with no text and no attributes
        (``empty``), or sent as ``xsi:nil="true"`` (``nil``). ``restore_elements`` undoes it."""
        if mode not in ("omit", "empty", "nil"):
            raise ValueError(f"mode {mode!r}: expected omit, empty or nil")
        with self._lock:
            self.element_edits.update({(parent, tag): mode for parent, tag in elements})

    def restore_elements(self) -> None:
        with self._lock:
            self.element_edits.clear()

    def _edited(self, result_xml: str) -> str:
        """``result_xml`` with ``element_edits`` applied (our own XML: plain ElementTree)."""
        with self._lock:
            edits = dict(self.element_edits)
        if not edits or not result_xml.startswith("<"):
            return result_xml
        root = ET.fromstring(result_xml)  # noqa: S314 - the simulator's own output
        for (parent_path, tag), mode in edits.items():
            parents = [root] if parent_path == "." else root.findall(parent_path)
            for parent in parents:
                for child in parent.findall(tag):
                    if mode == "omit":
                        parent.remove(child)
                        continue
                    child.text = None
                    child.attrib.clear()
                    if mode == "nil":
                        child.set(f"{{{XSI_NS}}}nil", "true")
        return ET.tostring(root, encoding="unicode")

    def break_call(
        self, message_type: E.MessageType | str, key: str, kind: str = "503", times: int = -1
    ) -> None:
        """Make calls for (message type, key) fail with ``kind``: the next ``times`` calls,
        or every call until ``heal`` (times=-1). Kinds: drop, 429, 503, soap_fault, garbage,
        site_busy, invalid, html_error, gzip_bomb."""
        with self._lock:
            self.broken[(str(message_type), str(key))] = kind
            self._broken_left[(str(message_type), str(key))] = times

    def heal(self) -> None:
        with self._lock:
            self.broken.clear()
            self._broken_left.clear()

    def set_faults(self, **changes: object) -> None:
        with self._lock:
            for name, value in changes.items():
                if not hasattr(self.faults, name):
                    raise AttributeError(f"no fault setting {name!r}")
                setattr(self.faults, name, value)

    # --- queries -------------------------------------------------------------------------
    def find_party_ids(
        self, date_from: date | None, date_to: date | None, since: datetime | None
    ) -> list[str]:
        key = (date_from, date_to, since)
        with self._lock:
            if key not in self._query_cache:
                out = []
                for pid, party in self.county.parties.items():
                    if since is not None and party.modified < since:
                        continue
                    if date_from or date_to:
                        days = self.county.party_hearing_days(party)
                        lo, hi = date_from or date.min, date_to or date.max
                        if not any(lo <= d <= hi for d in days):
                            continue
                    out.append(pid)
                self._query_cache[key] = sorted(out, key=int)
            return self._query_cache[key]

    def party_hearings(self, party_id: str, start: date, end: date) -> list[Hearing]:
        c = self.county
        out = []
        for case_id, _, _ in c.parties[party_id].cases:
            for hid in c.cases[case_id].hearing_ids:
                h = c.hearings[hid]
                if start <= c.hearing_start(h).date() <= end:
                    out.append(h)
        return out

    # --- request handling ----------------------------------------------------------------
    def fault_rng(self, pending: Pending | None = None, salt: str = "") -> random.Random:
        """The fault draw of one attempt, seeded by (seed, message type, key, attempt number):
        the same call's n-th attempt always draws the same fault, whatever order concurrent
        requests arrive in, so a faulty sync's call count is the same on every run."""
        if pending is None:
            with self._lock:
                return random.Random(self._fault_rng.random())
        return random.Random(
            f"{self._fault_seed}:{pending.message_type}:{pending.key}:{pending.attempt}{salt}"
        )

    def draw_fault(self, pending: Pending | None = None) -> str | None:
        f = self.faults
        roll = self.fault_rng(pending).random()
        for kind, rate in (
            ("drop", f.rate_drop),
            ("429", f.rate_429),
            ("5xx", f.rate_5xx),
            ("soap_fault", f.rate_soap_fault),
            ("garbage", f.rate_garbage),
            ("site_busy", f.rate_site_busy),
            ("html_error", f.rate_html_error),
            ("gzip_bomb", f.rate_gzip_bomb),
        ):
            if roll < rate:
                return kind
            roll -= rate
        return None

    def handle_message(self, message_xml: str) -> tuple[str, str, str, str]:
        """-> (message type, key, reference, result xml). Raises nothing for bad input."""
        try:
            msg, _ = defused_fromstring(message_xml)  # defusedxml, DTDs forbidden
        except Exception:  # noqa: BLE001 - any bad request is INVALID_MESSAGE
            return "?", "?", "", error_result("INVALID_MESSAGE", "message is not XML", "")
        mt = msg.get(E.ATTR_MESSAGE_TYPE, "")
        ref = msg.get(E.ATTR_REFERENCE, "")

        def field_(name: str) -> str:
            node = msg.find(name)
            return (node.text or "").strip() if node is not None else ""

        with self._lock:
            self.log.message_types_seen.add(mt)
        edited = self._edited
        try:
            if mt == E.MessageType.FIND_PARTIES:
                key = f"page:{field_(E.REQ_PAGE_NUMBER)}"
                return mt, key, ref, edited(self._find_parties(field_, ref))
            if mt == E.MessageType.GET_SCHEDULED_HEARINGS:
                pid = field_(E.REQ_PARTY_ID)
                return mt, pid, ref, edited(self._hearings(pid, field_, ref))
            if mt == E.MessageType.FIND_CASE:
                key = field_(E.REQ_CASE_ID) or f"n:{field_(E.REQ_CASE_NUMBER)}"
                return mt, key, ref, edited(self._find_case(field_, ref))
        except ValueError as exc:
            return mt, "?", ref, error_result("INVALID_MESSAGE", str(exc), ref)
        return mt, "?", ref, error_result("INVALID_MESSAGE", f"unsupported MessageType {mt!r}", ref)

    def _find_parties(self, f, ref: str) -> str:
        size, number = int(f(E.REQ_PAGE_SIZE) or 200), int(f(E.REQ_PAGE_NUMBER) or 1)
        if not 1 <= size <= 500 or number < 1:
            raise ValueError("PageSize must be 1..500 and PageNumber >= 1")
        dfrom = (
            date.fromisoformat(f(E.REQ_HEARING_DATE_FROM)) if f(E.REQ_HEARING_DATE_FROM) else None
        )
        dto = date.fromisoformat(f(E.REQ_HEARING_DATE_TO)) if f(E.REQ_HEARING_DATE_TO) else None
        since = datetime.fromisoformat(f(E.REQ_MODIFIED_SINCE)) if f(E.REQ_MODIFIED_SINCE) else None
        ids = self.find_party_ids(dfrom, dto, since)
        with self._lock:
            chunk = "".join(
                self._cached(("party", p), self.render.party, self.county.parties[p])
                for p in ids[(number - 1) * size : number * size]
            )
        return (
            f"<{E.RESULT_ROOT[E.MessageType.FIND_PARTIES]}>{_el(E.REFERENCE, ref)}"
            f"{_el(E.TOTAL_RESULTS, len(ids))}{_el(E.PAGE_NUMBER, number)}"
            f"{_el(E.PAGE_SIZE, size)}<{E.PARTIES}>{chunk}</{E.PARTIES}>"
            f"</{E.RESULT_ROOT[E.MessageType.FIND_PARTIES]}>"
        )

    def _hearings(self, pid: str, f, ref: str) -> str:
        if pid not in self.county.parties:
            return error_result("PARTY_NOT_FOUND", f"no party {pid}", ref)
        start = date.fromisoformat(f(E.REQ_START_DATE)) if f(E.REQ_START_DATE) else date.min
        end = date.fromisoformat(f(E.REQ_END_DATE)) if f(E.REQ_END_DATE) else date.max
        with self._lock:
            body = self._cached(
                ("hearings", pid, start, end), self._render_hearings, pid, start, end
            )
        root = E.RESULT_ROOT[E.MessageType.GET_SCHEDULED_HEARINGS]
        return f"<{root}>{_el(E.REFERENCE, ref)}{body}</{root}>"

    def _render_hearings(self, pid: str, start: date, end: date) -> str:
        hearings = self.party_hearings(pid, start, end)
        return (
            f"{_el(E.PARTY_ID, pid)}{_el(E.TOTAL_RESULTS, len(hearings))}"
            f"<{E.SESSIONS}>{self.render.sessions(hearings)}</{E.SESSIONS}>"
        )

    def prerender(self) -> None:
        """Render every party and case reply fragment now (the CLI does this before it says
        it is ready), so serving a call is a lookup from the first request on."""
        with self._lock:
            for party in self.county.parties.values():
                self._cached(("party", party.party_id), self.render.party, party)
            for case in self.county.cases.values():
                self._cached(("case", case.case_id), self.render.case, case)

    def _cached(self, key: tuple, render: Callable[..., str], *args: object) -> str:
        """A rendered fragment, rendered once until the county changes (caller holds the lock)."""
        hit = self._render_cache.get(key)
        if hit is None:
            hit = self._render_cache[key] = render(*args)
        return hit  # type: ignore[return-value]

    def _find_case(self, f, ref: str) -> str:
        case_id, number = f(E.REQ_CASE_ID), f(E.REQ_CASE_NUMBER)
        with self._lock:
            case = (
                self.county.cases.get(case_id)
                if case_id
                else next((c for c in self.county.cases.values() if c.number == number), None)
            )
            if case is None:
                return error_result("CASE_NOT_FOUND", f"no case {case_id or number}", ref)
            body = self._cached(("case", case.case_id), self.render.case, case)
        root = E.RESULT_ROOT[E.MessageType.FIND_CASE]
        return f"<{root}>{_el(E.REFERENCE, ref)}{body}</{root}>"

    def authorized(self, header: str | None) -> bool:
        return header is not None and hmac.compare_digest(header, self._expected_auth)

    def accept(
        self, method: str, target: str, authorization: str | None, raw: bytes
    ) -> tuple[Reply | None, Pending | None]:
        """First half of a request: an immediate reply (405/404/401/400), or the parsed,
        logged message that ``finish`` answers once the latency has passed."""
        if method != "POST":
            return Reply(405, b"POST only"), None
        if target.startswith(("http://", "https://")):  # absolute form: sent via a proxy
            with self._lock:
                self.log.proxied += 1
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        if target.split("?")[0] != E.SERVICE_PATH:
            return Reply(404, b"not found"), None
        limited = self.rate_limited()
        if limited is not None:
            return limited, None
        if not self.authorized(authorization):
            with self._lock:
                self.log.unauthorized += 1
            return Reply(
                401, b"Unauthorized", (("WWW-Authenticate", 'Basic realm="Odyssey"'),)
            ), None
        try:
            env, _ = defused_fromstring(raw)  # defusedxml, DTDs forbidden
            message = next(n for n in env.iter() if n.tag.endswith("}" + E.OPERATION_MESSAGE))
            site = next(n for n in env.iter() if n.tag.endswith("}" + E.OPERATION_SITE_KEY))
        except Exception:  # noqa: BLE001 - a bad envelope is a client error
            return Reply(400, fault_envelope("soap:Client", "bad SOAP envelope")), None
        if not hmac.compare_digest((site.text or "").strip(), self.site_key):
            with self._lock:
                self.log.unauthorized += 1
            return Reply(401, b"Unauthorized: site key"), None
        mt, key, ref, result = self.handle_message(message.text or "")
        with self._lock:
            self.log.by_type[mt] += 1
            self.log.by_key[(mt, key)] += 1
            scripted = self.broken.get((mt, key))
            if scripted is not None:
                left = self._broken_left.get((mt, key), -1)
                if left > 0:
                    self._broken_left[(mt, key)] = left - 1
                    if left == 1:
                        del self.broken[(mt, key)]
            attempt = self.log.by_key[(mt, key)]
            self.log.in_flight += 1
            self.log.peak_in_flight = max(self.log.peak_in_flight, self.log.in_flight)
        return None, Pending(mt, key, ref, result, scripted, attempt)

    def finish(self, pending: Pending) -> Reply:
        """Second half: draw (or apply the scripted) fault and build the reply."""
        f = self.faults
        kind = pending.scripted or self.draw_fault(pending)
        with self._lock:
            self.log.in_flight -= 1
            if kind:
                self.log.faults[kind] += 1
        ref, result = pending.reference, pending.result
        if kind == "drop":
            return Reply(0, drop=True)
        if kind == "429":
            return Reply(
                429, b"Too Many Requests", (("Retry-After", f"{f.retry_after_seconds:g}"),)
            )
        if kind in ("5xx", "503"):
            return Reply(503, b"Service Unavailable (maintenance)")
        if kind == "soap_fault":
            return Reply(
                500, fault_envelope("soap:Server", "Server was unable to process request.")
            )
        if kind == "garbage":
            return Reply(200, self.fault_rng(pending, ":garbage").choice(GARBAGE))
        if kind == "site_busy":
            return Reply(200, envelope(error_result("SITE_BUSY", "site busy, retry later", ref)))
        if kind == "invalid":
            return Reply(200, envelope(error_result("INVALID_MESSAGE", "rejected by site", ref)))
        if kind == "html_error":
            return Reply(200, IIS_ERROR_PAGE, content_type="text/html; charset=utf-8")
        if kind == "gzip_bomb":
            return Reply(200, self._bomb(), (("Content-Encoding", "gzip"),))
        if f.hostile == "billion_laughs":
            return Reply(200, envelope(BILLION_LAUGHS))
        if f.hostile == "xxe":
            return Reply(200, envelope(XXE))
        if f.hostile == "envelope_dtd":
            return Reply(
                200,
                b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM '
                b'"http://127.0.0.1:1/evil">]>' + envelope(result).split(b"?>", 1)[1],
            )
        if f.pad_mb:
            body = envelope(result)
            cut = body.rindex(b"</soap:Envelope>")
            return Reply(200, body[:cut] + b" " * int(f.pad_mb * (1 << 20)) + body[cut:])
        return Reply(200, envelope(result))

    def _bomb(self) -> bytes:
        size = self.faults.bomb_mb
        if self._bomb_cache[0] != size:
            self._bomb_cache = (size, gzip.compress(b"\0" * (size << 20), compresslevel=9))
        return self._bomb_cache[1]

    def rate_limited(self) -> Reply | None:
        """The gateway's strict per-second limit: every arrival counts, refused or not."""
        limit = self.faults.rate_limit_per_second
        if not limit:
            return None
        now = time.monotonic()
        with self._lock:
            window = self._arrivals
            while window and window[0] <= now - 1.0:
                window.popleft()
            window.append(now)
            if now < self._retry_until:
                self.log.early += 1
            if len(window) <= limit:
                return None
            self.log.rate_limited += 1
            wait = self.faults.retry_after_seconds
            self._retry_until = max(self._retry_until, now + wait)
        return Reply(429, b"Too Many Requests", (("Retry-After", f"{wait:g}"),))


@dataclass(frozen=True)
class Reply:
    """One HTTP answer; ``drop`` closes the connection instead of answering."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    content_type: str = E.CONTENT_TYPE


@dataclass(frozen=True)
class Pending:
    """A parsed, logged request waiting out the injected latency before it is answered."""

    message_type: str
    key: str
    reference: str
    result: str
    scripted: str | None
    attempt: int = 1  # this (message type, key)'s n-th arrival: seeds its fault draw


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_MAX_HEAD = 1 << 16


def _response_bytes(reply: Reply, keep_alive: bool) -> bytes:
    """Status line, headers and body in one buffer: one send, one wake-up at the client."""
    head = [
        f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}",
        f"Content-Type: {reply.content_type}",
        f"Content-Length: {len(reply.body)}",
    ]
    head += [f"{name}: {value}" for name, value in reply.headers]
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: requests are answered in order, one at a time.

    The injected latency is a timer on the event loop (``call_later``), not a sleeping
    thread, so thousands of concurrent waits cost nothing and a reply goes out the moment
    its timer fires instead of after a GIL hand-over.
    """

    def __init__(self, sim: OdysseySimulator, loop: asyncio.AbstractEventLoop) -> None:
        self.sim, self.loop = sim, loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.sim._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.sim._connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._serve()

    def close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()

    def _serve(self) -> None:
        """Answer every complete request in the buffer (until one has to wait)."""
        while not self.busy and self.transport is not None:
            request = self._take_request()
            if request is None:
                return
            method, target, headers, body, keep_alive = request
            reply, pending = self.sim.accept(method, target, headers.get("authorization"), body)
            if pending is None:
                self._send(reply, keep_alive)
                continue
            latency = self.sim.faults.latency_ms
            if latency:
                self.busy = True
                self.loop.call_later(latency / 1000, self._finish, pending, keep_alive)
                return
            self._send(self.sim.finish(pending), keep_alive)

    def _finish(self, pending: Pending, keep_alive: bool) -> None:
        self.busy = False
        reply = self.sim.finish(pending)  # drawn and logged even if the client gave up
        if self.transport is not None:
            self._send(reply, keep_alive)
            self._serve()

    def _send(self, reply: Reply | None, keep_alive: bool) -> None:
        if self.transport is None or reply is None:
            return
        if reply.drop:
            self.buffer.clear()
            self.close()
            return
        self.transport.write(_response_bytes(reply, keep_alive))
        if not keep_alive:
            self.close()

    def _take_request(self) -> tuple[str, str, dict[str, str], bytes, bool] | None:
        """The next complete request off the buffer, or None while it is still arriving."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEAD:
                self._send(Reply(431, b"request head too large"), keep_alive=False)
            return None
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3 or "chunked" in headers.get("transfer-encoding", "").lower():
            self._send(Reply(411 if len(parts) == 3 else 400, b"bad request"), keep_alive=False)
            return None
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send(Reply(400, b"bad Content-Length"), keep_alive=False)
            return None
        if len(self.buffer) < end + 4 + length:
            return None
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        keep_alive = parts[2] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        return parts[0], parts[1], headers, body, keep_alive


_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_THREAD = threading.Thread()  # replaced by the serving thread on first use
_LOOP_LOCK = threading.Lock()


def _serving_loop() -> asyncio.AbstractEventLoop:
    """The one event loop (in one daemon thread) that serves every simulator of the process:
    a fleet of 254 simulators costs one thread and a listening socket each, not a loop each."""
    global _LOOP, _LOOP_THREAD
    with _LOOP_LOCK:
        if _LOOP is None or not _LOOP_THREAD.is_alive():
            loop = _new_event_loop()
            thread = threading.Thread(target=loop.run_forever, daemon=True, name="odyssey-sim")
            thread.start()
            _LOOP, _LOOP_THREAD = loop, thread
        return _LOOP


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (less CPU per request), else the stdlib loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - same behaviour, more CPU
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_simulator(
    port: int = 8765,
    parties: int = 5000,
    seed: int = 7,
    *,
    anchor: date | None = None,
    password: str = "api_password",  # noqa: S107
    **faults: object,
) -> None:
    """Serve a simulated county in the foreground until interrupted (CLI entry)."""
    sim = OdysseySimulator(
        parties=parties,
        seed=seed,
        faults=Faults(**faults),
        anchor=anchor,
        port=port,
        password=password,
    )
    sim.prerender()
    base = sim.start()
    print(
        f"Odyssey simulator at {base}{E.SERVICE_PATH}: {len(sim.county.parties)} parties, "
        f"{len(sim.county.cases)} cases, {len(sim.county.hearings)} hearings; "
        f"user {sim.username!r}, site key {sim.site_key!r}",
        flush=True,
    )
    try:
        _LOOP_THREAD.join()
    except KeyboardInterrupt:
        sim.stop()

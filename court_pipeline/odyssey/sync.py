"""One Odyssey sync for one agency: FindParties -> hearings per party -> FindCase per case.

The three steps are pipelined on one bounded pool: a party's hearings are requested as soon
as its FindParties page arrives, a case as soon as it is first met, so the pool never idles
between steps. Calls that failed in the previous run (``retry_parties`` / ``retry_cases``)
are queued first. A call that still fails after retries is recorded as a ``FailedCall`` and
the run carries on; only a 401 stops it. Every HTTP reply is appended to a gzip JSON-lines
archive, from which ``replay_archive`` rebuilds exactly the same frames.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import gzip
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element  # noqa: S405 - type only
from zoneinfo import ZoneInfo

import pandas as pd

from court_pipeline import settings
from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey import messages as M
from court_pipeline.odyssey.client import OdysseyClient
from court_pipeline.odyssey.contacts import CONTACT_COLUMNS, build_contacts
from court_pipeline.odyssey.errors import OdysseyAuthError, OdysseyError, OdysseyReplyError
from court_pipeline.odyssey.messages import OdysseyRequest
from court_pipeline.odyssey.parse import (
    ABSENT,
    CaseReply,
    HearingsReply,
    PartiesPage,
    finish,
    parse_case,
    parse_find_parties,
    parse_hearings,
    parse_reply,
)
from court_pipeline.records.merge import ABSENT_COLUMN

# --- clean-table columns (agency_id / source / source_ref / *_at filled by merge_records) ---
COLUMNS: dict[str, list[str]] = {
    "parties": [
        "party_id",
        "first_name",
        "middle_name",
        "last_name",
        "suffix",
        "business_name",
        "date_of_birth",
        "sex",
        "race",
        "ethnicity",
        "preferred_language",
        "interpreter_needed",
        "address_line1",
        "city",
        "state",
        "zip",
        "bar_number",
        "sms_opt_out",
        "source_modified_at",
    ],
    "contacts": CONTACT_COLUMNS,
    "cases": [
        "case_id",
        "case_number",
        "case_style",
        "case_category",
        "case_category_code",
        "case_type",
        "case_type_code",
        "case_status",
        "case_status_code",
        "case_status_date",
        "file_date",
        "court_code",
        "court_name",
        "court_type",
        "oca_court_id",
        "judge_name",
        "judge_type",
        "payment_status",
        "amount_due",
        "amount_paid",
        "fines",
        "source_modified_at",
    ],
    "case_parties": ["case_id", "party_id", "role", "role_code", "source_modified_at"],
    "hearings": [
        "hearing_id",
        "case_id",
        "case_number",
        "session_id",
        "hearing_type",
        "hearing_type_code",
        "start_at",
        "start_local",
        "court_timezone",
        "status",
        "status_date",
        "calendar",
        "location",
        "courtroom",
        "judge",
        "source_modified_at",
    ],
    "hearing_parties": ["hearing_id", "party_id", "role", "source_modified_at"],
    "charges": [
        "case_id",
        "charge_id",
        "party_id",
        "charge_number",
        "statute_code",
        "statute",
        "offense_code",
        "description",
        "degree_code",
        "degree",
        "offense_date",
        "arrest_date",
        "filing_date",
        "plea_code",
        "plea",
        "plea_date",
        "disposition_code",
        "disposition",
        "disposition_date",
        "sentence_type",
        "sentence_date",
        "fine_amount",
        "court_costs",
        "restitution",
        "confinement_days",
        "source_modified_at",
    ],
    "attorneys": [
        "case_id",
        "attorney_party_id",
        "represents_party_id",
        "name",
        "bar_number",
        "type_code",
        "type",
        "start_date",
        "end_date",
        "source_modified_at",
    ],
    "case_events": ["case_id", "event_id", "event_date", "type_code", "type", "source_modified_at"],
}
KEYS: dict[str, list[str]] = {
    "parties": ["party_id"],
    "contacts": ["contact_id"],
    "cases": ["case_id"],
    "case_parties": ["case_id", "party_id", "role"],
    "hearings": ["hearing_id"],
    "hearing_parties": ["hearing_id", "party_id"],
    "charges": ["case_id", "charge_id"],
    "attorneys": ["case_id", "attorney_party_id", "represents_party_id"],
    "case_events": ["case_id", "event_id"],
}
MERGE_ORDER = list(COLUMNS)
_INSTANT_COLUMNS = ("source_modified_at", "start_at")

KIND_PAGE, KIND_PARTY, KIND_CASE = "parties_page", "party_hearings", "case"


def new_sync_id(agency_id: str) -> str:
    return f"{agency_id}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class FailedCall:
    """A call lost after all retries. ``retryable``: the next run fetches it again first."""

    kind: str
    key: str
    error_code: str
    error: str
    retryable: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "error_code": self.error_code,
            "error": self.error,
            "retryable": self.retryable,
        }


# --- archive ----------------------------------------------------------------------------
class RawArchive:
    """Append-only gzip JSON lines: one line per HTTP reply (every attempt, any status).

    Lines are encoded as replies arrive and handed, in batches of about 256 KiB, to one
    writer thread that compresses and writes them in order: zlib releases the GIL, so the
    compression runs beside the event loop instead of on it. ``close`` drains the writer
    and re-raises a write error, so a sync never reports an archive it did not write.
    """

    _BATCH = 1 << 18

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = gzip.open(path, "ab", compresslevel=5)  # noqa: SIM115
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._pending_size = 0
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="odyssey-archive")
        self._writes: list[Future[None]] = []
        self.lines = 0

    @classmethod
    def for_sync(cls, agency_id: str, sync_id: str, root: Path | None = None) -> RawArchive:
        base = (root or settings.archive_dir()) / "odyssey" / agency_id
        return cls(base / f"{sync_id}.jsonl.gz")

    def record(self, request: OdysseyRequest, attempt: int, status: int, body: bytes) -> None:
        line: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(),
            "message_type": request.message_type.value,
            "key": request.key,
            "reference": request.reference,
            "attempt": attempt,
            "status": status,
            "request": request.message_xml,
        }
        try:
            line["response"] = body.decode("utf-8")
        except UnicodeDecodeError:
            line["response_b64"] = base64.b64encode(body).decode("ascii")
        text = json.dumps(line, ensure_ascii=False) + "\n"
        with self._lock:
            self._pending.append(text)
            self._pending_size += len(text)
            self.lines += 1
            if self._pending_size >= self._BATCH:
                self._hand_over()

    def _hand_over(self) -> None:
        """Queue the pending lines for the writer thread (caller holds the lock)."""
        if self._pending:
            data = "".join(self._pending).encode("utf-8")
            self._pending.clear()
            self._pending_size = 0
            self._writes = [f for f in self._writes if not f.done() or f.exception()]
            self._writes.append(self._writer.submit(self._file.write, data))

    def close(self) -> None:
        with self._lock:
            self._hand_over()
            self._writer.shutdown(wait=True)
            self._file.close()
            for write in self._writes:
                write.result()  # a failed write fails the sync rather than vanish


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    """Every archived reply line, in order."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


# --- collecting parsed replies into frames ------------------------------------------------
def _instants_to_utc(rows: list[dict[str, Any]]) -> None:
    """Re-express the instant columns of ``rows`` in UTC, in place, as replies arrive: the
    same instants (``astimezone`` reads folds and gaps exactly as pandas does), but pandas
    builds a column of UTC datetimes ten times faster than one of court-zone datetimes, and
    the frames are built after the last reply, on the sync's critical path."""
    for row in rows:
        for column in _INSTANT_COLUMNS:
            value = row.get(column)
            if isinstance(value, datetime) and value.tzinfo is not UTC:
                row[column] = value.astimezone(UTC)


class Collector:
    """Accumulates parsed replies and builds the clean-table frames."""

    def __init__(self, zone: ZoneInfo, region: str = "US") -> None:
        self.zone = zone
        self.region = region
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in COLUMNS}
        self.phones: list[dict[str, Any]] = []
        self.emails: list[dict[str, Any]] = []
        self.contact_lists: list[dict[str, str]] = []  # (party, kind) lists given in full
        self.rejected: list[dict[str, str]] = []
        self.unknown_languages: list[str] = []
        self.hearing_parties: list[tuple[str, str]] = []  # (hearing_id, party_id)
        self.parties_with_hearings: set[str] = set()  # parties whose hearings call succeeded
        self.nonexistent_times = 0
        self.ambiguous_times = 0
        self._contacts: tuple[tuple[int, int], Future[pd.DataFrame]] | None = None

    def add_page(self, page: PartiesPage) -> None:
        for rows in (page.parties, page.case_parties, page.phones, page.emails):
            _instants_to_utc(rows)
        self.rows["parties"] += page.parties
        self.rows["case_parties"] += page.case_parties
        self.phones += page.phones
        self.emails += page.emails
        self.contact_lists += page.contact_lists
        self.rejected += page.rejected
        self.unknown_languages += page.unknown_languages

    def add_hearings(self, reply: HearingsReply) -> None:
        _instants_to_utc(reply.hearings)
        self.rows["hearings"] += reply.hearings
        self.rejected += reply.rejected
        self.parties_with_hearings.add(reply.party_id)
        self.hearing_parties += [(h["hearing_id"], reply.party_id) for h in reply.hearings]
        self.nonexistent_times += reply.nonexistent_times
        self.ambiguous_times += reply.ambiguous_times

    def add_case(self, reply: CaseReply) -> None:
        for rows in (
            [reply.case],
            reply.case_parties,
            reply.charges,
            reply.attorneys,
            reply.events,
        ):
            _instants_to_utc(rows)
        self.rows["cases"].append(reply.case)
        self.rows["case_parties"] += reply.case_parties
        self.rows["charges"] += reply.charges
        self.rows["attorneys"] += reply.attorneys
        self.rows["case_events"] += reply.events

    def add_reply(self, request_type: str, key: str, root: Element, observed_at: datetime) -> None:
        """Dispatch a parsed result root (used by both the live sync and the replay)."""
        if request_type == E.MessageType.FIND_PARTIES:
            self.add_page(parse_find_parties(root, self.zone))
        elif request_type == E.MessageType.GET_SCHEDULED_HEARINGS:
            self.add_hearings(parse_hearings(root, self.zone, key, observed_at))
        elif request_type == E.MessageType.FIND_CASE:
            self.add_case(parse_case(root, self.zone))

    def prepare_contacts(self) -> None:
        """Start building the contacts frame in a worker thread, from the phones and emails
        collected so far (every FindParties page has arrived: no more will come).

        Normalizing phones is mostly DuckDB work that releases the GIL, so it overlaps the
        hearing and case calls instead of adding to the end of the sync. ``frames`` uses the
        result only if nothing was added since."""
        basis = (len(self.phones), len(self.emails))
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="odyssey-contacts")
        future = worker.submit(build_contacts, list(self.phones), list(self.emails), self.region)
        worker.shutdown(wait=False)
        self._contacts = (basis, future)

    def _contacts_frame(self) -> pd.DataFrame:
        prepared, self._contacts = self._contacts, None
        if prepared is not None:
            basis, future = prepared
            frame = future.result()
            if basis == (len(self.phones), len(self.emails)):
                return frame
        return build_contacts(self.phones, self.emails, self.region)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Frames with exactly the clean tables' column names, deduplicated by key."""
        roles = {(r["case_id"], r["party_id"]): r["role"] for r in self.rows["case_parties"]}
        hearing_case = {
            h["hearing_id"]: (h["case_id"], h["source_modified_at"]) for h in self.rows["hearings"]
        }
        # the role comes from another reply (FindParties / FindCase): when neither arrived
        # this run, it is unknown (absent), not empty
        self.rows["hearing_parties"] = [
            finish({
                "hearing_id": hid,
                "party_id": pid,
                "role": roles.get((hearing_case[hid][0], pid), ABSENT),
                "source_modified_at": hearing_case[hid][1],
            })
            for hid, pid in self.hearing_parties
        ]
        out: dict[str, pd.DataFrame] = {}
        for table, columns in COLUMNS.items():
            if table == "contacts":
                frame = self._contacts_frame()
            else:
                columns = [*columns, ABSENT_COLUMN]  # which fields each row lacked
                frame = pd.DataFrame(self.rows[table], columns=columns)
            frame = frame.reindex(columns=columns)
            if not frame.empty:
                frame = frame.drop_duplicates(KEYS[table], keep="last").reset_index(drop=True)
            for column in _INSTANT_COLUMNS:
                if column in frame:
                    frame[column] = pd.to_datetime(frame[column], utc=True)
            if "start_local" in frame:
                frame["start_local"] = pd.to_datetime(frame["start_local"])
            out[table] = frame
        return out


# --- the sync -----------------------------------------------------------------------------
@dataclass
class SyncResult:
    sync_id: str
    agency_id: str
    mode: str
    started_at: datetime
    started_local: datetime  # wall clock in court time: the next cursor if the run is clean
    window_from: date
    window_to: date
    modified_since: datetime | None
    frames: dict[str, pd.DataFrame]
    failed: list[FailedCall]
    stats: dict[str, Any]
    archive_path: Path | None
    parties_with_hearings: set[str] = field(default_factory=set)
    rejected: list[dict[str, str]] = field(default_factory=list)

    @property
    def lost(self) -> list[FailedCall]:
        """Calls whose data is missing from this run (not-found answers are not losses)."""
        return [f for f in self.failed if f.error_code not in E.NOT_FOUND_ERROR_CODES]

    @property
    def partial(self) -> bool:
        return bool(self.lost)

    @property
    def pages_lost(self) -> int:
        return sum(1 for f in self.lost if f.kind == KIND_PAGE)

    @property
    def read_nothing(self) -> str | None:
        """Why this sync read nothing of its window (None when it read some of it): no
        FindParties page arrived, or pages arrived but every hearings and case call it made
        was lost. Unknown is not empty: such a sync fails its run and never counts as fresh."""
        if self.pages_lost and not self.stats.get("pages_fetched"):
            return f"no FindParties page of its window arrived ({self.pages_lost} lost)"
        items_lost = sum(1 for f in self.lost if f.kind != KIND_PAGE)
        if items_lost and not self.stats.get("items_fetched"):
            return f"every hearings and case call was lost ({items_lost})"
        return None

    @property
    def cursor_may_advance(self) -> bool:
        """Every FindParties page arrived, so every changed party is known; item-level
        losses are carried by the failed-calls list and fetched first next run."""
        return self.pages_lost == 0


async def sync_agency_async(
    client: OdysseyClient,
    *,
    agency_id: str,
    zone: ZoneInfo,
    today: date,
    hearing_window_days: int,
    page_size: int = 200,
    modified_since: datetime | None = None,
    retry_parties: Iterable[str] = (),
    retry_cases: Iterable[str] = (),
    sync_id: str | None = None,
    archive: RawArchive | None = None,
    region: str = "US",
) -> SyncResult:
    """Run one sync with an open client. ``modified_since`` None = full hearing window."""
    sync_id = sync_id or new_sync_id(agency_id)
    started_at = datetime.now(UTC)
    started_local = started_at.astimezone(zone).replace(tzinfo=None, microsecond=0)
    t0 = time.monotonic()
    window_from, window_to = today, today + timedelta(days=hearing_window_days)
    mode = "full" if modified_since is None else "incremental"
    collector = Collector(zone, region)
    failed: list[FailedCall] = []
    seen_parties: set[str] = set()
    seen_cases: set[str] = set()
    pages = {"total_results": 0, "pages": 0}
    if archive is not None:
        client.on_reply = archive.record

    async def guarded(kind: str, request: OdysseyRequest) -> Element | None:
        try:
            return await client.call(request)
        except OdysseyAuthError:
            raise
        except OdysseyError as exc:
            failed.append(
                FailedCall(
                    kind,
                    request.key,
                    exc.code,
                    str(exc)[:500],
                    exc.code not in E.NOT_FOUND_ERROR_CODES,
                )
            )
        return None

    def content_error(kind: str, request: OdysseyRequest, exc: ValueError) -> None:
        err = OdysseyReplyError(
            f"unreadable content: {exc}",
            retryable=False,
            code="BAD_CONTENT",
            message_type=request.message_type.value,
            reference=request.reference,
        )
        failed.append(FailedCall(kind, request.key, err.code, str(err)[:500], True))

    async with asyncio.TaskGroup() as tg:

        def want_party(party_id: str) -> None:
            if party_id and party_id not in seen_parties:
                seen_parties.add(party_id)
                tg.create_task(fetch_hearings(party_id))

        def want_case(case_id: str | None) -> None:
            if case_id and case_id not in seen_cases:
                seen_cases.add(case_id)
                tg.create_task(fetch_case(case_id))

        async def fetch_page(number: int) -> PartiesPage | None:
            request = M.find_parties(
                page_number=number,
                page_size=page_size,
                hearing_date_from=None if modified_since else window_from,
                hearing_date_to=None if modified_since else window_to,
                modified_since=modified_since,
            )
            root = await guarded(KIND_PAGE, request)
            if root is None:
                return None
            try:
                page = parse_find_parties(root, zone)
            except ValueError as exc:
                content_error(KIND_PAGE, request, exc)
                return None
            collector.add_page(page)
            pages["pages"] += 1
            for party in page.parties:
                want_party(party["party_id"])
            for cp in page.case_parties:
                want_case(cp["case_id"])
            return page

        async def fetch_hearings(party_id: str) -> None:
            request = M.get_scheduled_hearings(party_id, window_from, window_to)
            root = await guarded(KIND_PARTY, request)
            if root is None:
                return
            try:
                reply = parse_hearings(root, zone, party_id, datetime.now(UTC))
            except ValueError as exc:
                content_error(KIND_PARTY, request, exc)
                return
            collector.add_hearings(reply)
            for hearing in reply.hearings:
                want_case(hearing["case_id"])

        async def fetch_case(case_id: str) -> None:
            request = M.find_case(case_id=case_id)
            root = await guarded(KIND_CASE, request)
            if root is None:
                return
            try:
                reply = parse_case(root, zone)
            except ValueError as exc:
                content_error(KIND_CASE, request, exc)
                return
            collector.add_case(reply)

        async def fetch_all_pages() -> None:
            first = await fetch_page(1)
            if first is None:
                return
            pages["total_results"] = first.total_results
            size = first.page_size or page_size
            rest = [
                tg.create_task(fetch_page(number))
                for number in range(2, math.ceil(first.total_results / max(size, 1)) + 1)
            ]
            if rest:
                await asyncio.wait(rest)
            collector.prepare_contacts()  # every page is in: contacts are known

        for party_id in retry_parties:
            want_party(str(party_id))
        for case_id in retry_cases:
            want_case(str(case_id))
        tg.create_task(fetch_all_pages())

    frames = collector.frames()
    stats = {
        **client.stats.as_dict(),
        "elapsed_seconds": round(time.monotonic() - t0, 3),
        "total_results": pages["total_results"],
        "pages_fetched": pages["pages"],
        "parties_requested": len(seen_parties),
        "items_fetched": len(collector.parties_with_hearings) + len(collector.rows["cases"]),
        "cases_requested": len(seen_cases),
        "failed_calls": len(failed),
        "lost_calls": sum(1 for f in failed if f.error_code not in E.NOT_FOUND_ERROR_CODES),
        "rejected_records": len(collector.rejected),
        "unknown_languages": len(collector.unknown_languages),
        "nonexistent_local_times": collector.nonexistent_times,
        "ambiguous_local_times": collector.ambiguous_times,
        "rows": {t: len(f) for t, f in frames.items()},
    }
    return SyncResult(
        sync_id=sync_id,
        agency_id=agency_id,
        mode=mode,
        started_at=started_at,
        started_local=started_local,
        window_from=window_from,
        window_to=window_to,
        modified_since=modified_since,
        frames=frames,
        failed=failed,
        stats=stats,
        archive_path=archive.path if archive else None,
        parties_with_hearings=collector.parties_with_hearings,
        rejected=collector.rejected,
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (it comes with uvicorn[standard], which the Dagster
    webserver pulls in): a third less CPU per HTTP call than the stdlib loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - stdlib loop, same behaviour, more CPU
        return None
    return uvloop.new_event_loop


def sync_agency(
    client_factory: Any,
    *,
    agency_id: str,
    zone: ZoneInfo,
    today: date,
    hearing_window_days: int,
    archive_root: Path | None = None,
    archive: bool = True,
    **kwargs: Any,
) -> SyncResult:
    """Blocking wrapper: ``client_factory()`` returns an unopened OdysseyClient."""
    sync_id = kwargs.pop("sync_id", None) or new_sync_id(agency_id)
    raw = RawArchive.for_sync(agency_id, sync_id, archive_root) if archive else None

    results: list[SyncResult] = []

    async def run() -> None:
        # The result is handed out through ``results``, not as the main task's return value:
        # when asyncio.run restores the SIGINT handler it looks the old one (a partial holding
        # the main task) up in an enum, and the failed lookup formats repr(task), i.e. the
        # repr of every DataFrame in the result: seconds of CPU for a large sync.
        async with client_factory() as client:
            results.append(
                await sync_agency_async(
                    client,
                    agency_id=agency_id,
                    zone=zone,
                    today=today,
                    hearing_window_days=hearing_window_days,
                    sync_id=sync_id,
                    archive=raw,
                    **kwargs,
                )
            )

    # The cyclic GC's full collections walk every object in the process (in a Dagster run,
    # well over a million from imports alone) while a sync allocates rows by the hundred
    # thousand: a fifth of the sync's CPU. Objects that exist before the sync are frozen
    # out of collection for its duration; everything the sync creates is collected as usual.
    gc.freeze()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(run())
        return results[0]
    except* OdysseyAuthError as group:  # unwrap the TaskGroup's ExceptionGroup
        raise group.exceptions[0] from None
    finally:
        gc.unfreeze()
        if raw is not None:
            raw.close()


@dataclass
class Replay:
    """Frames rebuilt from an archive, plus what the merge step needs to know."""

    frames: dict[str, pd.DataFrame]
    parties_with_hearings: set[str]
    rejected: list[dict[str, str]]
    contact_lists: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["party_id", "kind"])
    )


def replay_archive(path: Path, zone: ZoneInfo, region: str = "US") -> Replay:
    """Rebuild the frames of a sync from its raw archive, without the network (audit)."""
    collector = Collector(zone, region)
    for line in read_archive(path):
        if line.get("status") != 200 or "response" not in line:
            continue
        mt = E.MessageType(line["message_type"])
        try:
            root = parse_reply(line["response"].encode("utf-8"), mt, line["reference"])
            observed = datetime.fromisoformat(line["at"])
            collector.add_reply(mt, line["key"], root, observed)
        except (OdysseyError, ValueError):
            continue  # the live run recorded this call as failed (or retried it)
    lists = pd.DataFrame(collector.contact_lists, columns=["party_id", "kind"])
    return Replay(
        collector.frames(),
        collector.parties_with_hearings,
        collector.rejected,
        lists.drop_duplicates().reset_index(drop=True),
    )


def frames_summary(frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    return {table: len(frame) for table, frame in frames.items()}

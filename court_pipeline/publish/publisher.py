"""Publishing one county's datasets to CourtAnalyticsTX: plan, pack, send, settle.

Every planned record ends in exactly one place: accepted (state updated), held back with the
service's errors that name it (oca_held_back; the envelope's whole error list is stored once,
on the envelope), or deferred to the next run (circuit open, no definite answer, 429 past the
time budget, token endpoint down: state untouched, so the next run plans it again and packs it
first). A run first checks that the state belongs to the configured target (target.py).
Envelopes go out ``concurrency`` at a time; the shared state between workers is the circuit
breaker, the 429 pause (RateGate), a per-county "refused" flag and the store (which
serializes its own writes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from court_pipeline.publish.client import (
    CircuitBreaker,
    Credential,
    MessagesClient,
    OcaTokenError,
    PutResult,
    TokenProvider,
    make_http_client,
)
from court_pipeline.publish.envelopes import (
    MAX_BYTES,
    MAX_ENTITIES_PER_EVENT,
    MAX_EVENTS,
    Change,
    Envelope,
    build_envelope,
    pack,
)
from court_pipeline.publish.retrying import RateGate, RetryPolicy
from court_pipeline.publish.state import ChangePlan, HeldBack, StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishSettings:
    """Where and how to send. ``concurrency``: envelopes in flight at once per county."""

    environment: str
    token_url: str
    messages_url: str
    timeout_seconds: float = 60.0
    concurrency: int = 4
    circuit_breaker_threshold: int = 3
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_events: int = MAX_EVENTS
    max_entities: int = MAX_ENTITIES_PER_EVENT
    max_bytes: int = MAX_BYTES
    token_refresh_margin_seconds: float = 300.0
    # how long to wait for another run publishing the same county (then PublishLockTimeout)
    lock_wait_seconds: float = 600.0


@dataclass
class PublishReport:
    """What a run did for one county; every planned record is in exactly one count."""

    environment: str
    agency_id: str
    county: str
    run_id: str
    planned: dict[str, dict[str, int]] = field(default_factory=dict)
    envelopes: int = 0
    bytes_sent: int = 0
    accepted: int = 0
    held_back: int = 0
    retry_next_run: int = 0
    deletes_not_found: int = 0
    recovered_envelopes: int = 0
    sent_first: int = 0  # records a past run deferred, packed ahead of everything else
    circuit_open: bool = False
    county_refused: bool = False
    rate_limited: int = 0  # 429 answers (token and Messages)
    rate_pauses: int = 0  # times the whole sender paused for a Retry-After
    seconds: dict[str, float] = field(default_factory=dict)  # plan / pack / send wall times
    reasons: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.held_back == 0 and self.retry_next_run == 0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "county": self.county,
            "envelopes": self.envelopes,
            "bytes_sent": self.bytes_sent,
            "accepted": self.accepted,
            "held_back": self.held_back,
            "retry_next_run": self.retry_next_run,
            "deletes_not_found": self.deletes_not_found,
            "recovered_envelopes": self.recovered_envelopes,
            "deferred_from_last_run_sent_first": self.sent_first,
            "circuit_open": self.circuit_open,
            "county_refused": self.county_refused,
            "rate_limited": self.rate_limited,
            **{f"{step}_seconds": round(value, 3) for step, value in self.seconds.items()},
        }


class StopAfterSend(BaseException):
    """Raised by a test hook between a send and its bookkeeping (simulates a crash)."""


class _Run:
    """One county's sending, shared by the worker threads."""

    def __init__(
        self,
        store: StateStore,
        client: MessagesClient,
        settings: PublishSettings,
        report: PublishReport,
        after_send: Callable[[str, PutResult], None] | None,
    ) -> None:
        self.store, self.client, self.settings, self.report = store, client, settings, report
        self.breaker = CircuitBreaker(settings.circuit_breaker_threshold)
        self.after_send = after_send
        self.refused = threading.Event()
        self._lock = threading.Lock()

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self.report, name, getattr(self.report, name) + value)

    def _hold(self, held: list[HeldBack], envelope_id: str | None = None) -> None:
        retry = sum(1 for h in held if h.reason_kind == "retry_next_run")
        self._count(held_back=len(held) - retry, retry_next_run=retry)
        with self._lock:
            self.report.reasons.update(h.reason_kind for h in held)
        self.store.hold_back(held, envelope_id)

    def defer_all(self, envelopes: list[Envelope], reason: str) -> None:
        """Nothing could be sent (token endpoint down): every record waits for the next run."""
        self._say(reason)
        self._hold([HeldBack(c, "retry_next_run", reason) for e in envelopes for c in e.changes])

    def _skip_reason(self) -> tuple[str, str] | None:
        if self.refused.is_set():
            return (
                "county_403",
                f"the credential is not associated with county "
                f"{self.report.county} (403 System_County_Association); not sent",
            )
        if self.breaker.is_open:
            return (
                "retry_next_run",
                "circuit breaker open after repeated failures of the "
                "service; not sent, will be sent by the next run",
            )
        return None

    def deliver(self, envelope: Envelope) -> None:
        """Send one envelope; on per-entity rejections, remove those and resend the rest."""
        parent: str | None = None
        while envelope.changes:
            skip = self._skip_reason()
            if skip:
                self._hold([HeldBack(c, *skip) for c in envelope.changes])
                return
            envelope_id = self.store.record_intent(envelope, parent)
            parent = parent or envelope_id
            result = self.client.put(envelope.body)
            self._count(envelopes=1, bytes_sent=envelope.size)
            if self.after_send is not None:
                self.after_send(envelope_id, result)
            remaining = self._settle(envelope_id, envelope, result)
            if not remaining:
                return
            envelope = build_envelope(
                remaining,
                max_events=self.settings.max_events,
                max_entities=self.settings.max_entities,
                max_bytes=self.settings.max_bytes,
            )

    def _settle(self, envelope_id: str, envelope: Envelope, result: PutResult) -> list[Change]:
        """Record the outcome; return the changes that should be resent now.

        The envelope's row keeps the service's whole error list once; each held-back record
        keeps only the errors whose ``dataPath`` names it (never the envelope's whole list:
        with 2,500 entities that would store 2,500 x 2,500 errors).
        """
        status, changes, store = result.status, envelope.changes, self.store
        errors = result.body.get("Errors") if isinstance(result.body.get("Errors"), list) else []
        if result.ok:
            self.breaker.success()
            store.record_outcome(
                envelope_id,
                status="acked",
                http_status=200,
                attempts=result.attempts,
                accepted=changes,
                service_envelope_id=str(result.body.get("EnvelopeId") or ""),
            )
            self._count(accepted=len(changes))
            return []
        if result.gave_up or status is None or status == 401:
            return self._settle_no_answer(envelope_id, envelope, result)
        self.breaker.success()
        if status == 404:
            return self._settle_not_found(envelope_id, envelope, result, errors)
        if status in (400, 422) and errors:
            return self._settle_invalid(envelope_id, envelope, result, errors)
        if status == 403:
            kind = "county_403"
            named = (
                f"the credential is not associated with county {self.report.county} "
                "(403 System_County_Association); ask OCA to associate it"
            )
            if not self.refused.is_set():
                self.refused.set()
                self._say(
                    f"403 System_County_Association: the credential may not publish "
                    f"{self.report.county}; nothing more is sent for this county"
                )
        else:
            kind = "conflict_409" if status == 409 else f"http_{status}"
            named = f"service answered {result.error} naming this record; not retried in this run"
            self._say(
                f"envelope {envelope_id}: service answered {result.error}; not retried in this run"
            )
        whole = (
            f"service answered {result.error} for the whole envelope {envelope_id} "
            "(see oca_envelope_log.errors); not retried in this run"
        )
        self._reject_all(envelope_id, envelope, result, errors, kind, named, whole)
        return []

    def _settle_no_answer(
        self, envelope_id: str, envelope: Envelope, result: PutResult
    ) -> list[Change]:
        """No definite answer (or 429s past the budget): the records wait for the next run."""
        opened = self.breaker.failure()
        if opened:
            self._say(
                f"circuit breaker opened after {self.breaker.threshold} consecutive "
                f"failed envelopes ({result.error}); the rest waits for the next run"
            )
        limited = result.status == 429
        reason = (
            f"no definite answer from the service ({result.error}); sent again next run"
            if not limited
            else f"{result.error}; sent first by the next run"
        )
        held = [HeldBack(c, "retry_next_run", reason, result.status) for c in envelope.changes]
        self.store.record_outcome(
            envelope_id,
            status="failed",
            http_status=result.status,
            attempts=result.attempts,
            errors=[{"message": result.error}],
            uncertain=not limited,  # a 429 applied nothing
        )
        self._hold(held, envelope_id)
        return []

    def _reject_all(
        self,
        envelope_id: str,
        envelope: Envelope,
        result: PutResult,
        errors: list[dict],
        kind: str,
        named: str,
        whole: str,
    ) -> None:
        """Hold back every record of a refused envelope, each with only its own errors."""
        own = _errors_by_change(envelope, errors)
        held = [
            HeldBack(c, kind, named if i in own else whole, result.status, own.get(i))
            for i, c in enumerate(envelope.changes)
        ]
        self.store.record_outcome(
            envelope_id,
            status="rejected",
            http_status=result.status,
            attempts=result.attempts,
            errors=errors or [{"message": result.error}],
        )
        self._hold(held, envelope_id)

    def _settle_not_found(
        self, envelope_id: str, envelope: Envelope, result: PutResult, errors: list[dict]
    ) -> list[Change]:
        own = _errors_by_change(envelope, errors)
        gone = [envelope.changes[i] for i in sorted(own) if envelope.changes[i].action == "delete"]
        if not gone:  # a 404 we cannot attribute to a delete: do not loop
            reason = f"service answered {result.error} naming this record; not retried"
            whole = (
                f"service answered {result.error} naming no delete of envelope "
                f"{envelope_id} (see oca_envelope_log.errors); not retried"
            )
            self._reject_all(envelope_id, envelope, result, errors, "http_404", reason, whole)
            return []
        rest = [c for i, c in enumerate(envelope.changes) if i not in own]
        log.info("%d delete(s) of records unknown to the service treated as done", len(gone))
        self.store.record_outcome(
            envelope_id,
            status="rejected",
            http_status=404,
            attempts=result.attempts,
            accepted=gone,
            errors=errors,
        )
        self._count(accepted=len(gone), deletes_not_found=len(gone))
        return rest

    def _settle_invalid(
        self, envelope_id: str, envelope: Envelope, result: PutResult, errors: list[dict]
    ) -> list[Change]:
        by_index = _errors_by_change(envelope, errors)
        if not by_index:  # the envelope itself is wrong (our bug or a limit): hold back all
            message = result.body.get("Message") or result.error
            reason = (
                f"whole envelope {envelope_id} rejected: {message} (see oca_envelope_log.errors)"
            )
            held = [HeldBack(c, "validation", reason, result.status) for c in envelope.changes]
        else:
            held = [
                HeldBack(
                    envelope.changes[i], "validation", _validation_reason(errs), result.status, errs
                )
                for i, errs in sorted(by_index.items())
            ]
        self.store.record_outcome(
            envelope_id,
            status="rejected",
            http_status=result.status,
            attempts=result.attempts,
            held_back=held,
            errors=errors,
        )
        self._count(held_back=len(held))
        with self._lock:
            self.report.reasons.update(h.reason_kind for h in held)
        if not by_index:
            return []
        return [c for i, c in enumerate(envelope.changes) if i not in by_index]

    def _say(self, message: str) -> None:
        log.warning("%s/%s: %s", self.report.environment, self.report.county, message)
        with self._lock:
            self.report.messages.append(message)


def _errors_by_change(envelope: Envelope, errors: list[dict]) -> dict[int, list[dict]]:
    """The service's errors per change index, by ``dataPath`` (unnamed errors are left out)."""
    by_index: dict[int, list[dict]] = {}
    for error in errors:
        if isinstance(error, dict):
            for i in envelope.index_for(error.get("dataPath")):
                by_index.setdefault(i, []).append(error)
    return by_index


def _validation_reason(errors: list[dict]) -> str:
    parts = []
    for error in errors:
        field_name = str(error.get("dataPath", "")).rsplit(".EntityData", 1)[-1].lstrip(".")
        params = error.get("params") or {}
        extra = params.get("additionalProperty") or params.get("missingProperty")
        what = field_name or extra or "record"
        parts.append(f"{what}: {error.get('keyword')} ({error.get('message')})")
    return "; ".join(parts)


def publish_county(
    store: StateStore,
    datasets: Mapping[str, pd.DataFrame],
    credential: Credential,
    settings: PublishSettings,
    *,
    publisher: str,
    after_send: Callable[[str, PutResult], None] | None = None,
) -> PublishReport:
    """Publish the current validated rows of every entity type for one county.

    ``datasets`` maps entity type -> the whole current set of validated rows for the county
    (records absent from it are deleted at the service). ``after_send`` is a test hook called
    between a send and its bookkeeping.
    """
    report = PublishReport(settings.environment, store.agency_id, store.county, store.run_id)
    with store.publishing_lock(settings.lock_wait_seconds):
        store.check_target(settings.messages_url, credential.client_id)
        report.recovered_envelopes = store.recover()
        if report.recovered_envelopes:
            report.messages.append(
                f"{report.recovered_envelopes} envelope(s) from an interrupted run had no "
                "acknowledgement: their records are sent again in full"
            )
        deferred = store.deferred()
        started = time.perf_counter()
        plans: list[ChangePlan] = []
        for entity_type, frame in datasets.items():
            plan = store.plan(entity_type, publisher, frame)
            report.planned[entity_type] = plan.summary()
            plans.append(plan)
            if plan.rejected:
                _hold_rejected(store, plan, report)
        changes = [c for plan in plans for c in plan.changes]
        report.sent_first = sum(1 for c in changes if (c.entity_type, c.recordid) in deferred)
        report.seconds["plan"] = time.perf_counter() - started
        started = time.perf_counter()
        packing = pack(
            changes,
            max_events=settings.max_events,
            max_entities=settings.max_entities,
            max_bytes=settings.max_bytes,
            first=deferred,
        )
        report.seconds["pack"] = time.perf_counter() - started
        if packing.too_large:
            held = [
                HeldBack(
                    c,
                    "too_large",
                    f"one record is larger than {settings.max_bytes} "
                    "bytes serialized; it can never fit an envelope",
                )
                for c in packing.too_large
            ]
            store.hold_back(held)
            report.held_back += len(held)
            report.reasons.update(h.reason_kind for h in held)
        if packing.envelopes:
            started = time.perf_counter()
            _send_all(store, credential, settings, report, packing.envelopes, after_send)
            report.seconds["send"] = time.perf_counter() - started
    log.info(
        "%s/%s: %d envelope(s), %d accepted, %d held back, %d left for the next run",
        settings.environment,
        store.county,
        report.envelopes,
        report.accepted,
        report.held_back,
        report.retry_next_run,
    )
    return report


def _hold_rejected(store: StateStore, plan: ChangePlan, report: PublishReport) -> None:
    held = [
        HeldBack(
            Change(
                plan.entity_type,
                "new",
                {"recordid": r.recordid, "county": plan.county, "publisher": plan.publisher},
            ),
            r.reason_kind,
            r.reason,
        )
        for r in plan.rejected
    ]
    store.hold_back(held)
    report.held_back += len(held)
    report.reasons.update(h.reason_kind for h in held)


def _send_all(
    store: StateStore,
    credential: Credential,
    settings: PublishSettings,
    report: PublishReport,
    envelopes: list[Envelope],
    after_send: Callable[[str, PutResult], None] | None,
) -> None:
    with make_http_client(settings.timeout_seconds, settings.concurrency) as http:
        gate = RateGate()  # one shared 429 pause for the token and every envelope in flight
        tokens = TokenProvider(
            http,
            settings.token_url,
            credential,
            refresh_margin_seconds=settings.token_refresh_margin_seconds,
            policy=settings.retry,
            gate=gate,
        )
        run = _Run(
            store,
            MessagesClient(http, settings.messages_url, tokens, settings.retry, gate),
            settings,
            report,
            after_send,
        )
        try:
            tokens.token()  # bad credentials fail the run here, loudly, before anything is sent
        except OcaTokenError as exc:  # unreachable after retries: everything waits
            run.defer_all(
                envelopes,
                f"token endpoint unavailable ({exc}); not sent, sent first by the next run",
            )
            return
        if settings.concurrency <= 1:
            for envelope in envelopes:
                run.deliver(envelope)
        else:
            with ThreadPoolExecutor(settings.concurrency, "oca-publish") as pool:
                for future in [pool.submit(run.deliver, e) for e in envelopes]:
                    future.result()
        report.circuit_open = run.breaker.is_open
        report.county_refused = run.refused.is_set()
        report.rate_limited = tokens.rate_limited + run.client.rate_limited
        report.rate_pauses = gate.pauses

"""Sending due messages: ``dry-run`` (the default) or a ``webhook`` to an SMS/email provider.

Dry-run marks due messages ``ready`` and sends nothing, so a county can run the whole
pipeline and review the outbox before go-live. Webhook POSTs one JSON document per message
with retries (stamina: capped exponential backoff with jitter, a 429's Retry-After honoured);
after ``max_attempts`` the message is ``failed`` with the error, except when the provider is
still rate-limiting (429): that is not the message's fault, so it stays due for the next
run. HTTP calls happen outside the warehouse lock; results are written back in small chunks,
and every POST carries the stable message id as ``Idempotency-Key`` so a provider can drop
the rare resend after a crash mid-chunk.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import duckdb
import httpx
import pyarrow as pa
import stamina
from filelock import FileLock
from pydantic import Field

from court_pipeline.registry import Agency
from court_pipeline.reminders.flows import RemindersConfig
from court_pipeline.reminders.groups import OPTED_OUT
from court_pipeline.reminders.optouts import load_opt_outs, sync_party_opt_outs
from court_pipeline.reminders.outbox import update_outbox
from court_pipeline.reminders.render import apply_renders, read_inputs, render_keys, render_stored
from court_pipeline.reminders.templates import TemplateSet
from court_pipeline.reminders.timing import in_quiet_hours

ConnectFn = Callable[[], contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]]
WRITE_CHUNK = 50
# what a delivery rendered is kept on the row: the outbox shows what was sent
RENDERED_COLUMNS = {
    "body": pa.string(),
    "subject": pa.string(),
    "segments": pa.int32(),
    "encoding": pa.string(),
    "language": pa.string(),
    "template": pa.string(),
}
THROTTLED = "throttled"  # an outcome, not a status: the message keeps its status


class DeliveryConfigError(RuntimeError):
    """The delivery resource is configured in a way that cannot work (says which setting)."""


class RetryableHttpError(Exception):
    """A provider answer worth retrying (429, 5xx)."""

    def __init__(self, status: int, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status} {reason}".strip())
        self.status = status
        self.retry_after = retry_after


class PermanentHttpError(Exception):
    """A provider answer that retrying will not fix (4xx other than 429)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}".strip())


@dataclass
class DeliveryResult:
    """Counts of one delivery pass (no recipients: safe for metadata)."""

    agency_id: str
    mode: str
    due: int = 0
    readied: int = 0
    sent: int = 0
    failed: int = 0
    render_failed: int = 0  # of failed: the body could not be rendered (last_error says why)
    throttled: int = 0  # still rate-limited (429) after max_attempts: stays due, next run
    held_quiet_hours: int = 0
    attempts: int = 0
    suppressed: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _provider_ref(response: httpx.Response) -> str | None:
    """An id in the provider's JSON answer (id / message_id / sid), if any."""
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("id", "message_id", "sid", "messageId"):
            if isinstance(data.get(key), str | int):
                return str(data[key])[:200]
    return None


class ReminderDelivery(dg.ConfigurableResource):
    """How due reminder messages leave the building (resource key ``reminder_delivery``)."""

    mode: Literal["dry-run", "webhook"] = Field(
        default="dry-run", description="dry-run marks due messages ready; webhook POSTs them"
    )
    webhook_url: str = Field(default="", description="provider endpoint (https in production)")
    auth_header: str = Field(default="Authorization", description="header carrying the secret")
    auth_value_env: str = Field(
        default="", description="env var holding the auth header value (e.g. 'Bearer ...')"
    )
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_wait_initial_seconds: float = Field(default=1.0, ge=0)
    retry_wait_max_seconds: float = Field(default=30.0, ge=0)
    retry_wait_jitter_seconds: float = Field(default=1.0, ge=0)
    batch_size: int = Field(default=1000, ge=1, description="most messages per agency per run")

    def _headers(self, message_id: str) -> dict[str, str]:
        headers = {"Idempotency-Key": message_id, "User-Agent": "court_pipeline-reminders"}
        if self.auth_value_env:
            value = os.environ.get(self.auth_value_env)
            if not value:
                raise DeliveryConfigError(
                    f"reminder_delivery.auth_value_env names {self.auth_value_env}, "
                    "which is not set in the environment"
                )
            headers[self.auth_header] = value
        return headers

    def _check(self) -> None:
        if self.mode == "webhook":
            if not self.webhook_url.startswith(("http://", "https://")):
                raise DeliveryConfigError(
                    "reminder_delivery.webhook_url must be an http(s) URL in webhook mode"
                )
            self._headers("check")  # fail before sending anything if the secret is missing

    def _retry_hook(self, exc: Exception) -> bool | float:
        if isinstance(exc, RetryableHttpError):
            if exc.retry_after is not None:
                return min(exc.retry_after, self.retry_wait_max_seconds)
            return True
        return isinstance(exc, httpx.TransportError)

    def post_message(self, client: httpx.Client, payload: dict[str, Any]) -> tuple[int, str | None]:
        """POST one message with retries; returns (attempts, provider ref) or raises."""
        attempts = 0
        headers = self._headers(payload["message_id"])
        try:
            for attempt in stamina.retry_context(
                on=self._retry_hook,
                attempts=self.max_attempts,
                timeout=None,
                wait_initial=self.retry_wait_initial_seconds,
                wait_max=self.retry_wait_max_seconds,
                wait_jitter=self.retry_wait_jitter_seconds,
            ):
                with attempt:
                    attempts += 1
                    response = client.post(self.webhook_url, json=payload, headers=headers)
                    if response.status_code == 429 or response.status_code >= 500:
                        raise RetryableHttpError(
                            response.status_code, response.reason_phrase, _retry_after(response)
                        )
                    if response.status_code >= 400:
                        raise PermanentHttpError(response.status_code, response.reason_phrase)
                    return attempts, _provider_ref(response)
        except (RetryableHttpError, PermanentHttpError, httpx.HTTPError) as exc:
            exc.attempts = attempts  # type: ignore[attr-defined]
            raise
        raise AssertionError("unreachable: retry_context always returns or raises")

    def deliver(
        self,
        connect: ConnectFn,
        agency: Agency,
        config: RemindersConfig,
        *,
        now: datetime | None = None,
        lock_path: Path | None = None,
    ) -> DeliveryResult:
        """Send (or, in dry-run, mark ready) the agency's due messages."""
        self._check()
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        lock = FileLock(str(lock_path), thread_local=False) if lock_path else None
        with lock if lock is not None else contextlib.nullcontext():
            return self._deliver(connect, agency, config, moment)

    def _deliver(
        self, connect: ConnectFn, agency: Agency, config: RemindersConfig, now: datetime
    ) -> DeliveryResult:
        result = DeliveryResult(agency_id=agency.id, mode=self.mode)
        quiet_by_flow = {flow.name: config.quiet_hours_for(flow) for flow in config.flows}
        with connect() as con:
            sync_party_opt_outs(con, agency.id)
            opt_outs = load_opt_outs(con, agency.id)
            cursor = con.execute(
                """
                SELECT message_id, dedupe_key, party_id, hearing_id, case_number, flow, kind,
                       offset_key, template, channel, recipient, subject, body, language,
                       encoding, segments,
                       timezone('UTC', hearing_start_at) AS start_utc,
                       EXISTS (SELECT 1 FROM contacts c
                               WHERE c.agency_id = o.agency_id AND c.party_id = o.party_id
                                 AND c.value = o.recipient AND c.status = 'valid') AS current
                FROM reminder_outbox o
                WHERE agency_id = ? AND status IN ('planned', 'ready') AND due_at <= ?
                ORDER BY due_at, message_id LIMIT ?
                """,
                [agency.id, now, self.batch_size],
            )
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            result.due = len(rows)
            suppress: list[tuple[str, str]] = []
            sendable = []
            for row in rows:
                if row["start_utc"].replace(tzinfo=UTC) <= now:
                    suppress.append((row["message_id"], "hearing passed"))
                elif opt_outs.blocks(row["channel"] or "", row["party_id"], row["recipient"]):
                    suppress.append((row["message_id"], OPTED_OUT))
                elif not row["current"]:  # retired since planning: never a stale number
                    suppress.append((row["message_id"], "recipient no longer a current contact"))
                elif in_quiet_hours(now, agency.zone, quiet_by_flow.get(row["flow"])):
                    result.held_quiet_hours += 1
                else:
                    sendable.append(row)
            result.suppressed.update(reason for _, reason in suppress)
            if suppress:
                update_outbox(
                    con,
                    pa.table(
                        {
                            "message_id": pa.array([m for m, _ in suppress], pa.string()),
                            "reason": pa.array([r for _, r in suppress], pa.string()),
                        }
                    ),
                    "status = 'suppressed', status_reason = u.reason, updated_at = now()",
                    "o.status IN ('planned', 'ready')",
                )
            if self.mode == "dry-run":
                if sendable:
                    update_outbox(
                        con,
                        pa.table({"message_id": [r["message_id"] for r in sendable]}),
                        "status = 'ready', updated_at = now()",
                        "o.status = 'planned'",
                    )
                result.readied = len(sendable)
                return result
            inputs = read_inputs(con, agency, render_keys(sendable))
        # bodies are rendered here, not at planning (lock released): one failure fails
        # that message only, with the flow and template in last_error
        failures = apply_renders(
            sendable, render_stored(TemplateSet(config), agency, config, sendable, inputs)
        )
        self._send_all(connect, sendable, agency, now, result, failures)
        return result

    def _send_all(
        self,
        connect: ConnectFn,
        rows: list[dict[str, Any]],
        agency: Agency,
        now: datetime,
        result: DeliveryResult,
        failures: dict[str, str],
    ) -> None:
        with httpx.Client(timeout=self.timeout_seconds) as client:
            for chunk in _chunks(rows, WRITE_CHUNK):
                outcomes = []
                for row in chunk:
                    if row["message_id"] in failures:
                        outcomes.append(
                            (row["message_id"], "failed", 0, failures[row["message_id"]], None)
                        )
                        result.render_failed += 1
                        continue
                    payload = {
                        "message_id": row["message_id"],
                        "agency_id": agency.id,
                        "channel": row["channel"],
                        "to": row["recipient"],
                        "subject": row["subject"],
                        "body": row["body"],
                        "language": row["language"],
                        "encoding": row["encoding"],
                        "segments": row["segments"],
                        "hearing_id": row["hearing_id"],
                        "case_number": row["case_number"],
                        "kind": row["kind"],
                    }
                    try:
                        attempts, ref = self.post_message(client, payload)
                        outcomes.append((row["message_id"], "sent", attempts, None, ref))
                    except (RetryableHttpError, PermanentHttpError, httpx.HTTPError) as exc:
                        attempts = getattr(exc, "attempts", 1)
                        error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
                        # a rate limit is not the message's failure: it stays due for next run
                        throttled = isinstance(exc, RetryableHttpError) and exc.status == 429
                        status = THROTTLED if throttled else "failed"
                        outcomes.append((row["message_id"], status, attempts, error, None))
                with connect() as con:
                    columns = list(zip(*outcomes, strict=True))
                    by_id = {row["message_id"]: row for row in chunk}
                    content = {
                        name: pa.array([by_id[m][name] for m in columns[0]], kind)
                        for name, kind in RENDERED_COLUMNS.items()
                    }
                    update_outbox(
                        con,
                        pa.table(
                            {
                                "message_id": pa.array(columns[0], pa.string()),
                                "status": pa.array(columns[1], pa.string()),
                                "attempts": pa.array(columns[2], pa.int32()),
                                "error": pa.array(columns[3], pa.string()),
                                "ref": pa.array(columns[4], pa.string()),
                                **content,
                            }
                        ),
                        f"status = CASE WHEN u.status = '{THROTTLED}' THEN o.status "
                        "ELSE u.status END, attempts = o.attempts + u.attempts, "
                        "last_error = u.error, provider_ref = u.ref, updated_at = now(), "
                        "sent_at = CASE WHEN u.status = 'sent' THEN now() ELSE o.sent_at END, "
                        + ", ".join(f"{name} = u.{name}" for name in RENDERED_COLUMNS),
                    )
                for _, status, attempts, error, _ in outcomes:
                    result.attempts += attempts
                    if status == "sent":
                        result.sent += 1
                    elif status == THROTTLED:
                        result.throttled += 1
                    else:
                        result.failed += 1
                        result.errors[error] += 1


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]

"""Delivery: dry-run default, and the webhook against a real local HTTP receiver."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from court_pipeline.reminders.delivery import DeliveryConfigError, ReminderDelivery
from court_pipeline.reminders.planner import plan_reminders
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.reminders.seed import (
    add_case,
    add_contact,
    add_hearing,
    add_party,
    local,
    outbox,
)

PLANNED_AT = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)
# Tuesday Nov 3, 10:00 CST: the 7d (Oct 30) and 3d (Nov 3 9:00) reminders of a Friday Nov 6
# hearing are due; the 1d and morning-of are not
SEND_AT = datetime(2026, 11, 3, 16, 0, tzinfo=UTC)
FAST = {"retry_wait_initial_seconds": 0.01, "retry_wait_max_seconds": 0.02,
        "retry_wait_jitter_seconds": 0.0}


@pytest.fixture
def seeded(db_path, agency, flows):
    with connect_warehouse(db_path) as con:
        add_case(con)
        add_party(con, "100234", "MARIA", language="es")
        add_contact(con, "100234", "+17135550142")
        add_hearing(con, "d1", local(2026, 11, 6, 9))
        plan_reminders(con, agency, flows, now=PLANNED_AT)
    return db_path


def _connect(db_path):
    return lambda: connect_warehouse(db_path)


def _rows(db_path, where="TRUE"):
    with connect_warehouse(db_path) as con:
        return outbox(con, where)


def test_dry_run_is_the_default_and_marks_due_messages_ready(seeded, agency, flows):
    delivery = ReminderDelivery()
    assert delivery.mode == "dry-run"
    result = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (result.due, result.readied, result.sent) == (2, 2, 0)
    rows = _rows(seeded)
    assert [(r["offset_key"], r["status"]) for r in rows] == [
        ("7d", "ready"), ("3d", "ready"), ("1d", "planned"), ("morning_of", "planned")
    ]
    assert all(r["sent_at"] is None and r["attempts"] == 0 for r in rows)


def test_webhook_retries_a_500_then_sends(seeded, agency, flows, receiver_factory, monkeypatch):
    receiver = receiver_factory([500])
    monkeypatch.setenv("TEST_REMINDER_TOKEN", "Bearer s3cret")
    delivery = ReminderDelivery(mode="webhook", webhook_url=receiver.url,
                                auth_value_env="TEST_REMINDER_TOKEN", **FAST)
    result = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (result.sent, result.failed, result.attempts) == (2, 0, 3)
    assert len(receiver.requests) == 3
    first = receiver.requests[0]
    assert first["headers"]["Authorization"] == "Bearer s3cret"
    rows = _rows(seeded, "status = 'sent'")
    assert first["headers"]["Idempotency-Key"] == rows[0]["message_id"]
    assert first["json"]["to"] == "+17135550142" and first["json"]["channel"] == "sms"
    assert first["json"]["language"] == "es" and first["json"]["segments"] == 2
    assert first["json"]["body"].startswith("Harris County Justice Courts: Maria, le recordamos")
    assert [(r["offset_key"], r["attempts"], r["provider_ref"]) for r in rows] == [
        ("7d", 2, "prov-2"), ("3d", 1, "prov-3")
    ]
    assert all(r["sent_at"] is not None for r in rows)
    # a rerun sends nothing twice
    again = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT + timedelta(minutes=5))
    assert (again.due, again.sent) == (0, 0) and len(receiver.requests) == 3


def test_webhook_always_500_fails_after_max_attempts(seeded, agency, flows, receiver_factory):
    receiver = receiver_factory([], default=500)
    delivery = ReminderDelivery(mode="webhook", webhook_url=receiver.url, max_attempts=3, **FAST)
    result = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (result.sent, result.failed, result.attempts) == (0, 2, 6)
    assert len(receiver.requests) == 6
    failed = _rows(seeded, "status = 'failed'")
    assert [(r["attempts"], r["last_error"]) for r in failed] == [
        (3, "RetryableHttpError: HTTP 500 Internal Server Error")
    ] * 2
    assert result.errors == {"RetryableHttpError: HTTP 500 Internal Server Error": 2}


def test_webhook_receiver_down_fails_with_the_connection_error(seeded, agency, flows):
    with socket.socket() as sock:  # a port that was free a moment ago and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delivery = ReminderDelivery(mode="webhook", webhook_url=f"http://127.0.0.1:{port}/x",
                                max_attempts=2, **FAST)
    result = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (result.sent, result.failed, result.attempts) == (0, 2, 4)
    failed = _rows(seeded, "status = 'failed'")
    assert all(r["attempts"] == 2 and r["last_error"].startswith("ConnectError") for r in failed)


def test_webhook_400_is_not_retried(seeded, agency, flows, receiver_factory):
    receiver = receiver_factory([400, 200])
    delivery = ReminderDelivery(mode="webhook", webhook_url=receiver.url, **FAST)
    result = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (result.sent, result.failed, len(receiver.requests)) == (1, 1, 2)
    failed = _rows(seeded, "status = 'failed'")
    assert [(r["attempts"], r["last_error"]) for r in failed] == [
        (1, "PermanentHttpError: HTTP 400 Bad Request")
    ]


def test_missing_secret_fails_before_sending(seeded, agency, flows, receiver_factory, monkeypatch):
    receiver = receiver_factory([])
    monkeypatch.delenv("TEST_REMINDER_TOKEN", raising=False)
    delivery = ReminderDelivery(mode="webhook", webhook_url=receiver.url,
                                auth_value_env="TEST_REMINDER_TOKEN")
    with pytest.raises(DeliveryConfigError, match="TEST_REMINDER_TOKEN, which is not set"):
        delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert receiver.requests == []
    assert {r["status"] for r in _rows(seeded)} == {"planned"}


def test_send_time_rechecks_opt_outs_hearing_time_and_quiet_hours(
    seeded, agency, flows, receiver_factory
):
    receiver = receiver_factory([])
    delivery = ReminderDelivery(mode="webhook", webhook_url=receiver.url, **FAST)
    # 22:00 local: quiet hours, nothing leaves
    night = datetime(2026, 11, 4, 4, 0, tzinfo=UTC)
    held = delivery.deliver(_connect(seeded), agency, flows, now=night)
    assert (held.due, held.held_quiet_hours, held.sent) == (2, 2, 0)
    # Odyssey flags SmsOptOut after planning: the send-time check suppresses
    with connect_warehouse(seeded) as con:
        add_party(con, "100234", "MARIA", language="es", sms_opt_out=True)
    result = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert result.suppressed == {"opted out": 2} and receiver.requests == []
    # past the hearing, anything still pending is suppressed, never sent
    with connect_warehouse(seeded) as con:
        add_party(con, "100234", "MARIA", language="es", sms_opt_out=False)
    after = delivery.deliver(_connect(seeded), agency, flows,
                             now=datetime(2026, 11, 7, 16, 0, tzinfo=UTC))
    assert after.suppressed == {"hearing passed": 2} and receiver.requests == []

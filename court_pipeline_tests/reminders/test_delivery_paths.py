"""Delivery paths with a real loopback receiver: 429 + Retry-After, batch_size, and the webhook
mode through real Dagster runs that also import a ``replies_dir`` STOP file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import stamina.instrumentation as stamina_hooks

from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import Agency, Registry
from court_pipeline.reminders import ReminderDelivery, build_reminder_assets
from court_pipeline.reminders.flows import BUNDLED_FLOWS
from court_pipeline.reminders.planner import plan_reminders
from court_pipeline.warehouse import WarehouseResource, connect_warehouse
from court_pipeline_tests.reminders.seed import (
    add_case,
    add_contact,
    add_hearing,
    add_party,
    local,
    outbox,
)

PLANNED_AT = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)
# Tuesday Nov 3, 10:00 CST: the 7d and 3d reminders of a Friday Nov 6 hearing are due
SEND_AT = datetime(2026, 11, 3, 16, 0, tzinfo=UTC)


@pytest.fixture
def seeded(db_path, agency, flows):
    with connect_warehouse(db_path) as con:
        add_case(con)
        add_party(con, "100234", "MARIA", language="es")
        add_contact(con, "100234", "+17135550142")
        add_hearing(con, "d1", local(2026, 11, 6, 9))
        plan_reminders(con, agency, flows, now=PLANNED_AT)
    return db_path


@pytest.fixture
def retry_waits():
    """The waits stamina schedules (its own instrumentation hook), in order."""
    waits: list[tuple[str, float]] = []

    def record(details: stamina_hooks.RetryDetails) -> None:
        waits.append((type(details.caused_by).__name__, details.wait_for))

    stamina_hooks.set_on_retry_hooks([record])
    yield waits
    stamina_hooks.set_on_retry_hooks(None)


def _connect(db_path):
    return lambda: connect_warehouse(db_path)


def _sent(db_path) -> list[tuple[str, str, int]]:
    with connect_warehouse(db_path) as con:
        rows = outbox(con)
    return [(r["offset_key"], r["status"], r["attempts"]) for r in rows]


def test_429_waits_the_retry_after_and_the_message_is_sent_not_failed(
    seeded, agency, flows, receiver_factory, retry_waits
):
    receiver = receiver_factory([(429, {"Retry-After": "0.5"})])
    delivery = ReminderDelivery(
        mode="webhook",
        webhook_url=receiver.url,
        max_attempts=3,
        retry_wait_initial_seconds=0.01,
        retry_wait_max_seconds=5.0,
        retry_wait_jitter_seconds=0.0,
    )
    result = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (result.sent, result.failed, result.attempts) == (2, 0, 3)
    assert result.errors == {}
    # the wait before the resend is the provider's Retry-After, not the 0.01 s backoff
    assert retry_waits == [("RetryableHttpError", 0.5)]
    keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]  # the same message, sent later
    assert _sent(seeded) == [
        ("7d", "sent", 2),
        ("3d", "sent", 1),
        ("1d", "planned", 0),
        ("morning_of", "planned", 0),
    ]


def test_still_rate_limited_after_max_attempts_stays_due_and_goes_next_run(
    seeded, agency, flows, receiver_factory
):
    limited = (429, {"Retry-After": "0"})
    receiver = receiver_factory([limited] * 4)  # both messages, both tries
    delivery = ReminderDelivery(
        mode="webhook",
        webhook_url=receiver.url,
        max_attempts=2,
        retry_wait_initial_seconds=0.01,
        retry_wait_max_seconds=0.02,
        retry_wait_jitter_seconds=0.0,
    )
    first = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (first.sent, first.failed, first.throttled, first.attempts) == (0, 0, 2, 4)
    assert first.errors == {}
    with connect_warehouse(seeded) as con:
        rows = outbox(con, "offset_key IN ('7d', '3d')")
    assert [(r["offset_key"], r["status"], r["attempts"], r["last_error"]) for r in rows] == [
        ("7d", "planned", 2, "RetryableHttpError: HTTP 429 Too Many Requests"),
        ("3d", "planned", 2, "RetryableHttpError: HTTP 429 Too Many Requests"),
    ]
    # the next run (the provider answers again) delivers both
    second = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (second.due, second.sent, second.failed, second.throttled) == (2, 2, 0, 0)
    assert _sent(seeded)[:2] == [("7d", "sent", 3), ("3d", "sent", 3)]
    assert len(receiver.requests) == 6


def test_batch_size_caps_each_run_oldest_due_first(seeded, agency, flows, receiver_factory):
    receiver = receiver_factory([])
    delivery = ReminderDelivery(mode="webhook", webhook_url=receiver.url, batch_size=1)
    first = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (first.due, first.sent) == (1, 1)
    assert _sent(seeded)[:2] == [("7d", "sent", 1), ("3d", "planned", 0)]
    second = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (second.due, second.sent) == (1, 1)
    assert _sent(seeded)[:2] == [("7d", "sent", 1), ("3d", "sent", 1)]
    third = delivery.deliver(_connect(seeded), agency, flows, now=SEND_AT)
    assert (third.due, third.sent, len(receiver.requests)) == (0, 0, 2)


def _flows_with_replies(tmp_path: Path) -> Path:
    """The bundled flows plus ``replies_dir: replies`` (relative to the flows file)."""
    folder = tmp_path / "flows"
    (folder / "replies").mkdir(parents=True)
    text = BUNDLED_FLOWS.read_text(encoding="utf-8")
    templates = (BUNDLED_FLOWS.parent / "templates").resolve()
    path = folder / "harris.yaml"
    path.write_text(f"replies_dir: replies\ntemplates_dir: {templates}\n{text}", encoding="utf-8")
    (folder / "replies" / "provider-2026-10-20.csv").write_text(
        "received_at,recipient,keyword\n"
        "2026-10-20T16:00:00Z,(713) 555-0142,STOP\n"
        "2026-10-20T16:01:00Z,713-555-0177,hola\n",
        encoding="utf-8",
    )
    return path


def _run(registry, db_path, as_of: str, delivery: ReminderDelivery) -> dg.ExecuteInJobResult:
    assets = build_reminder_assets(registry, agency_day_partitions(registry))
    return dg.materialize(
        assets,
        partition_key=f"harris_jp|{as_of[:10]}",
        resources={
            "warehouse": WarehouseResource(path=str(db_path)),
            "reminder_delivery": delivery,
        },
        run_config={
            "ops": {
                name: {"config": {"as_of": as_of}}
                for name in ("reminder_outbox", "reminder_deliveries")
            }
        },
    )


def _metadata(result, key) -> dict:
    (event,) = result.asset_materializations_for_node(key)
    return {k: v.value for k, v in event.metadata.items()}


def test_webhook_mode_through_the_assets_with_a_replies_dir_stop_file(
    db_path, tmp_path, receiver_factory, monkeypatch
):
    """Real runs: planning imports the STOP reply file from replies_dir (Maria's number is
    never messaged), and the webhook delivery posts Nguyen's due email to the receiver."""
    registry = Registry(
        agencies=[
            Agency(
                id="harris_jp",
                name="Harris County Justice Courts",
                county="Harris",
                reminders=str(_flows_with_replies(tmp_path)),
            )
        ]
    )
    with connect_warehouse(db_path) as con:
        add_case(con)
        add_party(con, "100234", "MARIA", language="es")
        add_contact(con, "100234", "+17135550142")
        add_party(con, "100235", "NGUYEN", language="vi")
        add_contact(con, "100235", "nguyen.van@example.com", kind="email")
        add_hearing(con, "9900017", local(2026, 11, 2, 9), party_ids=("100234", "100235"))
    receiver = receiver_factory([])
    monkeypatch.setenv("TEST_REMINDER_TOKEN", "Bearer s3cret")
    delivery = ReminderDelivery(
        mode="webhook", webhook_url=receiver.url, auth_value_env="TEST_REMINDER_TOKEN"
    )

    planned = _run(registry, db_path, "2026-10-20T17:00:00+00:00", delivery)
    assert planned.success
    plan = _metadata(planned, "reminder_outbox")
    assert (plan["reply_files_imported"], plan["reply_rows_rejected"]) == (1, 1)
    assert (plan["planned"], plan["suppressed_by_reason"]) == (4, {"opted out": 4})
    assert _metadata(planned, "reminder_deliveries")["due"] == 0 and receiver.requests == []

    # a week later the 7d email is due: the webhook gets it; the reply file is not re-read
    later = _run(registry, db_path, "2026-10-27T15:00:00+00:00", delivery)
    assert later.success
    assert _metadata(later, "reminder_outbox")["reply_files_imported"] == 0
    sent = _metadata(later, "reminder_deliveries")
    assert (sent["mode"], sent["due"], sent["sent"], sent["failed"], sent["throttled"]) == (
        "webhook",
        1,
        1,
        0,
        0,
    )
    (request,) = receiver.requests
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    body = request["json"]
    assert (body["to"], body["channel"], body["kind"], body["agency_id"]) == (
        "nguyen.van@example.com",
        "email",
        "reminder",
        "harris_jp",
    )
    with connect_warehouse(db_path) as con:
        assert con.execute(
            "SELECT status, channel, count(*) FROM reminder_outbox GROUP BY ALL ORDER BY ALL"
        ).fetchall() == [
            ("planned", "email", 3),
            ("sent", "email", 1),
            ("suppressed", None, 4),
        ]  # Maria: no channel left
        assert con.execute(
            "SELECT subject, keyword, source_ref FROM reminder_opt_outs WHERE source = 'reply'"
        ).fetchall() == [("+17135550142", "STOP", "provider-2026-10-20.csv:2")]
        assert con.execute(
            "SELECT file_name, line_number, reason FROM reminder_reply_rejects"
        ).fetchall() == [("provider-2026-10-20.csv", 3, "reply is not a STOP or START keyword")]
    # no recipient in the run's metadata
    dumped = json.dumps({k: str(v) for k, v in {**plan, **sent}.items()})
    assert "7135550142" not in dumped and "nguyen.van@" not in dumped

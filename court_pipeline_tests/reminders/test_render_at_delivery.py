"""Reminder bodies are rendered at delivery, not at planning: the outbox keeps a NULL body,
delivery renders through the bounded sandbox, and a render failure fails that one message
with the flow, template and file named, while the rest of the batch is sent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from court_pipeline.reminders import ReminderDelivery
from court_pipeline.reminders.export import export_review_csv
from court_pipeline.reminders.flows import load_flows
from court_pipeline.reminders.planner import plan_reminders
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.reminders.seed import add_case, add_contact, add_hearing, add_party, local

PLANNED_AT = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)
SEND_AT = datetime(2026, 11, 5, 16, 0, tzinfo=UTC)  # Thursday 10:00 CST: the 1d reminders
# renders with the sample data at flows load, fails for one party's data at delivery
TEMPLATE = (
    "{% if name == 'Boom' %}{{ 'x' * 3000000000 }}{% endif %}"
    "Hi {{ name }}, court {{ when }} in {{ courtroom }}."
)


def _flows(tmp_path: Path) -> Path:
    (tmp_path / "tpl" / "en").mkdir(parents=True)
    (tmp_path / "tpl" / "en" / "touchy.j2").write_text(TEMPLATE)
    path = tmp_path / "flows.yaml"
    path.write_text(
        "templates_dir: tpl\nflows:\n  - name: touchy\n    offsets: [{days: 1}]\n"
        "    template: touchy\n    languages: [en]\n    channels: [sms]\n"
    )
    return path


def test_one_render_failure_fails_that_message_and_the_batch_is_sent(
    tmp_path, db_path, agency, receiver_factory
):
    config = load_flows(_flows(tmp_path))
    with connect_warehouse(db_path) as con:
        add_case(con)
        add_party(con, "p1", "MARIA")
        add_contact(con, "p1", "+17135550142")
        add_party(con, "p2", "BOOM")
        add_contact(con, "p2", "+17135550177")
        add_hearing(con, "h1", local(2026, 11, 6, 9), party_ids=("p1", "p2"))
        planned = plan_reminders(con, agency, config, now=PLANNED_AT)
        stored = con.execute(
            "SELECT party_id, status, template, language, body, segments FROM reminder_outbox "
            "ORDER BY party_id"
        ).fetchall()
        review = export_review_csv(
            con, agency.id, tmp_path / "review.csv", render_with=(agency, config)
        )
    assert planned.inserted == {"planned": 2}
    assert stored == [
        ("p1", "planned", "en/touchy.j2", "en", None, None),
        ("p2", "planned", "en/touchy.j2", "en", None, None),
    ]
    assert review == 2
    text = (tmp_path / "review.csv").read_text(encoding="utf-8")
    assert "Hi Maria, court Friday, November 6 at 9:00 AM in Courtroom 5B." in text
    assert "(not rendered: template error: flow 'touchy', template en/touchy.j2" in text

    receiver = receiver_factory([])
    delivery = ReminderDelivery(mode="webhook", webhook_url=receiver.url, max_attempts=1)
    result = delivery.deliver(lambda: connect_warehouse(db_path), agency, config, now=SEND_AT)
    assert (result.due, result.sent, result.failed, result.render_failed) == (2, 1, 1, 1)
    assert [r["json"]["to"] for r in receiver.requests] == ["+17135550142"]
    assert receiver.requests[0]["json"]["body"] == (
        "Hi Maria, court Friday, November 6 at 9:00 AM in Courtroom 5B."
    )
    assert receiver.requests[0]["json"]["segments"] == 1
    with connect_warehouse(db_path) as con:
        rows = con.execute(
            "SELECT party_id, status, attempts, body, segments, encoding, last_error "
            "FROM reminder_outbox ORDER BY party_id"
        ).fetchall()
    assert rows[0] == (
        "p1",
        "sent",
        1,
        "Hi Maria, court Friday, November 6 at 9:00 AM in Courtroom 5B.",
        1,
        "GSM-7",
        None,
    )
    assert rows[1][:6] == ("p2", "failed", 0, None, None, None)
    error = rows[1][6]
    assert error.startswith("template error: flow 'touchy', template en/touchy.j2 ("), error
    assert str(tmp_path / "tpl" / "en" / "touchy.j2") in error
    assert "a repeated text would be 3,000,000,000 long" in error
    assert list(result.errors) == [error]

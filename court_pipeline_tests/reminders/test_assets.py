"""The reminder assets in real Dagster runs over a tmp warehouse, and the review export."""

from __future__ import annotations

import csv
import json
import os
import stat

import dagster as dg
import pytest

from court_pipeline.partitions import agency_day_partitions
from court_pipeline.registry import Agency, Registry
from court_pipeline.reminders import ReminderDelivery, build_reminder_assets
from court_pipeline.reminders.export import export_review_csv
from court_pipeline.reminders.flows import BUNDLED_FLOWS
from court_pipeline.warehouse import WarehouseResource, connect_warehouse
from court_pipeline_tests.reminders.seed import (
    add_case,
    add_contact,
    add_hearing,
    add_party,
    local,
)

AS_OF = "2026-10-20T17:00:00+00:00"


@pytest.fixture
def registry() -> Registry:
    return Registry(
        agencies=[
            Agency(id="harris_jp", name="Harris County Justice Courts", county="Harris",
                   reminders=str(BUNDLED_FLOWS)),
            Agency(id="no_reminders", name="Loving County Court", county="Loving"),
        ]
    )


@pytest.fixture
def seeded(db_path):
    with connect_warehouse(db_path) as con:
        add_case(con)
        add_party(con, "100234", "MARIA", language="es")
        add_contact(con, "100234", "+17135550142")
        add_party(con, "100235", "NGUYEN", language="vi")
        add_contact(con, "100235", "nguyen.van@example.com", kind="email")
        add_party(con, "100236", "ROBERT", language="en", sms_opt_out=True)
        add_contact(con, "100236", "+12815550123")
        add_hearing(con, "9900017", local(2026, 11, 2, 9), party_ids=("100234", "100235", "100236"))
    return db_path


def _run(registry, db_path, partition, as_of=AS_OF):
    partitions = agency_day_partitions(registry)
    assets = build_reminder_assets(registry, partitions)
    return dg.materialize(
        assets,
        partition_key=partition,
        resources={"warehouse": WarehouseResource(path=str(db_path)),
                   "reminder_delivery": ReminderDelivery()},
        run_config={"ops": {name: {"config": {"as_of": as_of}}
                            for name in ("reminder_outbox", "reminder_deliveries")}},
    )


def _metadata(result, key):
    events = result.asset_materializations_for_node(key)
    assert len(events) == 1
    return {k: v.value for k, v in events[0].metadata.items()}


def test_materialize_plans_checks_and_dry_runs(registry, seeded):
    result = _run(registry, seeded, "harris_jp|2026-10-20")
    assert result.success
    meta = _metadata(result, "reminder_outbox")
    assert meta["planned"] == 8 and meta["candidates"] == 3
    assert meta["planned_by_kind"] == {"reminder": 8}
    assert meta["suppressed_by_reason"] == {"opted out": 4}
    assert meta["sms_segments_histogram"] == {"2": 4}
    assert meta["languages"] == {"es": 4, "en": 4}
    assert meta["language_fallbacks"] == {"vi": 4}
    assert meta["party_opt_outs"] == 1
    # never unmasked PII in metadata: no phone, email or first name
    dumped = json.dumps({k: str(v) for k, v in meta.items()})
    for secret in ("7135550142", "nguyen.van@", "Maria", "MARIA", "2815550123"):
        assert secret not in dumped
    assert "+*********42" in meta["preview"] and "n********@example.com" in meta["preview"]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"no_duplicate_dedupe_keys": True, "no_pending_message_to_opted_out": True,
                      "no_message_due_after_hearing": True}
    delivered = _metadata(result, "reminder_deliveries")
    assert delivered["mode"] == "dry-run" and delivered["due"] == 0
    # a week later (Oct 27 9:00 CDT is past Oct 26 9:00): the two 7d messages become ready
    later = _run(registry, seeded, "harris_jp|2026-10-27", as_of="2026-10-27T15:00:00+00:00")
    assert _metadata(later, "reminder_outbox")["planned"] == 0
    assert _metadata(later, "reminder_deliveries")["readied"] == 2
    with connect_warehouse(seeded) as con:
        assert con.execute(
            "SELECT status, count(*) FROM reminder_outbox GROUP BY 1 ORDER BY 1"
        ).fetchall() == [("planned", 6), ("ready", 2), ("suppressed", 4)]


def test_agency_without_reminders_is_skipped_with_a_note(registry, seeded):
    result = _run(registry, seeded, "no_reminders|2026-10-20")
    assert result.success
    note = _metadata(result, "reminder_outbox")["note"]
    assert note == "agency 'no_reminders' has no reminders file in the registry; skipped"
    assert all(e.passed for e in result.get_asset_check_evaluations())
    with connect_warehouse(seeded) as con:
        assert con.execute("SELECT count(*) FROM reminder_outbox").fetchone() == (0,)


def test_review_export_is_unmasked_for_staff_or_masked_on_request(registry, seeded, tmp_path):
    assert _run(registry, seeded, "harris_jp|2026-10-20").success
    out = tmp_path / "review" / "harris.csv"
    with connect_warehouse(seeded) as con:
        count = export_review_csv(con, "harris_jp", out)
        masked = export_review_csv(con, "harris_jp", tmp_path / "masked.csv", mask_recipients=True)
    assert count == masked == 8
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first = rows[0]
    assert first["due_local"] == "2026-10-26 09:00 CDT"
    assert first["hearing_start_local"] == "2026-11-02 09:00 CST"
    assert {r["recipient"] for r in rows} == {"+17135550142", "nguyen.van@example.com"}
    with (tmp_path / "masked.csv").open(encoding="utf-8") as handle:
        recipients = {r["recipient"] for r in csv.DictReader(handle)}
    assert recipients == {"+*********42", "n********@example.com"}

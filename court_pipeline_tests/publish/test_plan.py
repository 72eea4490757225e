"""plan_changes on its own: what counts as a change, what is rejected before sending."""

from __future__ import annotations

import pandas as pd

from court_pipeline.publish.state import StateStore, canonical, column_hashes, plan_changes
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.publish.conftest import CHARGES, COUNTY, PUBLISHER


def _accept_all(warehouse, frame):
    store = StateStore(lambda: connect_warehouse(warehouse), environment="staging",
                       agency_id="harris", county=COUNTY)
    plan = store.plan(CHARGES, PUBLISHER, frame)
    from court_pipeline.publish.envelopes import pack

    for envelope in pack(plan.changes).envelopes:
        envelope_id = store.record_intent(envelope)
        store.record_outcome(envelope_id, status="acked", http_status=200, attempts=1,
                             accepted=envelope.changes)
    return plan


def _frame(**columns):
    base = {"recordid": ["A", "B"], "county": [COUNTY, COUNTY], "publisher": [PUBLISHER] * 2}
    return pd.DataFrame(base | columns)


def test_hashes_keep_types_apart_and_canonical_values_are_stable():
    hashes = column_hashes([1, "1", 1.5, None, "", True])
    assert len(set(hashes.tolist())) == 6
    assert canonical(pd.Timestamp("2026-03-04 00:00")) == "2026-03-04"
    assert canonical(42.0) == 42 and canonical(float("nan")) is None and canonical("") is None


def test_plan_detects_type_change_new_empty_field_and_rejects_bad_rows(warehouse):
    _accept_all(warehouse, _frame(victim_age=[42, 7]))
    later = _frame(victim_age=["42", 7], court_name=[None, None])  # new empty column: no churn
    with connect_warehouse(warehouse) as con:
        plan = plan_changes(con, CHARGES, COUNTY, PUBLISHER, later)
    assert [c.data for c in plan.updates] == [
        {"recordid": "A", "county": COUNTY, "publisher": PUBLISHER, "victim_age": "42"}]
    assert plan.unchanged == 1 and not plan.new and not plan.deletes

    bad = pd.DataFrame({
        "recordid": ["A", "A", None, "C", "D"],
        "county": [COUNTY, COUNTY, COUNTY, "Dallas", COUNTY],
        "publisher": [PUBLISHER, PUBLISHER, PUBLISHER, PUBLISHER, "ASYST"],
        "victim_age": [42, 42, 1, 1, 1],
    })
    with connect_warehouse(warehouse) as con:
        plan = plan_changes(con, CHARGES, COUNTY, PUBLISHER, bad)
    assert [(r.recordid, r.reason_kind) for r in plan.rejected] == [
        ("A", "duplicate"), ("", "invalid"), ("C", "wrong_county"), ("D", "wrong_publisher")]
    assert [c.recordid for c in plan.deletes] == ["B"]
    assert plan.unchanged == 1


def test_publisher_and_county_filled_from_the_credential(warehouse):
    frame = pd.DataFrame({"recordid": ["A"], "victim_age": [3]})
    with connect_warehouse(warehouse) as con:
        plan = plan_changes(con, CHARGES, COUNTY, PUBLISHER, frame)
    assert plan.new[0].data == {"recordid": "A", "county": COUNTY, "publisher": PUBLISHER,
                                "victim_age": 3}


def test_a_record_the_datasets_hold_back_is_not_deleted_at_oca(warehouse):
    """A published record that fails validation later (say a code map entry was removed)
    vanishes from the validated rows; that must not read as 'left the source'."""
    _accept_all(warehouse, _frame(victim_age=[42, 7]))
    with connect_warehouse(warehouse) as con:
        con.execute(
            "INSERT INTO oca_dataset_held_back (agency_id, entity_type, recordid, field, value, "
            "rule, message) VALUES ('harris', ?, 'B', 'plea_type', 'NG', 'code_map', 'no entry')",
            [CHARGES],
        )
        only_a = _frame(victim_age=[42, 7]).iloc[[0]]
        plan = plan_changes(con, CHARGES, COUNTY, PUBLISHER, only_a)
        assert plan.deletes == [] and plan.kept_upstream == ["B"]
        assert plan.summary()["kept_held_upstream"] == 1
        con.execute("DELETE FROM oca_dataset_held_back")
        plan = plan_changes(con, CHARGES, COUNTY, PUBLISHER, only_a)
    assert [c.recordid for c in plan.deletes] == ["B"] and plan.kept_upstream == []

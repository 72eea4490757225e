"""The simulator speaks the spec: tokens, limits, validation errors, record semantics."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from court_pipeline.oca.contracts import load_contract
from court_pipeline.publish.envelopes import DELETE_EVENT, NEW_EVENT, Change, dumps, pack
from court_pipeline.publish.simulator import compile_fast_check
from court_pipeline_tests.publish.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    COUNTY,
    PUBLISHER,
    STATUS,
    make_rows,
)


def _token(sim, client_id=CLIENT_ID, secret=CLIENT_SECRET) -> httpx.Response:
    return httpx.post(sim.token_url, data={"grant_type": "client_credentials"},
                      auth=(client_id, secret))


def _put(sim, envelope, token=None) -> httpx.Response:
    token = token or _token(sim).json()["access_token"]
    body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    return httpx.put(sim.messages_url, content=body, timeout=30,
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})


def _envelope(*events):
    return {"ResolveMappings": False, "ValidateEnvelope": True, "SynchronousValidation": True,
            "TriggeredBy": "court_pipeline", "Events": list(events)}


def _event(event_type, entity_type, *datas):
    return {"EventType": event_type, "Entities": [
        {"EntityType": entity_type, "EntityId": "TX - OCA", "LinkEntity": False,
         "EntityData": d} for d in datas]}


def _keys(recordid):
    return {"recordid": recordid, "county": COUNTY, "publisher": PUBLISHER}


def test_token_endpoint(sim):
    good = _token(sim)
    assert good.status_code == 200
    assert good.json()["token_type"] == "Bearer" and good.json()["expires_in"] == 3600
    bad = _token(sim, secret="wrong")
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_client"}
    assert _put(sim, _envelope(), token="garbage").status_code == 401


def test_record_semantics_create_partial_update_nullify_delete(sim):
    row = {**_keys("R1"), "court_name": "A", "cause_number": "X-1"}
    assert _put(sim, _envelope(_event(NEW_EVENT, STATUS, row))).json()["status"] == "SUCCESS"
    update = {**_keys("R1"), "court_name": None}
    response = _put(sim, _envelope(_event(NEW_EVENT, STATUS, update)))
    assert response.status_code == 200 and len(response.json()["EnvelopeId"]) == 36
    stored = sim.records(STATUS)[(STATUS, COUNTY, PUBLISHER, "R1")]
    assert stored == {**_keys("R1"), "court_name": None, "cause_number": "X-1"}
    listed = httpx.get(sim.base_url + "/debug/records").json()
    assert listed["count"] == 1 and listed["records"][0]["EntityData"]["cause_number"] == "X-1"

    gone = _put(sim, _envelope(_event(DELETE_EVENT, STATUS, _keys("R1"), _keys("NOPE"))))
    assert gone.status_code == 404
    assert gone.json()["Errors"][0]["dataPath"] == ".Events[0].Entities[1].EntityData.recordid"
    assert len(sim.records()) == 1  # nothing applied: the whole envelope was refused
    assert _put(sim, _envelope(_event(DELETE_EVENT, STATUS, _keys("R1")))).status_code == 200
    assert sim.records() == {}


def test_validation_errors_reject_the_whole_envelope(sim):
    good = {**_keys("R1")}
    bad = {**_keys("R2"), "primary_case_category": "criminal"}
    response = _put(sim, _envelope(_event(NEW_EVENT, STATUS, good, bad)))
    assert response.status_code == 422
    body = response.json()
    assert body["Message"] == "Contract Schema Failed Validation."
    assert body["Errors"] == [{
        "keyword": "enum",
        "dataPath": ".Events[0].Entities[1].EntityData.primary_case_category",
        "schemaPath": "#/properties/primary_case_category/enum",
        "params": {"allowedValues": load_contract(STATUS)["properties"][
            "primary_case_category"]["enum"]},
        "message": "should be equal to one of the allowed values",
        "ErrorSchema": STATUS,
    }]
    assert sim.records() == {}
    missing = _put(sim, _envelope(_event(NEW_EVENT, STATUS, {"recordid": "R3",
                                                              "county": COUNTY})))
    assert missing.status_code == 400
    assert missing.json()["Errors"][0]["params"] == {"missingProperty": "publisher"}
    extra = _put(sim, _envelope(_event(DELETE_EVENT, STATUS, {**_keys("R1"), "court_name": "x"})))
    assert extra.status_code == 400
    assert extra.json()["Errors"][0]["keyword"] == "additionalProperties"


def test_envelope_structure_and_limits(sim):
    too_many = _envelope(*[_event(NEW_EVENT, STATUS, _keys(f"R{i}")) for i in range(51)])
    response = _put(sim, too_many)
    assert response.status_code == 400
    assert response.json()["Message"] == "Event Schema Failed Validation."
    assert response.json()["Errors"][0]["keyword"] == "maxItems"
    wide = _envelope(_event(NEW_EVENT, STATUS, *[_keys(f"R{i}") for i in range(51)]))
    assert _put(sim, wide).status_code == 400
    wrong_id = _envelope(_event(NEW_EVENT, STATUS, _keys("R1")))
    wrong_id["Events"][0]["Entities"][0]["EntityId"] = "TX-OCA"
    assert _put(sim, wrong_id).json()["Message"] == "Event Schema Failed Validation."
    big = _envelope(_event(NEW_EVENT, STATUS, {**_keys("R1"), "court_name": "x" * 6_000_001}))
    assert _put(sim, big).status_code == 400
    assert _put(sim, b"{not json").status_code == 400
    assert sim.records() == {}


def test_county_association_403(sim):
    token = _token(sim, "dallas-client", "dallas-secret").json()["access_token"]
    response = _put(sim, _envelope(_event(NEW_EVENT, STATUS, _keys("R1"))), token=token)
    assert response.status_code == 403
    assert response.json()["Message"] == "System_County_Association"


def test_packer_respects_limits_on_real_bytes(sim):
    rows = make_rows(STATUS, 130).to_dict("records")
    changes = [Change(STATUS, "new", r) for r in rows[:120]]
    changes += [Change(STATUS, "delete", _keys(f"D{i}")) for i in range(10)]
    packing = pack(changes, max_bytes=40_000)
    assert not packing.too_large
    assert len(packing.envelopes) >= 3  # size-bound, not count-bound (130 < 2,500)
    seen = []
    for envelope in packing.envelopes:
        assert envelope.size == len(envelope.body) <= 40_000
        parsed = json.loads(envelope.body)
        assert len(parsed["Events"]) <= 50
        for (ev, en), change in zip(envelope.positions, envelope.changes, strict=True):
            event = parsed["Events"][ev]
            assert event["EventType"] == change.event_type
            assert event["Entities"][en]["EntityData"] == change.data
        for event in parsed["Events"]:
            assert len({e["EntityType"] for e in event["Entities"]}) == 1
        seen += [c.recordid for c in envelope.changes]
    assert sorted(seen) == sorted(c.recordid for c in changes)
    huge = Change(STATUS, "new", {**_keys("H"), "court_name": "x" * 50_000})
    assert pack([huge], max_bytes=40_000).too_large == [huge]
    assert dumps({"a": None}) == b'{"a":null}'


_values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=False, width=32),
    st.sampled_from(["Civil", "civil", "2026-02-30", "2026-02-03", "03/04/2026", "", "Harris",
                     "Tyler Tech-Odyssey", "G - Guilty", "Guilty"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entity_type=st.sampled_from(["di-texas-oca-court-case-status", "di-texas-oca-court-charges"]),
    edits=st.dictionaries(st.sampled_from(
        ["recordid", "county", "publisher", "primary_case_category", "victim_age",
         "offense_date", "plea_type", "case_status_date", "court_name", "not_a_field"]),
        _values, max_size=4),
    drop=st.sampled_from([None, "recordid", "county", "publisher"]),
)
def test_fast_check_agrees_with_jsonschema(entity_type, edits, drop):
    import jsonschema

    schema = load_contract(entity_type)
    fast = compile_fast_check(schema)
    assert fast is not None
    data = {**_keys("R1"), **edits}
    if drop:
        data.pop(drop, None)
    cls = jsonschema.validators.validator_for(schema)
    reference = cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(data)
    assert fast(data) == reference


@pytest.mark.parametrize("faults", [{"drop_next": 1}, {"lost_ack_next": 1}])
def test_dropped_connections_give_no_answer(sim, faults):
    for name, value in faults.items():
        setattr(sim.faults, name, value)
    with pytest.raises(httpx.RemoteProtocolError):
        _put(sim, _envelope(_event(NEW_EVENT, STATUS, _keys("R1"))))
    assert len(sim.records()) == (1 if "lost_ack_next" in faults else 0)

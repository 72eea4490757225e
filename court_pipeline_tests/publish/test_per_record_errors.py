"""Refused envelopes: each held-back record keeps only its own errors (issue 16, point 1)."""

from __future__ import annotations

import json

from court_pipeline.publish.client import Credential
from court_pipeline.publish.publisher import publish_county
from court_pipeline.publish.simulator import OcaSimulator
from court_pipeline.publish.state import StateStore
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.publish.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    COUNTY,
    PUBLISHER,
    STATUS,
    fast_settings,
    make_rows,
    query,
)


def _dallas(monkeypatch) -> Credential:
    monkeypatch.setenv("OCA_DALLAS_ID", "dallas-client")
    monkeypatch.setenv("OCA_DALLAS_SECRET", "dallas-secret")
    return Credential.from_env("OCA_DALLAS_ID", "OCA_DALLAS_SECRET", "Harris")


def test_50_by_50_envelope_refused_403_stores_each_record_with_its_own_error(
    sim, publish, warehouse, monkeypatch
):
    status = make_rows(STATUS, 2500)

    report = publish({STATUS: status}, credential_=_dallas(monkeypatch))

    assert report.envelopes == 1 and sim.stats.puts == 1  # one envelope of 50 x 50
    assert report.county_refused and report.held_back == 2500 and report.accepted == 0
    rows = query(warehouse, "SELECT h.recordid, h.reason_kind, h.errors, i.position "
                            "FROM oca_open_held_back AS h JOIN oca_envelope_items AS i "
                            "USING (envelope_id, recordid)")
    assert len(rows) == 2500
    for _recordid, kind, errors, position in rows:
        own = json.loads(errors)
        assert kind == "county_403" and len(own) == 1
        assert own[0]["keyword"] == "System_County_Association"
        assert own[0]["dataPath"] == (f".Events[{position // 50}].Entities[{position % 50}]"
                                      ".EntityData.county")
    # storage is linear in the envelope: the whole list once on the envelope, one error a row
    held_bytes, widest = query(warehouse, "SELECT sum(length(errors)), max(length(errors)) "
                                          "FROM oca_held_back")[0]
    envelope_bytes = query(warehouse, "SELECT length(errors) FROM oca_envelopes")[0][0]
    assert widest < 400 and held_bytes < 2500 * 400
    assert len(json.loads(query(warehouse, "SELECT errors FROM oca_envelopes")[0][0])) == 2500
    assert envelope_bytes < 2500 * 400
    reason = query(warehouse, "SELECT DISTINCT reason FROM oca_held_back")
    assert reason == [("the credential is not associated with county Harris "
                       "(403 System_County_Association); ask OCA to associate it",)]


def test_409_without_errors_holds_each_record_without_copies_of_the_envelope(
    sim, publish, warehouse
):
    sim.faults.conflict_next = 1
    status = make_rows(STATUS, 30)

    report = publish({STATUS: status})

    assert report.held_back == 30 and sim.stats.puts == 1
    rows = query(warehouse, "SELECT reason_kind, http_status, errors, reason "
                            "FROM oca_open_held_back")
    assert {(k, h, e) for k, h, e, _ in rows} == {("conflict_409", 409, None)}
    envelope_id = query(warehouse, "SELECT envelope_id FROM oca_envelopes")[0][0]
    assert {r for *_, r in rows} == {
        f"service answered HTTP 409 Conflict. for the whole envelope {envelope_id} "
        "(see oca_envelope_log.errors); not retried in this run"}


def test_400_naming_no_entity_keeps_the_error_on_the_envelope_only(
    credential, warehouse, tmp_path
):
    """A limit the service enforces more strictly than we do: a 400 with an empty dataPath."""
    small = OcaSimulator({CLIENT_ID: (CLIENT_SECRET, [COUNTY])}, max_bytes=5000)
    with small:
        store = StateStore(lambda: connect_warehouse(warehouse), environment="staging",
                           agency_id="harris", county=COUNTY)
        report = publish_county(store, {STATUS: make_rows(STATUS, 40)}, credential,
                                fast_settings(small), publisher=PUBLISHER)

    assert report.held_back == 40 and small.stats.puts == 1
    assert query(warehouse, "SELECT count(*), count(errors), any_value(reason_kind) "
                            "FROM oca_open_held_back") == [(40, 0, "validation")]
    envelope_errors = json.loads(query(warehouse, "SELECT errors FROM oca_envelopes")[0][0])
    assert [e["keyword"] for e in envelope_errors] == ["maxSize"]


def test_404_naming_no_delete_holds_each_record_once_without_the_envelope_errors(
    sim, publish, warehouse
):
    sim.faults.not_found_next = 1
    status = make_rows(STATUS, 25)

    report = publish({STATUS: status})

    assert report.held_back == 25 and report.accepted == 0 and sim.stats.puts == 1
    assert query(warehouse, "SELECT reason_kind, count(*), count(errors) FROM oca_open_held_back "
                            "GROUP BY 1") == [("http_404", 25, 0)]
    envelope_errors = json.loads(query(warehouse, "SELECT errors FROM oca_envelopes")[0][0])
    assert envelope_errors == [{"keyword": "notFound", "dataPath": "", "params": {},
                                "message": "not found"}]
    again = publish({STATUS: status})  # not looped within the run; the next run sends them
    assert again.accepted == 25 and again.clean

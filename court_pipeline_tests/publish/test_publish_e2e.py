"""End to end against the simulator: first publish, a day of changes, bad records."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from court_pipeline.publish.envelopes import DELETE_EVENT
from court_pipeline_tests.publish.conftest import (
    CHARGES,
    COUNTY,
    PUBLISHER,
    STATUS,
    assert_matches,
    make_rows,
    query,
)


def test_first_publish_then_nothing_to_send(sim, publish, warehouse):
    status, charges = make_rows(STATUS, 120), make_rows(CHARGES, 80, seed=2)

    report = publish({STATUS: status, CHARGES: charges})

    assert report.accepted == 200 and report.held_back == 0 and report.retry_next_run == 0
    assert report.planned[STATUS]["new"] == 120 and report.planned[CHARGES]["new"] == 80
    assert_matches(sim, STATUS, status)
    assert_matches(sim, CHARGES, charges)
    log = query(warehouse, "SELECT status, http_status, attempts, service_envelope_id, "
                           "entities, body_bytes, counts, environment, agency_id, county "
                           "FROM oca_envelope_log")
    assert len(log) == report.envelopes == 1
    status_, http, attempts, service_id, entities, size, counts, env, agency, county = log[0]
    assert (status_, http, attempts, entities) == ("acked", 200, 1, 200)
    assert service_id == sim.stats.envelope_ids[0]
    assert json.loads(counts) == {"new-record": {STATUS: 120, CHARGES: 80}}
    assert (env, agency, county) == ("staging", "harris", COUNTY)
    assert size == report.bytes_sent > 0
    # every event carries one entity type; numbers stay JSON numbers
    events = sim.applied[0]["Events"]
    assert all(len({e["EntityType"] for e in ev["Entities"]}) == 1 for ev in events)
    assert all(len(ev["Entities"]) <= 50 for ev in events)
    charge = next(e["EntityData"] for ev in events for e in ev["Entities"]
                  if e["EntityType"] == CHARGES)
    assert isinstance(charge["victim_age"], int)

    again = publish({STATUS: status, CHARGES: charges})
    assert again.envelopes == 0 and again.accepted == 0
    assert again.planned[STATUS] == {"new": 0, "updates": 0, "deletes": 0,
                                     "kept_held_upstream": 0, "unchanged": 120,
                                     "rejected": 0}


def test_day_of_changes_updates_nullifications_deletes(sim, publish, warehouse):
    status = make_rows(STATUS, 60)
    publish({STATUS: status})
    sim.applied.clear()

    changed = status.copy()
    changed.loc[0, "current_case_status"] = (
        "Disposed" if status.loc[0, "current_case_status"] != "Disposed" else "Inactive"
    )
    changed.loc[1, "court_name"] = None  # became empty -> null
    changed.loc[2, "local_case_type"] = ""  # empty string is empty too
    changed = changed.drop(index=[10, 11]).reset_index(drop=True)  # expunged -> deletes
    changed = pd.concat([changed, make_rows(STATUS, 1, seed=9, start=500)], ignore_index=True)

    report = publish({STATUS: changed})

    assert report.planned[STATUS] == {"new": 1, "updates": 3, "deletes": 2,
                                      "kept_held_upstream": 0, "unchanged": 55,
                                      "rejected": 0}
    assert report.accepted == 6 and report.held_back == 0
    assert_matches(sim, STATUS, changed)
    sent = {e["EntityData"]["recordid"]: (ev["EventType"], e["EntityData"])
            for ev in sim.applied[0]["Events"] for e in ev["Entities"]}
    keys = {"recordid", "county", "publisher"}
    assert set(sent["C000000"][1]) == keys | {"current_case_status"}
    assert sent["C000001"][1] == {"recordid": "C000001", "county": COUNTY,
                                  "publisher": PUBLISHER, "court_name": None}
    assert sent["C000002"][1]["local_case_type"] is None
    assert sent["C000010"] == (DELETE_EVENT,
                               {"recordid": "C000010", "county": COUNTY, "publisher": PUBLISHER})
    assert len(sent["C000500"][1]) == len(status.columns)  # a new record goes whole
    state = query(warehouse, "SELECT count(*) FROM oca_published_state")
    assert state == [(59,)]


def test_one_invalid_entity_in_2500_is_held_back_alone(sim, publish, warehouse):
    status = make_rows(STATUS, 2500)
    status.loc[1234, "primary_case_category"] = "criminal"  # wrong case: enum

    report = publish({STATUS: status})

    assert report.accepted == 2499 and report.held_back == 1
    assert report.reasons == {"validation": 1}
    valid = status.drop(index=1234)
    assert_matches(sim, STATUS, valid)
    held = query(warehouse, "SELECT recordid, reason_kind, http_status, reason, errors "
                            "FROM oca_open_held_back")
    assert len(held) == 1
    recordid, kind, http, reason, errors = held[0]
    assert (recordid, kind, http) == ("C001234", "validation", 422)
    assert "primary_case_category: enum" in reason
    error = json.loads(errors)[0]
    assert error["keyword"] == "enum" and error["ErrorSchema"] == STATUS
    assert error["dataPath"].endswith(".EntityData.primary_case_category")
    assert "Criminal" in error["params"]["allowedValues"]
    log = query(warehouse, "SELECT status, http_status, entities, accepted, held_back "
                           "FROM oca_envelope_log ORDER BY created_at")
    assert log == [("rejected", 422, 2500, 0, 1), ("acked", 200, 2499, 2499, 0)]

    # fix the record at the source: the next run sends it and closes the hold-back
    status.loc[1234, "primary_case_category"] = "Criminal"
    fixed = publish({STATUS: status})
    assert fixed.accepted == 1 and fixed.held_back == 0
    assert_matches(sim, STATUS, status)
    assert query(warehouse, "SELECT count(*) FROM oca_open_held_back") == [(0,)]
    assert query(warehouse, "SELECT resolution FROM oca_held_back") == [("accepted",)]


def test_every_kind_of_bad_record_is_held_back_with_its_reason(sim, publish, warehouse):
    charges = make_rows(CHARGES, 30)
    charges.loc[3, "plea_type"] = "Guilty"  # enum (should be "G - Guilty")
    charges["victim_age"] = charges["victim_age"].astype(object)
    charges.loc[4, "victim_age"] = "42"  # number as a string -> type
    charges.loc[5, "offense_date"] = "03/04/2026"  # pattern

    report = publish({CHARGES: charges})

    held = dict(query(warehouse, "SELECT recordid, reason FROM oca_open_held_back"))
    assert set(held) == {"C000003", "C000004", "C000005"}
    assert "plea_type: enum" in held["C000003"]
    assert "victim_age: type" in held["C000004"]
    assert "offense_date: pattern" in held["C000005"]
    assert report.accepted == 27 and report.held_back == 3
    # a type error is a form error (400); the whole first envelope was rejected
    assert query(warehouse, "SELECT http_status FROM oca_envelope_log ORDER BY created_at") == [
        (400,), (200,)]
    assert_matches(sim, CHARGES, charges.drop(index=[3, 4, 5]))


def test_misnamed_column_holds_back_everything_without_looping(sim, publish, warehouse):
    charges = make_rows(CHARGES, 5).rename(
        columns={"statute_citation": "filing_statute_citation"}
    )

    report = publish({CHARGES: charges})

    assert report.accepted == 0 and report.held_back == 5
    assert sim.stats.puts == 1 and sim.records() == {}
    reasons = [r[0] for r in query(warehouse, "SELECT reason FROM oca_open_held_back")]
    assert len(reasons) == 5
    assert all("additionalProperties" in r for r in reasons)
    errors = json.loads(query(warehouse, "SELECT errors FROM oca_held_back LIMIT 1")[0][0])
    assert errors[0]["params"] == {"additionalProperty": "filing_statute_citation"}


def test_held_back_new_record_that_leaves_the_source_is_closed(sim, publish, warehouse):
    status = make_rows(STATUS, 5)
    status.loc[2, "court_type"] = "district court"
    publish({STATUS: status})
    assert query(warehouse, "SELECT recordid FROM oca_open_held_back") == [("C000002",)]

    report = publish({STATUS: status.drop(index=[2])})

    assert report.envelopes == 0  # never accepted, so there is nothing to delete
    assert query(warehouse, "SELECT resolution FROM oca_held_back") == [("gone_from_source",)]
    assert query(warehouse, "SELECT count(*) FROM oca_open_held_back") == [(0,)]


def test_typed_values_arrive_as_literal_json(sim, publish):
    """What the service stores for awkward cell types, written out literally (not through the
    publisher's own canonical()): timestamps as dates, whole floats as integers, fractional
    floats as floats, '' / NaN / None as null."""
    charges = make_rows(CHARGES, 1).astype(object)
    charges.loc[0, "offense_date"] = pd.Timestamp("2026-11-20 00:00")
    charges.loc[0, "arrest_date"] = ""
    charges.loc[0, "victim_age"] = np.float64(17.0)
    charges.loc[0, "party_age_at_time_of_offense"] = 31.5
    charges.loc[0, "plea_date"] = None
    charges.loc[0, "statute_citation"] = np.nan

    report = publish({CHARGES: charges})

    assert report.accepted == 1 and report.held_back == 0
    (stored,) = sim.records(CHARGES).values()
    assert {k: stored[k] for k in ("offense_date", "arrest_date", "victim_age",
                                   "party_age_at_time_of_offense", "plea_date",
                                   "statute_citation", "recordid", "county")} == {
        "offense_date": "2026-11-20", "arrest_date": None, "victim_age": 17,
        "party_age_at_time_of_offense": 31.5, "plea_date": None, "statute_citation": None,
        "recordid": "C000000", "county": "Harris",
    }
    assert isinstance(stored["victim_age"], int)

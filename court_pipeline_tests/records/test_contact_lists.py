"""Contact lifecycle across sources, on a real DuckDB warehouse: each source's list replaces
its own last list; a contact is retired only when no source lists it any more."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from court_pipeline.odyssey.parse import defused_fromstring, parse_find_parties
from court_pipeline.records.contact_lists import apply_contact_lists
from court_pipeline.records.merge import merge_records
from court_pipeline.warehouse import connect_warehouse

PHONE = {"contact_id": "d:x", "party_id": "P1", "kind": "phone", "raw_value": "713-555-0142",
         "value": "+17135550142", "phone_type": "mobile", "label": "Cell", "status": "valid"}
COVERED = pd.DataFrame([{"party_id": "P1", "kind": "phone"}])
NONE_LISTED = pd.DataFrame(columns=["contact_id", "party_id", "kind"])


@pytest.fixture
def con(tmp_path):
    with connect_warehouse(tmp_path / "wh.duckdb") as connection:
        yield connection


def _give(con, source: str, ref: str, phones: list[dict]) -> None:
    """One source gives P1's full phone list (as a sync or an ECR file does)."""
    frame = pd.DataFrame(phones, columns=list(PHONE))
    merge_records(con, "contacts", frame, agency_id="a", source=source, source_ref=ref)
    apply_contact_lists(con, "a", source, ref, COVERED,
                        frame[["contact_id", "party_id", "kind"]] if phones else NONE_LISTED)


def _state(con) -> tuple:
    return con.execute("SELECT status, retired_reason FROM contacts WHERE contact_id = 'd:x'"
                       ).fetchall()[0]


def test_a_contact_stays_while_any_source_still_lists_it(con):
    _give(con, "odyssey_api", "sync-1", [PHONE])
    _give(con, "ecr", "file-1", [PHONE])
    _give(con, "odyssey_api", "sync-2", [])  # Odyssey's list is now empty
    assert _state(con) == ("valid", None)  # the latest ECR file still lists it
    assert con.execute(
        "SELECT source, listed, unlisted_ref FROM contact_listings ORDER BY source").fetchall() == [
        ("ecr", True, None), ("odyssey_api", False, "sync-2")]
    _give(con, "ecr", "file-2", [])
    assert _state(con) == ("retired", "no longer listed by the ECR file (file-2)")
    _give(con, "odyssey_api", "sync-3", [PHONE])
    assert _state(con) == ("valid", None)


def test_a_contact_from_before_listings_existed_is_retired_by_its_source(con):
    merge_records(con, "contacts", pd.DataFrame([PHONE]), agency_id="a",
                  source="odyssey_api", source_ref="old-sync")  # no listing rows yet
    apply_contact_lists(con, "a", "ecr", "file-1", COVERED, NONE_LISTED)
    assert _state(con) == ("valid", None)  # ECR never listed it: its silence is not Odyssey's
    apply_contact_lists(con, "a", "odyssey_api", "sync-9", COVERED, NONE_LISTED)
    assert _state(con) == ("retired", "no longer listed by Odyssey (sync-9)")


def _party(lists: str) -> str:
    return (
        "<FindPartiesResult><TotalResults>1</TotalResults><PageNumber>1</PageNumber>"
        "<PageSize>200</PageSize><Parties><Party><PartyID>P1</PartyID>"
        f"<Name><First>A</First><Last>B</Last></Name>{lists}"
        "<ModifiedDate>11/21/2026 04:12 PM</ModifiedDate></Party></Parties></FindPartiesResult>"
    )


def test_an_absent_odyssey_list_is_unknown_an_empty_one_is_empty():
    zone = ZoneInfo("America/Chicago")
    absent = parse_find_parties(defused_fromstring(_party(""))[0], zone)
    assert absent.contact_lists == []
    empty = parse_find_parties(defused_fromstring(_party("<Phones/><Emails></Emails>"))[0], zone)
    assert empty.contact_lists == [{"party_id": "P1", "kind": "phone"},
                                   {"party_id": "P1", "kind": "email"}]
    assert empty.phones == [] and empty.emails == []

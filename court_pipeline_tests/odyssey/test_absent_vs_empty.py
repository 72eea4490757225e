"""Unknown is not empty: an element Odyssey leaves out keeps the known value, an element it
sends empty (or xsi:nil) clears it. Real syncs against the simulator, one test per column.

Three full syncs into one warehouse (module fixture): the first loads every value, the
second gets replies without the elements below, the third gets them present but empty
(xsi:nil for a few). Each column's test compares its rows across the three snapshots.
"""

from __future__ import annotations

import pytest

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.simulator import Faults, OdysseySimulator
from court_pipeline.warehouse import connect_warehouse

from .conftest import ANCHOR
from .test_sync import sync_and_merge

# column -> (table, key columns, the (parent path, element tag) that carries it)
PARTY, NAME, ADDRESS = ".//Party", f".//Party/{E.NAME}", f".//Party/{E.ADDRESS}"
SESSION, HEARING, CASE = ".//Session", ".//Hearing", ".//Case"
FIN, CHARGE, SENTENCE = f".//Case/{E.FINANCIAL}", ".//Charge", f".//Charge/{E.SENTENCE}"
ATTORNEY, EVENT = ".//Attorney", ".//Event"
P, H, C = ("parties", "party_id"), ("hearings", "hearing_id"), ("cases", "case_id")
CH = ("charges", "case_id, charge_id")
AT = ("attorneys", "case_id, attorney_party_id, represents_party_id")
EV = ("case_events", "case_id, event_id")
FIELDS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "parties.first_name": (P, (NAME, E.NAME_FIRST)),
    "parties.middle_name": (P, (NAME, E.NAME_MIDDLE)),
    "parties.last_name": (P, (NAME, E.NAME_LAST)),
    "parties.suffix": (P, (NAME, E.NAME_SUFFIX)),
    "parties.business_name": (P, (PARTY, E.BUSINESS_NAME)),
    "parties.date_of_birth": (P, (PARTY, E.DATE_OF_BIRTH)),
    "parties.sex": (P, (PARTY, E.SEX)),
    "parties.race": (P, (PARTY, E.RACE)),
    "parties.ethnicity": (P, (PARTY, E.ETHNICITY)),
    "parties.preferred_language": (P, (PARTY, E.PREFERRED_LANGUAGE)),
    "parties.interpreter_needed": (P, (PARTY, E.INTERPRETER_NEEDED)),
    "parties.address_line1": (P, (ADDRESS, E.ADDRESS_LINE1)),
    "parties.city": (P, (ADDRESS, E.ADDRESS_CITY)),
    "parties.state": (P, (ADDRESS, E.ADDRESS_STATE)),
    "parties.zip": (P, (ADDRESS, E.ADDRESS_ZIP)),
    "parties.bar_number": (P, (PARTY, E.BAR_NUMBER)),
    "parties.sms_opt_out": (P, (PARTY, E.SMS_OPT_OUT)),
    "hearings.session_id": (H, (SESSION, E.SESSION_ID)),
    "hearings.calendar": (H, (SESSION, E.CALENDAR)),
    "hearings.start_at": (H, (SESSION, E.START_TIME)),
    "hearings.start_local": (H, (SESSION, E.START_TIME)),
    "hearings.courtroom": (H, (SESSION, E.COURTROOM)),
    "hearings.location": (H, (SESSION, E.LOCATION)),
    "hearings.judge": (H, (SESSION, E.JUDICIAL_OFFICER)),
    "hearings.case_id": (H, (HEARING, E.CASE_ID)),
    "hearings.case_number": (H, (HEARING, E.CASE_NUMBER)),
    "hearings.hearing_type": (H, (HEARING, E.HEARING_TYPE)),
    "hearings.hearing_type_code": (H, (HEARING, E.HEARING_TYPE)),
    "hearings.status": (H, (HEARING, E.STATUS)),
    "hearings.status_date": (H, (HEARING, E.STATUS)),
    "cases.case_number": (C, (CASE, E.CASE_NUMBER)),
    "cases.case_style": (C, (CASE, E.CASE_STYLE)),
    "cases.case_category": (C, (CASE, E.CASE_CATEGORY)),
    "cases.case_category_code": (C, (CASE, E.CASE_CATEGORY)),
    "cases.case_type": (C, (CASE, E.CASE_TYPE)),
    "cases.case_type_code": (C, (CASE, E.CASE_TYPE)),
    "cases.case_status": (C, (CASE, E.CASE_STATUS)),
    "cases.case_status_code": (C, (CASE, E.CASE_STATUS)),
    "cases.case_status_date": (C, (CASE, E.CASE_STATUS)),
    "cases.file_date": (C, (CASE, E.FILE_DATE)),
    "cases.court_code": (C, (CASE, E.COURT)),
    "cases.court_name": (C, (CASE, E.COURT)),
    "cases.court_type": (C, (CASE, E.COURT)),
    "cases.oca_court_id": (C, (CASE, E.COURT)),
    "cases.judge_name": (C, (CASE, E.JUDICIAL_OFFICER)),
    "cases.judge_type": (C, (CASE, E.JUDICIAL_OFFICER)),
    "cases.payment_status": (C, (FIN, E.PAYMENT_STATUS)),
    "cases.amount_due": (C, (FIN, E.AMOUNT_DUE)),
    "cases.amount_paid": (C, (FIN, E.AMOUNT_PAID)),
    "cases.fines": (C, (FIN, E.FINES)),
    "charges.party_id": (CH, (CASE, E.PARTIES)),
    "charges.charge_number": (CH, (CHARGE, E.CHARGE_NUMBER)),
    "charges.statute_code": (CH, (CHARGE, E.STATUTE)),
    "charges.statute": (CH, (CHARGE, E.STATUTE)),
    "charges.offense_code": (CH, (CHARGE, E.OFFENSE_CODE)),
    "charges.description": (CH, (CHARGE, E.DESCRIPTION)),
    "charges.degree_code": (CH, (CHARGE, E.DEGREE)),
    "charges.degree": (CH, (CHARGE, E.DEGREE)),
    "charges.offense_date": (CH, (CHARGE, E.OFFENSE_DATE)),
    "charges.arrest_date": (CH, (CHARGE, E.ARREST_DATE)),
    "charges.filing_date": (CH, (CHARGE, E.FILING_DATE)),
    "charges.plea_code": (CH, (CHARGE, E.PLEA)),
    "charges.plea": (CH, (CHARGE, E.PLEA)),
    "charges.plea_date": (CH, (CHARGE, E.PLEA)),
    "charges.disposition_code": (CH, (CHARGE, E.DISPOSITION)),
    "charges.disposition": (CH, (CHARGE, E.DISPOSITION)),
    "charges.disposition_date": (CH, (CHARGE, E.DISPOSITION)),
    "charges.sentence_type": (CH, (CHARGE, E.SENTENCE)),
    "charges.sentence_date": (CH, (CHARGE, E.SENTENCE)),
    "charges.fine_amount": (CH, (SENTENCE, E.FINE_AMOUNT)),
    "charges.court_costs": (CH, (SENTENCE, E.COURT_COSTS)),
    "charges.restitution": (CH, (SENTENCE, E.RESTITUTION)),
    "charges.confinement_days": (CH, (SENTENCE, E.CONFINEMENT_DAYS)),
    "attorneys.name": (AT, (ATTORNEY, E.NAME)),
    "attorneys.bar_number": (AT, (ATTORNEY, E.BAR_NUMBER)),
    "attorneys.type_code": (AT, (ATTORNEY, E.ATTR_TYPE)),
    "attorneys.type": (AT, (ATTORNEY, E.ATTR_TYPE)),
    "attorneys.start_date": (AT, (ATTORNEY, E.START_DATE)),
    "attorneys.end_date": (AT, (ATTORNEY, E.END_DATE)),
    "case_events.event_date": (EV, (EVENT, E.EVENT_DATE)),
    "case_events.type_code": (EV, (EVENT, E.EVENT_TYPE)),
    "case_events.type": (EV, (EVENT, E.EVENT_TYPE)),
}
# sent as <X xsi:nil="true"/> rather than <X/> in the third sync (both mean empty)
NIL = {
    (PARTY, E.DATE_OF_BIRTH),
    (SESSION, E.COURTROOM),
    (CASE, E.CASE_STYLE),
    (FIN, E.AMOUNT_DUE),
    (CHARGE, E.DESCRIPTION),
    (EVENT, E.EVENT_DATE),
}
# consent fails safe: an empty <SmsOptOut> never lifts an opt-out (only an explicit false does)
KEPT_WHEN_EMPTY = {"parties.sms_opt_out"}


def _snapshot(db) -> dict[str, dict[tuple, object]]:
    """{table.column: {key: value}} for every column under test."""
    out: dict[str, dict[tuple, object]] = {}
    with connect_warehouse(db) as con:
        for name, ((table, keys), _) in FIELDS.items():
            column = name.split(".", 1)[1]
            rows = con.execute(
                f"SELECT {keys}, {column} FROM {table} WHERE agency_id = 'sim'"
            ).fetchall()
            out[name] = {tuple(r[:-1]): r[-1] for r in rows}
    return out


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """The three snapshots (loaded, omitted, emptied) of one warehouse."""
    tmp = tmp_path_factory.mktemp("absent")
    db = tmp / "wh.duckdb"
    elements = sorted({element for _, element in FIELDS.values()})
    snaps = {}
    with OdysseySimulator(parties=150, seed=5, anchor=ANCHOR, faults=Faults()) as sim:
        sentenced = [
            ch["sentence"]
            for case in sim.county.cases.values()
            for ch in case.charges
            if ch["sentence"]
        ]
        sentenced[0]["restitution"] = "125.50"  # the generated county orders none
        sync_and_merge(sim, tmp / "s1", db)
        snaps["loaded"] = _snapshot(db)
        sim.omit_elements(elements, "omit")
        sync_and_merge(sim, tmp / "s2", db)
        snaps["omitted"] = _snapshot(db)
        sim.omit_elements([e for e in elements if e not in NIL], "empty")
        sim.omit_elements(sorted(NIL), "nil")
        # <Parties> sent, naming no defendant: the charged party is now empty, not unknown
        sim.omit_elements([(f"{CASE}/{E.PARTIES}", E.CASE_PARTY)], "omit")
        sync_and_merge(sim, tmp / "s3", db)
        snaps["emptied"] = _snapshot(db)
    return snaps


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_absent_element_keeps_the_value_and_empty_element_clears_it(stages, name):
    loaded = {k: v for k, v in stages["loaded"][name].items() if v is not None}
    assert loaded, f"the first sync loaded no {name} value: the simulator must send one"
    omitted, emptied = stages["omitted"][name], stages["emptied"][name]
    assert {k: omitted.get(k) for k in loaded} == loaded  # unknown: kept
    if name in KEPT_WHEN_EMPTY:
        assert {k: emptied.get(k) for k in loaded} == loaded
    else:
        assert {k: emptied.get(k) for k in loaded} == dict.fromkeys(loaded)  # empty: cleared

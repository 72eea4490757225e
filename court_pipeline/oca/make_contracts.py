"""Write the bundled OCA v3 JSON Schema contracts from the field lists of the spec.

The JSON files under ``contracts/v3`` are the contract the pipeline validates against and they
are committed; this script only regenerates them when the field lists below change. OCA's
official files replace them by dropping them into a contracts directory (see ``contracts.py``),
no code change needed. Run: ``python -m court_pipeline.oca.make_contracts [out_dir]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from court_pipeline.reference import oca_enums, texas_counties
from court_pipeline.registry.models import OCA_PUBLISHERS

CONTRACT_VERSION = "v3"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

# (field, kind): kind is str | enum | date | num | county | publisher | recordid
COMMON_HEADER: tuple[tuple[str, str], ...] = (
    ("cause_number", "str"),
    ("recordid", "recordid"),
    ("county", "county"),
    ("publisher", "publisher"),
    ("court_id_number", "str"),
    ("court_name", "str"),
    ("court_type", "enum"),
    ("primary_case_category", "enum"),
    ("judicial_council_case_category", "enum"),
    ("jcit_case_type", "enum"),
    ("judicial_council_offense_type", "enum"),
    ("local_case_type", "str"),
    ("case_judicial_officer_name", "str"),
    ("case_judicial_officer_type", "enum"),
    ("update_date", "date"),
)

PER_TYPE: dict[str, tuple[tuple[str, str], ...]] = {
    "di-texas-oca-court-case-status": (
        ("current_case_status", "enum"),
        ("case_status_date", "date"),
        ("case_status_event", "enum"),
    ),
    "di-texas-oca-court-case-events": (
        ("event_type", "enum"),
        ("event_date", "date"),
        ("type_of_mental_health_commitment_ordered", "enum"),
        ("case_initial_filing_date", "date"),
        ("pleading_motion_outcome", "enum"),
        ("event_judicial_officer_name", "str"),
        ("event_judicial_officer_type", "enum"),
    ),
    "di-texas-oca-court-charges": (
        ("case_initial_filing_date", "date"),
        ("party_age_at_time_of_offense", "num"),
        ("party_race", "enum"),
        ("party_ethnicity", "enum"),
        ("party_sex", "enum"),
        ("party_zip_code", "str"),
        ("party_indigency_status", "str"),
        ("offense_date", "date"),
        ("arrest_date", "date"),
        ("charge_number", "str"),
        ("charge_filing_date", "date"),
        ("filing_statute", "enum"),
        ("statute_citation", "str"),
        ("filing_offense_code", "str"),
        ("filing_charge_description", "str"),
        ("level_and_degree_of_prosecuted_offense", "enum"),
        ("filing_charge_modifiers", "enum"),
        ("prosecution_offense_literal", "str"),
        ("victim_age", "num"),
        ("deadly_weapon_finding", "enum"),
        ("charge_disposition_date", "date"),
        ("charge_sentencing_date", "date"),
        ("charge_manner_of_disposition", "enum"),
        ("charge_disposition", "enum"),
        ("charge_adjudication", "str"),
        ("plea_type", "enum"),
        ("plea_date", "date"),
        ("most_severe_charge", "str"),
    ),
    "di-texas-oca-court-attorney": (
        ("attorney_entry_date", "date"),
        ("attorney_end_date", "date"),
        ("attorney_type", "enum"),
        ("party_represented", "enum"),
        ("attorney_name", "str"),
        ("state_bar_card_number", "str"),
    ),
    "di-texas-oca-court-appointments": (
        ("case_style", "str"),
        ("appointment_type", "enum"),
        ("appointee", "str"),
        ("position", "enum"),
        ("relationship_to_ward_or_deceased", "enum"),
        ("approving_judicial_officer_name", "str"),
        ("appointment_date", "date"),
        ("source_of_fee", "enum"),
        ("amount_approved", "num"),
        ("amount_approved_date", "date"),
        ("number_of_hours_billed", "num"),
        ("total_billed_expenses", "num"),
    ),
    "di-texas-oca-court-party": (
        ("party_type", "enum"),
        ("party_age_at_time_of_offense", "num"),
        ("party_race", "enum"),
        ("party_ethnicity", "enum"),
        ("party_sex", "enum"),
        ("party_zip_code", "str"),
        ("party_indigency_status", "str"),
    ),
    "di-texas-oca-court-dispositions-criminal": (
        ("charge_number", "str"),
        ("disposition_date", "date"),
        ("criminal_disposition_detail", "enum"),
        ("party_age_at_time_of_offense", "num"),
        ("party_race", "enum"),
        ("party_ethnicity", "enum"),
        ("party_sex", "enum"),
        ("attorney_type", "enum"),
        ("disposition_statute", "enum"),
        ("disposition_charge_modifier", "enum"),
        ("disposition_other_enhancements", "enum"),
        ("deadly_weapon_finding", "enum"),
        ("plea_type", "enum"),
        ("sentence_type", "enum"),
        ("sentencing_date", "date"),
        ("juvenile_disposition_type", "enum"),
        ("concurrent_consecutive_sentence", "enum"),
        ("victim_age", "num"),
        ("monetary_penalty_amount_court_costs", "num"),
        ("monetary_penalty_amount_fines", "num"),
        ("monetary_penalty_amount_restitution", "num"),
    ),
    "di-texas-oca-court-dispositions-non-criminal": (
        ("disposition_date", "date"),
        ("non_criminal_disposition_detail", "enum"),
    ),
}

PROVISIONAL = frozenset(
    {
        "di-texas-oca-court-party",
        "di-texas-oca-court-dispositions-criminal",
        "di-texas-oca-court-dispositions-non-criminal",
    }
)
CRITICAL = ("recordid", "county", "publisher")


def _property(field: str, kind: str) -> dict:
    if kind == "str":
        return {"type": ["string", "null"]}
    if kind == "num":
        return {"type": ["number", "null"]}
    if kind == "date":
        return {"type": ["string", "null"], "pattern": DATE_PATTERN, "format": "date"}
    if kind == "enum":
        values = oca_enums().get(field)
        if not values:
            raise KeyError(f"no OCA enumeration for field {field!r} in oca_v3_enums.json")
        return {"type": ["string", "null"], "enum": [*values, None]}
    if kind == "county":
        return {"type": "string", "enum": list(texas_counties())}
    if kind == "publisher":
        return {"type": "string", "enum": list(OCA_PUBLISHERS)}
    if kind == "recordid":
        return {"type": "string", "minLength": 1}
    raise ValueError(f"unknown field kind {kind!r} for {field!r}")


def build_contract(entity_type: str) -> dict:
    """The JSON Schema (draft 2020-12) of one entity type."""
    fields = (*COMMON_HEADER, *PER_TYPE[entity_type])
    schema: dict = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:court-pipeline:oca:{CONTRACT_VERSION}:{entity_type}",
        "title": entity_type,
        "description": "OCA case-level data contract collected from public material "
        "(oca-entities.md); replace with OCA's official file when available.",
        "x-contract-version": CONTRACT_VERSION,
    }
    if entity_type in PROVISIONAL:
        schema["x-provisional"] = True
    schema |= {
        "type": "object",
        "properties": {field: _property(field, kind) for field, kind in fields},
        "required": list(CRITICAL),
        "additionalProperties": False,
    }
    return schema


def write_contracts(out_dir: Path) -> list[Path]:
    """Write one ``<entity_type>.json`` per entity type into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for entity_type in PER_TYPE:
        path = out_dir / f"{entity_type}.json"
        path.write_text(
            json.dumps(build_contract(entity_type), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        written.append(path)
    return written


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1
        else Path(__file__).resolve().parent / "contracts" / CONTRACT_VERSION
    )
    for written_path in write_contracts(target):
        print(written_path)

"""Masking of personal and identifying data for logs and UI metadata, by one deployment policy.

Everyone with UI access sees materialization metadata, so anything that reaches a log line, an
exception or Dagster metadata goes through these helpers; the warehouse keeps the real values.
``FIELDS`` says which columns are personal or identifying and of what kind; the policy
(``COURT_PIPELINE_PII_POLICY``, read on each call) says how each kind is shown:

- ``masked`` (default): every kind masked, identifiers too ('CR-26-200001' -> '**********01');
- ``redacted``: every kind shown as ``***``;
- ``identifiers``: as ``masked``, but case numbers, party ids and bar numbers in clear, for a
  deployment whose UI only court staff can reach.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

import pandas as pd

POLICY_ENV = "COURT_PIPELINE_PII_POLICY"
POLICIES = ("masked", "redacted", "identifiers")
DEFAULT_POLICY = "masked"
REDACTED = "***"

IDENTIFIER_KINDS = frozenset({"case_number", "party_id", "bar_number"})
_NAMES = (
    "first_name", "middle_name", "last_name", "suffix", "full_name", "name", "business_name",
    "attorney_name", "party_name", "appointee", "bond_agent", "judge", "judge_name",
    "case_judicial_officer_name", "event_judicial_officer_name",
    "approving_judicial_officer_name",
)
FIELDS: dict[str, str] = {
    **dict.fromkeys(_NAMES, "name"),
    **dict.fromkeys(("phone", "phone_raw"), "phone"),
    **dict.fromkeys(("email", "email_raw"), "email"),
    # a phone or an email; 'value'/'raw_value' beside a 'kind' column say which
    **dict.fromkeys(("recipient", "value", "raw_value", "to"), "contact"),
    "date_of_birth": "birth_date",
    **dict.fromkeys(("address_line1", "zip", "party_zip_code"), "address"),
    # case numbers, and the source's record ids that lead to one case (a warehouse lookup)
    **dict.fromkeys(
        ("case_number", "cause_number", "case_id", "hearing_id", "event_id", "charge_id"),
        "case_number",
    ),
    **dict.fromkeys(
        ("party_id", "attorney_party_id", "represents_party_id", "contact_id"), "party_id"
    ),
    **dict.fromkeys(("bar_number", "state_bar_card_number"), "bar_number"),
    # free text that carries names, phones or case numbers
    **dict.fromkeys(("raw_row", "body", "case_style"), "text"),
}
PII_COLUMNS = frozenset(FIELDS)


def policy() -> str:
    """The deployment's policy; an unknown value is refused rather than guessed."""
    value = os.environ.get(POLICY_ENV, "").strip().lower() or DEFAULT_POLICY
    if value not in POLICIES:
        raise ValueError(f"{POLICY_ENV}={value!r} is not one of {', '.join(POLICIES)}")
    return value


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def mask_text(value: object) -> str | None:
    """Keep the first character and the length class: 'MARIA' -> 'M****'."""
    if _missing(value):
        return None
    text = str(value)
    if not text or policy() == "redacted":
        return text and REDACTED
    return text[0] + "*" * min(len(text) - 1, 8)


def mask_phone(value: object) -> str | None:
    """Keep the last two digits: '+17135550142' -> '+1*******42'."""
    if _missing(value):
        return None
    text = str(value)
    if policy() == "redacted":
        return REDACTED
    digits = re.sub(r"\D", "", text)
    if len(digits) <= 2:
        return "*" * len(text)
    return ("+" if text.startswith("+") else "") + "*" * (len(digits) - 2) + digits[-2:]


def mask_email(value: object) -> str | None:
    """'maria@example.com' -> 'm****@example.com' (the domain helps debugging, the user not)."""
    if _missing(value):
        return None
    if policy() == "redacted":
        return REDACTED
    local, at, domain = str(value).partition("@")
    return (mask_text(local) or "") + at + domain


def mask_identifier(value: object) -> str | None:
    """Keep the last two characters: 'CR-26-200001' -> '**********01'."""
    if _missing(value):
        return None
    text = str(value)
    if policy() == "redacted":
        return REDACTED
    return "*" * len(text) if len(text) <= 4 else "*" * (len(text) - 2) + text[-2:]


def show(kind: str, value: object) -> object:
    """A value of one ``FIELDS`` kind as the policy shows it in metadata."""
    if _missing(value):
        return None
    if kind in IDENTIFIER_KINDS:
        return value if policy() == "identifiers" else mask_identifier(value)
    if kind == "phone":
        return mask_phone(value)
    if kind == "email":
        return mask_email(value)
    if kind == "contact":
        return mask_email(value) if "@" in str(value) else mask_phone(value)
    if kind == "birth_date":
        return REDACTED if policy() == "redacted" else "****-**-**"
    return mask_text(value)


def mask_value(column: str, value: object) -> object:
    """Mask one value according to its column name (other columns pass unchanged)."""
    kind = FIELDS.get(column)
    return value if kind is None else show(kind, value)


def masked_frame(frame: pd.DataFrame, extra_pii: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with every personal or identifying column shown by the policy."""
    kinds = {**FIELDS, **dict.fromkeys(extra_pii, "text")}
    out = frame.copy()
    for column in out.columns:
        kind = kinds.get(column)
        if kind is None:
            continue
        if column in ("value", "raw_value") and "kind" in out.columns:
            out[column] = [
                show("email" if k == "email" else "phone", v)
                for k, v in zip(out["kind"], out[column], strict=True)
            ]
        else:
            out[column] = out[column].map(lambda v, k=kind: show(k, v))
    return out


def masked_preview(frame: pd.DataFrame, rows: int = 10, extra_pii: Iterable[str] = ()) -> str:
    """A markdown preview of the first rows, masked by the policy, for metadata."""
    if frame.empty:
        return "_no rows_"
    return masked_frame(frame.head(rows), extra_pii).to_markdown(index=False)

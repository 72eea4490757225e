"""Masking of personal data for logs and UI metadata.

Names, phones, emails and birth dates are PII. Anything that reaches a log line, an exception
or Dagster metadata goes through these helpers; the warehouse itself keeps the real values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

PII_COLUMNS = frozenset(
    {
        "first_name", "middle_name", "last_name", "suffix", "full_name", "name", "business_name",
        "date_of_birth", "phone", "phone_raw", "email", "email_raw", "raw_value", "value",
        "address_line1", "attorney_name", "party_name", "recipient", "body", "raw_row",
        "case_style", "appointee", "to",
    }
)


def mask_text(value: object) -> str | None:
    """Keep the first character and the length class: 'MARIA' -> 'M****'."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value)
    if not text:
        return text
    return text[0] + "*" * min(len(text) - 1, 8)


def mask_phone(value: object) -> str | None:
    """Keep the last two digits: '+17135550142' -> '+1*******42'."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value)
    digits = re.sub(r"\D", "", text)
    if len(digits) <= 2:
        return "*" * len(text)
    return ("+" if text.startswith("+") else "") + "*" * (len(digits) - 2) + digits[-2:]


def mask_email(value: object) -> str | None:
    """'maria@example.com' -> 'm****@example.com' (the domain helps debugging, the user not)."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    local, at, domain = str(value).partition("@")
    return (mask_text(local) or "") + at + domain


def mask_value(column: str, value: object) -> object:
    """Mask one value according to its column name."""
    if column not in PII_COLUMNS:
        return value
    if "phone" in column:
        return mask_phone(value)
    if "email" in column:
        return mask_email(value)
    if column == "date_of_birth":
        return None if value is None else "****-**-**"
    return mask_text(value)


def masked_frame(frame: pd.DataFrame, extra_pii: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with every PII column masked."""
    pii = PII_COLUMNS | set(extra_pii)
    out = frame.copy()
    for column in out.columns:
        if column in pii:
            if column in ("value", "raw_value") and "kind" in out.columns:
                out[column] = [
                    mask_email(v) if k == "email" else mask_phone(v)
                    for k, v in zip(out["kind"], out[column], strict=True)
                ]
            else:
                out[column] = out[column].map(lambda v, c=column: mask_value(c, v))
    return out


def masked_preview(frame: pd.DataFrame, rows: int = 10, extra_pii: Iterable[str] = ()) -> str:
    """A markdown preview of the first rows with PII masked, for MaterializeResult metadata."""
    if frame.empty:
        return "_no rows_"
    return masked_frame(frame.head(rows), extra_pii).to_markdown(index=False)

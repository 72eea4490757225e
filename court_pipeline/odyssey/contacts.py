"""Phones and emails of Odyssey parties -> rows of the ``contacts`` table.

Normalization is the shared implementation in ``court_pipeline.records.phones`` (the same
code the ECR path uses), so both sources produce identical values, reasons and contact ids.
Invalid phones/emails are kept with ``status='rejected'`` and a reason; placeholders such as
"N/A" are not contacts and produce no row (the raw reply stays in the archive).
"""

from __future__ import annotations

import hashlib

import pandas as pd

from court_pipeline.records.phones import normalize_emails, normalize_phones

CONTACT_COLUMNS = [
    "contact_id",
    "party_id",
    "kind",
    "raw_value",
    "value",
    "phone_type",
    "label",
    "status",
    "reject_reason",
    "source_modified_at",
]


def contact_id(party_id: str, kind: str, value: str | None, raw_value: str | None) -> str:
    """Stable id: sha256 of party + kind + normalized value (raw value when rejected).

    The same formula as the ECR path's SQL (``'d:' || substr(sha256(concat_ws('|', party_id,
    kind, coalesce(value, raw_value))), 1, 24)``), so a phone seen by both sources is one row.
    """
    basis = f"{party_id}|{kind}|{value if value else (raw_value or '').strip()}"
    return "d:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24]


def _contacts(items: list[dict], kind: str, region: str) -> pd.DataFrame:
    if not items:
        return pd.DataFrame(columns=CONTACT_COLUMNS)
    base = pd.DataFrame(items).reset_index(drop=True)
    if kind == "phone":
        out = normalize_phones(base["raw_value"], region=region, labels=base["label"])
    else:
        out = normalize_emails(base["raw_value"])
        out["label"] = base["label"].reindex(out["row"]).to_numpy()
        out["phone_type"] = None
    out = out.merge(
        base[["party_id", "source_modified_at"]], left_on="row", right_index=True, how="left"
    )
    out["kind"] = kind
    out["contact_id"] = [
        contact_id(p, kind, v, r)
        for p, v, r in zip(out["party_id"], out["value"], out["raw_value"], strict=True)
    ]
    return out[CONTACT_COLUMNS]


def build_contacts(phones: list[dict], emails: list[dict], region: str = "US") -> pd.DataFrame:
    """All contact rows: one per phone and per email found (dicts: party_id, raw_value, label,
    source_modified_at). Duplicates (same party, kind, value) collapse to one row."""
    parts = [
        f
        for f in (_contacts(phones, "phone", region), _contacts(emails, "email", region))
        if not f.empty
    ]
    if not parts:
        return pd.DataFrame(columns=CONTACT_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.drop_duplicates("contact_id", keep="last").reset_index(drop=True)

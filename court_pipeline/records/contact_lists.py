"""Contacts have a lifecycle: each source's list for a party replaces that source's last list.

Odyssey's FindParties gives a party's whole phone and email lists; an ECR file row gives the
party's current list from that report. What a source no longer lists for a party it listed
before is no longer that source's contact. ``contact_listings`` keeps, per contact and source,
whether the source's latest list holds it (with when and which sync or file said so).

How the two sources combine: a contact stays in use while the latest list of at least one
source holds it. When no source lists it any more it is retired: the row is kept with
``status = 'retired'``, ``retired_at`` and a readable ``retired_reason``, and the planner never
picks it for a new message. A source listing it again brings it back (``valid``, or
``rejected`` for a value that never parsed).

Only lists a source actually gave count: a party missing from a sync or a file, or a file
without a phone (email) column, says nothing about that party's phones (emails).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

SOURCE_NAMES = {"odyssey_api": "Odyssey", "ecr": "the ECR file"}


@dataclass(frozen=True)
class ContactListStats:
    """What applying one source's lists did (counts only: safe for logs and metadata)."""

    parties: int
    retired: int
    restored: int


def _table(frame: pd.DataFrame | pa.Table | None, columns: list[str]) -> pa.Table:
    if frame is None:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    if isinstance(frame, pd.DataFrame):
        frame = pa.Table.from_pandas(frame[columns].astype(str), preserve_index=False)
    return frame.select(columns).cast(pa.schema([(c, pa.string()) for c in columns]))


def apply_contact_lists(
    con: duckdb.DuckDBPyConnection,
    agency_id: str,
    source: str,
    source_ref: str,
    covered: pd.DataFrame | pa.Table | None,
    listed: pd.DataFrame | pa.Table | None,
) -> ContactListStats:
    """Record one source's lists and retire or restore contacts (call after the contacts merge,
    inside the same transaction).

    ``covered``: (party_id, kind) pairs whose full list this source gave now; ``listed``:
    (contact_id, party_id, kind) of every contact in those lists."""
    covered_t = _table(covered, ["party_id", "kind"])
    if covered_t.num_rows == 0:
        return ContactListStats(0, 0, 0)
    con.register("_cl_covered", covered_t)
    con.register("_cl_listed", _table(listed, ["contact_id", "party_id", "kind"]))
    params = {"agency": agency_id, "source": source, "ref": source_ref}
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _cl_cov AS SELECT DISTINCT * FROM _cl_covered")
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _cl_now AS
            SELECT DISTINCT l.contact_id, l.party_id, l.kind
            FROM _cl_listed l JOIN _cl_cov USING (party_id, kind)
            """
        )
        # contacts stored before listings existed: their last winning source listed them
        con.execute(
            """
            INSERT INTO contact_listings (agency_id, contact_id, source, party_id, kind, listed,
                                          listed_ref, listed_at)
            SELECT c.agency_id, c.contact_id, c.source, c.party_id, c.kind,
                   c.status <> 'retired', c.source_ref, c.updated_at
            FROM contacts c JOIN _cl_cov v ON v.party_id = c.party_id AND v.kind = c.kind
            WHERE c.agency_id = $agency AND NOT EXISTS (
                SELECT 1 FROM contact_listings x
                WHERE x.agency_id = c.agency_id AND x.contact_id = c.contact_id)
            """,
            {"agency": agency_id},
        )
        con.execute(
            """
            INSERT INTO contact_listings (agency_id, contact_id, source, party_id, kind, listed,
                                          listed_ref, listed_at)
            SELECT $agency, contact_id, $source, party_id, kind, true, $ref, now() FROM _cl_now
            ON CONFLICT DO UPDATE SET listed = true, listed_ref = excluded.listed_ref,
                listed_at = excluded.listed_at, unlisted_ref = NULL, unlisted_at = NULL
            """,
            params,
        )
        con.execute(
            """
            UPDATE contact_listings l SET listed = false, unlisted_ref = $ref, unlisted_at = now()
            FROM _cl_cov v
            WHERE l.agency_id = $agency AND l.source = $source AND l.listed
              AND l.party_id = v.party_id AND l.kind = v.kind
              AND l.contact_id NOT IN (SELECT contact_id FROM _cl_now)
            """,
            params,
        )
        reason = f"no longer listed by {SOURCE_NAMES.get(source, source)} ({source_ref})"
        retired = con.execute(
            """
            UPDATE contacts c SET status = 'retired', retired_at = now(), retired_reason = $why,
                   updated_at = now()
            FROM _cl_cov v
            WHERE c.agency_id = $agency AND c.party_id = v.party_id AND c.kind = v.kind
              AND c.status <> 'retired' AND NOT EXISTS (
                  SELECT 1 FROM contact_listings l
                  WHERE l.agency_id = c.agency_id AND l.contact_id = c.contact_id AND l.listed)
            """,
            {"agency": agency_id, "why": reason},
        ).fetchall()[0][0]
        restored = con.execute(
            """
            UPDATE contacts c
            SET status = CASE WHEN c.value IS NULL THEN 'rejected' ELSE 'valid' END,
                retired_at = NULL, retired_reason = NULL, updated_at = now()
            FROM _cl_now n
            WHERE c.agency_id = $agency AND c.contact_id = n.contact_id
              AND (c.status = 'retired' OR c.retired_at IS NOT NULL)
            """,
            {"agency": agency_id},
        ).fetchall()[0][0]
        parties = con.execute("SELECT count(DISTINCT party_id) FROM _cl_cov").fetchall()[0][0]
        return ContactListStats(int(parties), int(retired), int(restored))
    finally:
        for name in ("_cl_covered", "_cl_listed"):
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)
        for name in ("_cl_cov", "_cl_now"):
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DROP TABLE IF EXISTS {name}")

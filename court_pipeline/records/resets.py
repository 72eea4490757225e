"""Link a reset or continued hearing to the new hearing that replaced it.

In Odyssey a reset (or continuance) does not move the hearing: the old HearingID stays at its
old date with status Reset (or Continued, Cancelled), and the new date is a new Scheduled
HearingID. Seen alone, the person would get no "your date changed" notice (the new hearing
looks brand new) and reminders for both dates if the old one were still reminded. Within one
change (one sync or one ECR file: the same ``source_ref``), a hearing that stopped being
Scheduled and a Scheduled hearing that arrived for the same case and the same party are one
date change: a ``hearing_changes`` row of kind ``reset`` on the new hearing names the old one
in ``linked_hearing_id`` (the planner reads it to send exactly one change notice).
"""

from __future__ import annotations

import duckdb

# Statuses a hearing leaves Scheduled for without a new date taking its place.
_OVER = ("scheduled", "held", "disposed")

_LINK_SQL = f"""
INSERT INTO hearing_changes (agency_id, hearing_id, change_kind, old_status, new_status,
                             old_start_at, new_start_at, reason, source, source_ref,
                             linked_hearing_id)
WITH gone AS (
    SELECT DISTINCT h.hearing_id, h.case_id, h.start_at, hc.new_status
    FROM hearing_changes hc JOIN hearings h USING (agency_id, hearing_id)
    WHERE hc.agency_id = $agency AND hc.source_ref = $ref AND h.case_id IS NOT NULL
      AND hc.change_kind IN ('status', 'removed')
      AND lower(coalesce(hc.old_status, 'scheduled')) = 'scheduled'
      AND lower(coalesce(hc.new_status, '')) NOT IN {_OVER}
), arrived AS (
    SELECT DISTINCT h.hearing_id, h.case_id, h.start_at
    FROM hearing_changes hc JOIN hearings h USING (agency_id, hearing_id)
    WHERE hc.agency_id = $agency AND hc.source_ref = $ref AND h.case_id IS NOT NULL
      AND hc.change_kind IN ('new', 'status') AND h.removed_at IS NULL
      AND lower(coalesce(h.status, 'scheduled')) = 'scheduled'
), pairs AS (
    SELECT g.hearing_id AS old_id, a.hearing_id AS new_id, g.new_status,
           g.start_at AS old_start, a.start_at AS new_start
    FROM gone g JOIN arrived a ON a.case_id = g.case_id AND a.hearing_id <> g.hearing_id
    WHERE a.start_at IS DISTINCT FROM g.start_at AND EXISTS (
        SELECT 1 FROM hearing_parties p JOIN hearing_parties q
          ON q.agency_id = p.agency_id AND q.party_id = p.party_id
        WHERE p.agency_id = $agency AND p.hearing_id = g.hearing_id
          AND q.hearing_id = a.hearing_id)
    -- one new hearing per old one (the earliest), then one old per new (the latest)
    QUALIFY row_number() OVER (PARTITION BY g.hearing_id ORDER BY a.start_at, a.hearing_id) = 1
), chosen AS (
    SELECT * FROM pairs
    QUALIFY row_number() OVER (PARTITION BY new_id ORDER BY old_start DESC, old_id) = 1
)
SELECT $agency, new_id, 'reset', 'Scheduled', new_status, old_start, new_start,
       'replaces hearing ' || old_id || ' (now ' || coalesce(new_status, 'gone') || ')',
       $source, $ref, old_id
FROM chosen c
WHERE NOT EXISTS (
    SELECT 1 FROM hearing_changes x
    WHERE x.agency_id = $agency AND x.change_kind = 'reset' AND x.hearing_id = c.new_id
      AND x.linked_hearing_id = c.old_id)
"""


def link_resets(
    con: duckdb.DuckDBPyConnection, agency_id: str, source: str, source_ref: str
) -> int:
    """Write the ``reset`` links of one change (after hearings and hearing_parties merged, in
    the same transaction); returns how many. Idempotent: a re-merge links nothing twice."""
    rows = con.execute(
        _LINK_SQL, {"agency": agency_id, "ref": source_ref, "source": source}
    ).fetchall()
    return int(rows[0][0]) if rows else 0

"""The ``ecr_reject_rate`` check: a mostly rejected file is a failed load.

When most rows of a file are rejected the template is likely wrong (a date format, the
delimiter, a mapped column), not the data. The rows stay in ``ecr_rejects`` (nothing is lost,
a replay after fixing the template loads them); this check fails, naming the file, the
template, the most frequent reason and the template keys that usually cause it.
"""

# No `from __future__ import annotations`: Dagster reads the check's parameter types at runtime.

import dagster as dg

from court_pipeline.partitions import context_agency_days
from court_pipeline.warehouse import WarehouseResource

# most frequent reject reason (its start) -> the template keys to look at
_HINTS = (
    ("matches none of the formats", "date_formats / time_formats / datetime_formats"),
    ("ragged row", "delimiter, quote or trailing_delimiter"),
    ("fewer fields", "delimiter or allow_short_rows"),
    ("is blank", "columns (is the right column mapped?)"),
)


def likely_cause(reason: str) -> str:
    """The template keys a reject reason most often points at."""
    for words, keys in _HINTS:
        if words in reason:
            return keys
    return "columns and value_maps"


def _over_limit(con, keys: list[str]) -> list[dict]:
    rows = con.execute(
        r"""
        WITH files AS (
            SELECT agency_id, content_sha256, file_name, template,
                   rows_in - rows_excluded AS considered, rows_rejected - rows_excluded AS bad,
                   coalesce(max_reject_rate, 0.5) AS limit_rate
            FROM file_loads
            WHERE list_contains(?, partition_key) AND status = 'loaded'
        ),
        reasons AS (
            SELECT r.agency_id, r.content_sha256,
                   regexp_replace(regexp_replace(r.reason, '^line [0-9]+: ', ''),
                                  '''[^'']*''', '''…''', 'g') AS reason, count(*) AS n
            FROM ecr_rejects r JOIN files f USING (agency_id, content_sha256)
            WHERE r.kind = 'error' GROUP BY ALL
        )
        SELECT f.agency_id, f.file_name, f.template, f.considered, f.bad, f.limit_rate,
               (SELECT reason FROM reasons x WHERE x.agency_id = f.agency_id
                  AND x.content_sha256 = f.content_sha256 ORDER BY n DESC, reason LIMIT 1),
               (SELECT n FROM reasons x WHERE x.agency_id = f.agency_id
                  AND x.content_sha256 = f.content_sha256 ORDER BY n DESC, reason LIMIT 1)
        FROM files f
        WHERE f.considered > 0 AND f.bad > f.limit_rate * f.considered
        ORDER BY f.agency_id, f.file_name
        """,
        [keys],
    ).fetchall()
    return [
        {"agency": a, "file": name, "template": template, "rows": considered,
         "rejected": bad, "rate": round(bad / considered, 4), "limit": limit,
         "top_reason": reason, "top_reason_rows": n,
         "check_template_keys": likely_cause(reason or "")}
        for a, name, template, considered, bad, limit, reason, n in rows
    ]


def build_reject_rate_check(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    """The check on ``ecr_records`` for every file loaded in the run's partitions."""

    @dg.asset_check(
        asset=asset, name="ecr_reject_rate", blocking=False,
        description="Fails when a file loaded in the run rejected more of its rows than its "
        "template's max_reject_rate (default 50%): the template is likely wrong. The rows "
        "stay in ecr_rejects; fix the template, then `court-pipeline replay`.",
    )
    def ecr_reject_rate(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        keys = [part.key for part in context_agency_days(context)]
        with warehouse.connect(read_only=True) as con:
            bad = _over_limit(con, keys)
        description = None
        if bad:
            description = "; ".join(
                f"{b['file']}: {b['rejected']} of {b['rows']} rows rejected "
                f"({b['rate']:.0%}, template {b['template']!r} allows {b['limit']:.0%}); "
                f"most often ({b['top_reason_rows']}): {b['top_reason']} - check the "
                f"template's {b['check_template_keys']}" for b in bad)
        return dg.AssetCheckResult(
            passed=not bad, description=description,
            metadata={"files_over_limit": dg.MetadataValue.int(len(bad)),
                      "files": dg.MetadataValue.json(bad)})

    return ecr_reject_rate

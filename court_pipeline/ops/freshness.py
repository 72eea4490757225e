"""Is every agency's data arriving as often as it should?

A nightly source (ECR files, nightly API sync) is stale after 26 hours without a success, an
hourly API sync after 2 hours. The ``source_freshness`` sensor evaluates this every few
minutes, keeps ``ops_freshness`` current and reports the ``agencies_fresh`` checks on
``ecr_records`` and ``odyssey_records`` without a run, so a stale agency shows red in the UI
even though nothing ran for it.

An agency with no first load yet is "never loaded", not stale: on day one every new agency
would otherwise turn the check red on every other agency's run. It is listed under
``never_loaded`` in the check's metadata and in ``ops_freshness`` (``stale`` false), and
becomes subject to the cadence from its first success on.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb

from court_pipeline.registry import Agency, Registry
from court_pipeline.warehouse import WarehouseResource

NIGHTLY_HOURS = 26.0
HOURLY_HOURS = 2.0
CHECK_NAME = "agencies_fresh"
SOURCE_ASSETS = {"ecr": dg.AssetKey("ecr_records"), "odyssey_api": dg.AssetKey("odyssey_records")}
_LAST_SUCCESS_SQL = {
    "ecr": "SELECT agency_id, max(last_seen_at) FROM received_file_names GROUP BY 1",
    "odyssey_api": "SELECT agency_id, max(finished_at) FROM odyssey_sync_runs "
    "WHERE status = 'merged' AND coalesce(pages_lost, 0) = 0 GROUP BY 1",  # read its window
}


@dataclass(frozen=True)
class Freshness:
    """One agency's source, judged."""

    agency_id: str
    source: str
    last_success_at: datetime | None
    expected_within_hours: float
    stale: bool
    reason: str

    @property
    def never_loaded(self) -> bool:
        return self.last_success_at is None


def expected_sources(agency: Agency) -> dict[str, float]:
    """The sources an agency uses and how fresh each must be, in hours."""
    expected: dict[str, float] = {}
    if agency.ecr is not None:
        expected["ecr"] = NIGHTLY_HOURS
    if agency.odyssey is not None:
        expected["odyssey_api"] = HOURLY_HOURS if agency.odyssey.sync == "hourly" else NIGHTLY_HOURS
    return expected


def judge_freshness(
    con: duckdb.DuckDBPyConnection, registry: Registry, now: datetime
) -> list[Freshness]:
    """Freshness of every source of every agency at ``now``."""
    last = {
        source: {agency: when for agency, when in con.execute(sql).fetchall()}
        for source, sql in _LAST_SUCCESS_SQL.items()
    }
    verdicts = []
    for agency in registry.agencies:
        for source, hours in expected_sources(agency).items():
            when = last[source].get(agency.id)
            if when is None:
                stale, reason = False, f"never loaded (no {source} success recorded yet)"
            else:
                age = now - when
                stale = age > timedelta(hours=hours)
                reason = f"last success {age.total_seconds() / 3600:.1f} h ago (limit {hours:g} h)"
            verdicts.append(Freshness(agency.id, source, when, hours, stale, reason))
    return verdicts


def record_freshness(con: duckdb.DuckDBPyConnection, verdicts: list[Freshness], now: datetime):
    con.executemany(
        "INSERT OR REPLACE INTO ops_freshness VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            [v.agency_id, v.source, v.last_success_at, v.expected_within_hours, v.stale,
             v.reason, now]
            for v in verdicts
        ],
    )


def check_evaluations(verdicts: list[Freshness]) -> list[dg.AssetCheckEvaluation]:
    """One ``agencies_fresh`` evaluation per source asset, listing the stale agencies."""
    evaluations = []
    for source, asset_key in SOURCE_ASSETS.items():
        mine = [v for v in verdicts if v.source == source]
        if not mine:
            continue
        stale = {v.agency_id: v.reason for v in mine if v.stale}
        never = sorted(v.agency_id for v in mine if v.never_loaded)
        evaluations.append(
            dg.AssetCheckEvaluation(
                asset_key=asset_key,
                check_name=CHECK_NAME,
                passed=not stale,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "agencies": dg.MetadataValue.int(len(mine)),
                    "stale_agencies": dg.MetadataValue.int(len(stale)),
                    "stale": dg.MetadataValue.json(stale),
                    "never_loaded_agencies": dg.MetadataValue.int(len(never)),
                    "never_loaded": dg.MetadataValue.json(never),
                },
                description=f"{len(stale)} of {len(mine)} agencies stale" if stale else None,
            )
        )
    return evaluations


def build_freshness(registry: Registry) -> tuple[list, dg.SensorDefinition]:
    """The ``agencies_fresh`` checks (also runnable by hand) and the sensor that reports them."""

    def _check_for(source: str, asset_key: dg.AssetKey):
        @dg.asset_check(
            asset=asset_key,
            name=CHECK_NAME,
            description=f"Every agency's {source} data arrived within its expected cadence "
            f"({NIGHTLY_HOURS:g} h nightly, {HOURLY_HOURS:g} h hourly). Agencies with no first "
            "load yet are listed as never_loaded, not failed.",
            blocking=False,
        )
        def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
            now = datetime.now(UTC)
            with warehouse.connect() as con:
                verdicts = judge_freshness(con, registry, now)
            (evaluation,) = [
                e for e in check_evaluations(verdicts) if e.asset_key == asset_key
            ] or [None]
            if evaluation is None:
                return dg.AssetCheckResult(passed=True, metadata={"agencies": 0})
            return dg.AssetCheckResult(
                passed=evaluation.passed, severity=evaluation.severity,
                metadata=evaluation.metadata,
            )

        return _check

    checks = [_check_for(source, key) for source, key in SOURCE_ASSETS.items()]

    @dg.sensor(
        name="source_freshness",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks agencies whose ECR files or API syncs are overdue (ops_freshness, "
        "and the agencies_fresh checks on ecr_records / odyssey_records).",
    )
    def source_freshness(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        now = datetime.now(UTC)
        with warehouse.connect() as con:
            verdicts = judge_freshness(con, registry, now)
            record_freshness(con, verdicts, now)
        stale = [f"{v.agency_id}/{v.source}" for v in verdicts if v.stale]
        never = sum(v.never_loaded for v in verdicts)
        fresh = "all sources fresh" + (f" ({never} never loaded yet)" if never else "")
        return dg.SensorResult(
            asset_events=check_evaluations(verdicts),
            skip_reason=f"stale: {', '.join(stale[:20])}" if stale else fresh,
        )

    return checks, source_freshness

"""A real Odyssey simulator on loopback, real syncs merged into a real DuckDB warehouse, and
the bundled flows planned on top: reminders as an agency running Odyssey would get them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from court_pipeline.odyssey.client import Credentials, OdysseyClient
from court_pipeline.odyssey.simulator import OdysseySimulator
from court_pipeline.odyssey.store import (
    latest_fetched_run,
    load_cursor,
    load_retry_calls,
    merge_sync,
    modified_since_for,
    record_fetch,
)
from court_pipeline.odyssey.sync import replay_archive, sync_agency
from court_pipeline.registry import Agency
from court_pipeline.reminders.flows import BUNDLED_FLOWS, load_flows
from court_pipeline.reminders.planner import PlanResult, plan_reminders
from court_pipeline.warehouse import connect_warehouse

ZONE = ZoneInfo("America/Chicago")
AGENCY_ID = "sim"
WINDOW_DAYS = 45
CREDS = Credentials("api_user", "api_password", "SIMCOUNTY")


def _client(base_url: str) -> OdysseyClient:
    return OdysseyClient(
        base_url, CREDS, concurrency=8, max_attempts=4, max_retry_seconds=10.0,
        wait_initial=0.01, wait_max=0.05, wait_jitter=0.01, timeout_seconds=5.0,
    )


@dataclass
class OdysseyWorld:
    """One simulated county synced into one warehouse. ``today`` is the real local date: the
    merge stamps hearing_changes with the wall clock, so planning runs as of real now."""

    sim: OdysseySimulator
    db: Path
    archive: Path
    today: date

    @property
    def agency(self) -> Agency:
        return Agency(id=AGENCY_ID, name="Sim County Courts", county="Harris",
                      reminders=str(BUNDLED_FLOWS))

    def sync(self, mode: str = "incremental") -> None:
        """One sync (full or incremental, as the asset runs it) merged in one transaction."""
        with connect_warehouse(self.db) as con:
            cursor = load_cursor(con, AGENCY_ID)
            retry_parties, retry_cases = load_retry_calls(con, AGENCY_ID)
        result = sync_agency(
            lambda: _client(self.sim.base_url), agency_id=AGENCY_ID, zone=ZONE,
            today=self.today, hearing_window_days=WINDOW_DAYS, archive_root=self.archive,
            modified_since=modified_since_for(cursor, 15, mode),
            retry_parties=retry_parties, retry_cases=retry_cases,
        )
        with connect_warehouse(self.db) as con:
            record_fetch(con, result, None)
            run = latest_fetched_run(con, AGENCY_ID)
            merge_sync(
                con, AGENCY_ID, run["sync_id"], replay_archive(result.archive_path, ZONE),
                window_from=run["window_from"], window_to=run["window_to"],
                pages_lost=run["pages_lost"], cursor_to=result.started_local,
            )

    def plan(self, now: datetime | None = None) -> PlanResult:
        with connect_warehouse(self.db) as con:
            return plan_reminders(con, self.agency, load_flows(BUNDLED_FLOWS),
                                  now=now or datetime.now(UTC))

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with connect_warehouse(self.db, read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def defendant_hearing(self, min_days: int = 9, max_days: int = 25) -> tuple[str, str]:
        """(hearing id, party id) of a Scheduled hearing of a defendant who is on no other
        hearing, between ``min_days`` and ``max_days`` ahead (the bundled flows remind it)."""
        county = self.sim.county
        lo, hi = self.today + timedelta(days=min_days), self.today + timedelta(days=max_days)
        for hid in sorted(county.hearings, key=int):
            hearing = county.hearings[hid]
            day = county.hearing_start(hearing).date()
            if hearing.status != "Scheduled" or not lo <= day <= hi:
                continue
            case = county.cases[hearing.case_id]
            defendants = [p for p, code, _ in case.parties if code == "DEF"]
            if len(defendants) == 1 and len(county.parties[defendants[0]].cases) == 1:
                return hid, defendants[0]
        raise LookupError("no lone defendant hearing in range")

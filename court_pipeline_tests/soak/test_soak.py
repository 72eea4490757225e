"""Bounded soak: many agencies, several nightly cycles, faults at realistic rates.

Eight simulated agencies share one registry, one warehouse and one Dagster instance. Each runs
``everything_job`` per cycle in its own process (two or three at once), while the simulated
Odyssey sites answer a few percent of requests with 429 + Retry-After, 503, SOAP faults,
dropped connections and garbage, one site has a maintenance outage in the first cycle, and
CourtAnalyticsTX throttles, fails, drops and loses acknowledgements. Between cycles hearings
are rescheduled and cancelled and new ECR files land. The last cycle runs after the faults
stop: every agency must then be whole. Nothing lost, nothing twice:

- every Odyssey party and hearing in the sync window, and every rescheduled or cancelled
  hearing's new state, is in the clean tables;
- every ECR file is loaded and every row in it is loaded or rejected with a reason;
- every OCA record that passed validation is in the simulator's store, or held back with a
  reason; the store holds nothing we do not have; no (recordid, county) twice;
- no duplicate keys in the clean tables and no duplicate dedupe keys in the outbox.

Run with ``-s`` to see the numbers (runs, failures, faults injected, records lost, duplicates).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from court_pipeline.definitions import build_definitions
from court_pipeline.oca.contracts import ENTITY_TYPES
from court_pipeline.oca.datasets import dataset_table
from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.simulator import Faults
from court_pipeline.publish.simulator import SimulatorFaults
from court_pipeline.registry import load_registry
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.support.statewide import (
    RunPool,
    RunSpec,
    StatewideFleet,
    init_dagster_home,
    land_ecr_file,
    plan_agencies,
    write_registry,
)

pytestmark = pytest.mark.slow  # the soak: 8 agencies x 3 cycles with faults (~2.5 min)

COUNTIES = ["Travis", "Hidalgo", "Lubbock", "Loving", "Kenedy", "Presidio", "Hays", "Zavala"]
SIZES = {"large": (90, 40), "medium": (60, 30), "small": (36, 24)}
FAULTY_CYCLES = 2  # then one cycle after the faults stop
PARALLELISM = 3
RUN_TIMEOUT_SECONDS = 180.0  # a run that hangs is killed and counted failed
ODYSSEY_FAULTS = Faults(
    rate_429=0.02, retry_after_seconds=0.1, rate_5xx=0.02, rate_soap_fault=0.01,
    rate_drop=0.01, rate_garbage=0.01,
)
# Rates per envelope, plus one of each kind for sure (a soak sends only a few dozen envelopes).
OCA_FAULTS = SimulatorFaults(
    rate_limit_rate=0.04, retry_after_seconds=0.1, server_error_rate=0.04, drop_rate=0.03,
    lost_ack_rate=0.05, seed=11, rate_limit_next=1, server_error_next=1, drop_next=1,
    lost_ack_next=1,
)
ODYSSEY_SETTINGS = {"max_attempts": 6, "max_retry_seconds": 20.0, "timeout_seconds": 10.0}


def _today() -> date:
    return datetime.now(ZoneInfo("America/Chicago")).date()


def _change_hearings(fleet: StatewideFleet, day: date, cycle: int) -> dict[str, tuple]:
    """Move one future hearing (same HearingID) and cancel another per agency; return what to
    expect."""
    expected: dict[str, tuple] = {}
    for agency_id, sim in fleet.odyssey.items():
        county = sim.county
        live = sorted(
            hid for hid, h in county.hearings.items()
            if h.status == "Scheduled"
            and 2 <= (county.hearing_start(h).date() - day).days <= 60
        )
        if len(live) < 2:
            continue
        moved, cancelled = live[cycle % len(live)], live[(cycle + 7) % len(live)]
        if moved == cancelled:
            continue
        new_start = datetime.combine(day + timedelta(days=20 + cycle), datetime.min.time()).replace(
            hour=10, minute=30
        )
        sim.move_hearing(moved, new_start)
        sim.cancel_hearing(cancelled)
        expected[agency_id] = (moved, new_start, cancelled)
    return expected


def _odyssey_lost(con, fleet: StatewideFleet, day: date, window_days: int) -> dict[str, int]:
    """Parties and hearings the simulators serve in the sync window that are not in the tables."""
    lost = Counter()
    window_to = day + timedelta(days=window_days)
    for agency_id, sim in fleet.odyssey.items():
        parties = set(sim.find_party_ids(day, window_to, None))
        hearings = {
            h.hearing_id: h.status for pid in parties
            for h in sim.party_hearings(pid, day, window_to)
        }
        have_parties = {r[0] for r in con.execute(
            "SELECT party_id FROM parties WHERE agency_id = ?", [agency_id]).fetchall()}
        have_hearings = dict(con.execute(
            "SELECT hearing_id, status FROM hearings WHERE agency_id = ?", [agency_id]).fetchall())
        lost["parties"] += len(parties - have_parties)
        lost["hearings"] += len(set(hearings) - set(have_hearings))
        lost["hearing_status_stale"] += sum(
            1 for hid, status in hearings.items()
            if hid in have_hearings and have_hearings[hid] != status
        )
    return dict(lost)


def _ecr_lost(con, landed: dict[str, list]) -> dict[str, int]:
    """Files not loaded, and rows neither loaded nor rejected."""
    files_missing = rows_unaccounted = 0
    for agency_id, files in landed.items():
        loads = {
            name: (rows_in, loaded, rejected, stored)
            for name, rows_in, loaded, rejected, stored in con.execute(
                """SELECT f.file_name, f.rows_in, f.rows_loaded, f.rows_rejected,
                          (SELECT count(*) FROM ecr_rejects r WHERE r.agency_id = f.agency_id
                             AND r.content_sha256 = f.content_sha256)
                   FROM file_loads f WHERE f.agency_id = ? AND f.status = 'loaded'""",
                [agency_id],
            ).fetchall()
        }
        for generated in files:
            got = loads.get(generated.path.name)
            if got is None:
                files_missing += 1
                continue
            rows_in, loaded, rejected, stored = got
            rows_unaccounted += abs(generated.rows - rows_in) + abs(rows_in - loaded - rejected)
            rows_unaccounted += abs(rejected - stored)
    return {"ecr_files_not_loaded": files_missing, "ecr_rows_unaccounted": rows_unaccounted}


def _oca_audit(con, fleet: StatewideFleet) -> dict[str, int]:
    """Passed dataset rows vs the simulator's store (and open hold-backs with a reason)."""
    assert fleet.oca is not None
    store = fleet.oca.records()
    stored = {(et, county, recordid) for et, county, _publisher, recordid in store}
    pairs = Counter((et, county, recordid) for et, county, _publisher, recordid in store)
    held = {
        (et, county, recordid)
        for et, county, recordid in con.execute(
            "SELECT entity_type, county, recordid FROM oca_open_held_back WHERE reason <> ''"
        ).fetchall()
    }
    passed: set[tuple[str, str, str]] = set()
    for entity_type in ENTITY_TYPES:
        for county, recordid in con.execute(
            f"SELECT county, recordid FROM {dataset_table(entity_type)}"  # noqa: S608 - fixed names
        ).fetchall():
            passed.add((entity_type, county, recordid))
    return {
        "oca_passed_records": len(passed),
        "oca_passed_by_entity_type": {
            et: sum(1 for p in passed if p[0] == et) for et in ENTITY_TYPES},
        "oca_records_in_simulator": len(stored),
        "oca_passed_not_in_simulator": len(passed - stored),
        "oca_held_back_open": len(passed & held),
        "oca_lost": len(passed - stored - held),
        "oca_ghosts_in_simulator": len(stored - passed),
        "oca_duplicate_recordid_county": sum(n - 1 for n in pairs.values() if n > 1),
    }


def _duplicates(con) -> dict[str, int]:
    keys = {
        "parties": "agency_id, party_id",
        "hearings": "agency_id, hearing_id",
        "contacts": "agency_id, contact_id",
        "hearing_parties": "agency_id, hearing_id, party_id",
        "reminder_outbox": "dedupe_key",
        "received_files": "agency_id, content_sha256",
    }
    out = {}
    for table, key in keys.items():
        out[f"dup_{table}"] = int(con.execute(
            f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL "  # noqa: S608
            "HAVING count(*) > 1)"
        ).fetchone()[0])
    # One message per (hearing, party, flow, offset, start) whatever the reruns did.
    out["dup_outbox_messages"] = int(con.execute(
        "SELECT count(*) FROM (SELECT agency_id, hearing_id, party_id, flow, kind, offset_key, "
        "hearing_start_at FROM reminder_outbox GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0])
    return out


@pytest.mark.timeout(900)
def test_soak_many_agencies_faults_nothing_lost_nothing_twice(soak_home: Path, monkeypatch):
    began = time.monotonic()
    day = _today()
    plans = plan_agencies(counties=COUNTIES, sizes=SIZES)
    fleet = StatewideFleet(plans, anchor=day, odyssey_faults=ODYSSEY_FAULTS,
                           oca_faults=OCA_FAULTS).start()
    try:
        write_registry(soak_home / "agencies.yaml", fleet, odyssey_overrides=ODYSSEY_SETTINGS)
        for plan in plans:
            for name, value in plan.env().items():
                monkeypatch.setenv(name, value)
        landed = {p.agency_id: [land_ecr_file(soak_home, p, day)] for p in plans}
        init_dagster_home(Path(str(soak_home.parent / "dagster_home")))
        pool = RunPool(build_definitions(load_registry()), PARALLELISM,
                       run_timeout_seconds=RUN_TIMEOUT_SECONDS)
        outage = fleet.odyssey[plans[0].agency_id]
        outage.break_call(E.MessageType.FIND_PARTIES, "page:1", "503")  # a site down all night
        flaky = fleet.odyssey[plans[1].agency_id]  # and one garbage reply, one dropped call
        some_party = flaky.find_party_ids(day, day + timedelta(days=90), None)[0]
        some_case = flaky.county.parties[some_party].cases[0][0]
        flaky.break_call(E.MessageType.GET_SCHEDULED_HEARINGS, some_party, "garbage", times=1)
        flaky.break_call(E.MessageType.FIND_CASE, some_case, "drop", times=1)

        history: dict[str, list[bool]] = {p.agency_id: [] for p in plans}
        per_cycle = []
        expected_changes: dict[str, tuple] = {}
        for cycle in range(FAULTY_CYCLES + 1):
            if cycle == 1:
                outage.heal()
            if cycle > 0:
                expected_changes.update(_change_hearings(fleet, day, cycle))
                for plan in plans:
                    landed[plan.agency_id].append(
                        land_ecr_file(soak_home, plan, day, sequence=cycle,
                                      rows=max(8, plan.ecr_rows // 2)))
            if cycle == FAULTY_CYCLES:  # the faults stop; this cycle must heal everything
                for sim in fleet.odyssey.values():
                    sim.set_faults(rate_429=0.0, rate_5xx=0.0, rate_soap_fault=0.0,
                                   rate_drop=0.0, rate_garbage=0.0)
                fleet.oca.faults.rate_limit_rate = fleet.oca.faults.server_error_rate = 0.0
                fleet.oca.faults.drop_rate = fleet.oca.faults.lost_ack_rate = 0.0
            t = time.monotonic()
            outcomes = pool.run([RunSpec("everything_job", f"{p.agency_id}|{day}") for p in plans])
            for outcome in outcomes:
                history[outcome.spec.partition_key.split("|")[0]].append(outcome.success)
            failed = [o for o in outcomes if not o.success]
            per_cycle.append({
                "cycle": cycle + 1, "runs": len(outcomes), "failed": len(failed),
                "seconds": round(time.monotonic() - t, 1),
                "failed_steps": sorted({s for o in failed for s in o.failed_steps}),
                "max_rss_mb": round(max(o.max_rss_kb for o in outcomes) / 1024),
                "cpu_seconds": round(sum(o.cpu_seconds for o in outcomes), 1),
            })
            print(f"soak cycle {cycle + 1}: {per_cycle[-1]}", flush=True)
            for o in failed:
                print(f"  failed {o.spec.partition_key}: {o.error[:300]}", flush=True)

        with connect_warehouse(read_only=True) as con:
            lost = {
                **_odyssey_lost(con, fleet, day, 90),
                **_ecr_lost(con, landed),
            }
            oca = _oca_audit(con, fleet)
            dups = _duplicates(con)
            moved_ok = 0
            for agency_id, (moved, new_start, cancelled) in expected_changes.items():
                row = con.execute(
                    "SELECT start_local, status FROM hearings WHERE agency_id = ? "
                    "AND hearing_id = ?", [agency_id, moved]).fetchone()
                status = con.execute(
                    "SELECT status FROM hearings WHERE agency_id = ? AND hearing_id = ?",
                    [agency_id, cancelled]).fetchone()
                moved_ok += int(row is not None and row[0] == new_start and status is not None
                                and status[0] == "Cancelled")
            sync_calls = con.execute(
                "SELECT sum(calls), sum(retries), sum(failed_calls), count(*) FILTER (partial) "
                "FROM odyssey_sync_runs").fetchone()
            envelopes = dict(con.execute(
                "SELECT status, count(*) FROM oca_envelopes GROUP BY 1").fetchall())
            rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                    for t in ("parties", "hearings", "contacts", "reminder_outbox")}
    finally:
        fleet.stop()

    odyssey_faults = Counter()
    for sim in fleet.odyssey.values():
        odyssey_faults.update(sim.log.faults)
    oca_stats = fleet.oca.stats
    runs = sum(len(h) for h in history.values())
    failed_runs = sum(h.count(False) for h in history.values())
    report = {
        "agencies": len(plans), "cycles": FAULTY_CYCLES + 1, "runs": runs,
        "failed_runs": failed_runs, "wall_seconds": round(time.monotonic() - began, 1),
        "odyssey_faults_injected": dict(odyssey_faults),
        "odyssey_calls_retries_lost_partial": list(sync_calls),
        "oca_puts": oca_stats.puts, "oca_statuses": dict(oca_stats.statuses),
        "oca_dropped": oca_stats.dropped, "oca_lost_acks": oca_stats.lost_acks,
        "oca_envelopes_by_status": envelopes,
        "records_lost": {**lost, "oca_lost": oca["oca_lost"]},
        "oca": oca, "duplicates": dups, "changes_applied": f"{moved_ok}/{len(expected_changes)}",
        "rows": rows,
    }
    print("\nSOAK REPORT")
    for key, value in report.items():
        print(f"  {key}: {value}")

    # The faults really happened, at the rates asked for.
    assert sum(odyssey_faults.values()) >= 10
    assert odyssey_faults["503"] > 0  # the outage
    assert odyssey_faults["garbage"] >= 1 and odyssey_faults["drop"] >= 1
    assert oca_stats.lost_acks >= 1 and oca_stats.dropped >= 1
    assert oca_stats.statuses[429] >= 1 and oca_stats.statuses[503] >= 1
    # Runs may fail on faults only if the next cycle healed them: every last run succeeded.
    assert all(h and h[-1] for h in history.values()), history
    assert runs == len(plans) * (FAULTY_CYCLES + 1)
    # Nothing lost.
    assert all(v == 0 for v in lost.values()), lost
    assert oca["oca_lost"] == 0 and oca["oca_ghosts_in_simulator"] == 0, oca
    assert oca["oca_passed_records"] > 100
    # After the fault-free cycle every passed record is at the service and none is held back
    # (a publisher that held everything back with a reason must not pass as "nothing lost").
    assert oca["oca_passed_not_in_simulator"] == 0, oca
    assert oca["oca_held_back_open"] == 0, oca
    # Every entity type reached the service, but appointments: no source carries court
    # appointments yet (neither ECR templates nor FindCase), so that dataset is empty by design.
    by_type = dict(oca["oca_passed_by_entity_type"])
    assert by_type.pop("di-texas-oca-court-appointments") == 0
    assert len(by_type) == 7 and all(n > 0 for n in by_type.values()), oca
    assert moved_ok == len(expected_changes) >= len(plans) // 2
    # Nothing twice.
    assert all(v == 0 for v in dups.values()), dups
    assert oca["oca_duplicate_recordid_county"] == 0
    assert rows["hearings"] > 0 and rows["reminder_outbox"] > 0

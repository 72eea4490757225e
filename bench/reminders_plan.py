"""Reminder planning throughput: first plan vs. an idempotent rerun over the same data.

    python bench/reminders_plan.py [hearings]

Prints rows planned, seconds and rows/s for the first plan, then the rerun (which must add
nothing) as a ratio of the first plan's time (the baseline, measured in the same run).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from court_pipeline.registry import Agency
from court_pipeline.reminders.flows import BUNDLED_FLOWS, load_flows
from court_pipeline.reminders.planner import plan_reminders
from court_pipeline.warehouse import connect_warehouse

AGENCY = "bench"
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def seed(con, hearings: int) -> None:
    """One party per hearing; 70% Spanish/English mobiles, 20% email, 10% opted out."""
    start = NOW + timedelta(days=2)
    parties, contacts, hear, hp = [], [], [], []
    for i in range(hearings):
        pid, hid = f"p{i}", f"h{i}"
        lang = ("en", "es", "vi")[i % 3]
        parties.append((AGENCY, pid, f"NAME{i}", "DOE", lang, i % 10 == 0, "bench"))
        if i % 5 == 0:
            contacts.append((AGENCY, f"c{i}", pid, "email", f"p{i}@example.com", None, "valid",
                             "bench"))
        else:
            contacts.append((AGENCY, f"c{i}", pid, "phone", f"+1512555{i % 10000:04d}",
                             "mobile", "valid", "bench"))
        at = start + timedelta(minutes=30 * (i % 500), days=i % 25)
        hear.append((AGENCY, hid, f"CR-{i}", at, "America/Chicago", "Scheduled", "Court 1",
                     "Courtroom 2", "Hon. X", "bench"))
        hp.append((AGENCY, hid, pid, "Defendant", "bench"))
    frames = {
        "parties": pd.DataFrame(parties, columns=["agency_id", "party_id", "first_name",
                                                  "last_name", "preferred_language",
                                                  "sms_opt_out", "source"]),
        "contacts": pd.DataFrame(contacts, columns=["agency_id", "contact_id", "party_id", "kind",
                                                    "value", "phone_type", "status", "source"]),
        "hearings": pd.DataFrame(hear, columns=["agency_id", "hearing_id", "case_number",
                                                "start_at", "court_timezone", "status",
                                                "location", "courtroom", "judge", "source"]),
        "hearing_parties": pd.DataFrame(hp, columns=["agency_id", "hearing_id", "party_id",
                                                     "role", "source"]),
    }
    for table, frame in frames.items():
        con.register("_f", frame)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _f")
        con.unregister("_f")


def main() -> None:
    hearings = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    agency = Agency(id=AGENCY, name="Bench County Courts", county="Travis")
    flows = load_flows(BUNDLED_FLOWS)
    with tempfile.TemporaryDirectory() as tmp, connect_warehouse(Path(tmp) / "w.duckdb") as con:
        seed(con, hearings)
        t0 = time.perf_counter()
        first = plan_reminders(con, agency, flows, now=NOW)
        t1 = time.perf_counter()
        again = plan_reminders(con, agency, flows, now=NOW + timedelta(hours=1))
        t2 = time.perf_counter()
        rows = sum(first.inserted.values())
        print(f"hearings={hearings} outbox rows={rows} planned={first.inserted.get('planned', 0)}"
              f" suppressed={dict(first.suppressed_reasons)}")
        print(f"first plan: {t1 - t0:.2f}s ({rows / (t1 - t0):,.0f} rows/s)")
        print(f"rerun (adds {sum(again.inserted.values())}): {t2 - t1:.2f}s "
              f"= {(t2 - t1) / (t1 - t0):.2f}x the first plan")


if __name__ == "__main__":
    main()

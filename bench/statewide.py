"""Statewide scale bench: a nightly cycle for every Texas county on one machine.

254 agencies (one per county) in ONE registry, each with a local ECR landing holding a nightly
file sized by county, its own simulated Odyssey site and a county credential on one simulated
CourtAnalyticsTX. Every agency-day runs ``everything_job`` (ingest, sync, reminders, state
reporting) in its own process, ``--parallelism`` at a time, against one persistent Dagster
instance and one DuckDB warehouse. Then a 14-day backfill of one agency twice, on two
disjoint spans of days with a file per day: one run per agency-day (the old way), and the runs
the assets' range backfill policy makes (partitions.RANGE_BACKFILL_POLICY: one run for up to
31 agency-days), with runs, wall time and files/rows per span.

Baseline (same run): real solo runs, one at a time, of one agency per tier; the pooled runs'
serial time is estimated per tier from them, and "speedup_vs_serial" = that estimate / the
pool's wall time. The backfill is measured in both orders (per-partition first, then range
first, on fresh spans of days), so neither method always meets the warmer warehouse.

    python bench/statewide.py                      # all 254 counties (~15 min on 2 cores)
    python bench/statewide.py --agencies 12 --scale 0.3 --backfill-days 3   # a quick look
    python bench/statewide.py --counties Collin --backfill-days 14          # backfill only

Writes bench/out/statewide.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the simulation lives in court_pipeline_tests/support
TABLES = (
    "parties", "contacts", "cases", "case_parties", "hearings", "hearing_parties",
    "hearing_changes", "charges", "ecr_rejects", "file_loads", "received_files",
    "odyssey_sync_runs", "reminder_outbox", "oca_case_status", "oca_charges",
    "oca_dataset_held_back", "oca_envelopes", "oca_published_state", "oca_held_back",
)


class MemoryWatch:
    """Samples memory while the runs go: the machine's used memory (other workloads included)
    and the proportional set size (PSS: shared pages split fairly) of this process and its run
    processes, the number that says what the bench itself needs."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval, self.peak_kb, self.baseline_kb = interval, 0, self._used_kb()
        self.peak_tree_pss_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="memwatch")

    @staticmethod
    def _used_kb() -> int:
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0])
        return info["MemTotal"] - info["MemAvailable"]

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _tree_pss_kb(self) -> int:
        me = os.getpid()
        try:
            children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
        except OSError:
            children = []
        return self._pss_kb(me) + sum(self._pss_kb(int(c)) for c in children)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kb = max(self.peak_kb, self._used_kb())
            self.peak_tree_pss_kb = max(self.peak_tree_pss_kb, self._tree_pss_kb())

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _mb(kb: float) -> float:
    return round(kb / 1024, 1)


def _table_rows() -> dict[str, int]:
    from court_pipeline.warehouse import connect_warehouse

    out = {}
    with connect_warehouse(read_only=True) as con:
        for table in TABLES:
            out[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return out


def _cold_start_seconds() -> float:
    """What a fresh run process (Dagster's default launcher) pays before the first step."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from court_pipeline.definitions import defs; "
         "defs.resolve_job_def('everything_job')"],
        check=True, capture_output=True, env=os.environ.copy(),
    )
    return round(time.perf_counter() - started, 2)


def _backfill_specs(job_name: str, agency_id: str, days: list[date]) -> list:
    """The runs Dagster's asset backfill launches for these agency-days: the same function
    the backfill daemon calls (``build_run_requests_with_backfill_policies``), so the number
    of runs and their ranges are the policy's, not the bench's."""
    import dagster as dg
    from dagster._core.definitions.automation_tick_evaluation_context import (
        build_run_requests_with_backfill_policies,
    )
    from dagster._core.definitions.events import AssetKeyPartitionKey

    from court_pipeline.definitions import build_definitions
    from court_pipeline.registry import load_registry
    from court_pipeline_tests.support.statewide import RANGE_END_TAG, RANGE_START_TAG, RunSpec

    graph = build_definitions(load_registry()).resolve_asset_graph()
    keys = [f"{agency_id}|{d.isoformat()}" for d in days]
    wanted = [AssetKeyPartitionKey(k, p) for k in graph.materializable_asset_keys for p in keys]
    with dg.DagsterInstance.get() as instance:
        requests = build_run_requests_with_backfill_policies(wanted, graph, instance)
    ranges = sorted({(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in requests})
    return [RunSpec.for_range(job_name, start, end) for start, end in ranges]


def _run_summary(outcomes: list, wall: float, parallelism: int) -> dict:
    return {
        "runs": len(outcomes),
        "failed_runs": sum(not o.success for o in outcomes),
        "failures": [f"{o.spec.label}: {o.error}"[:300] for o in outcomes if not o.success][:3],
        "wall_seconds": round(wall, 1),
        "run_cpu_seconds_total": round(sum(o.cpu_seconds for o in outcomes), 1),
        "parallelism": parallelism,
        "ranges": [o.spec.label for o in outcomes][:5],
    }


def _night_of(day: date) -> float:
    """22:00 agency time on ``day``: when that day's nightly file landed."""
    return datetime(day.year, day.month, day.day, 22, tzinfo=ZoneInfo("America/Chicago")
                    ).timestamp()


def _rows_of_days(agency_id: str, keys: list[str]) -> dict:
    """Files and rows loaded under the given partitions, to prove each day landed once."""
    from court_pipeline.warehouse import connect_warehouse

    with connect_warehouse(read_only=True) as con:
        files, distinct, rows = con.execute(
            "SELECT count(*), count(DISTINCT content_sha256), coalesce(sum(rows_in), 0) "
            "FROM file_loads WHERE agency_id = ? AND list_contains(?, partition_key)",
            [agency_id, keys]).fetchall()[0]
        days = con.execute(
            "SELECT count(DISTINCT partition_key) FROM file_loads WHERE agency_id = ? "
            "AND list_contains(?, partition_key)", [agency_id, keys]).fetchall()[0][0]
    return {"files_loaded": int(files), "distinct_files": int(distinct), "rows_in": int(rows),
            "days_with_a_file": int(days)}


def _backfill(pool, home: Path, plan, day: date, n_days: int, parallelism: int) -> dict:
    """The same backfill by both methods, in both orders, each on its own span of the agency's
    past days with a file per day landed in the night of its day: one run per agency-day (what
    it was before the range policy), and the runs the range policy makes. Round 1 runs
    per-partition first, round 2 range first, so the warehouse's warm-up favours neither."""
    from court_pipeline_tests.support.statewide import RunSpec, land_ecr_file

    spans = [[day - timedelta(days=n) for n in range(k * n_days, (k - 1) * n_days, -1)]
             for k in (4, 3, 2, 1)]
    rows = max(8, plan.ecr_rows // 4)
    out: dict = {"agency": plan.agency_id, "days": n_days, "rounds": []}
    orders = (("per_partition", "range_policy"), ("range_policy", "per_partition"))
    sequence = 0
    for round_no, order in enumerate(orders, start=1):
        result: dict = {"order": list(order)}
        for label in order:
            days = spans.pop(0)
            for past in days:
                sequence += 1
                land_ecr_file(home, plan, past, sequence=sequence, rows=rows,
                              landed_at=_night_of(past))
            if label == "per_partition":
                specs = [RunSpec("everything_job", f"{plan.agency_id}|{d}") for d in days]
            else:
                specs = _backfill_specs("everything_job", plan.agency_id, days)
            started = time.perf_counter()
            outcomes = pool.run(specs)
            result[label] = {
                **_run_summary(outcomes, time.perf_counter() - started, parallelism),
                "span": f"{days[0]}..{days[-1]}",
                **_rows_of_days(plan.agency_id, [f"{plan.agency_id}|{d}" for d in days])}
            print(f"backfill round {round_no} {label}: {result[label]['runs']} runs, "
                  f"{result[label]['wall_seconds']}s", flush=True)
        per, rng = result["per_partition"], result["range_policy"]
        result["speedup"] = (round(per["wall_seconds"] / rng["wall_seconds"], 2)
                             if rng["wall_seconds"] else None)
        out["rounds"].append(result)
    speedups = [r["speedup"] for r in out["rounds"] if r["speedup"]]
    out["speedup_mean"] = round(sum(speedups) / len(speedups), 2) if speedups else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=254, help="counties to simulate")
    parser.add_argument("--counties", default="",
                        help="comma-separated county names instead of the first N")
    parser.add_argument("--scale", type=float, default=1.0, help="size factor for every county")
    parser.add_argument("--parallelism", type=int, default=3, help="runs at once")
    parser.add_argument("--backfill-days", type=int, default=14)
    parser.add_argument("--backfill-agency", default="collin")
    parser.add_argument("--day", default="", help="run day (default: today in Texas)")
    parser.add_argument("--home", default="", help="data home (default: a temp dir, removed)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "statewide.json"))
    args = parser.parse_args(argv)

    from court_pipeline_tests.support.statewide import (
        RunPool,
        RunSpec,
        StatewideFleet,
        export_env,
        init_dagster_home,
        land_ecr_file,
        plan_agencies,
        write_registry,
    )

    today = datetime.now(ZoneInfo("America/Chicago")).date()
    day = date.fromisoformat(args.day) if args.day else today
    home = Path(args.home or tempfile.mkdtemp(prefix="statewide-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["COURT_PIPELINE_HOME"] = str(home)
    os.environ.pop("COURT_PIPELINE_WAREHOUSE", None)
    counties = [c.strip() for c in args.counties.split(",") if c.strip()] or None
    plans = plan_agencies(None if counties else args.agencies, scale=args.scale,
                          counties=counties)
    backfill = next((p for p in plans if p.agency_id == args.backfill_agency), plans[-1])
    summary: dict = {"agencies": len(plans), "scale": args.scale, "parallelism": args.parallelism,
                     "cores": os.cpu_count(), "day": day.isoformat(), "home": str(home)}
    wall0 = time.perf_counter()
    fleet = StatewideFleet(plans, anchor=day).start()
    try:
        os.environ["COURT_PIPELINE_CONFIG"] = str(write_registry(home / "agencies.yaml", fleet))
        export_env(plans)
        t = time.perf_counter()
        landed = [land_ecr_file(home, plan, day) for plan in plans]
        summary["setup"] = {
            "simulators_and_registry_seconds": round(t - wall0, 1),
            "ecr_files": len(landed),
            "ecr_rows": sum(g.rows for g in landed),
            "odyssey_parties": sum(p.odyssey_parties for p in plans),
            "tiers": {tier: sum(1 for p in plans if p.tier == tier)
                      for tier in ("large", "medium", "small")},
            "generate_seconds": round(time.perf_counter() - t, 1),
        }
        init_dagster_home(home / "dagster_home")
        summary["cold_run_process_start_seconds"] = _cold_start_seconds()
        t = time.perf_counter()
        from court_pipeline.definitions import build_definitions
        from court_pipeline.registry import load_registry

        defs = build_definitions(load_registry())
        pool = RunPool(defs, args.parallelism)
        pool._job("everything_job")
        summary["setup"]["definitions_seconds"] = round(time.perf_counter() - t, 1)

        # Baseline (same run): real solo runs, one at a time, of one agency per tier (the
        # smallest of each tier); the serial time of the rest is estimated per tier from them.
        solo_plans = [min((p for p in plans if p.tier == tier),
                          key=lambda p: (p.ecr_rows, p.agency_id))
                      for tier in ("large", "medium", "small")
                      if any(p.tier == tier for p in plans)]
        solo = {plan.tier: pool.run([RunSpec("everything_job", f"{plan.agency_id}|{day}")])[0]
                for plan in solo_plans}
        summary["solo_runs"] = {
            tier: {"agency": o.spec.partition_key.split("|")[0], "seconds": round(o.seconds, 1),
                   "cpu_seconds": round(o.cpu_seconds, 1), "success": o.success,
                   "max_rss_mb": _mb(o.max_rss_kb)}
            for tier, o in solo.items()}
        summary["solo_runs_load_average"] = [round(x, 1) for x in os.getloadavg()]
        for tier, o in solo.items():
            print(f"solo {tier} {o.spec.partition_key}: {o.seconds:.1f}s alone "
                  f"({'ok' if o.success else 'FAILED ' + o.error})", flush=True)

        specs = [RunSpec("everything_job", f"{p.agency_id}|{day}") for p in plans
                 if p not in solo_plans]
        serial_estimate = sum(solo[p.tier].seconds for p in plans if p not in solo_plans)
        done = [0]

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        finished: list = []

        def progress(outcome) -> None:
            done[0] += 1
            finished.append({"partition": outcome.spec.partition_key, "ok": outcome.success,
                             "seconds": round(outcome.seconds, 1),
                             "cpu_seconds": round(outcome.cpu_seconds, 1),
                             "max_rss_mb": _mb(outcome.max_rss_kb)})
            if done[0] % 25 == 0:  # partial results survive an interrupted bench
                partial = {**summary, "in_progress": {
                    "runs_done": done[0], "of": len(specs),
                    "elapsed_seconds": round(time.perf_counter() - t0, 1),
                    "load_average": os.getloadavg(), "runs": finished}}
                out.with_suffix(".partial.json").write_text(json.dumps(partial, indent=1))
            if done[0] % 25 == 0 or not outcome.success:
                flag = "" if outcome.success else f" FAILED {outcome.failed_steps} {outcome.error}"
                print(f"  {done[0]}/{len(specs)} runs, {time.perf_counter() - t0:.0f}s "
                      f"({outcome.spec.partition_key} {outcome.seconds:.1f}s{flag})", flush=True)

        with MemoryWatch() as memory:
            t0 = time.perf_counter()
            outcomes = pool.run(specs, on_done=progress)
            cycle_wall = time.perf_counter() - t0
        outcomes.extend(solo.values())
        by_agency = {o.spec.partition_key.split("|")[0]: o for o in outcomes}
        largest = max(outcomes, key=lambda o: o.seconds)
        tiers = {p.agency_id: p.tier for p in plans}
        summary["nightly_cycle"] = {
            "wall_seconds": round(cycle_wall, 1),
            "runs": len(outcomes),
            "failed_runs": sum(not o.success for o in outcomes),
            "failures": [{"partition": o.spec.partition_key, "steps": o.failed_steps,
                          "error": o.error} for o in outcomes if not o.success][:20],
            "run_seconds_mean": round(sum(o.seconds for o in outcomes) / len(outcomes), 2),
            "run_cpu_seconds_total": round(sum(o.cpu_seconds for o in outcomes), 1),
            "run_cpu_seconds_mean": round(sum(o.cpu_seconds for o in outcomes) / len(outcomes), 2),
            "load_average_after": [round(x, 1) for x in os.getloadavg()],
            "run_seconds_by_tier": {
                tier: round(max((o.seconds for a, o in by_agency.items() if tiers[a] == tier),
                                default=0.0), 1) for tier in ("large", "medium", "small")
            },
            "largest_agency_run": {"partition": largest.spec.partition_key,
                                   "seconds": round(largest.seconds, 1)},
            # the pooled runs vs the same runs one by one, estimated from the solo runs of
            # their tiers (an agency is sized by its tier, so a tier's solo run stands for it)
            "serial_estimate_seconds": round(serial_estimate, 1),
            "speedup_vs_serial": (
                round(serial_estimate / cycle_wall, 2) if specs and cycle_wall else None),
            "peak_run_process_rss_mb": _mb(max(o.max_rss_kb for o in outcomes)),
            "peak_bench_processes_pss_mb": _mb(memory.peak_tree_pss_kb),
            "peak_machine_memory_used_mb": _mb(memory.peak_kb),
            "machine_memory_before_mb": _mb(memory.baseline_kb),
            "parent_rss_mb_simulators": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        }
        summary["rows_per_table"] = _table_rows()
        summary["warehouse_mb"] = _mb((home / "warehouse.duckdb").stat().st_size / 1024)
        print(json.dumps(summary["nightly_cycle"], indent=2), flush=True)

        if args.backfill_days > 0:
            summary["backfill"] = _backfill(pool, home, backfill, day, args.backfill_days,
                                            args.parallelism)
            print(json.dumps(summary["backfill"], indent=2), flush=True)
    finally:
        fleet.stop()
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    summary["total_wall_seconds"] = round(time.perf_counter() - wall0, 1)
    summary["parent_max_rss_mb"] = _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    summary["children_max_rss_mb"] = _mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    out.with_suffix(".partial.json").unlink(missing_ok=True)
    cycle = summary["nightly_cycle"]
    print(f"\n{summary['agencies']} agencies, parallelism {args.parallelism}: nightly cycle "
          f"{cycle['wall_seconds']}s wall, {cycle['runs']} runs, {cycle['failed_runs']} failed, "
          f"largest {cycle['largest_agency_run']}, peak memory of the bench processes "
          f"{cycle['peak_bench_processes_pss_mb']} MB (PSS), per run "
          f"{cycle['peak_run_process_rss_mb']} MB (max RSS), speedup "
          f"{cycle['speedup_vs_serial']}x over the same runs one by one; wrote {out}")
    return 0 if cycle["failed_runs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

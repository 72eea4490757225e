"""A simulated statewide deployment: one agency per Texas county, simulated servers, one registry.

The scale bench (bench/statewide.py) and the soak tests (court_pipeline_tests/soak) need the
same thing: N agencies with realistic size differences (Harris is not Loving), each with a
local ECR landing, its own simulated Odyssey site with its own credentials, a county
credential on one simulated CourtAnalyticsTX, and the bundled reminder flows, all in ONE
registry file, exactly as a state team would run it. Credentials here are simulator values
handed over through environment variables, the same way real secrets are.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from court_pipeline import settings
from court_pipeline.ecr.generate import GeneratedFile, generate_ecr_file
from court_pipeline.odyssey.simulator import Faults, OdysseySimulator
from court_pipeline.publish.simulator import OcaSimulator, SimulatorFaults
from court_pipeline.reference import texas_counties

# Population tiers (2020 census order): the five largest counties carry most of the docket.
LARGE_COUNTIES = ("Harris", "Dallas", "Tarrant", "Bexar", "Travis")
MEDIUM_COUNTIES = (
    "Collin", "Denton", "Hidalgo", "El Paso", "Fort Bend", "Montgomery", "Williamson",
    "Cameron", "Brazoria", "Bell", "Galveston", "Nueces", "Lubbock", "Webb", "McLennan",
    "Jefferson", "Hays", "Smith", "Brazos", "Ellis",
)
# (ECR rows per nightly file, Odyssey parties) per tier at scale 1.0.
TIER_SIZES: dict[str, tuple[int, int]] = {
    "large": (1500, 240),
    "medium": (300, 60),
    "small": (60, 16),
}
BUNDLED = settings.BUNDLED_CONFIG_DIR


@dataclass(frozen=True)
class AgencyPlan:
    """One simulated agency: its county, size and simulator credentials."""

    agency_id: str
    county: str
    tier: str
    ecr_rows: int
    odyssey_parties: int
    seed: int

    @property
    def env_prefix(self) -> str:
        return "SW_" + self.agency_id.upper()

    def env(self) -> dict[str, str]:
        """Simulator credentials as the environment variables the registry names."""
        p = self.env_prefix
        return {
            f"{p}_ODYSSEY_SITE_KEY": f"SITE-{self.agency_id.upper()}",
            f"{p}_ODYSSEY_USER": f"api_{self.agency_id}",
            f"{p}_ODYSSEY_PASSWORD": f"pw-{self.seed}-{self.agency_id}",
            f"{p}_OCA_CLIENT_ID": f"{self.agency_id}-client",
            f"{p}_OCA_CLIENT_SECRET": f"secret-{self.seed}-{self.agency_id}",
        }


def agency_id_for(county: str) -> str:
    """'De Witt' -> 'de_witt', 'McLennan' -> 'mclennan' (a valid registry agency id)."""
    ident = re.sub(r"[^a-z0-9]+", "_", county.lower()).strip("_")
    return ident if ident[:1].isalpha() else f"c_{ident}"


def tier_of(county: str) -> str:
    if county in LARGE_COUNTIES:
        return "large"
    return "medium" if county in MEDIUM_COUNTIES else "small"


def plan_agencies(
    count: int | None = None,
    *,
    scale: float = 1.0,
    counties: Iterable[str] | None = None,
    sizes: Mapping[str, tuple[int, int]] = TIER_SIZES,
) -> list[AgencyPlan]:
    """Agencies for ``count`` counties (default all 254), largest tiers first.

    ``scale`` multiplies every size (0.1 for a quick run); small counties vary around their
    tier size so no two are identical.
    """
    names = list(counties) if counties is not None else list(texas_counties())
    order = {"large": 0, "medium": 1, "small": 2}
    names.sort(key=lambda c: (order[tier_of(c)], c))
    plans = []
    for index, county in enumerate(names[: count if count is not None else len(names)]):
        tier = tier_of(county)
        rows, parties = sizes[tier]
        vary = 0.6 + (index * 37 % 9) / 10  # 0.6 .. 1.4, deterministic per county
        plans.append(
            AgencyPlan(
                agency_id=agency_id_for(county),
                county=county,
                tier=tier,
                ecr_rows=max(8, int(rows * scale * vary)),
                odyssey_parties=max(4, int(parties * scale * vary)),
                seed=1000 + index,
            )
        )
    return plans


def export_env(plans: Iterable[AgencyPlan], environ: dict[str, str] | None = None) -> None:
    """Put every agency's simulator credentials into the environment (``os.environ``)."""
    target = os.environ if environ is None else environ
    for plan in plans:
        target.update(plan.env())


@dataclass
class StatewideFleet:
    """An Odyssey simulator per agency and one CourtAnalyticsTX with a client per county."""

    plans: list[AgencyPlan]
    anchor: date
    odyssey_faults: Faults | None = None
    oca_faults: SimulatorFaults | None = None
    odyssey: dict[str, OdysseySimulator] = field(default_factory=dict)
    oca: OcaSimulator | None = None

    def start(self) -> StatewideFleet:
        for plan in self.plans:
            env = plan.env()
            p = plan.env_prefix
            faults = Faults(**vars(self.odyssey_faults)) if self.odyssey_faults else None
            sim = OdysseySimulator(
                parties=plan.odyssey_parties, seed=plan.seed, faults=faults, anchor=self.anchor,
                username=env[f"{p}_ODYSSEY_USER"], password=env[f"{p}_ODYSSEY_PASSWORD"],
                site_key=env[f"{p}_ODYSSEY_SITE_KEY"],
            )
            sim.start()
            self.odyssey[plan.agency_id] = sim
        clients = {
            plan.env()[f"{plan.env_prefix}_OCA_CLIENT_ID"]: (
                plan.env()[f"{plan.env_prefix}_OCA_CLIENT_SECRET"], [plan.county]
            )
            for plan in self.plans
        }
        oca_faults = SimulatorFaults(**vars(self.oca_faults)) if self.oca_faults else None
        self.oca = OcaSimulator(clients, faults=oca_faults, fast_validation=True).start()
        return self

    def stop(self) -> None:
        for sim in self.odyssey.values():
            sim.stop()
        if self.oca is not None:
            self.oca.stop()

    def __enter__(self) -> StatewideFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def registry_document(
    plans: Iterable[AgencyPlan],
    odyssey_urls: Mapping[str, str],
    oca_token_url: str,
    oca_messages_url: str,
    *,
    odyssey_overrides: Mapping[str, object] | None = None,
) -> dict:
    """The registry (as a mapping) for the planned agencies, bundled template/code map/flows."""
    agencies = []
    for plan in plans:
        p = plan.env_prefix
        odyssey = {
            "base_url": odyssey_urls[plan.agency_id],
            "site_key_env": f"{p}_ODYSSEY_SITE_KEY",
            "username_env": f"{p}_ODYSSEY_USER",
            "password_env": f"{p}_ODYSSEY_PASSWORD",
            "sync": "nightly",
            "hearing_window_days": 90,
            "concurrency": 8 if plan.tier == "large" else 4,
            **(odyssey_overrides or {}),
        }
        agencies.append({
            "id": plan.agency_id,
            "name": f"{plan.county} County Courts (simulated)",
            "county": plan.county,
            "owner": "state-data-team@example.org",
            "ecr": {
                "landing": {"kind": "local", "path": f"landing/{plan.agency_id}"},
                "template": str(BUNDLED / "templates" / "demo.yaml"),
                "file_pattern": "*.txt",
                "min_file_age_seconds": 30,
            },
            "odyssey": odyssey,
            "oca": {
                "client_id_env": f"{p}_OCA_CLIENT_ID",
                "client_secret_env": f"{p}_OCA_CLIENT_SECRET",
                "code_map": str(BUNDLED / "codemaps" / "simulator.yaml"),
                "target": "staging",
            },
            "reminders": str(BUNDLED / "reminders" / "demo.yaml"),
        })
    return {
        "partitions_start_date": "2026-01-01",
        "oca_targets": {
            "staging": {"token_url": oca_token_url, "messages_url": oca_messages_url},
        },
        "allow_production": False,
        "agencies": agencies,
    }


def write_registry(path: Path, fleet: StatewideFleet, **kwargs: object) -> Path:
    """Write the one registry file for a started fleet; returns its path."""
    assert fleet.oca is not None, "start the fleet first"
    doc = registry_document(
        fleet.plans,
        {agency_id: sim.base_url for agency_id, sim in fleet.odyssey.items()},
        fleet.oca.token_url,
        fleet.oca.messages_url,
        **kwargs,  # type: ignore[arg-type]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Simulated statewide registry (court_pipeline_tests/support); one agency per county.\n"
        + yaml.safe_dump(doc, sort_keys=False),
        encoding="utf-8",
    )
    return path


def land_ecr_file(
    home: Path,
    plan: AgencyPlan,
    day: date,
    *,
    sequence: int = 0,
    rows: int | None = None,
    age_seconds: float = 3600.0,
    landed_at: float | None = None,
) -> GeneratedFile:
    """Drop a nightly ECR file into the agency's landing, dated back like a finished upload
    (``landed_at``: its modification time as a POSIX timestamp, e.g. the night of a past day
    for a backfill; default ``age_seconds`` ago)."""
    landing = home / "landing" / plan.agency_id
    generated = generate_ecr_file(
        landing / f"{plan.agency_id}_ecr_{day:%Y%m%d}_{sequence:02d}.txt",
        rows=rows or plan.ecr_rows,
        seed=plan.seed * 100 + sequence,
        start=day,
    )
    mtime = landed_at if landed_at is not None else time.time() - age_seconds
    os.utime(generated.path, (mtime, mtime))
    return generated


# --- Running many agency-days: one process per run, a bounded pool ---------------------------

QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class RunSpec:
    """One run to launch: a job for one agency-day partition, or (``partition_key`` empty and
    the range tags set, as the backfill daemon sets them) for a range of them."""

    job_name: str
    partition_key: str
    run_config: Mapping[str, object] | None = None
    tags: Mapping[str, str] | None = None

    @classmethod
    def for_range(cls, job_name: str, start: str, end: str) -> RunSpec:
        return cls(job_name, "", tags={RANGE_START_TAG: start, RANGE_END_TAG: end})

    @property
    def label(self) -> str:
        tags = self.tags or {}
        if RANGE_START_TAG in tags:
            return f"{tags[RANGE_START_TAG]}..{tags[RANGE_END_TAG]}"
        return self.partition_key


@dataclass
class RunOutcome:
    """What one run process reported (or why it never reported)."""

    spec: RunSpec
    success: bool
    seconds: float
    max_rss_kb: int = 0
    cpu_seconds: float = 0.0
    run_id: str = ""
    failed_steps: list[str] = field(default_factory=list)
    error: str = ""


def _failure_text(event) -> str:
    data = event.step_failure_data
    message = data.error.message if data is not None and data.error is not None else ""
    return f"{event.step_key}: {message.strip()[:300]}"


def _execute(job, spec: RunSpec, conn) -> None:
    """Child process body: execute the run in this process against the shared instance."""
    import resource

    import dagster as dg

    started = time.perf_counter()
    report: dict[str, object] = {"success": False, "failed_steps": [], "error": "", "run_id": ""}
    try:
        config = {**QUIET_LOGGERS, **dict(spec.run_config or {})}
        with dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(
                run_config=config, instance=instance, partition_key=spec.partition_key or None,
                raise_on_error=False, tags=dict(spec.tags or {}),
            )
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        report.update(
            success=result.success,
            run_id=result.run_id,
            failed_steps=sorted({e.step_key or "?" for e in failures}),
            error="; ".join(_failure_text(e) for e in failures[:3]),
        )
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which counts it failed
        report["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["seconds"] = time.perf_counter() - started
    report["max_rss_kb"] = usage.ru_maxrss
    report["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    conn.send(report)
    conn.close()
    os._exit(0)  # skip inherited atexit handlers and the parent's simulator threads


class RunPool:
    """Launch each run in its own process, at most ``parallelism`` at a time.

    Like Dagster's default run launcher, every run is a separate OS process (a crash or leak
    in one run cannot touch another) writing to the same persistent instance; unlike it, the
    process is forked from this one with the code location already loaded, so the numbers
    measure the pipeline rather than Python imports (``bench/statewide.py`` reports that
    cost separately). Build the definitions after the environment (registry, DAGSTER_HOME,
    secrets) is final: children inherit it.
    """

    def __init__(
        self, defs, parallelism: int, *, run_timeout_seconds: float = 900.0
    ) -> None:
        import multiprocessing

        self.defs = defs
        self.parallelism = max(1, parallelism)
        self.run_timeout_seconds = run_timeout_seconds
        self._ctx = multiprocessing.get_context("fork")
        self._jobs: dict[str, object] = {}

    def _job(self, name: str):
        if name not in self._jobs:  # resolve once here; every child inherits the result
            self._jobs[name] = self.defs.resolve_job_def(name)
        return self._jobs[name]

    def run(self, specs: Iterable[RunSpec], on_done=None) -> list[RunOutcome]:
        """Run every spec; returns outcomes in completion order (``on_done`` sees each)."""
        from multiprocessing.connection import wait

        queue = list(specs)
        for spec in queue:
            self._job(spec.job_name)
        running: dict[object, tuple] = {}
        outcomes: list[RunOutcome] = []
        while queue or running:
            while queue and len(running) < self.parallelism:
                spec = queue.pop(0)
                receiver, sender = self._ctx.Pipe(duplex=False)
                proc = self._ctx.Process(
                    target=_execute, args=(self._job(spec.job_name), spec, sender), daemon=True
                )
                proc.start()
                sender.close()
                running[proc.sentinel] = (proc, receiver, spec, time.perf_counter())
            ready = wait(list(running), timeout=1.0)
            now = time.perf_counter()
            for sentinel in list(running):
                proc, receiver, spec, started = running[sentinel]
                overdue = now - started > self.run_timeout_seconds
                if sentinel not in ready and not overdue:
                    continue
                if overdue and proc.is_alive():
                    proc.kill()  # our own child, by its handle
                proc.join()
                del running[sentinel]
                outcome = self._collect(receiver, spec, now - started, overdue)
                outcomes.append(outcome)
                if on_done is not None:
                    on_done(outcome)
        return outcomes

    @staticmethod
    def _collect(receiver, spec: RunSpec, seconds: float, overdue: bool) -> RunOutcome:
        report = None
        try:
            if receiver.poll():
                report = receiver.recv()
        except (EOFError, OSError):
            report = None
        finally:
            receiver.close()
        if report is None:
            why = "timed out and was killed" if overdue else "process died without a report"
            return RunOutcome(spec, False, seconds, error=why)
        return RunOutcome(
            spec,
            bool(report["success"]),
            float(report["seconds"]),
            int(report["max_rss_kb"]),
            float(report["cpu_seconds"]),
            str(report["run_id"]),
            list(report["failed_steps"]),
            str(report["error"]),
        )


# Step stdout/stderr capture spawns helper processes per run; the pipeline logs through
# context.log (stored in the event log), so the simulation does without it.
INSTANCE_YAML = """\
telemetry:
  enabled: false
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""


def init_dagster_home(path: Path) -> Path:
    """A persistent Dagster instance home (SQLite storage), created once before any run."""
    import dagster as dg

    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(INSTANCE_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(path)
    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)  # creates and migrates the storage now, not in 3 racing runs
    return path

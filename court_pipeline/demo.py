"""``court-pipeline demo``: the whole pipeline on a fresh machine, with no network.

It generates a realistic ECR file into the demo agency's local landing folder, starts the
bundled Odyssey and CourtAnalyticsTX simulators on loopback, runs every asset for the demo
agency-day in-process (stored in a Dagster instance under the data home, so the UI shows the
run afterwards), and prints what was loaded, rejected, planned and published.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from contextlib import ExitStack
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg

from court_pipeline import settings
from court_pipeline.registry import Agency, Registry, load_registry
from court_pipeline.warehouse import connect_warehouse

DEMO_AGENCY = "demo"
# Credentials of the bundled simulators: public demo values, not secrets.
DEMO_ENV = {
    "DEMO_ODYSSEY_SITE_KEY": "SIMCOUNTY",
    "DEMO_ODYSSEY_USER": "api_user",
    "DEMO_ODYSSEY_PASSWORD": "api_password",
    "DEMO_OCA_CLIENT_ID": "demo-client",
    "DEMO_OCA_CLIENT_SECRET": "demo-secret",
}
SUMMARY_QUERIES = {
    "Files": "SELECT file_name, rows_in, rows_loaded, rows_rejected, status FROM file_loads "
    "WHERE agency_id = 'demo' ORDER BY loaded_at",
    "Top reasons rows were rejected": "SELECT reason, count(*) AS rows FROM ecr_rejects "
    "WHERE agency_id = 'demo' GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
    "Clean tables": "SELECT 'parties' AS table_name, count(*) AS rows FROM parties "
    "WHERE agency_id = 'demo' UNION ALL SELECT 'contacts', count(*) FROM contacts "
    "WHERE agency_id = 'demo' UNION ALL SELECT 'contacts rejected', count(*) FROM contacts "
    "WHERE agency_id = 'demo' AND status = 'rejected' UNION ALL SELECT 'cases', count(*) "
    "FROM cases WHERE agency_id = 'demo' UNION ALL SELECT 'hearings', count(*) FROM hearings "
    "WHERE agency_id = 'demo' UNION ALL SELECT 'charges', count(*) FROM charges "
    "WHERE agency_id = 'demo'",
    "Reminder outbox": "SELECT status, coalesce(channel, '-') AS channel, "
    "coalesce(language, '-') AS language, count(*) AS messages "
    "FROM reminder_outbox WHERE agency_id = 'demo' GROUP BY ALL ORDER BY 4 DESC",
    "OCA datasets held back (top reasons)": "SELECT entity_type, rule, count(*) AS rows "
    "FROM oca_dataset_held_back WHERE agency_id = 'demo' GROUP BY ALL ORDER BY 3 DESC LIMIT 8",
    "OCA envelopes": "SELECT environment, status, http_status, count(*) AS envelopes, "
    "sum(entities) AS entities, sum(accepted) AS accepted, "
    "sum(body_bytes)::BIGINT AS bytes "
    "FROM oca_envelope_log WHERE agency_id = 'demo' GROUP BY ALL",
}


def _print_table(title: str, sql: str) -> None:
    with connect_warehouse(read_only=True) as con:
        frame = con.execute(sql).fetchdf()
    print(f"\n{title}")
    print(frame.to_markdown(index=False, tablefmt="simple") if not frame.empty else "(none)")


def _port_of(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"demo URL {url!r} needs an explicit port")
    return port


def _start_simulators(
    agency: Agency, day: date, stack: ExitStack, registry: Registry, free_ports: bool
) -> Registry:
    """Start the Odyssey and OCA simulators on the ports the demo registry names, or on ports
    the system picks (``free_ports``: several demos or test workers side by side); returns the
    registry pointing at where they really listen."""
    from court_pipeline.odyssey.simulator import OdysseySimulator
    from court_pipeline.publish.simulator import OcaSimulator

    if agency.odyssey is not None:
        odyssey = OdysseySimulator(
            parties=300, seed=7, anchor=day,
            port=0 if free_ports else _port_of(agency.odyssey.base_url),
            username=os.environ[agency.odyssey.username_env],
            password=os.environ[agency.odyssey.password_env],
            site_key=os.environ[agency.odyssey.site_key_env],
        )
        base_url = odyssey.start()
        stack.callback(odyssey.stop)
        source = agency.odyssey.model_copy(update={"base_url": base_url})
        agency = agency.model_copy(update={"odyssey": source})
        registry = registry.model_copy(update={"agencies": [
            agency if a.id == agency.id else a for a in registry.agencies]})
    if agency.oca is not None and "staging" in registry.oca_targets:
        oca = OcaSimulator(
            clients={
                os.environ[agency.oca.client_id_env]: (
                    os.environ[agency.oca.client_secret_env], [agency.county]
                )
            },
            port=0 if free_ports else _port_of(registry.oca_targets["staging"].token_url),
        )
        oca.start()
        stack.callback(oca.stop)
        target = registry.oca_targets["staging"].model_copy(
            update={"token_url": oca.token_url, "messages_url": oca.messages_url})
        registry = registry.model_copy(
            update={"oca_targets": {**registry.oca_targets, "staging": target}})
    return registry


def _instance(home: Path) -> dg.DagsterInstance:
    """A persistent Dagster instance under the data home (the UI can show the demo runs)."""
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        repo_config = Path.cwd() / "dagster.yaml"
        if repo_config.exists():
            shutil.copyfile(repo_config, config)
        else:
            config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return dg.DagsterInstance.from_config(str(dagster_home))


def run_demo(
    rows: int = 2000, seed: int = 7, day: str | None = None, free_ports: bool = False
) -> int:
    """Run the demo end to end; returns the process exit code."""
    from court_pipeline.definitions import build_definitions
    from court_pipeline.ecr.generate import generate_ecr_file

    home = settings.data_home()
    os.environ.setdefault(settings.HOME_ENV, str(home))
    for name, value in DEMO_ENV.items():
        os.environ.setdefault(name, value)
    registry = load_registry()
    agency = registry.agency(DEMO_AGENCY)
    run_day = date.fromisoformat(day) if day else datetime.now(agency.zone).date()
    if agency.ecr is None or agency.ecr.landing.kind != "local":
        print("the demo agency needs a local ECR landing folder", file=sys.stderr)
        return 2
    landing = settings.resolve_in_home(agency.ecr.landing.path)
    generated = generate_ecr_file(
        landing / f"demo_ecr_{run_day:%Y%m%d}.txt", rows=rows, seed=seed, start=run_day
    )
    # A nightly file lands well before the run; the sweep skips files younger than
    # min_file_age_seconds (they may still be uploading), so date the finished file back.
    landed_at = time.time() - 3600
    os.utime(generated.path, (landed_at, landed_at))
    print(f"data home: {home}")
    print(f"generated {generated.path.name}: {generated.rows} rows into {landing}")

    with ExitStack() as stack:
        try:
            registry = _start_simulators(agency, run_day, stack, registry, free_ports)
        except OSError as exc:
            print(f"could not start a simulator ({exc}); is another demo or simulator "
                  "running on ports 8765/8766? (--free-ports lets the system pick)",
                  file=sys.stderr)
            return 2
        defs = build_definitions(registry)
        job = defs.resolve_job_def("everything_job")
        result = job.execute_in_process(
            partition_key=f"{DEMO_AGENCY}|{run_day.isoformat()}",
            instance=_instance(home),
            run_config={"ops": {"ecr_landed_files": {"config": {"files": []}}}},
            raise_on_error=False,
        )
    for title, sql in SUMMARY_QUERIES.items():
        _print_table(title, sql)
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    print()
    if failed:
        print(f"demo run finished with failed steps: {', '.join(sorted(set(failed)))}")
    print(
        "Open the UI:  DAGSTER_HOME=" + str(home / "dagster_home") + " dagster dev\n"
        "Query:        court-pipeline sql \"SELECT * FROM hearings LIMIT 5\""
    )
    return 0 if result.success else 1


"""Fixtures for whole-pipeline tests: a registry of local-landing agencies in a tmp data home."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from court_pipeline.ecr.generate import generate_ecr_file
from court_pipeline.settings import BUNDLED_CONFIG_DIR

DAY = "2026-11-22"


def write_registry(home: Path, agency_ids: list[str]) -> Path:
    """A registry with one local-landing ECR agency per id, using the bundled demo template."""
    blocks = []
    for index, agency_id in enumerate(agency_ids):
        county = ["Travis", "Harris", "Bexar", "El Paso"][index % 4]
        blocks.append(
            textwrap.dedent(
                f"""\
                  - id: {agency_id}
                    name: Agency {agency_id}
                    county: {county}
                    ecr:
                      landing: {{kind: local, path: landing/{agency_id}}}
                      template: {BUNDLED_CONFIG_DIR / "templates" / "demo.yaml"}
                      file_pattern: "*.txt"
                      min_file_age_seconds: 0
                """
            )
        )
    path = home / "agencies.yaml"
    path.write_text('partitions_start_date: "2026-11-01"\nagencies:\n' + "".join(blocks))
    return path


def land_file(home: Path, agency_id: str, name: str, rows: int, seed: int) -> Path:
    """Generate an ECR file into the agency's landing folder, dated a minute back."""
    generated = generate_ecr_file(home / "landing" / agency_id / name, rows=rows, seed=seed)
    past = time.time() - 60
    os.utime(generated.path, (past, past))
    return generated.path


@pytest.fixture()
def pipeline_home(tmp_path, monkeypatch):
    """A data home + registry for two agencies, with env pointing the pipeline at them."""
    home = tmp_path / "home"
    home.mkdir()
    registry = write_registry(home, ["alpha", "beta"])
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(home))
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(registry))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.delenv("COURT_PIPELINE_WAREHOUSE", raising=False)
    # A deployed instance already exists; two processes creating its SQLite tables at the
    # same moment race inside Dagster, which is not what these tests are about.
    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
    return home

"""Fixtures for the soak test: a private data home, registry, Dagster home and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def soak_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data home in tmp_path; the pipeline's env points there (run processes inherit it)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(home))
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(home / "agencies.yaml"))
    monkeypatch.delenv("COURT_PIPELINE_WAREHOUSE", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return home

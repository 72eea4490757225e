"""Where the pipeline keeps its files.

Everything the pipeline writes lives under one data home (``COURT_PIPELINE_HOME``), so a
deployment can put it on one volume and nothing leaks elsewhere. Values are read when asked
for, never at import time, so tests and the CLI can point the pipeline elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_CONFIG_DIR = PACKAGE_DIR / "config"
BUNDLED_REGISTRY = BUNDLED_CONFIG_DIR / "agencies.yaml"

HOME_ENV = "COURT_PIPELINE_HOME"
CONFIG_ENV = "COURT_PIPELINE_CONFIG"
WAREHOUSE_ENV = "COURT_PIPELINE_WAREHOUSE"


def data_home() -> Path:
    """The data home: warehouse, archive and default landing folders live below it."""
    return Path(os.environ.get(HOME_ENV, "./data")).expanduser().resolve()


def registry_path() -> Path:
    """The agency registry YAML file (``COURT_PIPELINE_CONFIG``, else the bundled demo file)."""
    configured = os.environ.get(CONFIG_ENV)
    return Path(configured).expanduser().resolve() if configured else BUNDLED_REGISTRY


def warehouse_path() -> Path:
    """The DuckDB warehouse (``COURT_PIPELINE_WAREHOUSE``, else ``<home>/warehouse.duckdb``)."""
    configured = os.environ.get(WAREHOUSE_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return data_home() / "warehouse.duckdb"


def archive_dir() -> Path:
    """Immutable archive of every received file and raw API response, by content hash."""
    return data_home() / "archive"


def resolve_in_home(path: str | Path) -> Path:
    """A relative path from the registry is relative to the data home; refuse escapes."""
    home = data_home()
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else home / candidate).resolve()
    if not candidate.is_absolute() and home not in (resolved, *resolved.parents):
        raise ValueError(f"path {path!s} escapes the data home {home}")
    return resolved

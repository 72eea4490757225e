"""Owner-only files whatever the umask: the data home, warehouse, archive and Dagster storage."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def modes(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    """{relative path: permission bits} of every folder and every file below root."""
    folders, files = {}, {}
    for folder, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = Path(folder) / name
            folders[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
        for name in filenames:
            path = Path(folder) / name
            files[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return folders, files


@pytest.mark.slow  # the whole demo in a subprocess (~35 s)
def test_demo_under_umask_022_leaves_nothing_readable_by_others(tmp_path):
    home = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURT_PIPELINE", "DEMO_"))}
    env["COURT_PIPELINE_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "court_pipeline.cli", "demo", "--rows", "200", "--day",
         "2026-11-23", "--free-ports"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
        preexec_fn=lambda: os.umask(0o022),  # noqa: PLW1509 - the umask a service may have
    )
    assert done.returncode == 0, done.stderr[-3000:]
    folders, files = modes(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert {"archive", "archive/ecr", "dagster_home", "dagster_home/storage"} <= set(folders)
    assert {name: mode for name, mode in folders.items() if mode != 0o700} == {}
    assert "warehouse.duckdb" in files
    archived = [name for name in files if name.startswith("archive/ecr/")]
    assert archived and {files[name] for name in archived} == {0o400}
    assert {name: oct(mode) for name, mode in files.items()
            if mode & 0o077 or (name not in archived and mode != 0o600)} == {}


def test_code_location_load_narrows_existing_folders(tmp_path):
    """A data home and Dagster storage created 0755/0644 by an older version: loading the
    code location makes them owner-only."""
    home, dagster_home = tmp_path / "data", tmp_path / "dagster_home"
    for folder in (home / "archive" / "ecr", dagster_home / "storage"):
        folder.mkdir(parents=True, mode=0o755)
        os.chmod(folder, 0o755)
    warehouse = home / "warehouse.duckdb"
    warehouse.write_bytes(b"")
    os.chmod(warehouse, 0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURT_PIPELINE")}
    env.update(COURT_PIPELINE_HOME=str(home), DAGSTER_HOME=str(dagster_home))
    done = subprocess.run(
        [sys.executable, "-c", "import court_pipeline.definitions"], env=env,
        capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: os.umask(0o022),  # noqa: PLW1509
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for folder in (home, home / "archive", dagster_home, dagster_home / "storage"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(warehouse.stat().st_mode) == 0o600

"""Owner-only files: the data home, warehouse, archive and Dagster storage hold PII.

Folders are 0700 and files 0600 (archive entries 0400), whatever umask the service was
started with. The process umask is set to 077 where our code starts (the code location, the
``court-pipeline`` command), so everything created afterwards (DuckDB files, archive entries,
temporary copies, Dagster's run storage in run workers) is private; :func:`secure_locations`
also closes folders created earlier or by another process.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from court_pipeline import settings

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_process() -> None:
    """New files and folders of this process are owner-only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only; an existing folder is narrowed to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def _narrow(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        current = stat.S_IMODE(path.lstat().st_mode)
        if current & ~mode:
            os.chmod(path, current & mode)


def secure_locations() -> list[Path]:
    """Narrow the data home, archive, warehouse and Dagster storage to owner-only (those that
    exist: importing the code location creates no folder).

    Folders become 0700, which keeps everything below them from other users; the warehouse
    file and its lock become 0600. Returns the folders it made private."""
    home = settings.data_home()
    folders: list[Path] = []
    for folder in (home, settings.archive_dir(), home / "tmp"):  # created on first use
        if folder.exists():
            folders.append(private_dir(folder))
    warehouse = settings.warehouse_path()
    if warehouse.parent.exists():
        folders.append(private_dir(warehouse.parent))
    for file in (warehouse, Path(str(warehouse) + ".lock"), Path(str(warehouse) + ".wal")):
        _narrow(file, FILE_MODE)
    dagster_home = os.environ.get("DAGSTER_HOME")
    if dagster_home and Path(dagster_home).is_dir():
        folders.append(private_dir(Path(dagster_home)))
        storage = Path(dagster_home) / "storage"
        if storage.is_dir():
            folders.append(private_dir(storage))
    return folders

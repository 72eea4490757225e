"""A local folder landing: staff drop files by hand, or a sync tool mirrors a server into it."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from court_pipeline import settings
from court_pipeline.landing.base import (
    LandedFile,
    LandingFileMissing,
    LandingStore,
    LandingUnavailable,
    NotRegularFile,
    check_name,
    matches,
)
from court_pipeline.registry.models import LocalLanding


def _landed(name: str, st: os.stat_result) -> LandedFile:
    # mtime in nanoseconds: a same-size re-drop a moment later is still a new version.
    return LandedFile(
        name=name,
        size=st.st_size,
        modified_at=datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC),
        version=f"{st.st_mtime_ns}-{st.st_size}",
    )


class LocalStore(LandingStore):
    """Files directly in one folder (relative paths are below the data home)."""

    kind = "local"

    def __init__(self, config: LocalLanding) -> None:
        self.config = config
        self.folder = settings.resolve_in_home(config.path)

    def _ensure_folder(self) -> None:
        if self.folder.is_dir():
            return
        home = settings.data_home()
        if home in self.folder.parents:
            # The default drop folder lives in the data home: create it so staff see where.
            self.folder.mkdir(parents=True, exist_ok=True)
            return
        raise LandingUnavailable(f"local landing folder {self.folder} does not exist")

    def list_files(self, pattern: str = "*") -> list[LandedFile]:
        self._ensure_folder()
        found: list[LandedFile] = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            raise LandingUnavailable(
                f"local landing folder {self.folder}: {exc.strerror or exc}"
            ) from exc
        for entry in entries:
            if entry.name.startswith(".") or not matches(entry.name, pattern):
                continue  # dot files are editors' and sync tools' temporaries
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while listing
            if stat.S_ISREG(st.st_mode):
                found.append(_landed(entry.name, st))
        return sorted(found, key=lambda f: (f.modified_at, f.name))

    @contextlib.contextmanager
    def open_file(self, name: str) -> Iterator[tuple[LandedFile, BinaryIO]]:
        path: Path = self.folder / check_name(name)
        try:
            # refused before opening: opening a FIFO blocks until someone writes to it
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise NotRegularFile(f"{name!r} in {self.uri()} is not a regular file")
            # O_NONBLOCK: a FIFO swapped in after the check still cannot hang the run
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError as exc:
            raise LandingFileMissing(f"{name!r} is not in {self.uri()}") from exc
        except OSError as exc:
            raise LandingUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc
        with os.fdopen(fd, "rb") as stream:
            st = os.fstat(stream.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise NotRegularFile(f"{name!r} in {self.uri()} is not a regular file")
            os.set_blocking(fd, True)
            yield _landed(name, st), stream

    def uri(self, name: str = "") -> str:
        return (self.folder / name).as_uri() if name else self.folder.as_uri()

"""One small interface over the three places an ECR file can land: local folder, SFTP, S3.

The sensor only needs ``list_files``; the run needs ``open_file`` (stream + the version it
really read, so what is archived matches what is recorded). Everything that can go wrong with
the server itself (down, refused, bad auth, wrong host key) surfaces as ``LandingUnavailable``
with a message that names where and what, never a secret.
"""

from __future__ import annotations

import abc
import contextlib
import fnmatch
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from court_pipeline.registry.models import LocalLanding, S3Landing, SftpLanding

CHUNK_BYTES = 1024 * 1024


class LandingError(RuntimeError):
    """Base class of landing problems; messages are safe to log (no secrets)."""


class LandingUnavailable(LandingError):
    """The landing cannot be reached or refuses us (down, timeout, auth, host key)."""


class LandingFileMissing(LandingError, FileNotFoundError):
    """The named file is not (or no longer) in the landing."""


class PermanentFileProblem(LandingError):
    """Retrying cannot help this file: it is quarantined after one try."""


class BadFileName(PermanentFileProblem, ValueError):
    """A requested name is not a plain file name (path separators, '..', control chars)."""


class NotRegularFile(PermanentFileProblem):
    """A FIFO, device, folder or link: refused before it is opened (a FIFO would hang)."""


class FileTooLarge(PermanentFileProblem):
    """Bigger than the agency's ``max_file_mb``."""


@dataclass(frozen=True)
class LandedFile:
    """One file as the landing reports it. ``version`` changes when the file is re-uploaded."""

    name: str
    size: int
    modified_at: datetime  # timezone-aware (UTC)
    version: str  # "<mtime>-<size>" for local/SFTP, the ETag for S3

    @property
    def key(self) -> str:
        """Name plus version: what the sensor remembers and what a run key is built from."""
        return f"{self.name}:{self.version}"


def check_name(name: str) -> str:
    """Refuse anything but a plain file name, so a run config cannot reach outside the landing."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or any(ord(ch) < 32 for ch in name)
    ):
        raise BadFileName(f"{name!r} is not a plain file name")
    return name


def matches(name: str, pattern: str) -> bool:
    """Glob match on the file name (case-sensitive, like the servers are)."""
    return fnmatch.fnmatchcase(name, pattern or "*")


class LandingStore(abc.ABC):
    """A landing place. Use as a context manager so connections are closed."""

    kind: str

    @abc.abstractmethod
    def list_files(self, pattern: str = "*") -> list[LandedFile]:
        """Regular files directly in the landing whose name matches ``pattern``."""

    @abc.abstractmethod
    def open_file(
        self, name: str
    ) -> contextlib.AbstractContextManager[tuple[LandedFile, BinaryIO]]:
        """Open one file for streaming; yields its metadata as read and a binary stream."""

    @abc.abstractmethod
    def uri(self, name: str = "") -> str:
        """Where the file lives, for people and the archive record (never holds a secret)."""

    def download(self, name: str, dest: Path) -> LandedFile:
        """Stream ``name`` into ``dest`` in chunks (never the whole file in memory)."""
        with self.open_file(name) as (info, stream), open(dest, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK_BYTES)
        return info

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (SFTP); nothing to do for the others."""

    def __enter__(self) -> LandingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_landing(
    landing_config: LocalLanding | SftpLanding | S3Landing,
    *,
    env: Mapping[str, str] = os.environ,
) -> LandingStore:
    """The store for a registry landing section. SFTP connects lazily on first use."""
    if isinstance(landing_config, LocalLanding):
        from court_pipeline.landing.local import LocalStore

        return LocalStore(landing_config)
    if isinstance(landing_config, SftpLanding):
        from court_pipeline.landing.sftp import SftpStore

        return SftpStore(landing_config, env=env)
    if isinstance(landing_config, S3Landing):
        from court_pipeline.landing.s3 import S3Store

        return S3Store(landing_config, env=env)
    raise TypeError(f"unknown landing config {type(landing_config).__name__}")


@contextlib.contextmanager
def closing_stream(stream: BinaryIO) -> Iterator[BinaryIO]:
    """Close a stream after use (botocore bodies and SFTP files are not all context managers)."""
    try:
        yield stream
    finally:
        stream.close()

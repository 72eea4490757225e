"""A landing file that changes while it is being downloaded is refused, not archived.

The SFTP server truncates the file right after answering the client's first read, so the
change happens mid-download on every run (no timing, no luck)."""

from __future__ import annotations

import os

import asyncssh
import pytest

from court_pipeline.landing import open_landing
from court_pipeline.landing.archive import CHUNK_BYTES, FileChangedWhileReading, fetch_to_archive
from court_pipeline.registry import SftpLanding
from court_pipeline_tests.landing.conftest import SftpServerInfo

SIZE = 4 * CHUNK_BYTES + 123


class _TruncateAfterFirstRead(asyncssh.SFTPServer):
    """Answers the first read of a file, then cuts the file to that much (a re-export)."""

    def read(self, file_obj, offset: int, size: int):  # noqa: ANN201 - asyncssh signature
        data = super().read(file_obj, offset, size)
        if offset == 0 and data:
            os.truncate(file_obj.name, len(data))
        return data


@pytest.fixture
def sftp_server_class() -> type[asyncssh.SFTPServer]:
    return _TruncateAfterFirstRead


def test_file_truncated_mid_download_is_refused_and_nothing_is_archived(
    sftp_server: SftpServerInfo, data_home, monkeypatch
):
    monkeypatch.setenv("TEST_SFTP_PASSWORD", sftp_server.password)
    (sftp_server.root / "ecr.txt").write_bytes(b"x" * SIZE)
    config = SftpLanding.model_validate(sftp_server.landing("TEST_SFTP_PASSWORD"))
    with open_landing(config) as store, pytest.raises(FileChangedWhileReading) as info:
        fetch_to_archive(store, "ecr.txt", agency_id="demo")
    # paramiko's first read is 32 KiB; the server cut the file to that
    assert str(info.value) == (
        f"'ecr.txt' in {store.uri()} changed while downloading "
        f"(listed {SIZE} bytes, read 32768); it will be fetched again"
    )
    assert not (data_home / "archive").exists() or not any((data_home / "archive").rglob("*"))
    assert list((data_home / "tmp" / "landing").iterdir()) == []  # temp copy removed

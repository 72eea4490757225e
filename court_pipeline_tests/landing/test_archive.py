"""The content-addressed archive and its bookkeeping in a real DuckDB file."""

from __future__ import annotations

import hashlib
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from court_pipeline.landing import archive_path_for, open_landing, received_files_for_partition
from court_pipeline.landing.archive import (
    ArchiveCorrupt,
    fetch_to_archive,
    received_versions,
    record_receipt,
)
from court_pipeline.registry import LocalLanding
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.landing.conftest import set_mtime

BODY = b"Case Number|Event Date\n2026CR0001|11/23/2026\n"
SHA = hashlib.sha256(BODY).hexdigest()


def receive(store, name: str, partition: str = "demo|2026-11-20", when: datetime | None = None):
    blob = fetch_to_archive(store, name, agency_id="demo")
    with connect_warehouse() as con:
        return blob, record_receipt(
            con,
            blob,
            landing_kind=store.kind,
            landing_uri=store.uri(name),
            partition_key=partition,
            run_id="run-1",
            now=when,
        )


@pytest.fixture
def landing(data_home: Path) -> Path:
    folder = data_home / "landing" / "demo"
    folder.mkdir(parents=True)
    return folder


def test_archive_layout_is_content_addressed_and_read_only(data_home: Path, landing: Path) -> None:
    (landing / "ecr_a.txt").write_bytes(BODY)
    with open_landing(LocalLanding(path="landing/demo")) as store:
        blob, outcome = receive(store, "ecr_a.txt")
    expected = data_home / "archive" / "ecr" / "demo" / SHA[:2] / SHA
    assert blob.path == expected == archive_path_for("demo", SHA)
    assert expected.read_bytes() == BODY
    # Owner-only and read-only by its mode bits (tests run as root, which os.access ignores):
    # the entry is 0400 and every folder from the archive root down to it is 0700.
    assert stat.S_IMODE(expected.stat().st_mode) == 0o400
    folders = [
        data_home / "archive",
        data_home / "archive" / "ecr",
        data_home / "archive" / "ecr" / "demo",
        expected.parent,
    ]
    assert [oct(stat.S_IMODE(f.stat().st_mode)) for f in folders] == ["0o700"] * 4
    assert outcome.is_new and outcome.duplicate_reason is None
    assert outcome.archive_path == f"archive/ecr/demo/{SHA[:2]}/{SHA}"
    assert list((data_home / "tmp" / "landing").iterdir()) == []  # no temp file left behind
    with connect_warehouse() as con:
        row = con.execute(
            "SELECT agency_id, original_name, landing_kind, size_bytes, partition_key, run_id, "
            "landing_uri FROM received_files"
        ).fetchall()
    assert row == [
        (
            "demo",
            "ecr_a.txt",
            "local",
            len(BODY),
            "demo|2026-11-20",
            "run-1",
            (landing / "ecr_a.txt").as_uri(),
        )
    ]


def test_same_file_twice_and_same_bytes_new_name_load_once(data_home: Path, landing: Path) -> None:
    (landing / "ecr_a.txt").write_bytes(BODY)
    first_day = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    with open_landing(LocalLanding(path="landing/demo")) as store:
        _, first = receive(store, "ecr_a.txt", when=first_day)
        blob2, again = receive(store, "ecr_a.txt", when=datetime(2026, 11, 21, tzinfo=UTC))
        (landing / "ecr_b.txt").write_bytes(BODY)
        set_mtime(landing / "ecr_b.txt", datetime(2026, 11, 22, tzinfo=UTC))
        _, renamed = receive(store, "ecr_b.txt", "demo|2026-11-22")
    assert first.is_new
    assert blob2.already_archived and not again.is_new
    assert again.duplicate_reason == "already received as ecr_a.txt (same name) on 2026-11-20"
    assert not renamed.is_new
    assert renamed.duplicate_reason == "already received as ecr_a.txt on 2026-11-20"
    assert renamed.sha256 == first.sha256 == SHA
    with connect_warehouse() as con:
        assert con.execute("SELECT count(*) FROM received_files").fetchone() == (1,)
        names = con.execute(
            "SELECT original_name, times_seen, duplicate_of FROM received_file_names "
            "ORDER BY original_name"
        ).fetchall()
        assert names == [("ecr_a.txt", 2, None), ("ecr_b.txt", 1, "ecr_a.txt")]
        versions = received_versions(con, "demo")
        assert {name for name, _ in versions} == {"ecr_a.txt", "ecr_b.txt"}
        files = received_files_for_partition(con, "demo|2026-11-20")
        assert received_files_for_partition(con, "demo|2026-11-22") == []
    assert [(f.original_name, f.content_sha256, f.path) for f in files] == [
        ("ecr_a.txt", SHA, archive_path_for("demo", SHA))
    ]
    assert files[0].path.read_bytes() == BODY


def test_changed_content_same_name_is_new(data_home: Path, landing: Path) -> None:
    (landing / "ecr.txt").write_bytes(BODY)
    with open_landing(LocalLanding(path="landing/demo")) as store:
        _, one = receive(store, "ecr.txt")
        (landing / "ecr.txt").write_bytes(BODY + b"2026CR0002|11/24/2026\n")
        _, two = receive(store, "ecr.txt")
    assert one.is_new and two.is_new and one.sha256 != two.sha256
    with connect_warehouse() as con:
        assert con.execute("SELECT count(*) FROM received_file_names").fetchone() == (2,)


def test_tampered_archive_entry_is_reported(data_home: Path, landing: Path) -> None:
    (landing / "ecr.txt").write_bytes(BODY)
    target = archive_path_for("demo", SHA)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"short")
    with (
        open_landing(LocalLanding(path="landing/demo")) as store,
        pytest.raises(ArchiveCorrupt, match=f"archive entry {target} has 5 bytes"),
    ):
        fetch_to_archive(store, "ecr.txt", agency_id="demo")

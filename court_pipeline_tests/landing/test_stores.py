"""Each landing kind against a real server: list, download, and refuse what must be refused."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import asyncssh
import pytest

from court_pipeline.landing import LandingFileMissing, LandingUnavailable, open_landing
from court_pipeline.landing.base import BadFileName
from court_pipeline.registry import LocalLanding, S3Landing, SftpLanding
from court_pipeline_tests.landing.conftest import (
    S3_ENDPOINT_ENV,
    SftpServerInfo,
    free_port,
    seed_s3_objects,
    set_mtime,
)

CONTENT = b"Party ID|Last Name\r\n1|PE\xc3\x91A\r\n"


def sftp_config(server: SftpServerInfo, **overrides: object) -> SftpLanding:
    values: dict = {
        "kind": "sftp",
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "password_env": "TEST_SFTP_PASSWORD",
        "known_hosts_path": str(server.known_hosts),
        "timeout_seconds": 5,
    }
    values.update(overrides)
    return SftpLanding.model_validate(values)


def sftp_env(server: SftpServerInfo) -> dict[str, str]:
    return {
        "TEST_SFTP_PASSWORD": server.password,
        "TEST_SFTP_KEY": str(server.client_key_path),
        "TEST_SFTP_KEY_PASS": server.client_key_passphrase,
    }


# -- local --------------------------------------------------------------------------------------


def test_local_lists_matching_regular_files_and_downloads(data_home: Path, tmp_path: Path) -> None:
    folder = data_home / "landing" / "demo"
    folder.mkdir(parents=True)
    (folder / "ecr_1.txt").write_bytes(CONTENT)
    (folder / "notes.csv").write_text("x")
    (folder / ".ecr_2.txt.part").write_text("partial")  # temp file of an uploader
    (folder / "sub").mkdir()
    (folder / "sub" / "old.txt").write_text("x")
    set_mtime(folder / "ecr_1.txt", datetime(2026, 11, 20, 12, 0, 5, tzinfo=UTC))

    with open_landing(LocalLanding(path="landing/demo")) as store:
        files = store.list_files("*.txt")
        assert [f.name for f in files] == ["ecr_1.txt"]
        landed = files[0]
        assert landed.size == len(CONTENT)
        assert landed.modified_at == datetime(2026, 11, 20, 12, 0, 5, tzinfo=UTC)
        assert landed.version == f"{(folder / 'ecr_1.txt').stat().st_mtime_ns}-{len(CONTENT)}"
        dest = tmp_path / "out.bin"
        info = store.download("ecr_1.txt", dest)
        assert dest.read_bytes() == CONTENT
        assert info.version == landed.version
        assert store.uri("ecr_1.txt") == (folder / "ecr_1.txt").as_uri()
        with pytest.raises(LandingFileMissing, match="'gone.txt' is not in file://"):
            store.download("gone.txt", dest)
        with pytest.raises(BadFileName):
            store.download("../agencies.yaml", dest)


def test_local_default_folder_is_created_in_home(data_home: Path) -> None:
    with open_landing(LocalLanding(path="landing/new_agency")) as store:
        assert store.list_files() == []
    assert (data_home / "landing" / "new_agency").is_dir()


def test_local_absolute_missing_folder_is_unavailable(data_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "mnt" / "share"
    with (
        open_landing(LocalLanding(path=str(missing))) as store,
        pytest.raises(LandingUnavailable, match=f"local landing folder {missing} does not exist"),
    ):
        store.list_files()


# -- SFTP ---------------------------------------------------------------------------------------


def test_sftp_password_lists_and_downloads(sftp_server: SftpServerInfo, tmp_path: Path) -> None:
    (sftp_server.root / "ecr_20261120.txt").write_bytes(CONTENT)
    (sftp_server.root / "readme.md").write_text("x")
    (sftp_server.root / "archive").mkdir()
    set_mtime(sftp_server.root / "ecr_20261120.txt", datetime(2026, 11, 20, 11, 0, tzinfo=UTC))

    with open_landing(sftp_config(sftp_server), env=sftp_env(sftp_server)) as store:
        files = store.list_files("*.txt")
        assert [(f.name, f.size) for f in files] == [("ecr_20261120.txt", len(CONTENT))]
        assert files[0].modified_at == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
        assert files[0].version == f"{int(files[0].modified_at.timestamp())}-{len(CONTENT)}"
        dest = tmp_path / "got.txt"
        store.download("ecr_20261120.txt", dest)
        assert dest.read_bytes() == CONTENT
        with pytest.raises(LandingFileMissing, match="'nope.txt' is not in sftp://ecr_drop@"):
            store.download("nope.txt", dest)


def test_sftp_key_auth_with_passphrase(sftp_server: SftpServerInfo, tmp_path: Path) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB: several chunks through prefetch
    (sftp_server.root / "incoming").mkdir()
    (sftp_server.root / "incoming" / "big.txt").write_bytes(big)
    config = sftp_config(
        sftp_server,
        password_env=None,
        private_key_path_env="TEST_SFTP_KEY",
        private_key_passphrase_env="TEST_SFTP_KEY_PASS",
        remote_dir="incoming",
    )
    with open_landing(config, env=sftp_env(sftp_server)) as store:
        assert [f.name for f in store.list_files()] == ["big.txt"]
        store.download("big.txt", tmp_path / "big.txt")
        assert store.uri("big.txt") == (
            f"sftp://ecr_drop@127.0.0.1:{sftp_server.port}/incoming/big.txt"
        )
    assert (tmp_path / "big.txt").read_bytes() == big


def test_sftp_host_key_mismatch_is_refused(sftp_server: SftpServerInfo) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    sftp_server.known_hosts.write_text(sftp_server.known_hosts_line(impostor))
    with pytest.raises(LandingUnavailable) as caught:
        open_landing(sftp_config(sftp_server), env=sftp_env(sftp_server)).list_files()
    message = str(caught.value)
    assert message.startswith(f"SFTP 127.0.0.1:{sftp_server.port}: host key does not match")
    assert "refusing to connect" in message


def test_sftp_unknown_host_is_refused(sftp_server: SftpServerInfo) -> None:
    sftp_server.known_hosts.write_text("")
    with pytest.raises(LandingUnavailable, match="host key not in known_hosts .*ssh-keyscan -p"):
        open_landing(sftp_config(sftp_server), env=sftp_env(sftp_server)).list_files()


def test_sftp_missing_known_hosts_file_is_refused(
    sftp_server: SftpServerInfo, tmp_path: Path
) -> None:
    config = sftp_config(sftp_server, known_hosts_path=str(tmp_path / "nowhere"))
    with pytest.raises(LandingUnavailable, match="known_hosts file .*nowhere not found"):
        open_landing(config, env=sftp_env(sftp_server)).list_files()


def test_sftp_insecure_flag_skips_check_with_warning(
    sftp_server: SftpServerInfo, caplog: pytest.LogCaptureFixture
) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    sftp_server.known_hosts.write_text(sftp_server.known_hosts_line(impostor))
    (sftp_server.root / "a.txt").write_text("a")
    config = sftp_config(sftp_server, insecure_skip_host_key_check=True)
    with caplog.at_level(logging.WARNING), open_landing(config, env=sftp_env(sftp_server)) as s:
        assert [f.name for f in s.list_files()] == ["a.txt"]
    assert any("host key NOT verified" in r.getMessage() for r in caplog.records)


def test_sftp_wrong_password_never_shows_the_password(sftp_server: SftpServerInfo) -> None:
    wrong = "wr0ng-Pa55-word-zz"
    with pytest.raises(LandingUnavailable) as caught:
        open_landing(sftp_config(sftp_server), env={"TEST_SFTP_PASSWORD": wrong}).list_files()
    message = str(caught.value)
    assert message == (
        f"SFTP 127.0.0.1:{sftp_server.port}: authentication failed for user 'ecr_drop' "
        "(password); check TEST_SFTP_PASSWORD"
    )
    assert wrong not in message and sftp_server.password not in message
    assert caught.value.__cause__ is None  # the paramiko exception chain is dropped


def test_sftp_missing_secret_env_names_the_variable(sftp_server: SftpServerInfo) -> None:
    with pytest.raises(LandingUnavailable, match="TEST_SFTP_PASSWORD \\(password\\) is not set"):
        open_landing(sftp_config(sftp_server), env={}).list_files()


def test_sftp_server_down_is_unavailable() -> None:
    port = free_port()
    config = SftpLanding(
        kind="sftp", host="127.0.0.1", port=port, username="u", password_env="P",
        insecure_skip_host_key_check=True, timeout_seconds=2,
    )
    with pytest.raises(LandingUnavailable, match=f"SFTP 127.0.0.1:{port}: cannot connect"):
        open_landing(config, env={"P": "x"}).list_files()


# -- S3 -----------------------------------------------------------------------------------------


def s3_config(bucket: str, prefix: str = "incoming/") -> S3Landing:
    return S3Landing(kind="s3", bucket=bucket, prefix=prefix, endpoint_url_env=S3_ENDPOINT_ENV)


def test_s3_lists_and_downloads(s3_bucket, tmp_path: Path) -> None:
    s3_bucket.put_object(Key="incoming/ecr_1.txt", Body=CONTENT)
    s3_bucket.put_object(Key="incoming/other.csv", Body=b"x")
    s3_bucket.put_object(Key="incoming/done/ecr_0.txt", Body=b"old")  # sub-folder: ignored
    s3_bucket.put_object(Key="elsewhere.txt", Body=b"x")
    with open_landing(s3_config(s3_bucket.name, "incoming"), env=os.environ) as store:
        files = store.list_files("*.txt")
        assert [(f.name, f.size) for f in files] == [("ecr_1.txt", len(CONTENT))]
        etag = s3_bucket.Object("incoming/ecr_1.txt").e_tag.strip('"')
        assert files[0].version == etag
        assert files[0].modified_at.tzinfo is not None
        store.download("ecr_1.txt", tmp_path / "x")
        assert (tmp_path / "x").read_bytes() == CONTENT
        assert store.uri("ecr_1.txt") == f"s3://{s3_bucket.name}/incoming/ecr_1.txt"
        with pytest.raises(LandingFileMissing, match="'no.txt' is not in s3://"):
            store.download("no.txt", tmp_path / "y")


def test_s3_listing_pages_past_1000_keys(s3_bucket) -> None:
    names = [f"ecr_{i:05d}.txt" for i in range(1005)]
    seed_s3_objects(s3_bucket.name, {f"in/{n}": n.encode() for n in names})
    with open_landing(s3_config(s3_bucket.name, "in/"), env=os.environ) as store:
        files = store.list_files("*.txt")
    assert len(files) == 1005
    assert sorted(f.name for f in files) == names


def test_s3_missing_bucket_and_dead_endpoint_are_unavailable(aws_env: str) -> None:
    with pytest.raises(LandingUnavailable, match="listing failed \\(NoSuchBucket"):
        open_landing(s3_config("no-such-bucket-here"), env=os.environ).list_files()
    dead = {S3_ENDPOINT_ENV: f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(LandingUnavailable, match="cannot connect to the endpoint"):
        open_landing(s3_config("b"), env=dead).list_files()

"""Fixtures for landing tests: a real SFTP server and a real S3 (moto) server on loopback, a tmp
data home and a registry file written for the test.

Reusable by other areas: ``sftp_server`` (asyncssh, password + public-key auth, generated host
key, ``known_hosts`` file), ``s3_server`` / ``s3_bucket`` (moto ThreadedMotoServer with dummy AWS
credentials), ``data_home`` and ``write_registry``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncssh
import boto3
import pytest
import yaml

from court_pipeline.registry import Registry, load_registry
from court_pipeline_tests.servers import moto_s3_server

SFTP_USER = "ecr_drop"
SFTP_PASSWORD = "pw-Sup3r-s3cret-!x"  # noqa: S105 - test secret, asserted never to leak
KEY_PASSPHRASE = "key-passphrase-77"  # noqa: S105


def free_port() -> int:
    """A port nothing listens on (bound then released), for 'server down' cases."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- SFTP ---------------------------------------------------------------------------------------


@dataclass
class SftpServerInfo:
    host: str
    port: int
    root: Path  # files written here are what the server serves
    username: str
    password: str
    host_key: asyncssh.SSHKey
    known_hosts: Path  # holds this server's real host key
    client_key_path: Path  # authorized private key (passphrase-protected)
    client_key_passphrase: str

    def landing(self, password_env: str) -> dict[str, Any]:
        """A registry ``landing:`` block for this server: password auth, its real host key."""
        return {
            "kind": "sftp",
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password_env": password_env,
            "known_hosts_path": str(self.known_hosts),
            "timeout_seconds": 5,
        }

    def known_hosts_line(self, key: asyncssh.SSHKey | None = None) -> str:
        public = (key or self.host_key).export_public_key().decode().strip()
        return f"[{self.host}]:{self.port} {public}\n"


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == SFTP_USER and password == SFTP_PASSWORD


class _EventLoopThread:
    """An asyncio loop in a daemon thread, so a blocking client (paramiko) can talk to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def sftp_server_class() -> type[asyncssh.SFTPServer]:
    """The server's SFTP handler; a test module may override this fixture with a subclass
    (for example one that changes a file while a client reads it)."""
    return asyncssh.SFTPServer


@pytest.fixture
def sftp_server(
    tmp_path: Path, sftp_server_class: type[asyncssh.SFTPServer]
) -> Iterator[SftpServerInfo]:
    """A real SFTP server on 127.0.0.1 (random port) rooted in a tmp folder."""
    root = tmp_path / "sftp_root"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_path = tmp_path / "client_ed25519"
    client_key_path.write_bytes(
        client_key.export_private_key(
            "openssh", passphrase=KEY_PASSPHRASE, rounds=2, ignore_few_rounds=True
        )  # few bcrypt rounds: a real encrypted key, without seconds of KDF per test
    )
    client_key_path.chmod(0o600)
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
    chroot = str(root).encode()

    def sftp_factory(chan: asyncssh.SSHServerChannel) -> asyncssh.SFTPServer:
        return sftp_server_class(chan, chroot=chroot)

    runner = _EventLoopThread()

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=_Server,
            server_host_keys=[host_key],
            authorized_client_keys=authorized,
            sftp_factory=sftp_factory,
            allow_scp=False,
        )

    acceptor = runner.run(start())
    port = acceptor.sockets[0].getsockname()[1]
    known_hosts = tmp_path / "known_hosts"
    info = SftpServerInfo(
        host="127.0.0.1",
        port=port,
        root=root,
        username=SFTP_USER,
        password=SFTP_PASSWORD,
        host_key=host_key,
        known_hosts=known_hosts,
        client_key_path=client_key_path,
        client_key_passphrase=KEY_PASSPHRASE,
    )
    known_hosts.write_text(info.known_hosts_line())
    try:
        yield info
    finally:

        async def stop() -> None:
            acceptor.close()
            await acceptor.wait_closed()

        runner.run(stop())
        runner.stop()


# -- S3 (moto) ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's real HTTP S3 server on loopback; yields its endpoint URL."""
    with moto_s3_server() as url:
        yield url


S3_ENDPOINT_ENV = "TEST_LANDING_S3_ENDPOINT"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_server: str) -> str:
    """Dummy AWS credentials (never real ones) and the endpoint env var the registry names."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv(S3_ENDPOINT_ENV, s3_server)
    return s3_server


@pytest.fixture
def s3_bucket(aws_env: str) -> Any:
    """A fresh bucket (unique name) on the moto server; returns a boto3 Bucket."""
    resource = boto3.resource("s3", endpoint_url=aws_env, region_name="us-east-1")
    bucket = resource.create_bucket(Bucket=f"landing-{uuid.uuid4().hex[:12]}")
    return bucket


def seed_s3_objects(bucket: str, objects: dict[str, bytes]) -> None:
    """Put many objects straight into the in-process moto backend (HTTP puts are ~15 ms each).

    Only the seeding skips HTTP; the code under test still lists through the real server.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key, body in objects.items():
        backend.put_object(bucket, key, body)


# -- data home and registry ---------------------------------------------------------------------


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """COURT_PIPELINE_HOME in tmp_path; the warehouse goes there too."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(home))
    monkeypatch.delenv("COURT_PIPELINE_WAREHOUSE", raising=False)
    return home


def agency_entry(agency_id: str, landing: dict | None, **ecr: Any) -> dict:
    """One registry agency; ``landing=None`` means no ecr section."""
    entry: dict[str, Any] = {
        "id": agency_id,
        "name": f"{agency_id.title()} Courts",
        "county": "Travis",
        "timezone": "America/Chicago",
    }
    if landing is not None:
        entry["ecr"] = {
            "landing": landing,
            "template": f"templates/{agency_id}.yaml",
            "file_pattern": "*.txt",
            "min_file_age_seconds": 0,
            **ecr,
        }
    return entry


@pytest.fixture
def write_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Registry]:
    """Write a registry YAML for the given agencies, point COURT_PIPELINE_CONFIG at it, load it."""

    def write(*agencies: dict) -> Registry:
        path = tmp_path / "agencies.yaml"
        path.write_text(
            yaml.safe_dump({"partitions_start_date": "2026-01-01", "agencies": list(agencies)})
        )
        monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(path))
        return load_registry(path)

    return write


def set_mtime(path: Path, when: datetime) -> None:
    """Give a landing file a known modification time."""
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def ago(seconds: float) -> datetime:
    return datetime.fromtimestamp(datetime.now(UTC).timestamp() - seconds, UTC)

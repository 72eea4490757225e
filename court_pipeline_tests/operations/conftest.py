"""Fixtures for the production profile: a real PostgreSQL server and a real S3 (moto) on loopback.

``postgres_server`` finds PostgreSQL's ``initdb``/``pg_ctl`` (PATH or Debian's
/usr/lib/postgresql/<version>/bin), installs the Debian ``postgresql`` package if they are
missing, then runs a private cluster in a temp dir: TCP on 127.0.0.1 at a free port with
password (SCRAM) authentication, its unix socket in the temp dir, so it never collides with a
system cluster or a parallel test run. PostgreSQL refuses to run as root, so under root the
server runs as the ``postgres`` user. The server is stopped and its files removed at the end
of the session. If PostgreSQL can be neither found nor installed, the tests skip and say why.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from moto.server import ThreadedMotoServer

INSTALL_TIMEOUT_SECONDS = 900
SERVER_USER = "postgres"  # the OS account the server runs as when the tests run as root


@dataclass(frozen=True)
class PgServer:
    """A running PostgreSQL: an application role that owns an empty database."""

    host: str
    port: int
    username: str
    password: str
    db_name: str

    def dagster_env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables deploy/dagster.production.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.username,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db_name,
        }

    def connect(self):
        """A psycopg2 connection over TCP with the application role's password."""
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.username, password=self.password,
            dbname=self.db_name, connect_timeout=10,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: PATH first, then Debian's versioned folders."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    for folder in reversed(candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _apt_install() -> str | None:
    """Install Debian's postgresql package; None on success, else why it failed."""
    if shutil.which("apt-get") is None:
        return "PostgreSQL is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return "PostgreSQL is not installed and installing it needs root (apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["apt-get", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False,
        )

    install = ("install", "-y", "--no-install-recommends", "postgresql")
    result = apt(*install)
    if result.returncode != 0:  # stale package lists: refresh once and try again
        apt("update")
        result = apt(*install)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return "apt-get install postgresql failed: " + " | ".join(tail)
    return None


def _as_server_user() -> list[str]:
    """Command prefix that drops root to the postgres account (the server refuses root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--"]
    return ["su", SERVER_USER, "-s", "/bin/sh", "-c", '"$0" "$@"']


def _run(cmd: list[str], what: str, timeout: float = 120) -> None:
    result = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr or result.stdout}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """A private PostgreSQL cluster on 127.0.0.1 for the whole session."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        problem = _apt_install()
        if problem:
            pytest.skip(f"no PostgreSQL server available: {problem}")
        bin_dir = find_pg_bin()
        if bin_dir is None:
            pytest.skip("postgresql was installed but initdb/pg_ctl were not found")
    prefix = _as_server_user()
    if prefix:
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            pytest.skip(f"running as root and there is no {SERVER_USER!r} account for the server")

    # /tmp itself (not pytest's 0700 per-user folder) so the postgres account can reach it
    root = Path(tempfile.mkdtemp(prefix="court-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    admin_password = secrets.token_urlsafe(16)
    pwfile = root / "pwfile"
    pwfile.write_text(admin_password + "\n", encoding="utf-8")
    if prefix:
        for path in (root, sockets, pwfile):
            os.chown(path, account.pw_uid, account.pw_gid)
    pg_ctl = str(bin_dir / "pg_ctl")
    started = False
    try:
        _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "court_admin",
              "--pwfile", str(pwfile), "--auth-local=scram-sha-256",
              "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], "initdb")
        port = 0
        for _attempt in range(3):  # a free port can be taken between probe and bind: retry
            port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -c port={port} "
                       f"-c unix_socket_directories={sockets} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            result = subprocess.run(
                [*prefix, pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-w",
                 "-t", "60", "-o", options, "start"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90, check=False,
            )
            if result.returncode == 0:
                started = True
                break
        if not started:
            log = (root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1: {log}")

        server = PgServer("127.0.0.1", port, "dagster", secrets.token_urlsafe(16), "dagster")
        admin = psycopg2.connect(host="127.0.0.1", port=port, user="court_admin",
                                 password=admin_password, dbname="postgres", connect_timeout=10)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("CREATE ROLE dagster LOGIN PASSWORD %s", (server.password,))
            cur.execute("CREATE DATABASE dagster OWNER dagster")
        admin.close()
        yield server
    finally:
        if started:
            subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's real HTTP S3 server on loopback; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Dummy credentials and the standard AWS_ENDPOINT_URL_* variables pointing at moto, the
    way a VPC endpoint is configured in production: no code or YAML names the endpoint."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")  # noqa: S105 - moto dummy
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s3_endpoint)
    return s3_endpoint

"""A private, throw-away PostgreSQL server on loopback for tests and benches.

Dagster's production storage is PostgreSQL (``deploy/dagster.production.yaml``). The production
profile test and the statewide bench need a real one: :func:`local_postgres` finds
``initdb``/``pg_ctl`` (PATH or Debian's /usr/lib/postgresql/<version>/bin), installs the Debian
``postgresql`` package if they are missing (root only), then runs a private cluster in a temp
dir: TCP on 127.0.0.1 at a free port with password (SCRAM) authentication and its unix socket in
the temp dir, so it never collides with a system cluster or a parallel run. PostgreSQL refuses to
run as root, so under root the server runs as the ``postgres`` account. Durability is off
(``fsync=off``): this is scratch storage, never a deployment.
"""

from __future__ import annotations

import contextlib
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

INSTALL_TIMEOUT_SECONDS = 900
SERVER_USER = "postgres"  # the OS account the server runs as when we run as root


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be found, installed or started here (the message says why)."""


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
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["apt-get", *args],  # noqa: S607 - apt-get from PATH, as an admin would run it
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=INSTALL_TIMEOUT_SECONDS, check=False,
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
    result = subprocess.run(  # noqa: S603 - argv built here from found binaries, no shell
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr or result.stdout}")


@contextlib.contextmanager
def local_postgres() -> Iterator[PgServer]:
    """A private PostgreSQL cluster on 127.0.0.1, stopped and removed on exit; raises
    :class:`PostgresUnavailable` when no server can be found, installed or started."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        problem = _apt_install()
        if problem:
            raise PostgresUnavailable(f"no PostgreSQL server available: {problem}")
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise PostgresUnavailable("postgresql was installed but initdb/pg_ctl were not found")
    prefix = _as_server_user()
    if prefix:
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root and there is no {SERVER_USER!r} account for the server"
            ) from None

    # /tmp itself (not a 0700 per-user temp folder) so the postgres account can reach it
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
            result = subprocess.run(  # noqa: S603 - found pg_ctl, no shell
                [*prefix, pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-w",
                 "-t", "60", "-o", options, "start"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90, check=False,
            )
            if result.returncode == 0:
                started = True
                break
        if not started:
            log = (root / "server.log").read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"PostgreSQL did not start on 127.0.0.1: {log}")

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
            subprocess.run(  # noqa: S603 - found pg_ctl, no shell
                [*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
            )
        shutil.rmtree(root, ignore_errors=True)

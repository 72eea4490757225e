"""An SFTP landing (often AWS Transfer Family) through paramiko.

Host keys are checked against known_hosts with ``RejectPolicy``: an unknown or changed key is
refused, because a man in the middle would otherwise receive court data. Only an explicit
``insecure_skip_host_key_check: true`` turns that off, and every connection then logs a warning.
Credentials come from the environment variables the registry names; they never appear in
messages (paramiko's own texts are scrubbed too).
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import stat
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import paramiko

from court_pipeline.landing.base import (
    LandedFile,
    LandingFileMissing,
    LandingStore,
    LandingUnavailable,
    NotRegularFile,
    check_name,
    matches,
)
from court_pipeline.registry.models import SftpLanding

log = logging.getLogger(__name__)


def _landed(name: str, attr: paramiko.SFTPAttributes) -> LandedFile:
    mtime = int(attr.st_mtime or 0)
    size = int(attr.st_size or 0)
    return LandedFile(
        name=name,
        size=size,
        modified_at=datetime.fromtimestamp(mtime, UTC),
        version=f"{mtime}-{size}",
    )


class _AcceptAnyKey(paramiko.MissingHostKeyPolicy):
    """Only used with ``insecure_skip_host_key_check``: accept, keep nothing."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        return None


class SftpStore(LandingStore):
    """Files directly in ``remote_dir`` on an SFTP server. Connects on first use."""

    kind = "sftp"

    def __init__(self, config: SftpLanding, *, env: Mapping[str, str]) -> None:
        self.config = config
        self.env = env
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    # -- connection -------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"SFTP {self.config.host}:{self.config.port}"

    def _secret(self, env_name: str | None, what: str) -> str | None:
        if not env_name:
            return None
        value = self.env.get(env_name)
        if not value:
            raise LandingUnavailable(
                f"{self.where}: environment variable {env_name} ({what}) is not set"
            )
        return value

    def _scrub(self, text: str, secrets: list[str | None]) -> str:
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _known_hosts(self) -> Path:
        configured = self.config.known_hosts_path
        return Path(configured or "~/.ssh/known_hosts").expanduser()

    def _connect(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        cfg = self.config
        password = self._secret(cfg.password_env, "password")
        key_path = self._secret(cfg.private_key_path_env, "private key file path")
        passphrase = self._secret(cfg.private_key_passphrase_env, "private key passphrase")
        client = paramiko.SSHClient()
        if cfg.insecure_skip_host_key_check:
            log.warning(
                "%s: host key NOT verified (insecure_skip_host_key_check: true); "
                "anyone on the network path could impersonate this server",
                self.where,
            )
            client.set_missing_host_key_policy(_AcceptAnyKey())
        else:
            known_hosts = self._known_hosts()
            try:
                client.load_host_keys(str(known_hosts))
            except FileNotFoundError as exc:
                raise LandingUnavailable(
                    f"{self.where}: known_hosts file {known_hosts} not found; add the server's "
                    "host key there (ssh-keyscan) or set known_hosts_path"
                ) from exc
            except (OSError, paramiko.SSHException) as exc:
                raise LandingUnavailable(
                    f"{self.where}: cannot read known_hosts file {known_hosts}: {exc}"
                ) from exc
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        secrets = [password, passphrase]
        try:
            client.connect(
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.username,
                password=password,
                key_filename=key_path,
                passphrase=passphrase,
                timeout=cfg.timeout_seconds,
                banner_timeout=cfg.timeout_seconds,
                auth_timeout=cfg.timeout_seconds,
                channel_timeout=cfg.timeout_seconds,
                allow_agent=False,
                look_for_keys=False,
            )
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(cfg.timeout_seconds)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise LandingUnavailable(
                f"{self.where}: host key does not match known_hosts ({self._known_hosts()}): "
                f"server sent {exc.key.get_name()} {exc.key.fingerprint}; refusing to connect. "
                "If the server's key really changed, update known_hosts."
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            how = " and ".join(
                part
                for part, used in (("password", password), ("private key", key_path))
                if used
            )
            raise LandingUnavailable(
                f"{self.where}: authentication failed for user {cfg.username!r} ({how}); "
                f"check {cfg.password_env or cfg.private_key_path_env}"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            text = self._scrub(str(exc), secrets)
            if "not found in known_hosts" in text:
                text = (
                    f"host key not in known_hosts ({self._known_hosts()}); add it with "
                    f"ssh-keyscan -p {cfg.port} {cfg.host}"
                )
            raise LandingUnavailable(f"{self.where}: {text}") from None
        except TimeoutError:
            client.close()
            raise LandingUnavailable(
                f"{self.where}: no answer within {cfg.timeout_seconds:g}s (timeout)"
            ) from None
        except (OSError, EOFError) as exc:
            client.close()
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            reason = self._scrub(reason, secrets)
            raise LandingUnavailable(f"{self.where}: cannot connect: {reason}") from None
        except ValueError as exc:  # e.g. unreadable private key
            client.close()
            raise LandingUnavailable(
                f"{self.where}: cannot use the private key from {cfg.private_key_path_env}: "
                f"{self._scrub(str(exc), secrets)}"
            ) from None
        self._client, self._sftp = client, sftp
        return sftp

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    # -- files ------------------------------------------------------------------------------

    def _remote(self, name: str) -> str:
        return posixpath.join(self.config.remote_dir, check_name(name))

    def list_files(self, pattern: str = "*") -> list[LandedFile]:
        sftp = self._connect()
        try:
            entries = sftp.listdir_attr(self.config.remote_dir)
        except FileNotFoundError as exc:
            raise LandingUnavailable(
                f"{self.where}: remote folder {self.config.remote_dir!r} does not exist"
            ) from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise LandingUnavailable(
                f"{self.where}: listing {self.config.remote_dir!r} failed: {exc}"
            ) from exc
        found = [
            _landed(attr.filename, attr)
            for attr in entries
            if attr.st_mode is not None
            and stat.S_ISREG(attr.st_mode)
            and not attr.filename.startswith(".")
            and matches(attr.filename, pattern)
        ]
        return sorted(found, key=lambda f: (f.modified_at, f.name))

    @contextlib.contextmanager
    def open_file(self, name: str) -> Iterator[tuple[LandedFile, BinaryIO]]:
        sftp = self._connect()
        remote = self._remote(name)
        try:
            if not stat.S_ISREG(sftp.lstat(remote).st_mode or 0):
                raise NotRegularFile(f"{name!r} in {self.uri()} is not a regular file")
            handle = sftp.open(remote, "rb")
        except FileNotFoundError as exc:
            raise LandingFileMissing(f"{name!r} is not in {self.uri()}") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise LandingUnavailable(f"{self.where}: cannot open {remote!r}: {exc}") from exc
        with handle:
            info = _landed(name, handle.stat())
            # Pipelined reads (fast on high-latency links), a bounded number in flight.
            handle.prefetch(info.size, max_concurrent_requests=64)
            yield info, handle  # type: ignore[misc]

    def uri(self, name: str = "") -> str:
        path = posixpath.normpath(posixpath.join(self.config.remote_dir, name))
        path = path if path.startswith("/") else "/" + path.removeprefix(".")
        return f"sftp://{self.config.username}@{self.config.host}:{self.config.port}{path}"

"""Fixtures for the production profile: a real PostgreSQL server and a real S3 (moto) on loopback.

``postgres_server`` runs :func:`court_pipeline_tests.support.local_postgres.local_postgres`
(a private cluster on 127.0.0.1, installed with apt if missing) for the session. If PostgreSQL
can be neither found nor installed, the tests skip and say why, except under CI (``CI`` set),
where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from court_pipeline_tests.servers import moto_s3_server
from court_pipeline_tests.support.local_postgres import (
    PgServer,
    PostgresUnavailable,
    local_postgres,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """A private PostgreSQL cluster on 127.0.0.1 for the whole session (skips, saying why,
    where none can be found or installed)."""
    try:
        with local_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):  # CI must test the production profile, never skip it
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's real HTTP S3 server on loopback; yields its endpoint URL."""
    with moto_s3_server() as url:
        yield url


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

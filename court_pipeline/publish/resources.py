"""The Dagster resource that says where and how to publish to CourtAnalyticsTX.

Endpoints come from the registry (``oca_targets``) unless overridden here; the environment is
the agency's ``oca.target`` unless overridden here. Production is refused unless the registry
(``allow_production: true``) or this resource (``allow_production: true``) allows it
explicitly. Credentials are never configuration values: the registry names the environment
variables per county (``oca.client_id_env`` / ``oca.client_secret_env``).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

import dagster as dg
from pydantic import Field

from court_pipeline.publish.client import Credential, RetryPolicy
from court_pipeline.publish.publisher import PublishSettings
from court_pipeline.registry.models import Agency, Registry

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class OcaConfigError(ValueError):
    """The publishing target is not configured, or production is not allowed."""


def _check_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url  # the local simulator
    raise OcaConfigError(f"{name} {url!r} must be https:// (plain http only for loopback)")


class CourtAnalyticsTXResource(dg.ConfigurableResource):
    """Target, timeouts, retry bounds and concurrency for publishing to CourtAnalyticsTX."""

    environment: Literal["", "staging", "production"] = Field(
        default="", description="'' = each agency's registry oca.target; else force this one"
    )
    token_url: str = Field(default="", description="'' = registry oca_targets[env].token_url")
    messages_url: str = Field(
        default="", description="'' = registry oca_targets[env].messages_url"
    )
    allow_production: bool = Field(
        default=False, description="allow production (the registry's allow_production also can)"
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="per HTTP request")
    concurrency: int = Field(
        default=4, ge=1, le=16, description="envelopes in flight at once per county credential"
    )
    max_attempts: int = Field(default=6, ge=1, description="tries per envelope (429/5xx/drops)")
    max_retry_seconds: float = Field(default=120.0, gt=0, description="time budget per envelope")
    wait_initial_seconds: float = Field(default=0.5, ge=0)
    wait_max_seconds: float = Field(default=30.0, ge=0, description="backoff cap")
    max_retry_after_seconds: float = Field(default=60.0, ge=0, description="Retry-After cap")
    circuit_breaker_threshold: int = Field(
        default=3, ge=1, description="consecutive failed envelopes that stop the run"
    )
    token_refresh_margin_seconds: float = Field(default=300.0, ge=0)

    def target_for(self, registry: Registry, agency: Agency) -> str:
        """The environment this agency publishes to; refuses production unless allowed."""
        if agency.oca is None:
            raise OcaConfigError(f"agency {agency.id!r} has no oca publishing configured")
        environment = self.environment or agency.oca.target
        if environment == "production" and not (self.allow_production or registry.allow_production):
            raise OcaConfigError(
                f"agency {agency.id!r} targets production, but production publishing is not "
                "allowed: set allow_production: true in the registry (or on this resource)"
            )
        return environment

    def settings_for(self, registry: Registry, agency: Agency) -> PublishSettings:
        """Resolved settings for one agency."""
        environment = self.target_for(registry, agency)
        target = registry.oca_targets.get(environment)  # type: ignore[call-overload]
        token_url = self.token_url or (target.token_url if target else "")
        messages_url = self.messages_url or (target.messages_url if target else "")
        if not token_url or not messages_url:
            raise OcaConfigError(
                f"no {environment} endpoints: set oca_targets.{environment}.token_url and "
                "messages_url in the registry"
            )
        return PublishSettings(
            environment=environment,
            token_url=_check_url("token_url", token_url),
            messages_url=_check_url("messages_url", messages_url),
            timeout_seconds=self.timeout_seconds,
            concurrency=self.concurrency,
            circuit_breaker_threshold=self.circuit_breaker_threshold,
            retry=RetryPolicy(
                max_attempts=self.max_attempts,
                max_seconds=self.max_retry_seconds,
                wait_initial=self.wait_initial_seconds,
                wait_max=self.wait_max_seconds,
                max_retry_after=self.max_retry_after_seconds,
            ),
            token_refresh_margin_seconds=self.token_refresh_margin_seconds,
        )

    @staticmethod
    def credential_for(agency: Agency) -> Credential:
        """The county credential from the environment variables the registry names."""
        if agency.oca is None:
            raise OcaConfigError(f"agency {agency.id!r} has no oca publishing configured")
        return Credential.from_env(
            agency.oca.client_id_env,
            agency.oca.client_secret_env,
            f"{agency.county} county ({agency.id}; {agency.oca.client_id_env})",
        )

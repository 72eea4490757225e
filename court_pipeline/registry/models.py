"""Pydantic models of the agency registry file.

Every model forbids unknown keys, so a typo in the YAML is an error that names the field,
not a silently ignored setting. Secrets never appear here: fields ending in ``_env`` name the
environment variable that holds the secret.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from court_pipeline.reference import texas_counties

_AGENCY_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
OCA_PUBLISHERS = (
    "ASYST", "Cardinal Tracking", "CentralSquare Tech", "CourtPlus", "Data Engineering Test",
    "Eforce", "Engagement Builder", "Equivant", "FastCourt-FundView", "Intech", "Journal", "LGS",
    "NetData", "NetData-ICON", "OpenGov", "PTS Solutions", "Rare Element", "SunGard", "TechShare",
    "Technology Consultants", "Tyler Tech-Incode", "Tyler Tech-Odyssey",
    "Utility Data Systems of Texas", "eDoc", "iDocket",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name (A-Z, 0-9, _)")
    return value


def _cron(value: str) -> str:
    """A cron string Dagster accepts (the same check its schedules make, at load time)."""
    from dagster._utils.schedules import is_valid_cron_string

    if not is_valid_cron_string(value):
        raise ValueError(f"{value!r} is not a valid cron string (minute hour day month weekday)")
    return value


class LocalLanding(_Strict):
    """A folder (below the data home unless absolute) where files are dropped by hand or sync."""

    kind: Literal["local"] = "local"
    path: str


class SftpLanding(_Strict):
    """An SFTP server (often AWS Transfer Family). Host keys are verified unless told otherwise."""

    kind: Literal["sftp"]
    host: str
    port: int = 22
    username: str
    remote_dir: str = "."
    password_env: str | None = None
    private_key_path_env: str | None = None
    private_key_passphrase_env: str | None = None
    known_hosts_path: str | None = Field(
        default=None, description="known_hosts file; default ~/.ssh/known_hosts"
    )
    insecure_skip_host_key_check: bool = False
    timeout_seconds: float = 15.0

    _check_envs = field_validator(
        "password_env", "private_key_path_env", "private_key_passphrase_env"
    )(_env_name)

    @model_validator(mode="after")
    def _needs_auth(self) -> SftpLanding:
        if not (self.password_env or self.private_key_path_env):
            raise ValueError("set password_env or private_key_path_env (the env var names)")
        return self


class S3Landing(_Strict):
    """An S3 bucket/prefix (e.g. behind AWS Transfer Family); credentials from the AWS chain."""

    kind: Literal["s3"]
    bucket: str
    prefix: str = ""
    region_name: str | None = None
    endpoint_url_env: str | None = None

    _check_envs = field_validator("endpoint_url_env")(_env_name)


Landing = Annotated[LocalLanding | SftpLanding | S3Landing, Field(discriminator="kind")]


class EcrSource(_Strict):
    """Nightly ECR report files: where they land and how to read them."""

    landing: Landing
    template: str = Field(description="upload template YAML, relative to the registry file")
    file_pattern: str = "*"
    min_file_age_seconds: float = Field(default=60.0, ge=0)
    max_runs_per_tick: int = Field(default=10, ge=1, le=500)
    sensor_interval_seconds: int = Field(default=60, ge=5)
    nightly_cron: str = "30 5 * * *"
    max_file_mb: int = Field(default=1024, ge=1, description="bigger files are quarantined")
    max_fetch_attempts: int = Field(
        default=3, ge=1, description="tries before a transient fetch problem is quarantined")
    ignore_patterns: list[str] = Field(
        default_factory=lambda: [".*", "*.filepart", "*.tmp", "*.part", "*.partial"],
        description="names of uploads in progress: never fetched")
    completion_marker: str | None = Field(
        default=None, description="e.g. '{name}.done': a file is fetched only once its "
        "marker exists")

    _check_cron = field_validator("nightly_cron")(_cron)

    @field_validator("completion_marker")
    @classmethod
    def _marker_names_file(cls, value: str | None) -> str | None:
        if value is not None and (value.count("{name}") != 1 or value == "{name}"):
            raise ValueError("must contain '{name}' once, plus a prefix or suffix "
                             "(e.g. '{name}.done')")
        return value


class OdysseySource(_Strict):
    """Odyssey API Toolkit (SOAP message API). Credentials are named by env var."""

    base_url: str
    site_key_env: str
    username_env: str
    password_env: str
    sync: Literal["hourly", "nightly"] = "nightly"
    hourly_cron: str = "15 * * * *"
    nightly_cron: str = "0 4 * * *"
    hearing_window_days: int = Field(default=90, ge=1, le=730)
    page_size: int = Field(default=200, ge=1, le=500)
    concurrency: int = Field(default=16, ge=1, le=128)
    requests_per_second: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="the site's published request limit; unset = learned from its 429s",
    )
    modified_since_overlap_minutes: int = Field(default=15, ge=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    max_retry_seconds: float = Field(default=120.0, gt=0)
    proxy: str | None = Field(
        default=None,
        description="HTTP(S) proxy URL for this Odyssey; unset = HTTPS_PROXY/NO_PROXY from env",
    )

    _check_envs = field_validator("site_key_env", "username_env", "password_env")(_env_name)
    _check_cron = field_validator("hourly_cron", "nightly_cron")(_cron)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class OcaPublishing(_Strict):
    """CourtAnalyticsTX publishing for the agency's county credential."""

    client_id_env: str
    client_secret_env: str
    code_map: str | None = Field(default=None, description="code map YAML, relative to registry")
    target: Literal["staging", "production"] = "staging"

    _check_envs = field_validator("client_id_env", "client_secret_env")(_env_name)


class OcaTarget(_Strict):
    token_url: str
    messages_url: str


class Agency(_Strict):
    """One agency: a court or group of courts in one Texas county."""

    id: str
    name: str
    county: str
    timezone: str = "America/Chicago"
    publisher: str = "Tyler Tech-Odyssey"
    ecr: EcrSource | None = None
    odyssey: OdysseySource | None = None
    oca: OcaPublishing | None = None
    reminders: str | None = Field(default=None, description="reminder flows YAML, relative")
    owner: str | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _AGENCY_ID.match(value):
            raise ValueError("must be 2-40 chars of a-z, 0-9, _ starting with a letter")
        return value

    @field_validator("county")
    @classmethod
    def _texas_county(cls, value: str) -> str:
        if value not in texas_counties():
            hint = value.removesuffix(" County") if value.endswith(" County") else None
            extra = f" (write {hint!r})" if hint in texas_counties() else ""
            raise ValueError(f"{value!r} is not one of the 254 Texas counties{extra}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("publisher")
    @classmethod
    def _publisher(cls, value: str) -> str:
        if value not in OCA_PUBLISHERS:
            raise ValueError(f"{value!r} is not an OCA publisher name")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Registry(_Strict):
    """The whole registry file."""

    agencies: list[Agency]
    partitions_start_date: str = "2026-01-01"
    oca_targets: dict[Literal["staging", "production"], OcaTarget] = Field(default_factory=dict)
    allow_production: bool = Field(
        default=False, description="production publishing needs this explicitly set to true"
    )

    @field_validator("partitions_start_date")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date like '2026-01-01'") from None
        if len(value) != 10:
            raise ValueError(f"{value!r} is not a date like '2026-01-01'")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Registry:
        seen: set[str] = set()
        for agency in self.agencies:
            if agency.id in seen:
                raise ValueError(f"agency id {agency.id!r} appears twice")
            seen.add(agency.id)
        return self

    def agency(self, agency_id: str) -> Agency:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(f"no agency {agency_id!r} in the registry")

    @property
    def agency_ids(self) -> list[str]:
        return [agency.id for agency in self.agencies]

"""An S3 landing (a bucket/prefix, e.g. the bucket behind AWS Transfer Family).

The client comes from dagster-aws ``S3Resource`` (AWS credential chain; endpoint from the
environment variable the registry names, for moto or a VPC endpoint). Listing pages through
every result: a busy prefix has more than 1,000 keys, and the first page alone loses files.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from dagster_aws.s3 import S3Resource

from court_pipeline.landing.base import (
    LandedFile,
    LandingFileMissing,
    LandingStore,
    LandingUnavailable,
    check_name,
    closing_stream,
    matches,
)
from court_pipeline.registry.models import S3Landing


@functools.lru_cache(maxsize=16)
def _client_for(region_name: str | None, endpoint_url: str | None) -> Any:
    """One client per region/endpoint per process: building one costs ~0.5 s of botocore
    model loading, too much for every sensor tick. boto3 clients are thread-safe and refresh
    temporary credentials themselves."""
    resource = S3Resource(region_name=region_name, endpoint_url=endpoint_url, max_attempts=3)
    return resource.get_client()


def _prefix(raw: str) -> str:
    """'incoming' and 'incoming/' both mean the folder; '' is the bucket root."""
    raw = raw.strip("/")
    return f"{raw}/" if raw else ""


class S3Store(LandingStore):
    """Objects directly under ``prefix`` (not in sub-folders), named by the rest of the key."""

    kind = "s3"

    def __init__(self, config: S3Landing, *, env: Mapping[str, str]) -> None:
        self.config = config
        self.prefix = _prefix(config.prefix)
        endpoint = None
        if config.endpoint_url_env:
            endpoint = env.get(config.endpoint_url_env) or None
        self.endpoint_url = endpoint
        self._client: Any = None

    @property
    def where(self) -> str:
        via = f" via {self.endpoint_url}" if self.endpoint_url else ""
        return f"S3 s3://{self.config.bucket}/{self.prefix}{via}"

    def _s3(self) -> Any:
        if self._client is None:
            self._client = _client_for(self.config.region_name, self.endpoint_url)
        return self._client

    def _unavailable(self, action: str, exc: Exception) -> LandingUnavailable:
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            detail = f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
        elif isinstance(exc, EndpointConnectionError):
            detail = "cannot connect to the endpoint"
        else:
            detail = str(exc) or type(exc).__name__
        return LandingUnavailable(f"{self.where}: {action} failed ({detail})")

    def list_files(self, pattern: str = "*") -> list[LandedFile]:
        found: list[LandedFile] = []
        try:
            paginator = self._s3().get_paginator("list_objects_v2")
            pages = paginator.paginate(
                Bucket=self.config.bucket, Prefix=self.prefix, Delimiter="/"
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.prefix):]
                    if not name or name.startswith(".") or not matches(name, pattern):
                        continue
                    found.append(
                        LandedFile(
                            name=name,
                            size=int(obj["Size"]),
                            modified_at=obj["LastModified"].astimezone(UTC),
                            version=str(obj.get("ETag", "")).strip('"'),
                        )
                    )
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable("listing", exc) from exc
        return sorted(found, key=lambda f: (f.modified_at, f.name))

    @contextlib.contextmanager
    def open_file(self, name: str) -> Iterator[tuple[LandedFile, BinaryIO]]:
        key = self.prefix + check_name(name)
        try:
            response = self._s3().get_object(Bucket=self.config.bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise LandingFileMissing(f"{name!r} is not in {self.uri()}") from exc
            raise self._unavailable(f"reading {key!r}", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(f"reading {key!r}", exc) from exc
        info = LandedFile(
            name=name,
            size=int(response["ContentLength"]),
            modified_at=response["LastModified"].astimezone(UTC),
            version=str(response.get("ETag", "")).strip('"'),
        )
        with closing_stream(response["Body"]) as body:
            yield info, body

    def uri(self, name: str = "") -> str:
        return f"s3://{self.config.bucket}/{self.prefix}{name}"

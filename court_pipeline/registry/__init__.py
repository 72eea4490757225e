"""The agency registry: which agencies exist, their sources, templates and schedules."""

from court_pipeline.registry.loader import RegistryError, load_registry
from court_pipeline.registry.models import (
    Agency,
    EcrSource,
    LocalLanding,
    OcaPublishing,
    OdysseySource,
    Registry,
    S3Landing,
    SftpLanding,
)

__all__ = [
    "Agency",
    "EcrSource",
    "LocalLanding",
    "OcaPublishing",
    "OdysseySource",
    "Registry",
    "RegistryError",
    "S3Landing",
    "SftpLanding",
    "load_registry",
]

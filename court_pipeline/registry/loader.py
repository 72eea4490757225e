"""Load and validate the registry YAML, with errors that name the file, agency and field."""

from __future__ import annotations

from pathlib import Path

from court_pipeline import settings
from court_pipeline.config_files import Entries, read_yaml_mapping, validate_model
from court_pipeline.registry.models import Registry


class RegistryError(ValueError):
    """The registry file is missing, unreadable, or breaks a rule; the message says where."""


def load_registry(path: str | Path | None = None) -> Registry:
    """Read the registry file (default: ``COURT_PIPELINE_CONFIG`` or the bundled one)."""
    file = Path(path) if path else settings.registry_path()
    raw = read_yaml_mapping(
        file, what="registry", expected="an 'agencies' list", error=RegistryError
    )
    return validate_model(
        Registry, raw, file=file, what="registry", error=RegistryError,
        entries=Entries("agencies", "agency", "id"),
    )


def registry_relative(registry_file: Path, path: str) -> Path:
    """Resolve a path written in the registry (templates, code maps) against its folder."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else (registry_file.parent / candidate).resolve()

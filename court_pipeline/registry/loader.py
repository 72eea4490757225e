"""Load and validate the registry YAML, with errors that name the file, agency and field."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from court_pipeline import settings
from court_pipeline.registry.models import Registry


class RegistryError(ValueError):
    """The registry file is missing, unreadable, or breaks a rule; the message says where."""


def _describe(raw: dict, loc: tuple) -> str:
    """Turn a pydantic location like ('agencies', 2, 'ecr', 'landing') into words."""
    if len(loc) >= 2 and loc[0] == "agencies" and isinstance(loc[1], int):
        agencies = raw.get("agencies") or []
        entry = agencies[loc[1]] if loc[1] < len(agencies) else {}
        name = entry.get("id") if isinstance(entry, dict) else None
        where = f"agency {name!r}" if name else f"agency #{loc[1] + 1}"
        field = ".".join(str(part) for part in loc[2:]) or "(the entry)"
        return f"{where}, field {field!r}"
    return f"field {'.'.join(str(part) for part in loc) or '(top level)'!r}"


def load_registry(path: str | Path | None = None) -> Registry:
    """Read the registry file (default: ``COURT_PIPELINE_CONFIG`` or the bundled one)."""
    file = Path(path) if path else settings.registry_path()
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RegistryError(f"{file}: registry file not found") from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RegistryError(f"{file}: expected a mapping with an 'agencies' list")
    try:
        return Registry.model_validate(raw)
    except ValidationError as exc:
        problems = [f"  - {_describe(raw, err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise RegistryError(f"{file}: invalid registry\n" + "\n".join(problems)) from None


def registry_relative(registry_file: Path, path: str) -> Path:
    """Resolve a path written in the registry (templates, code maps) against its folder."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else (registry_file.parent / candidate).resolve()

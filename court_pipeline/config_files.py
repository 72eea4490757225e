"""Reading the project's YAML configuration files (registry, upload templates, reminder flows).

All of them are a YAML mapping validated by a pydantic model, and all must fail the same way:
a message that names the file, the entry (agency, flow, ...) and the field, and no traceback
noise. This module is that one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Entries:
    """How to name a list entry in messages: the list key, the word for an entry, its name key.

    ``Entries("agencies", "agency", "id")`` turns ('agencies', 2, 'county') into
    "agency 'harris_jp', field 'county'".
    """

    list_key: str
    label: str
    name_key: str


def describe_location(loc: tuple, raw: dict, entries: Entries | None = None) -> str:
    """Words for a pydantic error location."""
    if entries and len(loc) >= 2 and loc[0] == entries.list_key and isinstance(loc[1], int):
        items = raw.get(entries.list_key) or []
        entry = items[loc[1]] if loc[1] < len(items) else {}
        name = entry.get(entries.name_key) if isinstance(entry, dict) else None
        who = f"{entries.label} {name!r}" if name else f"{entries.label} #{loc[1] + 1}"
        field = ".".join(str(part) for part in loc[2:]) or "(the entry)"
        return f"{who}, field {field!r}"
    return f"field {'.'.join(str(part) for part in loc) or '(top level)'!r}"


def read_yaml_mapping(file: Path, *, what: str, expected: str, error: type[Exception]) -> dict:
    """The file's YAML mapping, or ``error`` saying what is wrong with the file."""
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{file}: {what} file not found") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise error(f"{file}: expected a mapping with {expected}")
    return raw


def validate_model(
    model: type[Model],
    data: dict,
    *,
    file: Path,
    what: str,
    error: type[Exception],
    raw: dict | None = None,
    entries: Entries | None = None,
) -> Model:
    """``model.model_validate(data)``, with every problem listed by file, entry and field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"  - {describe_location(err['loc'], raw if raw is not None else data, entries)}: "
            f"{err['msg']}"
            for err in exc.errors()
        ]
        raise error(f"{file}: invalid {what}\n" + "\n".join(problems)) from None

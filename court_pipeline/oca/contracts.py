"""OCA data contracts as data: one JSON Schema file per entity type, loaded at run time.

The contract directory is configuration (``COURT_PIPELINE_OCA_CONTRACTS``), defaulting to the
bundled v3 files. Dropping OCA's official contract files (named ``<entity_type>.json``) into a
directory and pointing the variable at it changes validation without a code change.
"""

from __future__ import annotations

import json
import os
import random
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

CONTRACTS_ENV = "COURT_PIPELINE_OCA_CONTRACTS"
BUNDLED_CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts" / "v3"

ENTITY_TYPES: tuple[str, ...] = (
    "di-texas-oca-court-case-status",
    "di-texas-oca-court-case-events",
    "di-texas-oca-court-charges",
    "di-texas-oca-court-attorney",
    "di-texas-oca-court-appointments",
    "di-texas-oca-court-party",
    "di-texas-oca-court-dispositions-criminal",
    "di-texas-oca-court-dispositions-non-criminal",
)
CRITICAL_FIELDS: tuple[str, ...] = ("recordid", "county", "publisher")


class ContractError(ValueError):
    """A contract file is missing, unreadable or not a valid JSON Schema; the message says which."""


def contracts_dir() -> Path:
    """The directory holding ``<entity_type>.json`` contracts (env var, else bundled v3)."""
    configured = os.environ.get(CONTRACTS_ENV)
    return Path(configured).expanduser().resolve() if configured else BUNDLED_CONTRACTS_DIR


def contract_path(entity_type: str, contracts_dir: Path | None = None) -> Path:
    """Where the contract file of ``entity_type`` lives."""
    if entity_type not in ENTITY_TYPES:
        raise ContractError(
            f"unknown OCA entity type {entity_type!r}; expected one of {', '.join(ENTITY_TYPES)}"
        )
    base = Path(contracts_dir) if contracts_dir is not None else globals()["contracts_dir"]()
    return base / f"{entity_type}.json"


@lru_cache(maxsize=64)
def _load(path_text: str, mtime_ns: int) -> str:
    """Read and check one contract; cached per file version (mtime), so edits are picked up."""
    path = Path(path_text)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise ContractError(f"{path}: a contract must be a JSON object (a JSON Schema)")
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        raise ContractError(f"{path}: not a valid JSON Schema: {exc.message}") from exc
    if schema.get("type") not in ("object", None) or not isinstance(
        schema.get("properties"), dict
    ):
        raise ContractError(f"{path}: expected an object schema with 'properties'")
    return json.dumps(schema)


def load_contract(entity_type: str, contracts_dir: Path | None = None) -> dict:
    """The JSON Schema of one entity type, read from the contracts directory (a fresh copy)."""
    path = contract_path(entity_type, contracts_dir)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise ContractError(
            f"{path}: contract file for {entity_type!r} not found "
            f"(contracts directory from {CONTRACTS_ENV} or the bundled v3)"
        ) from exc
    return json.loads(_load(str(path), mtime))


def json_validator(entity_type: str, contracts_dir: Path | None = None) -> Validator:
    """A plain ``jsonschema`` validator for one entity type, with format checking enabled.

    The schema's ``$schema`` picks the draft (2020-12 by default, draft 7 also works).
    """
    schema = load_contract(entity_type, contracts_dir)
    cls = validator_for(schema, default=Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def is_provisional(entity_type: str, contracts_dir: Path | None = None) -> bool:
    """True when the contract is marked ``"x-provisional": true`` (partial public field list)."""
    return bool(load_contract(entity_type, contracts_dir).get("x-provisional", False))


def contract_fields(entity_type: str, contracts_dir: Path | None = None) -> list[str]:
    """Field names of the contract, in file order."""
    return list(load_contract(entity_type, contracts_dir)["properties"])


def sample_rows(
    entity_type: str,
    n: int,
    *,
    county: str,
    publisher: str,
    seed: int = 1,
    start: int = 0,
    recordid: str = "C{i:06d}",
) -> list[dict]:
    """``n`` rows that satisfy ``entity_type``'s contract, one value per field type (enums
    sampled, dates for patterned fields, small numbers, text elsewhere). For the publish
    simulator, its tests and benches: real-looking load without real people in it.
    ``recordid`` is a format with ``i`` (the row number, from ``start``)."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    props = load_contract(entity_type)["properties"]
    rows = []
    for i in range(start, start + n):
        row: dict = {}
        for name, schema in props.items():
            types = schema.get("type")
            types = [types] if isinstance(types, str) else list(types or [])
            if name == "recordid":
                row[name] = recordid.format(i=i)
            elif name == "county":
                row[name] = county
            elif name == "publisher":
                row[name] = publisher
            elif "enum" in schema:
                row[name] = rng.choice([v for v in schema["enum"] if v is not None])
            elif "pattern" in schema:
                row[name] = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            elif "number" in types or "integer" in types:
                row[name] = rng.randint(0, 90)
            else:
                row[name] = f"{name[:6]}-{i}-{rng.randint(0, 999)}"
        rows.append(row)
    return rows

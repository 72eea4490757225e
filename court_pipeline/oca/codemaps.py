"""Code maps: an agency's local Odyssey codes -> OCA values, as editable YAML files.

Each *kind* of code (plea, race, charge degree, ...) reads one column of a clean table and
fills one or more OCA fields. A code met without an entry is never guessed: the row is held
back with that reason and the code is listed in ``oca_unmapped_codes``.

File format (all scalars are read as text, so codes like ``NO`` or ``01`` stay as written)::

    version: 1
    maps:
      plea:                      # charges.plea_code -> plea_type
        NG: N - Not Guilty
      case_type:                 # several OCA fields: write a mapping
        MA: {jcit_case_type: Misdemeanor A, judicial_council_case_category: Criminal - Misdemeanor}
      event_type:
        BOND: null               # known code, nothing to send (row not reported / field null)
      party_race:
        "": Not Available (Blank)   # what to send when the local code is empty

A kind left out of the file sends null for its fields; a kind present but missing a code holds
the row back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from court_pipeline.oca.contracts import ENTITY_TYPES, load_contract
from court_pipeline.settings import BUNDLED_CONFIG_DIR

BUNDLED_CODEMAP = BUNDLED_CONFIG_DIR / "codemaps" / "simulator.yaml"
NULL_WORDS = frozenset({"null", "~", "Null", "NULL"})


class CodeMapError(ValueError):
    """A code map file is unreadable or maps to a value the contract does not allow."""


@dataclass(frozen=True)
class Kind:
    """Where a kind's local codes come from and which OCA fields they fill."""

    table: str
    code_column: str
    description_column: str
    targets: tuple[str, ...]
    string_targets: tuple[str, ...] = ()  # fields a plain string value fills (default: first)
    decides_row: bool = False  # null entry = the row is not reported (events, parties)

    @property
    def plain_targets(self) -> tuple[str, ...]:
        return self.string_targets or self.targets[:1]


KINDS: dict[str, Kind] = {
    "case_category": Kind("cases", "case_category_code", "case_category",
                          ("primary_case_category",)),
    "case_type": Kind("cases", "case_type_code", "case_type",
                      ("jcit_case_type", "judicial_council_case_category")),
    "court_type": Kind("cases", "court_type", "court_type", ("court_type",)),
    "judicial_officer_type": Kind(
        "cases", "judge_type", "judge_type",
        ("case_judicial_officer_type", "event_judicial_officer_type"),
        string_targets=("case_judicial_officer_type", "event_judicial_officer_type"),
    ),
    "case_status": Kind("cases", "case_status_code", "case_status",
                        ("current_case_status", "case_status_event",
                         "non_criminal_disposition_detail")),
    "offense": Kind("charges", "offense_code", "description", ("judicial_council_offense_type",)),
    "charge_degree": Kind("charges", "degree_code", "degree",
                          ("level_and_degree_of_prosecuted_offense",)),
    "statute": Kind("charges", "statute_code", "statute_code",
                    ("filing_statute", "disposition_statute"),
                    string_targets=("filing_statute", "disposition_statute")),
    "plea": Kind("charges", "plea_code", "plea", ("plea_type",)),
    "disposition": Kind("charges", "disposition_code", "disposition",
                        ("charge_disposition", "criminal_disposition_detail")),
    "sentence": Kind("charges", "sentence_type", "sentence_type", ("sentence_type",)),
    "event_type": Kind("case_events", "type_code", "type", ("event_type",), decides_row=True),
    "hearing_type": Kind("hearings", "hearing_type_code", "hearing_type", ("event_type",),
                         decides_row=True),
    "race": Kind("parties", "race", "race", ("party_race",)),
    "ethnicity": Kind("parties", "ethnicity", "ethnicity", ("party_ethnicity",)),
    "sex": Kind("parties", "sex", "sex", ("party_sex",)),
    "attorney_type": Kind("attorneys", "type_code", "type", ("attorney_type",)),
    "party_role": Kind("case_parties", "role_code", "role", ("party_type", "party_represented"),
                       decides_row=True),
}


@dataclass(frozen=True)
class CodeMap:
    """One agency's code map: kind -> local code -> {OCA field: value} (None = nothing)."""

    path: Path | None
    maps: dict[str, dict[str, dict[str, str | None] | None]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "(no code map)"

    def has_kind(self, kind: str) -> bool:
        return kind in self.maps


@dataclass
class Mapped:
    """Result of applying code maps to a dataset frame."""

    frame: pd.DataFrame
    held_back: pd.DataFrame  # HELD_BACK_COLUMNS + code_map_entry, _kind, _row (positional)
    dropped_rows: int  # rows whose code is mapped to "not reported"


def _enum_values() -> dict[str, set[str]]:
    """Allowed values per OCA field across the contracts in force."""
    allowed: dict[str, set[str]] = {}
    for entity_type in ENTITY_TYPES:
        for name, prop in load_contract(entity_type)["properties"].items():
            if isinstance(prop, dict) and "enum" in prop:
                allowed.setdefault(name, set()).update(v for v in prop["enum"] if v is not None)
    return allowed


def load_codemap(path: str | Path | None) -> CodeMap:
    """Read and check a code map file; ``None`` gives an empty map (every code unmapped).

    Cached per file version (path, mtime, size): a run reads the agency's map once per
    dataset, nine times, and a statewide night does that for every agency; an edited file is
    read again. Treat the returned map as read-only (it is shared)."""
    if path is None:
        return CodeMap(path=None, maps={})
    file = Path(path)
    try:
        stat = file.stat()
    except FileNotFoundError as exc:
        raise CodeMapError(f"{file}: code map file not found") from exc
    return _load_codemap(str(file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=512)
def _load_codemap(path_text: str, mtime_ns: int, size: int) -> CodeMap:
    """Parse and check one version of a code map file (see :func:`load_codemap`)."""
    file = Path(path_text)
    try:
        raw = yaml.load(file.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # noqa: S506
    except FileNotFoundError as exc:
        raise CodeMapError(f"{file}: code map file not found") from exc
    except yaml.YAMLError as exc:
        raise CodeMapError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("maps", {}), dict):
        raise CodeMapError(f"{file}: expected a mapping with a 'maps' section")
    allowed = _enum_values()
    maps: dict[str, dict[str, dict[str, str | None] | None]] = {}
    for kind, entries in (raw.get("maps") or {}).items():
        if kind not in KINDS:
            raise CodeMapError(
                f"{file}: unknown code kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}"
            )
        if entries in ("", None):
            entries = {}
        if not isinstance(entries, dict):
            raise CodeMapError(f"{file}: maps.{kind} must be a mapping of local code -> value")
        spec = KINDS[kind]
        maps[kind] = {}
        for code, value in entries.items():
            where = f"{file}: maps.{kind}.{code!r}"
            maps[kind][str(code).strip()] = _entry(spec, value, allowed, where)
    return CodeMap(path=file, maps=maps)


def _entry(
    spec: Kind, value: object, allowed: dict[str, set[str]], where: str
) -> dict[str, str | None] | None:
    if value is None or (isinstance(value, str) and value in NULL_WORDS):
        return None
    if isinstance(value, str):
        targets = {target: value for target in spec.plain_targets}
    elif isinstance(value, dict):
        unknown = set(value) - set(spec.targets)
        if unknown:
            raise CodeMapError(
                f"{where}: {sorted(unknown)} not filled by this kind; use {list(spec.targets)}"
            )
        targets = {k: (None if v in NULL_WORDS else v) for k, v in value.items()}
    else:
        raise CodeMapError(f"{where}: expected an OCA value, a mapping of fields, or null")
    for target, oca_value in targets.items():
        if oca_value is not None and target in allowed and oca_value not in allowed[target]:
            raise CodeMapError(
                f"{where}: {oca_value!r} is not an allowed OCA value of {target} "
                "(check spelling: OCA values match exactly, misspellings included)"
            )
    return targets


def code_map_entry(kind: str, code: str) -> str:
    """The code map entry a person adds to fix a hold-back: ``maps.plea."ZZ"``."""
    return f'maps.{kind}."{code}"'


def apply_codemap(
    frame: pd.DataFrame, codemap: CodeMap, fields: list[str], entity_type: str
) -> Mapped:
    """Replace every ``_code:<kind>`` column by the OCA fields it fills (only contract fields).

    Rows whose code has no entry are held back (rule ``code_map``); rows whose code of a
    row-deciding kind maps to null are dropped (not reportable).
    """
    frame = frame.reset_index(drop=True)
    keep = np.ones(len(frame), dtype=bool)
    held = []
    wanted = set(fields)
    for column in [c for c in frame.columns if c.startswith("_code:")]:
        kind = column.split(":", 1)[1]
        spec = KINDS[kind]
        targets = [t for t in spec.targets if t in wanted]
        codes = frame[column].astype(object).where(frame[column].notna(), None)
        codes = codes.map(lambda v: "" if v is None else str(v).strip())
        frame = frame.drop(columns=[column])
        if not targets:
            continue
        # a kind the map lacks has no entries: its codes are held back like any unmapped code
        # (sending null would report "no value" for a value the agency has)
        entries = codemap.maps.get(kind) or {}
        known = codes.isin(list(entries))
        unmapped = ~known & (codes != "")
        if spec.decides_row:
            not_reported = known & codes.map(lambda c, e=entries: e.get(c, {}) is None)
            keep &= ~not_reported.to_numpy()
        for target in targets:
            values = codes.map(
                lambda c, t=target, e=entries: (e.get(c) or {}).get(t) if c in e else None
            ).astype(object)
            if target in frame.columns:  # two kinds fill one field (events and hearings)
                values = values.where(codes != "", frame[target])
            frame[target] = values.astype(object).where(values.notna(), None)
        for row in np.flatnonzero(unmapped.to_numpy() & keep):
            held.append(
                {
                    "entity_type": entity_type,
                    "recordid": frame.at[row, "recordid"] if "recordid" in frame else None,
                    "field": targets[0],
                    "value": codes.iat[row],
                    "rule": "code_map",
                    "message": (
                        f"no code map entry for {kind} code {codes.iat[row]!r} "
                        f"({spec.table}.{spec.code_column}) in {codemap.label}: add it under "
                        f"maps.{kind}"
                    ),
                    "code_map_entry": code_map_entry(kind, codes.iat[row]),
                    "_kind": kind,
                    "_row": int(row),
                }
            )
    dropped = int((~keep).sum())
    kept_rows = np.flatnonzero(keep)
    renumber = {old: new for new, old in enumerate(kept_rows)}
    held_frame = pd.DataFrame(
        held, columns=["entity_type", "recordid", "field", "value", "rule", "message",
                       "code_map_entry", "_kind", "_row"]
    )
    if len(held_frame):
        # a row a later map drops ("not reported") is not held back for an earlier map's gap
        held_frame = held_frame[held_frame["_row"].isin(renumber)].reset_index(drop=True)
        held_frame["_row"] = held_frame["_row"].map(renumber).astype("int64")
    return Mapped(
        frame=frame.iloc[kept_rows].reset_index(drop=True), held_back=held_frame,
        dropped_rows=dropped,
    )


UNMAPPED_SQL = """
SELECT ? AS code_kind, trim(CAST({code} AS VARCHAR)) AS local_code,
       any_value(CAST({description} AS VARCHAR)) AS local_description, count(*) AS count
FROM {table}
WHERE agency_id = ? AND {code} IS NOT NULL AND trim(CAST({code} AS VARCHAR)) <> ''
GROUP BY 2
"""


def unmapped_codes(con, agency_id: str, codemap: CodeMap) -> pd.DataFrame:
    """Every local code in the agency's clean tables that its code map does not cover.

    A kind absent from the map counts as one with no entries (its codes are held back).
    Columns: code_kind, local_code, local_description, count (rows carrying the code).
    """
    frames = []
    for kind, spec in KINDS.items():
        sql = UNMAPPED_SQL.format(
            code=spec.code_column, description=spec.description_column, table=spec.table
        )
        found = con.execute(sql, [kind, agency_id]).fetchdf()
        found = found[~found["local_code"].isin(list(codemap.maps.get(kind) or {}))]
        frames.append(found)
    if not frames:
        return pd.DataFrame(columns=["code_kind", "local_code", "local_description", "count"])
    result = pd.concat(frames, ignore_index=True)
    result["count"] = result["count"].astype("int64")
    return result.sort_values(["code_kind", "count"], ascending=[True, False]).reset_index(
        drop=True
    )

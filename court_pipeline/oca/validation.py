"""pandera schemas derived at run time from the OCA JSON Schema contract files.

Nothing about fields, enums or dates is written here: every rule comes from the contract file,
so a new contract version is a file change. Checks are vectorized per column (a million rows
validate in seconds); a property using JSON Schema keywords this module does not translate is
checked element-wise by ``jsonschema`` itself, so an official contract never validates looser
than the plain validator.

Row semantics: a frame row is the record that will be sent, every column included, with
pandas nulls (None/NaN/NA) sent as JSON ``null``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
from jsonschema.validators import validator_for
from pandera.errors import SchemaErrors

from court_pipeline.oca.contracts import contract_path, load_contract

HELD_BACK_COLUMNS = ("entity_type", "recordid", "field", "value", "rule", "message")
_TRANSLATED = frozenset(
    {"type", "enum", "pattern", "format", "minLength", "maxLength",
     "description", "title", "$comment", "examples", "default", "deprecated"}
)
_ASCII_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_NUMERIC_KINDS = ("integer", "floating", "mixed-integer-float", "decimal")


@dataclass(frozen=True)
class FieldRule:
    """One contract property, as the checks need it."""

    name: str
    types: frozenset[str]
    enum: tuple | None
    pattern: str | None
    format: str | None
    min_length: int | None
    max_length: int | None
    required: bool
    fallback: dict | None  # property schema checked element-wise by jsonschema


@dataclass(frozen=True)
class ValidationResult:
    """Rows that pass (original index kept) and one line per broken rule of each held-back row."""

    frame: pd.DataFrame
    passed_mask: np.ndarray  # positional: True where the row passed
    held_back: pd.DataFrame
    rows_checked: int

    @property
    def passed(self) -> pd.DataFrame:
        """The rows that pass every rule (built on demand: copying a big frame costs time)."""
        if self.passed_mask.all():
            return self.frame
        return self.frame.iloc[np.flatnonzero(self.passed_mask)]

    @property
    def held_back_rows(self) -> int:
        return int((~self.passed_mask).sum())


def field_rules(schema: dict) -> list[FieldRule]:
    """Translate each contract property into a FieldRule."""
    required = set(schema.get("required", []))
    rules = []
    for name, prop in schema["properties"].items():
        prop = prop if isinstance(prop, dict) else {}
        raw_type = prop.get("type")
        types = (
            frozenset([raw_type]) if isinstance(raw_type, str)
            else frozenset(raw_type) if raw_type else frozenset()
        )
        untranslated = set(prop) - _TRANSLATED
        fmt = prop.get("format")
        if fmt not in (None, "date"):
            untranslated.add("format")
        rules.append(
            FieldRule(
                name=name,
                types=types,
                enum=tuple(prop["enum"]) if "enum" in prop else None,
                pattern=prop.get("pattern"),
                format=fmt,
                min_length=prop.get("minLength"),
                max_length=prop.get("maxLength"),
                required=name in required,
                fallback=prop if untranslated else None,
            )
        )
    return rules


# ----- vectorized classification of JSON types -----------------------------------------------

def _kinds(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Boolean masks (null, string, number, boolean) for each value, vectorized where possible."""
    null = series.isna()
    false = pd.Series(False, index=series.index)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return null, false, false, ~null
    if pd.api.types.is_numeric_dtype(dtype):
        return null, false, ~null, false
    if isinstance(dtype, pd.StringDtype):
        return null, ~null, false, false
    if dtype is not np.dtype(object):  # datetimes, categoricals: no JSON type
        return null, false, false, false
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("string", "empty"):
        return null, ~null, false, false
    if kind in _NUMERIC_KINDS:
        finite = ~null
        return null, false, finite, false
    if kind == "boolean":
        return null, false, false, ~null
    py_type = series.map(type, na_action="ignore")
    is_str = py_type.map(lambda t: issubclass(t, str), na_action="ignore").fillna(False)
    is_bool = py_type.map(lambda t: issubclass(t, bool | np.bool_), na_action="ignore").fillna(
        False
    )
    is_num = py_type.map(
        lambda t: issubclass(t, int | float | np.integer | np.floating) and not issubclass(
            t, bool | np.bool_
        ),
        na_action="ignore",
    ).fillna(False)
    return null, is_str.astype(bool), is_num.astype(bool), is_bool.astype(bool)


def _type_ok(rule: FieldRule, series: pd.Series) -> pd.Series:
    null, is_str, is_num, is_bool = _kinds(series)
    ok = pd.Series(False, index=series.index)
    if not rule.types:
        return pd.Series(True, index=series.index)
    if "null" in rule.types:
        ok |= null
    if "string" in rule.types:
        ok |= is_str
    if "number" in rule.types:
        ok |= is_num
    if "integer" in rule.types:
        ok |= is_num & _integral(series, is_num)
    if "boolean" in rule.types:
        ok |= is_bool
    return ok


def _integral(series: pd.Series, is_num: pd.Series) -> pd.Series:
    values = pd.to_numeric(series.where(is_num), errors="coerce")
    return (values == np.floor(values)).fillna(False)


def _strings(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(mask of string values, the series as a string column with non-strings nulled)."""
    if isinstance(series.dtype, pd.StringDtype):
        return ~series.isna(), series
    _, is_str, _, _ = _kinds(series)
    return is_str, series.where(is_str).astype("string")


def _enum_ok(rule: FieldRule, series: pd.Series) -> pd.Series:
    null = series.isna()
    allowed = [value for value in rule.enum or () if value is not None]
    ok = null if None in (rule.enum or ()) else pd.Series(False, index=series.index)
    is_str, text = _strings(series)
    ok = ok | (is_str & text.isin([v for v in allowed if isinstance(v, str)]).fillna(False))
    numeric = [v for v in allowed if isinstance(v, int | float) and not isinstance(v, bool)]
    if numeric:
        _, _, is_num, _ = _kinds(series)
        ok |= is_num & pd.to_numeric(series.where(is_num), errors="coerce").isin(numeric)
    return ok.astype(bool)


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_DIGIT_POS = np.array([0, 1, 2, 3, 5, 6, 8, 9])
# Patterns that accept exactly the ASCII YYYY-MM-DD shape (plus, for Python's re, oddities such
# as a trailing newline or non-ASCII digits, which the regex fallback still sees).
_DATE_PATTERNS = frozenset(
    {r"^\d{4}-\d{2}-\d{2}$", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", r"\d{4}-\d{2}-\d{2}"}
)


def _date_parts(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Memoized (per column object) wrapper: the pattern and format checks share the work."""
    cached = _LAST_DATE_PARTS.get("entry")
    if cached is not None and cached[0] is text:
        return cached[1]
    result = _compute_date_parts(text)
    _LAST_DATE_PARTS["entry"] = (text, result)  # holds the series, so its id stays unique
    return result


_LAST_DATE_PARTS: dict[str, tuple[pd.Series, tuple[np.ndarray, np.ndarray]]] = {}


def _compute_date_parts(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(ASCII ``YYYY-MM-DD`` shape, real calendar date) for each value, from the raw bytes.

    The Arrow string buffer is read as a byte matrix and checked with numpy: no parser call
    per value, so a million dates take tens of milliseconds.
    """
    arrow = pa_arrow.array(text.astype("string[pyarrow]").array)
    if isinstance(arrow, pa_arrow.ChunkedArray):
        arrow = arrow.combine_chunks()
    n = len(arrow)
    shaped = np.zeros(n, dtype=bool)
    real = np.zeros(n, dtype=bool)
    if n == 0 or arrow.null_count == n:
        return shaped, real
    offset_type = np.int64 if pa_arrow.types.is_large_string(arrow.type) else np.int32
    _, offsets_buf, data_buf = arrow.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offset_type)[arrow.offset : arrow.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, "u1")
    lengths = np.diff(offsets)
    if arrow.null_count == 0 and (lengths == 10).all():  # the usual case: a zero-copy view
        rows = slice(None)
        matrix = data[offsets[0] : offsets[-1]].reshape(n, 10)
    else:
        valid = arrow.is_valid().to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(valid & (lengths == 10))
        if len(rows) == 0:
            return shaped, real
        matrix = data[offsets[rows].astype(np.int64)[:, None] + np.arange(10)]
    digits = matrix[:, _DIGIT_POS].astype(np.int16) - 48
    ok_shape = ((digits >= 0) & (digits <= 9)).all(axis=1) & (matrix[:, 4] == 45) & (
        matrix[:, 7] == 45
    )
    year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
    month = digits[:, 4] * 10 + digits[:, 5]
    day = digits[:, 6] * 10 + digits[:, 7]
    month_ok = (month >= 1) & (month <= 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last_day = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    shaped[rows] = ok_shape
    real[rows] = ok_shape & (year >= 1) & month_ok & (day >= 1) & (day <= last_day)
    return shaped, real


def _pattern_ok(rule: FieldRule, series: pd.Series) -> pd.Series:
    is_str, text = _strings(series)
    if rule.pattern in _DATE_PATTERNS:  # shape from bytes; regex only for the odd rest
        shaped, _ = _date_parts(text)
        ok = ~is_str.to_numpy(dtype=bool) | shaped
        rest = np.flatnonzero(~ok)
        if len(rest):
            ok[rest] = _regex_ok(rule.pattern, text.iloc[rest])
        return pd.Series(ok, index=series.index)
    return pd.Series(~is_str.to_numpy(dtype=bool) | _regex_ok(rule.pattern, text),
                     index=series.index)


def _regex_ok(pattern: str, text: pd.Series) -> np.ndarray:
    """re.search semantics, as JSON Schema's ``pattern`` (Python's re, not Arrow's RE2)."""
    compiled = re.compile(pattern)
    values = text.astype(object).to_numpy()
    return np.array([isinstance(v, str) and compiled.search(v) is not None for v in values],
                    dtype=bool)


def _date_ok(rule: FieldRule, series: pd.Series) -> pd.Series:
    """RFC 3339 full-date (what jsonschema's "date" format checks): a real calendar date."""
    is_str, text = _strings(series)
    _, real = _date_parts(text)
    ok = ~is_str.to_numpy(dtype=bool) | real
    if rule.pattern and not ok.all():
        # a value already failing the pattern is reported once, under "pattern"
        suspects = np.flatnonzero(~ok)
        ok[suspects] = ~_pattern_ok(rule, series.iloc[suspects]).to_numpy(dtype=bool)
    return pd.Series(ok, index=series.index)


def _length_ok(rule: FieldRule, series: pd.Series) -> pd.Series:
    is_str, text = _strings(series)
    # JSON Schema counts code points; pandas str.len does too.
    length = text.str.len()
    ok = pd.Series(True, index=series.index)
    if rule.min_length is not None:
        ok &= (length >= rule.min_length).fillna(True).astype(bool)
    if rule.max_length is not None:
        ok &= (length <= rule.max_length).fillna(True).astype(bool)
    return ~is_str | ok


def _required_ok(series: pd.Series) -> pd.Series:
    return ~series.isna()


def _fallback_ok(root_schema: dict, prop: dict, series: pd.Series) -> pd.Series:
    validator_cls = validator_for(root_schema)
    validator = validator_cls(root_schema, format_checker=validator_cls.FORMAT_CHECKER)
    sub = validator.evolve(schema=prop)
    return series.map(lambda v: sub.is_valid(None if _is_null(v) else _plain(v))).astype(bool)


def _is_null(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


# ----- schema building -----------------------------------------------------------------------

def _checks(rule: FieldRule, root_schema: dict) -> list[pa.Check]:
    def check(name: str, fn, error: str) -> pa.Check:
        return pa.Check(fn, name=name, ignore_na=False, element_wise=False, description=error)

    checks = []
    critical = rule.required and "null" not in rule.types
    if critical:  # a null critical value is reported once, as "required"
        checks.append(check("required", _required_ok, f"{rule.name} is critical: not null"))
    if rule.types:
        checks.append(
            check(
                "type",
                lambda s, r=rule, c=critical: _type_ok(r, s) | (c & s.isna()),
                f"type {sorted(rule.types)}",
            )
        )
    if rule.enum is not None:
        checks.append(
            check(
                "enum",
                lambda s, r=rule, c=critical: _enum_ok(r, s) | (c & s.isna()),
                "one of the OCA values",
            )
        )
    if rule.pattern:
        checks.append(
            check("pattern", lambda s, r=rule: _pattern_ok(r, s), f"matches {rule.pattern}")
        )
    if rule.format == "date":
        checks.append(check("format", lambda s, r=rule: _date_ok(r, s), "a real date"))
    if rule.min_length is not None or rule.max_length is not None:
        checks.append(check("minLength", lambda s, r=rule: _length_ok(r, s), "length"))
    if rule.fallback is not None:
        checks.append(
            check(
                "schema",
                lambda s, p=rule.fallback: _fallback_ok(root_schema, p, s),
                "jsonschema property check",
            )
        )
    return checks


@lru_cache(maxsize=32)
def _schema_for(entity_type: str, path_text: str, mtime_ns: int) -> pa.DataFrameSchema:
    root = load_contract(entity_type, Path(path_text).parent)
    columns = {
        rule.name: pa.Column(
            dtype=None,
            nullable=True,
            required=rule.required,
            checks=_checks(rule, root),
            name=rule.name,
        )
        for rule in field_rules(root)
    }
    return pa.DataFrameSchema(
        columns,
        strict=root.get("additionalProperties") is False,
        name=entity_type,
        ordered=False,
    )


def pandera_schema(entity_type: str, contracts_dir: Path | None = None) -> pa.DataFrameSchema:
    """The pandera schema of one entity type, derived from its contract (cached per version)."""
    path = contract_path(entity_type, contracts_dir)
    return _schema_for(entity_type, str(path), path.stat().st_mtime_ns)


# ----- validation ----------------------------------------------------------------------------

def validate_frame(
    entity_type: str, frame: pd.DataFrame, contracts_dir: Path | None = None
) -> ValidationResult:
    """Validate every row (lazy): rows that pass, and a held-back table naming each broken rule.

    ``held_back`` has HELD_BACK_COLUMNS plus ``_row`` (the frame's positional row number).
    """
    schema = pandera_schema(entity_type, contracts_dir)
    work = frame.reset_index(drop=True)
    try:
        schema.validate(work, lazy=True)
    except SchemaErrors as errors:
        held = _held_back_table(entity_type, work, errors.failure_cases, contracts_dir)
    else:
        held = empty_held_back()
    finally:
        _LAST_DATE_PARTS.clear()
    bad_rows = held["_row"].unique() if len(held) else np.array([], dtype=int)
    keep = np.ones(len(work), dtype=bool)
    keep[bad_rows.astype(int)] = False
    return ValidationResult(frame=frame, passed_mask=keep, held_back=held, rows_checked=len(frame))


def empty_held_back() -> pd.DataFrame:
    """An empty held-back table with the right columns."""
    return pd.DataFrame({**{c: pd.Series(dtype=object) for c in HELD_BACK_COLUMNS},
                         "_row": pd.Series(dtype="int64")})


def _held_back_table(
    entity_type: str, work: pd.DataFrame, cases: pd.DataFrame, contracts_dir: Path | None
) -> pd.DataFrame:
    fields = list(load_contract(entity_type, contracts_dir)["properties"])
    recordids = work["recordid"] if "recordid" in work.columns else pd.Series(
        None, index=work.index, dtype=object
    )
    parts = []
    row_level = cases[cases["index"].notna()]
    if len(row_level):
        rows = row_level["index"].astype("int64").to_numpy()
        rules = row_level["check"].astype(str).to_numpy()
        columns = row_level["column"].astype(str).to_numpy()
        values = [work.at[r, c] for r, c in zip(rows, columns, strict=True)]
        parts.append(
            pd.DataFrame(
                {
                    "entity_type": entity_type,
                    "recordid": recordids.to_numpy()[rows],
                    "field": columns,
                    "value": [_json_value(v) for v in values],
                    "rule": [_rule_name(r) for r in rules],
                    "message": [
                        _message(c, _rule_name(r), v, entity_type, fields)
                        for c, r, v in zip(columns, rules, values, strict=True)
                    ],
                    "_row": rows,
                }
            )
        )
    # Column-level failures (an extra column, a missing required column) break every row.
    for case in cases[cases["index"].isna()].itertuples(index=False):
        check = str(case.check)
        if check == "column_in_schema":
            field, rule = str(case.failure_case), "additionalProperties"
        elif check == "column_in_dataframe":
            field, rule = str(case.failure_case), "required"
        else:
            field, rule = str(case.column), _rule_name(check)
        message = _message(field, rule, None, entity_type, fields)
        parts.append(
            pd.DataFrame(
                {
                    "entity_type": entity_type,
                    "recordid": recordids.to_numpy(),
                    "field": field,
                    "value": None,
                    "rule": rule,
                    "message": message,
                    "_row": np.arange(len(work), dtype="int64"),
                }
            )
        )
    if not parts:
        return empty_held_back()
    held = pd.concat(parts, ignore_index=True)
    held["recordid"] = held["recordid"].map(lambda v: None if _is_null(v) else str(v))
    return held.drop_duplicates(["_row", "field", "rule"]).reset_index(drop=True)


def _rule_name(check: str) -> str:
    return {"not_nullable": "required", "column_in_schema": "additionalProperties",
            "column_in_dataframe": "required"}.get(check, check)


def _json_value(value: object) -> str | None:
    """The value as it would be sent (JSON), so "42" (a string) and 42 read differently."""
    if _is_null(value):
        return None
    try:
        return json.dumps(_plain(value), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _message(field: str, rule: str, value: object, entity_type: str, fields: list[str]) -> str:
    """A sentence a person can act on, with a hint when the fix is obvious."""
    shown = _json_value(value)
    if rule == "required":
        return f"{field} is a critical field: it must be present and not null"
    if rule == "additionalProperties":
        hint = difflib.get_close_matches(field, fields, n=1, cutoff=0.6)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"{field} is not a field of the {entity_type} contract{extra}"
    if rule == "type":
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                pass
            else:
                return f"{field} is the quoted string {shown}: send a JSON number, not a string"
        return f"{field} value {shown} has the wrong JSON type for the contract"
    if rule == "enum":
        return _enum_message(field, value, shown)
    if rule == "pattern":
        return f"{field} value {shown} is not an ISO date YYYY-MM-DD"
    if rule == "format":
        return f"{field} value {shown} is not a real calendar date"
    if rule == "minLength":
        return f"{field} value {shown} is too short or too long"
    return f"{field} value {shown} breaks the contract rule {rule!r}"


def _enum_message(field: str, value: object, shown: str | None) -> str:
    from court_pipeline.reference import oca_enums, texas_counties

    choices = list(texas_counties()) if field == "county" else oca_enums().get(field, [])
    hint = ""
    if isinstance(value, str) and choices:
        stripped = value.removesuffix(" County")
        prefixed = [c for c in choices if c.split(" - ", 1)[-1].lower() == value.lower()]
        if field == "county" and stripped in choices:
            hint = f" (write {stripped!r})"
        elif prefixed:
            hint = f" (did you mean {prefixed[0]!r}?)"
        else:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{field} value {shown} is not one of the allowed OCA values{hint}"

"""Upload templates: how to read one agency's ECR file.

Every agency orders its own ECR layout from Tyler, so the template says which column holds
which canonical field, how dates and times are written, which status words mean what, and
whether the file is a full snapshot or a delta. Templates are YAML, validated with pydantic;
errors name the file and the field (unknown keys are errors, not silently ignored).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from court_pipeline.config_files import read_yaml_mapping, validate_model

CANONICAL_FIELDS: tuple[str, ...] = (
    "party_id", "first_name", "middle_name", "last_name", "full_name", "party_role",
    "preferred_language", "phone", "phone_label", "email", "date_of_birth", "event_date",
    "event_time", "event_datetime", "event_status", "location", "courtroom", "judge",
    "case_number", "case_id", "hearing_type", "case_type", "case_status", "attorney_name",
    "attorney_bar_number", "payment_status", "case_fines", "bond_agent", "event_id",
)

# Human format tokens -> strptime. Longest tokens first so "YYYY" is not read as "YY" twice.
_TOKENS = [
    ("YYYY", "%Y"), ("YY", "%y"), ("MM", "%m"), ("DD", "%d"), ("HH", "%H"), ("hh", "%I"),
    ("mm", "%M"), ("ss", "%S"), ("AM", "%p"), ("PM", "%p"), ("M", "%m"), ("D", "%d"),
    ("H", "%H"), ("h", "%I"),
]
_TOKEN_RE = re.compile("|".join(re.escape(t) for t, _ in _TOKENS))

DEFAULT_STATUS_MAP = {
    "scheduled": "Scheduled", "sched": "Scheduled", "set": "Scheduled", "active": "Scheduled",
    "pending": "Scheduled", "cancelled": "Cancelled", "canceled": "Cancelled",
    "canc": "Cancelled", "vacated": "Cancelled", "held": "Held", "heard": "Held",
    "continued": "Continued", "cont": "Continued", "reset": "Reset", "rescheduled": "Reset",
    "removed": "Removed",
}
DEFAULT_LANGUAGE_MAP = {
    "english": "en", "eng": "en", "spanish": "es", "español": "es", "espanol": "es",
    "spa": "es", "vietnamese": "vi", "tiếng việt": "vi", "vie": "vi", "chinese": "zh",
    "mandarin": "zh", "cantonese": "zh", "korean": "ko", "arabic": "ar", "french": "fr",
    "german": "de", "tagalog": "tl", "filipino": "tl", "hindi": "hi", "urdu": "ur",
    "russian": "ru", "portuguese": "pt", "farsi": "fa", "persian": "fa", "amharic": "am",
    "swahili": "sw", "japanese": "ja", "italian": "it", "polish": "pl", "gujarati": "gu",
    "punjabi": "pa", "bengali": "bn", "nepali": "ne", "burmese": "my", "somali": "so",
    "haitian creole": "ht", "creole": "ht", "pashto": "ps", "dari": "fa", "turkish": "tr",
    "thai": "th", "laotian": "lo", "lao": "lo", "khmer": "km", "cambodian": "km",
}


# every template must map one of each: a row without them cannot become a hearing
REQUIRED_MAPPINGS: dict[str, tuple[str, ...]] = {
    "the hearing date": ("event_date", "event_datetime"),
    "the case": ("case_number", "case_id"),
    "the party": ("party_id", "full_name", "last_name"),
}
_SAMPLE = datetime(2026, 11, 5, 14, 7, 9)


def check_formats(key: str, formats: list[str], kind: Literal["date", "time", "datetime"]
                  ) -> None:
    """Each format must be one DuckDB's strptime accepts and read back what it writes.

    Checked when the template loads, so a bad pattern is a template error naming the key,
    not a raw DuckDB error in the middle of a run (or 300 rejected rows)."""
    con = duckdb.connect()
    try:
        for shown in formats:
            fmt = to_strptime(shown)
            try:
                text = con.execute("SELECT strftime(?::TIMESTAMP, ?)", [_SAMPLE, fmt]
                                   ).fetchall()[0][0]
                back = con.execute("SELECT strptime(?, ?)", [text, fmt]).fetchall()[0][0]
            except duckdb.Error as exc:
                raise ValueError(f"{key}: {shown!r} is not a usable date/time format "
                                 f"({str(exc).splitlines()[0]})") from None
            same_day = back.date() == _SAMPLE.date()
            same_time = (back.hour, back.minute) == (_SAMPLE.hour, _SAMPLE.minute)
            if (kind != "time" and not same_day) or (kind != "date" and not same_time):
                need = {"date": "a year, month and day", "time": "hours and minutes",
                        "datetime": "a year, month, day, hours and minutes"}[kind]
                raise ValueError(f"{key}: {shown!r} cannot read back what it writes "
                                 f"({_SAMPLE:%Y-%m-%d %H:%M} -> {text!r} -> {back}); a {kind} "
                                 f"format needs {need}")
    finally:
        con.close()


def language_code(value: str) -> str | None:
    """A language name or code as its ISO 639-1 code ('Spanish', 'SPA', 'es' -> 'es')."""
    text = value.strip().lower()
    if re.fullmatch(r"[a-z]{2}", text):
        return text
    return DEFAULT_LANGUAGE_MAP.get(text)


class TemplateError(ValueError):
    """The template file is missing, not YAML, or breaks a rule; the message says where."""


def to_strptime(fmt: str) -> str:
    """'MM/DD/YYYY' -> '%m/%d/%Y'; strings that already hold '%' are strptime formats."""
    if "%" in fmt:
        return fmt
    return _TOKEN_RE.sub(lambda m: dict(_TOKENS)[m.group(0)], fmt)


class ExcludeRule(BaseModel):
    """Skip rows whose (mapped) field value is in ``in`` / not in ``not_in`` / matches ``matches``.

    Comparison is case-insensitive and happens after value maps (so ``in: [Held]`` also
    skips rows whose raw status word mapped to Held). Skipped rows are recorded in the rejects
    table with kind 'excluded', so rows in = loaded + rejected still holds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None
    matches: str | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> ExcludeRule:
        given = [x for x in (self.in_, self.not_in, self.matches) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'in', 'not_in', 'matches'")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"'matches' is not a valid regular expression: {exc}") from exc
        return self

    @field_validator("field")
    @classmethod
    def _canonical(cls, value: str) -> str:
        if value not in CANONICAL_FIELDS:
            raise ValueError(f"{value!r} is not a canonical field")
        return value

    def describe(self) -> str:
        if self.in_ is not None:
            return f"{self.field} is one of {', '.join(self.in_)}"
        if self.not_in is not None:
            return f"{self.field} is not one of {', '.join(self.not_in)}"
        return f"{self.field} matches {self.matches}"


class UploadTemplate(BaseModel):
    """How to read one agency's ECR file (docs/reference/upload-templates.md lists every key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "unnamed"
    format: Literal["delimited", "xlsx"] = "delimited"
    delimiter: str = "|"
    quote: str = '"'
    escape: str | None = None
    encoding: Literal["utf-8", "utf-8-sig", "cp1252"] | None = None
    has_header: bool = True
    case_insensitive: bool = False
    skip_rows: int = Field(default=0, ge=0)
    footer_rows: int = Field(default=0, ge=0)
    footer_pattern: str | None = None
    allow_short_rows: bool = False
    # True: every line may end with one extra delimiter (an empty last field, dropped).
    # False or unset: a line with more fields than the header is a ragged row, rejected.
    trailing_delimiter: bool | None = None
    sheet: str | None = None
    columns: dict[str, str | int]
    date_formats: list[str] = Field(default_factory=lambda: ["MM/DD/YYYY", "YYYY-MM-DD"])
    time_formats: list[str] = Field(default_factory=lambda: ["h:mm AM", "HH:mm", "HHmm"])
    datetime_formats: list[str] | None = None
    name_format: Literal["last_first_middle"] = "last_first_middle"
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    use_default_value_maps: bool = True
    exclude: list[ExcludeRule] = Field(default_factory=list)
    mode: Literal["delta", "snapshot"] = "delta"
    snapshot_window: Literal["file_dates", "from_earliest"] = "file_dates"
    phone_region: str = "US"
    # share of a file's rows (not counting excluded ones) that may be rejected before the
    # ecr_reject_rate check fails: above it the template, not the data, is likely wrong
    max_reject_rate: float = Field(default=0.5, ge=0, le=1)
    max_xlsx_uncompressed_mb: int = Field(default=200, ge=1)
    max_xlsx_ratio: int = Field(default=100, ge=2)

    @field_validator("delimiter", "quote")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if value == "\\t":
            value = "\t"
        if len(value) != 1:
            raise ValueError("must be exactly one character")
        return value

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str | int]) -> dict[str, str | int]:
        if not value:
            raise ValueError("map at least one canonical field to a column")
        for key, source in value.items():
            if key not in CANONICAL_FIELDS:
                raise ValueError(
                    f"{key!r} is not a canonical field (known: {', '.join(CANONICAL_FIELDS)})"
                )
            if isinstance(source, int) and source < 1:
                raise ValueError(f"{key}: column positions start at 1")
        return value

    @field_validator("value_maps")
    @classmethod
    def _map_fields(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for key in value:
            if key not in CANONICAL_FIELDS:
                raise ValueError(f"value map for {key!r}: not a canonical field")
        return value

    @field_validator("value_maps")
    @classmethod
    def _languages_known(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = [v for v in value.get("preferred_language", {}).values()
                   if language_code(v) is None]
        if unknown:
            raise ValueError(
                "preferred_language: " + ", ".join(repr(v) for v in unknown)
                + " is no language name or ISO 639-1 code (write a code like 'es')")
        return value

    @field_validator("footer_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> UploadTemplate:
        names = [v for v in self.columns.values() if isinstance(v, str)]
        if names and not self.has_header:
            raise ValueError("columns map header names but has_header is false: use positions")
        has_dt = "event_datetime" in self.columns
        if has_dt and ("event_date" in self.columns or "event_time" in self.columns):
            raise ValueError("map either event_datetime or event_date/event_time, not both")
        if "event_date" in self.columns and "event_time" not in self.columns:
            raise ValueError("event_date is mapped but event_time is not")
        if "full_name" in self.columns and (
            "last_name" in self.columns or "first_name" in self.columns
        ):
            raise ValueError("map either full_name or first_name/last_name, not both")
        if self.mode == "snapshot" and not (has_dt or "event_date" in self.columns):
            raise ValueError("snapshot mode needs the event date mapped")
        for rule in self.exclude:
            if rule.field not in self.columns:
                raise ValueError(f"exclude rule on {rule.field!r}, which is not mapped")
        for needed, alternatives in REQUIRED_MAPPINGS.items():
            if not any(a in self.columns for a in alternatives):
                raise ValueError(f"columns: nothing is mapped to {needed} (map one of: "
                                 f"{', '.join(alternatives)}); without it no row can load")
        check_formats("date_formats", self.date_formats, "date")
        check_formats("time_formats", self.time_formats, "time")
        if self.datetime_formats:
            check_formats("datetime_formats", self.datetime_formats, "datetime")
        return self

    # -- derived settings -------------------------------------------------------------------
    @property
    def date_strptime(self) -> list[str]:
        return [to_strptime(f) for f in self.date_formats]

    @property
    def time_strptime(self) -> list[str]:
        return [to_strptime(f) for f in self.time_formats]

    @property
    def datetime_strptime(self) -> list[str]:
        if self.datetime_formats:
            return [to_strptime(f) for f in self.datetime_formats]
        return [f"{d} {t}" for d in self.date_strptime for t in self.time_strptime]

    @property
    def datetime_formats_shown(self) -> list[str]:
        if self.datetime_formats:
            return list(self.datetime_formats)
        return [f"{d} {t}" for d in self.date_formats for t in self.time_formats]

    def value_map(self, field: str) -> dict[str, str]:
        """Lower-cased raw word -> canonical value for ``field`` (defaults + template)."""
        base: dict[str, str] = {}
        if self.use_default_value_maps and field == "event_status":
            base = dict(DEFAULT_STATUS_MAP)
        elif self.use_default_value_maps and field == "preferred_language":
            base = dict(DEFAULT_LANGUAGE_MAP)
        own = self.value_maps.get(field, {})
        if field == "preferred_language":  # 'SPA: Spanish' means 'es', like a cell 'Spanish'
            own = {k: language_code(v) or v for k, v in own.items()}
        base.update({k.strip().lower(): v for k, v in own.items()})
        return base


def load_template(path: str | Path) -> UploadTemplate:
    """Read and validate an upload template; errors name the file and the field."""
    file = Path(path)
    raw = read_yaml_mapping(
        file, what="upload template", expected="a 'columns' section", error=TemplateError
    )
    raw.setdefault("name", file.stem)
    return validate_model(
        UploadTemplate, raw, file=file, what="upload template", error=TemplateError
    )

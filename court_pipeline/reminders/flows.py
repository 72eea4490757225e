"""Reminder flows: which hearings get which messages, when, by which channel.

One YAML file per agency (named by ``Agency.reminders`` in the registry). Every model forbids
unknown keys so a typo is an error naming the file and the field, never a silently ignored
setting. Times of day are the court's local wall-clock time.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from court_pipeline import settings
from court_pipeline.config_files import Entries, read_yaml_mapping, validate_model

BUNDLED_REMINDERS_DIR = settings.BUNDLED_CONFIG_DIR / "reminders"
BUNDLED_TEMPLATES_DIR = BUNDLED_REMINDERS_DIR / "templates"
BUNDLED_FLOWS = BUNDLED_REMINDERS_DIR / "demo.yaml"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LANG = re.compile(r"^[a-z]{2,3}$")
_TEMPLATE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
DEFAULT_STATUSES = ("Scheduled",)
# Work phones are left out by default (a shared office line must not learn of a criminal
# case); fax and pager numbers can never be listed.
DEFAULT_SMS_PHONE_TYPES = ("mobile", "unknown", "home")
NEVER_SMS = ("fax", "pager")
# Statuses that mean "not at this date any more" (or over): never reminded, whatever a flow says.
NOT_REMINDED = frozenset(
    {"reset", "continued", "cancelled", "canceled", "held", "disposed", "removed", "vacated"}
)
CANCELLED_STATUSES = frozenset({"cancelled", "canceled"})
HELD_STATUSES = frozenset({"held", "disposed"})
REMOVED_STATUSES = frozenset({"removed"})


class FlowsError(ValueError):
    """The flows file is missing, unreadable or breaks a rule; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(value: object) -> time:
    """Accept '08:00' / '8:00' / '21:30' as a wall-clock time."""
    if isinstance(value, time):
        return value
    text = str(value).strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{value!r} is not a time of day like '08:00' or '21:30'")
    return time(int(match[1]), int(match[2]))


class QuietHours(_Strict):
    """No message goes out from ``start`` to ``end`` (court local time; may cross midnight)."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    _parse = field_validator("start", "end", mode="before")(_clock)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal; remove quiet_hours to allow any time")
        return self

    def contains(self, clock: time) -> bool:
        """True when a local wall-clock time falls inside the quiet window."""
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end


class Offset(_Strict):
    """When a reminder goes out, counted back from the hearing in local (calendar) time.

    ``days: 7`` = same local clock time a week earlier (DST-safe: 9:00 stays 9:00);
    ``at: '08:00'`` pins the clock time on that day ("morning of" = ``days: 0, at: '08:00'``);
    ``hours`` subtracts real elapsed hours after the day shift.
    """

    days: int = Field(default=0, ge=0, le=60)
    hours: int = Field(default=0, ge=0, le=72)
    at: time | None = None
    name: str | None = None

    _parse = field_validator("at", mode="before")(
        lambda value: None if value is None else _clock(value)
    )

    @model_validator(mode="after")
    def _meaningful(self) -> Offset:
        if self.days == 0 and self.hours == 0 and self.at is None:
            raise ValueError("an offset needs days, hours or at (a reminder at the hearing time)")
        if self.name is not None and not _NAME.match(self.name):
            raise ValueError("name must be 1-40 chars of a-z, 0-9, _ starting with a letter")
        return self

    @property
    def key(self) -> str:
        """Stable id used in dedupe keys ('7d', '0d@0800', '2h')."""
        if self.name:
            return self.name
        parts = []
        if self.days or self.at is not None:
            parts.append(f"{self.days}d")
        if self.at is not None:
            parts.append(f"@{self.at.strftime('%H%M')}")
        if self.hours:
            parts.append(f"{self.hours}h")
        return "".join(parts)


class LanguageFormat(_Strict):
    """How dates read in one language (Babel/CLDR patterns) and the locale to use."""

    locale: str
    date_format: str = Field(description='Babel date pattern, e.g. "EEEE, MMMM d"')
    time_format: str = "h:mm a"
    when: str = Field(default="{date} at {time}", description="joins date and time")
    when_one_oclock: str | None = Field(
        default=None, description="variant for 1:xx (Spanish 'a la 1:00'); default = when"
    )

    @field_validator("when", "when_one_oclock")
    @classmethod
    def _placeholders(cls, value: str | None) -> str | None:
        if value is not None and ("{date}" not in value or "{time}" not in value):
            raise ValueError("must contain {date} and {time}")
        return value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(f"unknown locale {value!r}") from exc
        return value


DEFAULT_LANGUAGES = {
    "en": LanguageFormat(locale="en_US", date_format="EEEE, MMMM d", when="{date} at {time}"),
    "es": LanguageFormat(
        locale="es",
        date_format="EEEE d 'de' MMMM",
        when="{date} a las {time}",
        when_one_oclock="{date} a la {time}",
    ),
}


class Flow(_Strict):
    """One reminder flow: a set of hearings, its timing, channels and templates."""

    name: str
    roles: list[str] = Field(default_factory=lambda: ["Defendant"], min_length=1)
    hearing_types: list[str] = Field(default_factory=list, description="empty = every type")
    statuses: list[str] = Field(default_factory=lambda: list(DEFAULT_STATUSES), min_length=1)
    offsets: list[Offset] = Field(min_length=1)
    channels: list[Literal["sms", "email"]] = Field(
        default_factory=lambda: ["sms", "email"], min_length=1
    )
    template: str = "reminder"
    changed_template: str = "date_changed"
    cancelled_template: str = "cancelled"
    notify_changes: bool = True
    notify_cancelled: bool = True
    notify_removed: bool = False
    languages: list[str] = Field(default_factory=lambda: ["en", "es"], min_length=1)
    quiet_hours: QuietHours | None = None
    max_sms_segments: int = Field(default=2, ge=1, le=10)
    sms_smart_encoding: bool = True

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be 1-40 chars of a-z, 0-9, _ starting with a letter")
        return value

    @field_validator("template", "changed_template", "cancelled_template")
    @classmethod
    def _template_shape(cls, value: str) -> str:
        if not _TEMPLATE.match(value):
            raise ValueError("a template name is a-z, 0-9, _ (the file is <lang>/<name>.j2)")
        return value

    @field_validator("statuses")
    @classmethod
    def _only_live_statuses(cls, value: list[str]) -> list[str]:
        dead = [s for s in value if s.strip().casefold() in NOT_REMINDED]
        if dead:
            raise ValueError(
                f"{', '.join(dead)} cannot be reminded: in Odyssey a Reset or Continued hearing "
                "stays at its old date and the new date is a new Scheduled hearing"
            )
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not _LANG.match(code):
                raise ValueError(f"{code!r} is not an ISO 639 language code like 'en' or 'es'")
        return value

    @model_validator(mode="after")
    def _unique_offsets(self) -> Flow:
        keys = [offset.key for offset in self.offsets]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"offsets repeat: {', '.join(duplicates)}")
        return self

    def matches_role(self, role: str | None) -> bool:
        wanted = {r.casefold() for r in self.roles}
        return "*" in wanted or (role is not None and role.casefold() in wanted)

    def matches_type(self, hearing_type: str | None, type_code: str | None) -> bool:
        if not self.hearing_types:
            return True
        wanted = {t.casefold() for t in self.hearing_types}
        return any(v is not None and v.casefold() in wanted for v in (hearing_type, type_code))

    def wants_status(self, status: str | None) -> bool:
        return (status or "Scheduled").casefold() in {s.casefold() for s in self.statuses}

    def status_state(self, status: str | None) -> tuple[str, str | None]:
        """('active'|'removed'|'cancelled'|'held'|'inactive', reason for pending messages) of
        a hearing status. Not Scheduled (Reset, Continued, ...) is never active at its date."""
        folded = (status or "").strip().casefold()
        if folded in REMOVED_STATUSES:
            return "removed", "removed"
        if folded in CANCELLED_STATUSES:
            return "cancelled", "cancelled"
        if folded in HELD_STATUSES:
            return "held", "held"
        if folded not in NOT_REMINDED and self.wants_status(status):
            return "active", None
        return "inactive", f"status {status}"


class RemindersConfig(_Strict):
    """The whole flows file of one agency."""

    flows: list[Flow] = Field(min_length=1)
    default_language: str = "en"
    horizon_days: int = Field(default=30, ge=1, le=365)
    quiet_hours: QuietHours | None = Field(default_factory=QuietHours)
    sms_phone_types: list[Literal["mobile", "unknown", "home", "work", "landline"]] = Field(
        default_factory=lambda: list(DEFAULT_SMS_PHONE_TYPES),
        min_length=1,
        description="contacts.phone_type values that may get SMS, in order of preference",
    )
    templates_dir: str | None = Field(
        default=None, description="agency templates, relative to this file; bundled ones fill gaps"
    )
    replies_dir: str | None = Field(
        default=None, description="folder of STOP-reply CSV files, relative to this file"
    )
    languages: dict[str, LanguageFormat] = Field(default_factory=dict)
    # Filled by load_flows: where the file lives, for relative paths.
    source_file: Path | None = Field(default=None, exclude=True)

    @field_validator("sms_phone_types", mode="before")
    @classmethod
    def _no_fax_or_pager(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            bad = [v for v in value if str(v).strip().casefold() in NEVER_SMS]
            if bad:
                raise ValueError(f"{', '.join(map(str, bad))} numbers can never receive SMS")
            if len({str(v) for v in value}) != len(value):
                raise ValueError("phone types repeat")
        return value

    @model_validator(mode="after")
    def _checks(self) -> RemindersConfig:
        names = [flow.name for flow in self.flows]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"flow names repeat: {', '.join(duplicates)}")
        if self.default_language not in self.language_formats:
            raise ValueError(
                f"default_language {self.default_language!r} has no entry under languages"
            )
        return self

    @property
    def language_formats(self) -> dict[str, LanguageFormat]:
        """Built-in English/Spanish formats, overridden or extended by the file."""
        return {**DEFAULT_LANGUAGES, **self.languages}

    def quiet_hours_for(self, flow: Flow) -> QuietHours | None:
        return flow.quiet_hours if flow.quiet_hours is not None else self.quiet_hours

    def _relative(self, value: str | None) -> Path | None:
        if value is None:
            return None
        base = self.source_file.parent if self.source_file else Path.cwd()
        path = Path(value)
        return path if path.is_absolute() else (base / path).resolve()

    @property
    def templates_path(self) -> Path | None:
        """The agency's own templates folder, or None (bundled templates only)."""
        return self._relative(self.templates_dir)

    @property
    def replies_path(self) -> Path | None:
        return self._relative(self.replies_dir)


def load_flows(path: str | Path, *, check_templates: bool = True) -> RemindersConfig:
    """Read and validate one agency's flows file (templates are checked to exist and render)."""
    file = Path(path)
    raw = read_yaml_mapping(
        file, what="reminder flows", expected="a 'flows' list", error=FlowsError
    )
    config = validate_model(
        RemindersConfig,
        {**raw, "source_file": file.resolve()},
        raw=raw,
        file=file,
        what="reminder flows",
        error=FlowsError,
        entries=Entries("flows", "flow", "name"),
    )
    if check_templates:
        from court_pipeline.reminders.templates import TemplateError, TemplateSet

        try:
            TemplateSet(config).validate()
        except TemplateError as exc:
            raise FlowsError(f"{file}: {exc}") from None
    return config

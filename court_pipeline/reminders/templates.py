"""Message templates: sandboxed Jinja2, one file per template name and language.

County staff edit templates, so they run in a bounded Jinja2 sandbox (no attribute access
to Python internals, and caps on time, size and loops: see ``bounded``) with StrictUndefined
(a misspelt field is an error at load time, not an empty gap in a message sent to
thousands). Files live at ``<lang>/<name>.j2`` in the agency's ``templates_dir`` first, then
in the bundled templates; a language without the file falls back to the default language.
Dates are written the local way with Babel (CLDR data), e.g. "Thursday, December 3 at 9:00
AM" / "jueves 3 de diciembre a las 9:00 a. m.".
"""

from __future__ import annotations

import collections
import functools
import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_time
from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateNotFound, meta, nodes
from jinja2 import TemplateError as JinjaTemplateError

from court_pipeline.reminders.bounded import BoundedSandbox, RenderLimit, bounded_render
from court_pipeline.reminders.flows import (
    BUNDLED_TEMPLATES_DIR,
    Flow,
    LanguageFormat,
    RemindersConfig,
)
from court_pipeline.reminders.sms import smart_encode, sms_length

KINDS = ("reminder", "changed", "cancelled")
RENDER_CACHE_SIZE = 4096  # renders kept per TemplateSet (a party's offsets share one)
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:!?])(?=\s|$)")
_DOUBLE_PERIOD = re.compile(r"(?<!\.)\.\.(?!\.)")  # 'a. m.' + '.' -> 'a. m.'; '...' stays
# CLDR puts narrow/no-break spaces in times ('9:00\u202fAM'): they are not GSM-7 and would
# silently triple the SMS cost, so every space becomes a plain one.
_ODD_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2009": " "})

TEMPLATE_FIELDS = (
    "agency_name",
    "name",
    "hearing_type",
    "date",
    "time",
    "when",
    "location",
    "courtroom",
    "judge",
    "case_number",
    "payment_status",
    "amount_due",
    "kind",
    "offset",
    "days_before",
    "old_date",
    "old_time",
    "old_when",
    "channel",
    "language",
)


class TemplateError(ValueError):
    """A template is missing, does not compile, or uses a field that does not exist."""


def template_error_reason(exc: TemplateError) -> str:
    """The status reason of a message its template failed (fits the column's 500 chars)."""
    return f"template error: {exc}"[:500]


@dataclass(frozen=True)
class Rendered:
    """One rendered message."""

    body: str
    subject: str | None
    language: str
    template: str  # the file used, e.g. 'es/reminder.j2'
    encoding: str | None  # 'GSM-7' / 'UCS-2' for SMS, None for email
    segments: int | None

    def outbox_columns(self) -> dict[str, str | int | None]:
        """The reminder_outbox columns a render fills (planning and delivery write the same)."""
        return asdict(self)


def _one_line(text: str) -> str:
    """Templates are written over several lines for reading; messages are one line."""
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text))
    return _DOUBLE_PERIOD.sub(".", text).strip()


def local_phrases(local: datetime, fmt: LanguageFormat) -> dict[str, str]:
    """Date, time and the joined 'when' phrase for a naive local wall-clock time."""
    return dict(_local_phrases(local, fmt))


@functools.lru_cache(maxsize=4096)
def _local_phrases(local: datetime, fmt: LanguageFormat) -> tuple[tuple[str, str], ...]:
    """Cached: a docket shares a few start times, and CLDR formatting is the slow part."""
    date_text = format_date(local, fmt.date_format, locale=fmt.locale).translate(_ODD_SPACES)
    time_text = format_time(local, fmt.time_format, locale=fmt.locale).translate(_ODD_SPACES)
    pattern = fmt.when
    if fmt.when_one_oclock and local.hour % 12 == 1:
        pattern = fmt.when_one_oclock
    when = pattern.format(date=date_text, time=time_text)
    return (("date", date_text), ("time", time_text), ("when", when))


def display_name(first_name: str | None, business_name: str | None = None) -> str | None:
    """'MARIA' -> 'Maria' (shouting names read as spam); mixed case is kept as written."""
    name = (first_name or "").strip() or (business_name or "").strip()
    if not name:
        return None
    return name.title() if name.isupper() or name.islower() else name


def money(value: object) -> str | None:
    """Amounts as '350.00' (None stays None, so templates can test for it)."""
    if value is None:
        return None
    try:
        return f"{Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return None


SAMPLE_CONTEXT: dict[str, Any] = {
    "agency_name": "Harris County Justice Courts",
    "name": "Maria",
    "hearing_type": "Arraignment",
    "location": "Harris County Criminal Justice Center, 1201 Franklin St",
    "courtroom": "Courtroom 5B",
    "judge": "Hon. B. Chen",
    "case_number": "CR-26-000123",
    "payment_status": "Unpaid",
    "amount_due": "350.00",
    "kind": "reminder",
    "offset": "7d",
    "days_before": 7,
    "channel": "sms",
}
SAMPLE_START = datetime(2026, 12, 3, 9, 0)
SAMPLE_OLD_START = datetime(2026, 11, 24, 13, 30)


class TemplateSet:
    """The templates one agency's flows can use, with language fallback."""

    def __init__(self, config: RemindersConfig) -> None:
        self.config = config
        loaders = []
        if config.templates_path is not None:
            if not config.templates_path.is_dir():
                raise TemplateError(f"templates_dir {config.templates_path} is not a folder")
            loaders.append(FileSystemLoader(str(config.templates_path)))
        loaders.append(FileSystemLoader(str(BUNDLED_TEMPLATES_DIR)))
        self.env = BoundedSandbox(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=False,  # plain-text SMS/email bodies, never HTML
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._cache: dict[str, Any] = {}
        self._fields: dict[str, frozenset[str] | None] = {}
        self._renders: collections.OrderedDict[tuple, Rendered] = collections.OrderedDict()

    @functools.cached_property
    def version(self) -> str:
        """Digest of the flows config and every template file this set can load: a message
        rendered under another version is rendered again (planner input digests)."""
        digest = hashlib.sha256(self.config.model_dump_json().encode("utf-8"))
        for folder in (self.config.templates_path, BUNDLED_TEMPLATES_DIR):
            if folder is None or not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*.j2")):
                digest.update(str(path.relative_to(folder)).encode("utf-8"))
                digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    def _get(self, name: str) -> Any | None:
        if name not in self._cache:
            try:
                self._cache[name] = self.env.get_template(name)
            except TemplateNotFound:
                self._cache[name] = None
            except JinjaTemplateError as exc:
                line = getattr(exc, "lineno", None)
                where = f" line {line}" if line else ""
                raise TemplateError(f"template {name}{where}: {exc}") from None
        return self._cache[name]

    def template_name(self, flow: Flow, kind: str) -> str:
        return {
            "reminder": flow.template,
            "changed": flow.changed_template,
            "cancelled": flow.cancelled_template,
        }[kind]

    def pick(self, flow: Flow, kind: str, language: str | None, channel: str) -> tuple[str, str]:
        """(language used, template file) for a party's language, falling back to default."""
        name = self.template_name(flow, kind)
        default = self.config.default_language
        wanted = (language or default).lower()
        candidates = [wanted] if wanted in flow.languages else []
        candidates.append(default)
        for lang in candidates:
            if lang not in self.config.language_formats:
                continue
            files = ([f"{lang}/{name}.email.j2"] if channel == "email" else []) + [
                f"{lang}/{name}.j2"
            ]
            for file in files:
                if self._get(file) is not None:
                    return lang, file
        raise TemplateError(
            f"flow {flow.name!r}: no template {default}/{name}.j2 in "
            f"{self.config.templates_path or BUNDLED_TEMPLATES_DIR}"
        )

    def fields_used(self, file: str) -> frozenset[str] | None:
        """The fields a template file reads, or None when it may read any (it includes,
        imports or extends another file, whose fields its own source does not show)."""
        if file not in self._fields:
            source = self.env.loader.get_source(self.env, file)[0]
            ast = self.env.parse(source)
            linked = next(
                ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)), None
            )
            self._fields[file] = (
                None if linked is not None else frozenset(meta.find_undeclared_variables(ast))
            )
        return self._fields[file]

    def render(
        self,
        flow: Flow,
        kind: str,
        language: str | None,
        channel: str,
        context: dict[str, Any],
        start_local: datetime,
        old_start_local: datetime | None = None,
    ) -> Rendered:
        """Render a message; SMS bodies get one line, smart encoding and a segment count.

        Messages whose template reads the same values render once: a party's 7d, 3d, 1d and
        morning-of reminders usually differ only in fields the template does not use."""
        lang, file = self.pick(flow, kind, language, channel)
        fmt = self.config.language_formats[lang]
        values = {field: None for field in TEMPLATE_FIELDS}
        values.update(context)
        values.update(local_phrases(start_local, fmt))
        if old_start_local is not None:
            old = local_phrases(old_start_local, fmt)
            values.update(old_date=old["date"], old_time=old["time"], old_when=old["when"])
        values.update(kind=kind, channel=channel, language=lang)
        subject_file = file.replace(".email.j2", ".j2")[:-3] + ".subject.j2"
        key = self._render_key(flow, file, subject_file, channel, values)
        hit = self._renders.get(key) if key is not None else None
        if hit is not None:
            self._renders.move_to_end(key)
            return hit
        rendered = self._render_message(flow, file, subject_file, channel, lang, values)
        if key is not None:
            self._renders[key] = rendered
            if len(self._renders) > RENDER_CACHE_SIZE:
                self._renders.popitem(last=False)
        return rendered

    def _render_key(
        self, flow: Flow, file: str, subject_file: str, channel: str, values: dict[str, Any]
    ) -> tuple | None:
        """What a render depends on: the files, the flow (smart encoding) and the values of
        the fields the files read; None (no sharing) when a file may read any field."""
        used = [self.fields_used(file)]
        if channel == "email" and self._get(subject_file) is not None:
            used.append(self.fields_used(subject_file))
        if any(fields is None for fields in used):
            return None
        names = sorted(set().union(*used))
        try:
            return (flow.name, file, channel, *((n, values.get(n)) for n in names))
        except TypeError:
            return None

    def _render_message(
        self,
        flow: Flow,
        file: str,
        subject_file: str,
        channel: str,
        lang: str,
        values: dict[str, Any],
    ) -> Rendered:
        body = _one_line(self._render(flow, file, values))
        subject = (
            _one_line(self._render(flow, subject_file, values))
            if channel == "email" and self._get(subject_file) is not None
            else None
        )
        if channel == "sms":
            if flow.sms_smart_encoding:
                body = smart_encode(body)
            length = sms_length(body)
            return Rendered(body, None, lang, file, length.encoding, length.segments)
        return Rendered(body, subject, lang, file, None, None)

    def _render(self, flow: Flow, file: str, values: dict[str, Any]) -> str:
        """One bounded render; any failure names the flow, the template and its file."""
        template = self._get(file)
        try:
            return bounded_render(template, values)
        except (JinjaTemplateError, RenderLimit) as exc:
            where = f" ({template.filename})" if getattr(template, "filename", None) else ""
            raise TemplateError(f"flow {flow.name!r}, template {file}{where}: {exc}") from None

    def validate(self) -> list[str]:
        """Render every template with sample data; raise on errors, return length warnings."""
        warnings: list[str] = []
        for flow in self.config.flows:
            kinds = ["reminder"]
            kinds += ["changed"] if flow.notify_changes else []
            kinds += ["cancelled"] if flow.notify_cancelled or flow.notify_removed else []
            for kind in kinds:
                for lang in dict.fromkeys([*flow.languages, self.config.default_language]):
                    used, file = self.pick(flow, kind, lang, "sms")
                    if used != lang:
                        continue  # falls back: checked under the default language
                    for channel in flow.channels:
                        rendered = self.render(
                            flow,
                            kind,
                            lang,
                            channel,
                            dict(SAMPLE_CONTEXT),
                            SAMPLE_START,
                            SAMPLE_OLD_START if kind == "changed" else None,
                        )
                        if channel == "sms" and (rendered.segments or 0) > flow.max_sms_segments:
                            warnings.append(
                                f"flow {flow.name!r} {file}: sample SMS takes "
                                f"{rendered.segments} segments ({rendered.encoding}), "
                                f"max_sms_segments is {flow.max_sms_segments}"
                            )
        return warnings

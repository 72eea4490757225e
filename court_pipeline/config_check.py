"""Check every configuration file before anything runs: registry, upload templates, reminder
flows with their Jinja templates, and OCA code maps.

Run-time errors are too late: by then a file is archived or data merged. The code location
calls :func:`check_configuration` when it loads (so ``dagster definitions validate`` fails) and
``court-pipeline check`` prints the same list without starting Dagster. Each problem names the
file, the agency and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from court_pipeline import settings
from court_pipeline.registry import Registry
from court_pipeline.registry.loader import RegistryError, load_registry, registry_relative


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong, and where."""

    file: Path
    agency: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.agency:
            where.append(f"agency {self.agency!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        text = self.message
        if text.startswith(f"{self.file}: "):
            text = text[len(f"{self.file}: "):]
        return f"{self.file}: {prefix + ': ' if prefix else ''}{text}"


def _agency_files(registry: Registry, registry_file: Path) -> list[ConfigProblem]:
    """Load every file an agency names, the way the runs will."""
    from court_pipeline.ecr.template import TemplateError, load_template
    from court_pipeline.oca.codemaps import CodeMapError, load_codemap
    from court_pipeline.reminders.flows import FlowsError, load_flows

    problems: list[ConfigProblem] = []
    for agency in registry.agencies:
        checks: list[tuple[str, str, object, tuple[type[Exception], ...]]] = []
        if agency.ecr is not None:
            checks.append(("ecr.template", agency.ecr.template, load_template, (TemplateError,)))
        if agency.reminders:
            checks.append(("reminders", agency.reminders, load_flows, (FlowsError,)))
        if agency.oca is not None and agency.oca.code_map:
            checks.append(("oca.code_map", agency.oca.code_map, load_codemap, (CodeMapError,)))
        for field, relative, loader, errors in checks:
            path = registry_relative(registry_file, relative)
            try:
                loader(path)  # type: ignore[operator]
            except errors as exc:
                problems.append(ConfigProblem(path, agency.id, field, str(exc)))
    return problems


def check_configuration(registry_file: Path | None = None) -> tuple[Registry | None,
                                                                    list[ConfigProblem]]:
    """The registry (None if it cannot be read) and every problem found, in file order."""
    file = Path(registry_file) if registry_file else settings.registry_path()
    try:
        registry = load_registry(file)
    except RegistryError as exc:
        return None, [ConfigProblem(file, None, None, str(exc))]
    return registry, _agency_files(registry, file)


def format_problems(problems: list[ConfigProblem]) -> str:
    return f"{len(problems)} configuration problem(s):\n" + "\n".join(
        f"- {p}" for p in problems)

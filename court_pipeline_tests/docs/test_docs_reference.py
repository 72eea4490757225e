"""The reference pages name every configuration key and every CLI command and option that
the code defines: a key added to a model or an option added to a parser without its line in
the docs fails here."""

from __future__ import annotations

import argparse
import inspect
import re

import pydantic
import pytest

from court_pipeline.cli import build_parser
from court_pipeline.ecr import template
from court_pipeline.odyssey.client import OdysseyResource
from court_pipeline.publish.resources import CourtAnalyticsTXResource
from court_pipeline.registry import models
from court_pipeline.reminders import flows
from court_pipeline.reminders.delivery import ReminderDelivery
from court_pipeline.warehouse.resource import WarehouseResource
from court_pipeline_tests.docs.snippets import DOCS


def _text(*pages: str) -> str:
    return "\n".join((DOCS / "reference" / page).read_text(encoding="utf-8") for page in pages)


def _models(module) -> list[type[pydantic.BaseModel]]:
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, pydantic.BaseModel)
        and obj.__module__ == module.__name__
    ]


def undocumented_keys(classes: list[type[pydantic.BaseModel]], text: str) -> list[str]:
    """``Class.key`` for every field (by the name users write: its alias) that the text never
    names as a word; fields excluded from the model's dump are internal."""
    missing = []
    for cls in classes:
        for name, field in cls.model_fields.items():
            if field.exclude:
                continue
            key = field.alias or name
            if not re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text):
                missing.append(f"{cls.__name__}.{key}")
    return missing


@pytest.mark.parametrize(
    ("classes", "pages"),
    [
        (_models(models), ("configuration.md", "landing.md", "odyssey.md", "publishing.md")),
        (_models(template), ("upload-templates.md",)),
        (_models(flows), ("reminders.md",)),
        (
            [WarehouseResource, OdysseyResource, CourtAnalyticsTXResource, ReminderDelivery],
            ("configuration.md", "odyssey.md", "publishing.md", "reminders.md", "python-api.md"),
        ),
    ],
    ids=["registry", "upload-template", "reminder-flows", "resources"],
)
def test_every_configuration_key_is_documented(classes, pages):
    assert classes
    assert undocumented_keys(classes, _text(*pages)) == []


def test_a_key_missing_from_the_docs_is_reported():
    class Example(pydantic.BaseModel):
        mode: str = "x"
        brand_new_key: int = 0
        in_: str = pydantic.Field("", alias="in")

    assert undocumented_keys([Example], "`mode` and `{field, in: [...]}`") == [
        "Example.brand_new_key"
    ]


def cli_commands(parser: argparse.ArgumentParser, prefix: str = "court-pipeline"):
    """(command, its long options) for every leaf command of the parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        options = [
            o
            for a in parser._actions
            for o in a.option_strings
            if o.startswith("--") and o != "--help"
        ]
        yield prefix, options
        return
    for name, sub in subs[0].choices.items():
        yield from cli_commands(sub, f"{prefix} {name}")


def test_every_cli_command_and_option_is_in_the_cli_reference():
    text = _text("cli.md")
    commands = dict(cli_commands(build_parser()))
    assert len(commands) >= 13
    missing = [
        f"{command} {option}".strip()
        for command, options in commands.items()
        for option in ["", *options]
        if (option and f"`{option}" not in text) or (not option and f"`{command}" not in text)
    ]
    assert missing == []

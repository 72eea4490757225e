"""Runnable shell snippets of the docs: how they are marked, found and compared.

A snippet is runnable when its fence reads ```` ```bash title="runnable" ```` (Material shows
the title above the block, so a reader sees which commands are tested). A block right after
it whose fence reads ```` ```text title="output" ```` is what the commands print: each of its
non-blank lines must appear in the output, in order, with runs of spaces compared as one and
``...`` standing for any text (counts that vary, hashes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNNABLE_FENCE = '```bash title="runnable"'
OUTPUT_FENCE = '```text title="output"'


@dataclass(frozen=True)
class Snippet:
    page: str
    line: int  # 1-based line of the opening fence
    code: str
    expected: tuple[str, ...] | None


def _block(lines: list[str], start: int) -> tuple[list[str], int]:
    """The lines of the fenced block opening at ``start`` and the index after its close."""
    body, i = [], start + 1
    while i < len(lines) and lines[i].rstrip() != "```":
        body.append(lines[i])
        i += 1
    if i == len(lines):
        raise ValueError(f"block opened at line {start + 1} is never closed")
    return body, i + 1


def snippets_of(text: str, page: str = "<text>") -> list[Snippet]:
    lines = text.splitlines()
    found, i = [], 0
    while i < len(lines):
        if lines[i].rstrip() != RUNNABLE_FENCE:
            i += 1
            continue
        code, after = _block(lines, i)
        j = after
        while j < len(lines) and not lines[j].strip():
            j += 1
        expected = None
        if j < len(lines) and lines[j].rstrip() == OUTPUT_FENCE:
            body, after = _block(lines, j)
            expected = tuple(line for line in body if line.strip())
        found.append(Snippet(page, i + 1, "\n".join(code) + "\n", expected))
        i = after
    return found


def runnable_pages() -> dict[str, list[Snippet]]:
    """Every docs page with runnable snippets, by path relative to docs/, in path order."""
    pages = {}
    for path in sorted(DOCS.rglob("*.md")):
        page = path.relative_to(DOCS).as_posix()
        found = snippets_of(path.read_text(encoding="utf-8"), page)
        if found:
            pages[page] = found
    return pages


def _pattern(expected_line: str) -> re.Pattern[str]:
    parts = [re.escape(" ".join(part.split())) for part in expected_line.split("...")]
    return re.compile(".*".join(parts))


def missing_output(expected: tuple[str, ...], output: str) -> list[str]:
    """The expected lines not found in ``output`` in order (empty: it matches)."""
    actual = [" ".join(line.split()) for line in output.splitlines()]
    missing, at = [], 0
    for line in expected:
        pattern = _pattern(line)
        for k in range(at, len(actual)):
            if pattern.fullmatch(actual[k]):
                at = k + 1
                break
        else:
            missing.append(line)
    return missing


def docs_commands(pages: dict[str, str | None]) -> list[str]:
    """Every ``court-pipeline ...`` line in the bash blocks of the given pages (a heading
    prefix limits a page to that section), runnable snippets left out: those run on the demo
    in their own test."""
    commands = []
    for page, section in pages.items():
        lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
        keep, fence = section is None, None
        for line in lines:
            if fence is None and line.startswith("#") and section is not None:
                keep = line.startswith(section)
            elif line.startswith("```"):
                fence = None if fence is not None else line.rstrip()
            elif (
                keep
                and fence is not None
                and fence != RUNNABLE_FENCE
                and line.startswith("court-pipeline ")
            ):
                commands.append(line)
    return commands

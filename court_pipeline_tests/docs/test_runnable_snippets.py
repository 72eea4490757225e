"""The docs' runnable shell snippets, run as written against a fresh demo data home.

`court-pipeline demo --free-ports` makes the data home once (as a user does after the
Quickstart); then each page's runnable snippets run in order in one bash (so an ``export``
carries to the page's next snippet), from the folder holding ``./data``, and each must exit 0
and print what the page's output block shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from court_pipeline_tests.docs.snippets import (
    Snippet,
    missing_output,
    runnable_pages,
    snippets_of,
)

PAGES = runnable_pages()
DAY = "2026-11-22"
MARK = "@@snippet {}@@"


def test_the_marker_finds_snippets_and_their_output():
    text = (
        "intro\n```bash\nnot-run\n```\n"
        '```bash title="runnable"\necho one\necho "two  words"\n```\n\n'
        '```text title="output"\none\ntwo words\n```\n'
        '```bash title="runnable"\ntrue\n```\n'
    )
    assert snippets_of(text) == [
        Snippet("<text>", 5, 'echo one\necho "two  words"\n', ("one", "two words")),
        Snippet("<text>", 14, "true\n", None),
    ]


@pytest.mark.parametrize(
    ("expected", "output", "missing"),
    [
        (("a  b", "c ... e"), "x\na b\nc d e\n", []),
        (("c ... e", "a b"), "a b\nc d e\n", ["a b"]),  # order counts
        (("rows in 600",), "rows in 601\n", ["rows in 600"]),  # whole lines, not prefixes
    ],
)
def test_expected_output_is_matched_line_by_line_in_order(expected, output, missing):
    assert missing_output(expected, output) == missing


def test_the_docs_have_runnable_snippets_where_the_issue_asks():
    assert {
        "how-to/run-agency-day.md",
        "how-to/replay-a-file.md",
        "how-to/release-quarantine.md",
        "tutorials/first-ecr-agency.md",
    } <= set(PAGES)
    launches = [s for s in PAGES["how-to/run-agency-day.md"] if "dg launch " in s.code]
    assert launches and "--partition 'demo|2026-11-22'" in launches[0].code
    assert sum(len(found) for found in PAGES.values()) >= 12


def _clean_env(home: Path) -> dict[str, str]:
    """The user's environment after the Quickstart: the venv first on PATH, nothing of ours
    set but the data home (an operator's own settings must not leak into the test)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COURT_PIPELINE", "DEMO_", "DAGSTER_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COURT_PIPELINE_HOME"] = str(home / "data")
    return env


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("docs-demo")
    done = subprocess.run(
        ["court-pipeline", "demo", "--rows", "600", "--day", DAY, "--free-ports"],
        cwd=home,
        env=_clean_env(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home


def run_page(
    snippets: list[Snippet], home: Path
) -> tuple[subprocess.CompletedProcess, list[str], int]:
    """All snippets of one page in one bash, each announced by a marker line: the process,
    each snippet's stdout, and the index of the last snippet that started."""
    script = ["set -euo pipefail"]
    for index, snippet in enumerate(snippets):
        script += [f"echo '{MARK.format(index)}'", snippet.code]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=home,
        env=_clean_env(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    outputs, current = [""] * len(snippets), 0
    for line in done.stdout.splitlines(keepends=True):
        marker = [i for i in range(len(snippets)) if line.strip() == MARK.format(i)]
        if marker:
            current = marker[0]
        else:
            outputs[current] += line
    return done, outputs, current


@pytest.mark.slow  # the demo once, then every page's snippets
@pytest.mark.parametrize("page", sorted(PAGES))
def test_runnable_snippets_run_against_the_demo(page, demo_home):
    snippets = PAGES[page]
    done, outputs, last = run_page(snippets, demo_home)
    assert done.returncode == 0, (
        f"{page}: the snippet at line {snippets[last].line} failed (exit {done.returncode})\n"
        + done.stdout[-2000:]
        + done.stderr[-3000:]
    )
    for snippet, output in zip(snippets, outputs, strict=True):
        if snippet.expected is not None:
            assert missing_output(snippet.expected, output) == [], (
                f"{page}: output of the snippet at line {snippet.line}:\n{output}"
            )

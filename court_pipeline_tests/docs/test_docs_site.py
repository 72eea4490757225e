"""The documentation site builds with ``mkdocs build --strict``: every page in the nav exists,
every page is in the nav, and every internal link and anchor resolves (mkdocs.yml turns each
of those into a warning, and strict turns a warning into a failed build)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A log line at WARNING or above, as mkdocs writes them ("WARNING -  ...", "ERROR -  ...").
WARNING_LINE = re.compile(r"^(WARNING|ERROR)\s+-", re.MULTILINE)


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of ``project`` into ``site`` (never into the checkout)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(project / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        # Material's end-of-life banner is news about the theme, not about these docs.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_docs_site_builds_strict_with_no_warning(tmp_path):
    done = build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-4000:]
    assert WARNING_LINE.findall(done.stderr) == [], done.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "tables" / "index.html").is_file()


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """mkdocs.yml and docs/ copied, to break on purpose."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", copy / "docs")
    return copy


@pytest.mark.parametrize(
    ("page", "text", "complaint"),
    [
        (
            "how-to/replay-a-file.md",
            "[a broken link](../reference/no-such-page.md)",
            "no-such-page.md",
        ),
        (
            "how-to/replay-a-file.md",
            "[a broken anchor](../reference/cli.md#no-such-heading)",
            "no-such-heading",
        ),
    ],
)
def test_a_broken_link_fails_the_build(project_copy, tmp_path, page, text, complaint):
    path = project_copy / "docs" / page
    path.write_text(path.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")
    done = build(project_copy, tmp_path / "site")
    assert done.returncode != 0
    assert complaint in done.stderr


def test_a_page_left_out_of_the_nav_fails_the_build(project_copy, tmp_path):
    (project_copy / "docs" / "how-to" / "orphan.md").write_text("# Orphan\n", encoding="utf-8")
    done = build(project_copy, tmp_path / "site")
    assert done.returncode != 0
    assert "orphan.md" in done.stderr


def test_every_readme_link_reaches_a_file():
    """The README is a front page of links into docs/: each relative link names a file that
    exists (GitHub renders them; mkdocs does not see the README)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert len(local) >= 30
    assert [link for link in local if not (ROOT / link).exists()] == []


def test_the_readme_stays_a_front_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def broken_tables(text: str) -> list[int]:
    """Line numbers of table rows that start a table without a header separator after them
    (Markdown then renders them as text: rows cut off their table by a paragraph)."""
    lines, fence, broken = text.splitlines(), False, []
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and line.lstrip().startswith("|"):
            starts = i == 0 or not lines[i - 1].strip().startswith("|")
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if starts and not re.match(r"\|\s*:?-", following):
                broken.append(i + 1)
    return broken


def test_every_table_in_the_docs_has_its_header():
    assert broken_tables("| a | b |\n|---|---|\n| 1 | 2 |\n\ntext\n| 3 | 4 |\n") == [6]
    found = {
        path.relative_to(ROOT).as_posix(): broken_tables(path.read_text(encoding="utf-8"))
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    }
    assert {page: lines for page, lines in found.items() if lines} == {}

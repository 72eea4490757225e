"""A fresh install gets exactly what was tested: pyproject, the committed locks, the installed
environment and the package's contents agree, and loading the code prints no Dagster warning."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"main": ROOT / "requirements" / "main.lock", "dev": ROOT / "requirements" / "dev.lock"}
# Libraries only the tests, benches and lock refresh use: production code must not import them.
DEV_ONLY_IMPORTS = {"pytest", "moto", "asyncssh", "openpyxl", "hypothesis", "psycopg2", "uv"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pyproject_requirements(extra: str | None) -> list[Requirement]:
    project = _pyproject()["project"]
    lines = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return [Requirement(line) for line in lines]


def parse_lock(text: str) -> list[Requirement]:
    """Every pinned entry of a pip/uv lock: ``name==version ; marker \\`` lines."""
    entries = []
    for line in text.splitlines():
        if not line or line[0] in " #-":
            continue
        entries.append(Requirement(line.rstrip(" \\")))
    return entries


def _lock(name: str) -> list[Requirement]:
    return parse_lock(LOCKS[name].read_text(encoding="utf-8"))


def _pinned(entry: Requirement) -> Version:
    (spec,) = entry.specifier
    assert spec.operator == "==", f"{entry} is not pinned exactly"
    return Version(spec.version)


def missing_from_lock(wanted: list[Requirement], lock: list[Requirement]) -> list[str]:
    """The pyproject requirements the lock has no satisfying pin for (markers respected)."""
    by_name: dict[str, list[Requirement]] = {}
    for entry in lock:
        by_name.setdefault(canonicalize_name(entry.name), []).append(entry)
    missing = []
    for req in wanted:
        pins = by_name.get(canonicalize_name(req.name), [])  # platform-only ones too
        if not any(req.specifier.contains(_pinned(pin), prereleases=True) for pin in pins):
            missing.append(str(req))
    return missing


@pytest.mark.parametrize(("lock_name", "extra"), [("main", None), ("dev", "dev")])
def test_every_pyproject_dependency_is_locked(lock_name, extra):
    assert missing_from_lock(_pyproject_requirements(extra), _lock(lock_name)) == []


def test_a_dependency_the_lock_lacks_is_reported():
    lock = parse_lock("dagster==1.13.27 \\\n    --hash=sha256:00\nduckdb==2.0.1 \\\n")
    wanted = [Requirement("dagster>=1.13,<1.14"), Requirement("duckdb>=3"),
              Requirement("stamina>=24.2")]
    assert missing_from_lock(wanted, lock) == ["duckdb>=3", "stamina>=24.2"]


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_lock_is_exact_hashed_and_names_no_host(lock_name):
    text = LOCKS[lock_name].read_text(encoding="utf-8")
    entries = parse_lock(text)
    assert len(entries) > 100
    assert all(_pinned(entry) for entry in entries)
    assert text.count("--hash=sha256:") >= len(entries)
    for forbidden in ("--index-url", "--extra-index-url", "--find-links", "http://", "https://",
                      "file://"):
        assert forbidden not in text, f"{LOCKS[lock_name].name} names {forbidden}"


def dagster_lockstep_errors(pins: dict[str, Version]) -> list[str]:
    """dagster 1.X.Y goes with dagster-* libraries at 1.X.Y (core) or 0.(X+16).Y (integrations)."""
    core = pins["dagster"]
    errors = []
    for name, version in sorted(pins.items()):
        if not name.startswith("dagster-"):
            continue
        expected = {Version(f"1.{core.minor}.{core.micro}"),
                    Version(f"0.{core.minor + 16}.{core.micro}")}
        if version not in expected:
            errors.append(f"{name}=={version} does not match dagster=={core}")
    return errors


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_dagster_libraries_are_locked_in_lockstep(lock_name):
    pins = {canonicalize_name(e.name): _pinned(e) for e in _lock(lock_name)
            if canonicalize_name(e.name).startswith("dagster")}
    assert {"dagster", "dagster-aws", "dagster-dg-cli", "dagster-postgres",
            "dagster-webserver"} <= set(pins)
    assert dagster_lockstep_errors(pins) == []


def test_lockstep_rule_catches_an_ancient_integration():
    pins = {"dagster": Version("1.13.28"), "dagster-aws": Version("0.11.14"),
            "dagster-webserver": Version("1.13.28"), "dagster-postgres": Version("0.29.28")}
    assert dagster_lockstep_errors(pins) == ["dagster-aws==0.11.14 does not match dagster==1.13.28"]


def test_pyproject_pins_every_dagster_library_to_its_line():
    lines = {"dagster": "1.13", "dagster-webserver": "1.13", "dagster-dg-cli": "1.13",
             "dagster-aws": "0.29", "dagster-postgres": "0.29"}
    dagster_reqs = {r.name: r.specifier for r in _pyproject_requirements("dev")
                    if r.name.startswith("dagster")}
    assert set(dagster_reqs) == set(lines)
    for name, spec in dagster_reqs.items():
        major, minor = lines[name].split(".")
        inside = [f"{major}.{minor}.0", f"{major}.{minor}.99"]
        outside = [f"{major}.{int(minor) - 1}.99", f"{major}.{int(minor) + 1}.0", "0.11.14"]
        assert all(spec.contains(v) for v in inside), f"{name}{spec} misses its line"
        assert not any(spec.contains(v) for v in outside), f"{name}{spec} admits another line"


def test_installed_versions_are_the_locks():
    """The environment running these tests was installed from requirements/dev.lock."""
    wrong = []
    for entry in _lock("dev"):
        if entry.marker is not None and not entry.marker.evaluate():
            continue
        try:
            installed = Version(metadata.version(entry.name))
        except metadata.PackageNotFoundError:
            wrong.append(f"{entry.name}: not installed")
            continue
        if installed != _pinned(entry):
            wrong.append(f"{entry.name}: {installed} installed, {_pinned(entry)} locked")
    assert wrong == []


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_package_holds_only_what_production_runs():
    package = ROOT / "court_pipeline"
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_top_levels(path) & DEV_ONLY_IMPORTS)
        for path in package.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    assert not (package / "ops" / "local_postgres.py").exists()
    assert not (package / "ops" / "statewide.py").exists()
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    assert include == ["court_pipeline", "court_pipeline.*"]  # court_pipeline_tests stays out


DAGSTER_WARNING = re.compile(r"\b(Deprecation|Supersession|Beta|Preview)Warning\b")


@pytest.mark.parametrize("code", [
    "import court_pipeline.definitions",
    "from court_pipeline.cli import main; main(['--help'])",
])
def test_loading_the_code_prints_no_dagster_warning(code, tmp_path):
    """What `dagster ...` and `court-pipeline ...` load, with every warning shown once."""
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], cwd=tmp_path, capture_output=True,
        text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert DAGSTER_WARNING.findall(done.stderr) == [], done.stderr[-2000:]


def _readme_quickstart_commands() -> list[str]:
    """The first two ```bash blocks of the README: set up + demo, then the test command."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    return [block.strip() for block in blocks[:2]]


def test_ci_runs_the_readme_commands_from_the_lock():
    setup, tests = _readme_quickstart_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    install_steps = [step.strip() for step in setup.split("&&")][:-1]  # all but the demo
    assert install_steps[0] == "python3 -m venv --upgrade-deps .venv"
    assert "pip install -r requirements/dev.lock" in install_steps
    for step in install_steps:
        assert any(line == step or line.replace(" --quiet", "") == step for line in ci_lines), step
    assert "pip check" in ci_lines
    assert ci_lines[-1] == tests.split("&&")[-1].strip()

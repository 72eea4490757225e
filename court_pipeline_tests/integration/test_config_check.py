"""Every configuration file is checked when the code location loads, and by
`court-pipeline check`: problems name the file, the agency and the field."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from court_pipeline.cli import main
from court_pipeline.settings import BUNDLED_CONFIG_DIR


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of the bundled configuration with its own Jinja templates folder."""
    folder = tmp_path / "config"
    shutil.copytree(BUNDLED_CONFIG_DIR, folder)
    flows = folder / "reminders" / "demo.yaml"
    flows.write_text(flows.read_text(encoding="utf-8") + "templates_dir: templates\n",
                     encoding="utf-8")
    return folder / "agencies.yaml"


def edit_registry(registry: Path, change) -> None:
    data = yaml.safe_load(registry.read_text(encoding="utf-8"))
    change(data)
    registry.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_check_passes_on_the_bundled_configuration(config, capsys):
    assert main(["check", "--config", str(config)]) == 0
    assert capsys.readouterr().out == (
        "configuration OK: 1 agency, every upload template, reminder flow and code map "
        "loaded\n")


def test_check_lists_every_broken_file_with_agency_and_field(config, capsys):
    folder = config.parent
    template = folder / "templates" / "demo.yaml"
    template.write_text(template.read_text(encoding="utf-8") + "delimeter: ','\n",
                        encoding="utf-8")
    (folder / "reminders" / "templates" / "es" / "reminder.j2").write_text(
        "Hola {% if %}", encoding="utf-8")
    (folder / "codemaps" / "simulator.yaml").unlink()
    assert main(["check", "--config", str(config)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "3 configuration problem(s):"
    assert lines[1] == (f"- {template}: agency 'demo', field 'ecr.template': invalid upload "
                        "template")
    assert lines[2] == "  - field 'delimeter': Extra inputs are not permitted"
    assert lines[3].startswith(f"- {folder / 'reminders' / 'demo.yaml'}: agency 'demo', "
                               "field 'reminders': template es/reminder.j2 line 1: ")
    assert lines[4] == (f"- {folder / 'codemaps' / 'simulator.yaml'}: agency 'demo', "
                        "field 'oca.code_map': code map file not found")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["agencies"][0]["ecr"].update(nightly_cron="30 25 * * *"),
     "agency 'demo', field 'ecr.nightly_cron': Value error, '30 25 * * *' is not a valid "
     "cron string"),
    (lambda d: d["agencies"][0].update(timezone="America/Houston"),
     "agency 'demo', field 'timezone': Value error, unknown time zone 'America/Houston'"),
    (lambda d: d.update(partitions_start_date="2026-13-01"),
     "field 'partitions_start_date': Value error, '2026-13-01' is not a date like"),
])
def test_registry_crons_zones_and_dates_are_checked(config, capsys, change, message):
    edit_registry(config, change)
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"- {config}: invalid registry" in err and message in err


def test_dagster_definitions_validate_fails_naming_file_agency_and_field(config, tmp_path):
    template = config.parent / "templates" / "demo.yaml"
    body = yaml.safe_load(template.read_text(encoding="utf-8"))
    body["date_formats"] = ["MM/DD"]
    template.write_text(yaml.safe_dump(body), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURT_PIPELINE")}
    env.update(COURT_PIPELINE_CONFIG=str(config), COURT_PIPELINE_HOME=str(tmp_path / "home"),
               DAGSTER_HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m",
         "court_pipeline.definitions"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"{template}: agency 'demo', field 'ecr.template': invalid upload template" in output
    assert "date_formats: 'MM/DD' cannot read back what it writes" in output

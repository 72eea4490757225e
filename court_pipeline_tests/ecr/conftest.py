"""Fixtures for ECR tests: a tmp data home + warehouse, template and file writers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from court_pipeline.ecr.template import UploadTemplate, load_template
from court_pipeline.warehouse import connect_warehouse

HEADER = ["Party ID", "Name", "Role", "Language", "Phone", "Email", "DOB", "Event Date",
          "Event Time", "Status", "Location", "Judge", "Case Number", "Hearing Type"]
BASE_COLUMNS = {
    "party_id": "Party ID", "full_name": "Name", "party_role": "Role",
    "preferred_language": "Language", "phone": "Phone", "email": "Email",
    "date_of_birth": "DOB", "event_date": "Event Date", "event_time": "Event Time",
    "event_status": "Status", "location": "Location", "judge": "Judge",
    "case_number": "Case Number", "hearing_type": "Hearing Type",
}


def row(pid="P1", name="PEÑA, MARÍA ELENA", role="Defendant", lang="Spanish",
        phone="713-555-0142", email="maria@example.com", dob="01/02/1980",
        date="12/01/2026", time="9:00 AM", status="Scheduled", location="Courthouse",
        judge="Hon. A", case="CR-1", htype="Arraignment") -> list[str]:
    return [pid, name, role, lang, phone, email, dob, date, time, status, location, judge,
            case, htype]


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("COURT_PIPELINE_HOME", str(home))
    monkeypatch.delenv("COURT_PIPELINE_WAREHOUSE", raising=False)
    return home


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Callable[[], duckdb.DuckDBPyConnection]]:
    """A context-manager factory for a real DuckDB warehouse file in tmp_path."""
    path = tmp_path / "wh.duckdb"

    def open_():
        return connect_warehouse(path)

    yield open_


@pytest.fixture
def make_template(tmp_path: Path) -> Callable[..., UploadTemplate]:
    """Write a template YAML (base mapping + overrides) and load it through load_template."""

    def make(**overrides) -> UploadTemplate:
        body = {"name": "t", "delimiter": "|", "columns": dict(BASE_COLUMNS)}
        body.update(overrides)
        path = tmp_path / f"template_{len(list(tmp_path.glob('template_*')))}.yaml"
        path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
        return load_template(path)

    return make


@pytest.fixture
def write_rows(tmp_path: Path) -> Callable[..., Path]:
    """Write header + rows as a delimited file (bytes exactly as given)."""

    def write(rows: list[list[str]], name: str = "ecr.txt", header: list[str] | None = HEADER,
              delimiter: str = "|", encoding: str = "utf-8", newline: str = "\r\n",
              prefix: str = "", suffix: str = "") -> Path:
        lines = [delimiter.join(header)] if header is not None else []
        lines += [delimiter.join(r) for r in rows]
        text = prefix + newline.join(lines) + newline + suffix
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return write

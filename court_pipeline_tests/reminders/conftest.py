"""Fixtures for the reminder tests: a real DuckDB warehouse in tmp_path and an agency."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from court_pipeline.registry import Agency
from court_pipeline.reminders.flows import BUNDLED_FLOWS, RemindersConfig, load_flows
from court_pipeline.warehouse import connect_warehouse
from court_pipeline_tests.reminders.seed import AGENCY


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def con(db_path: Path):
    with connect_warehouse(db_path) as connection:
        yield connection


@pytest.fixture
def agency() -> Agency:
    return Agency(
        id=AGENCY,
        name="Harris County Justice Courts",
        county="Harris",
        reminders=str(BUNDLED_FLOWS),
    )


@pytest.fixture(scope="session")
def flows() -> RemindersConfig:
    return load_flows(BUNDLED_FLOWS)


class Receiver:
    """A real HTTP receiver on loopback that answers with scripted status codes (an entry may
    be ``(status, headers)``, e.g. ``(429, {"Retry-After": "0.5"})``)."""

    def __init__(
        self, statuses: list[int | tuple[int, dict[str, str]]], default: int = 200
    ) -> None:
        self.statuses = list(statuses)
        self.default = default
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver.requests.append({"headers": dict(self.headers), "json": body})
                scripted = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                status, extra = scripted if isinstance(scripted, tuple) else (scripted, {})
                payload = json.dumps({"id": f"prov-{len(receiver.requests)}"}).encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made: list[Receiver] = []

    def make(statuses: list[int | tuple[int, dict[str, str]]], default: int = 200) -> Receiver:
        made.append(Receiver(statuses, default))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()

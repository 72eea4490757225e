"""Fixtures for publishing tests: a simulator on loopback, a warehouse file, source rows."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from court_pipeline.oca.contracts import contract_fields, sample_rows
from court_pipeline.publish.client import Credential, RetryPolicy
from court_pipeline.publish.publisher import PublishReport, PublishSettings, publish_county
from court_pipeline.publish.simulator import OcaSimulator
from court_pipeline.publish.state import StateStore
from court_pipeline.warehouse import connect_warehouse

COUNTY = "Harris"
PUBLISHER = "Tyler Tech-Odyssey"
STATUS = "di-texas-oca-court-case-status"
CHARGES = "di-texas-oca-court-charges"
CLIENT_ID, CLIENT_SECRET = "harris-client", "harris-s3cret-value"


def make_rows(entity_type: str, n: int, seed: int = 1, start: int = 0) -> pd.DataFrame:
    """``n`` valid rows of an entity type, built from its contract (values per field type)."""
    rows = sample_rows(entity_type, n, county=COUNTY, publisher=PUBLISHER, seed=seed, start=start)
    return pd.DataFrame(rows, columns=contract_fields(entity_type))


def _as_sent(value: Any) -> Any:
    """The JSON value a plain source cell must arrive as, written out without the project's
    ``canonical()``: text and whole numbers as they are, a missing or empty cell as null.
    Other types belong in a test with literal expected JSON (test_publish_e2e's typed-values
    test)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if value == "":  # an emptied text cell is sent as null (the contract's "no value")
        return None
    if isinstance(value, bool | str) or type(value) is int:
        return value
    if isinstance(value, np.integer):
        return int(value)
    raise TypeError(f"assert_matches takes text, whole numbers and nulls, not {value!r}")


def assert_matches(sim: OcaSimulator, entity_type: str, source: pd.DataFrame) -> None:
    """The simulator holds exactly the source records, field by field, with JSON types (an
    int arrives as a JSON number, never as "1" or 1.0)."""
    stored = {key[3]: data for key, data in sim.records(entity_type).items()}
    expected = {str(r["recordid"]): r for r in source.to_dict("records")}
    assert set(stored) == set(expected), (
        f"missing {sorted(set(expected) - set(stored))[:5]}, "
        f"extra {sorted(set(stored) - set(expected))[:5]}"
    )
    for recordid, row in expected.items():
        for column, value in row.items():
            want, got = _as_sent(value), stored[recordid].get(column)
            assert (got, type(got)) == (want, type(want)), (recordid, column)


@pytest.fixture
def sim() -> Iterator[OcaSimulator]:
    server = OcaSimulator(
        {CLIENT_ID: (CLIENT_SECRET, [COUNTY]), "dallas-client": ("dallas-secret", ["Dallas"])},
        keep_envelopes=True,
    )
    with server:
        yield server


@pytest.fixture
def credential(monkeypatch: pytest.MonkeyPatch) -> Credential:
    monkeypatch.setenv("OCA_HARRIS_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OCA_HARRIS_CLIENT_SECRET", CLIENT_SECRET)
    return Credential.from_env("OCA_HARRIS_CLIENT_ID", "OCA_HARRIS_CLIENT_SECRET", "Harris")


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def fast_settings(sim: OcaSimulator, **overrides: Any) -> PublishSettings:
    values: dict[str, Any] = {
        "environment": "staging",
        "token_url": sim.token_url,
        "messages_url": sim.messages_url,
        "timeout_seconds": 10.0,
        "concurrency": 1,
        "retry": RetryPolicy(
            max_attempts=4,
            max_seconds=20,
            wait_initial=0.01,
            wait_max=0.05,
            wait_jitter=0.01,
            max_retry_after=2.0,
        ),
    }
    values.update(overrides)
    return PublishSettings(**values)


@pytest.fixture
def publish(
    sim: OcaSimulator, credential: Credential, warehouse: Path, tmp_path: Path
) -> Callable[..., PublishReport]:
    """Run the publisher for Harris with the given datasets (and settings overrides)."""

    def run(
        datasets: dict[str, pd.DataFrame],
        credential_: Credential | None = None,
        after_send: Any = None,
        **overrides: Any,
    ) -> PublishReport:
        store = StateStore(
            lambda: connect_warehouse(warehouse),
            environment="staging",
            agency_id="harris",
            county=COUNTY,
            lock_dir=tmp_path / "locks",
        )
        return publish_county(
            store,
            datasets,
            credential_ or credential,
            fast_settings(sim, **overrides),
            publisher=PUBLISHER,
            after_send=after_send,
        )

    return run


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with connect_warehouse(warehouse) as con:
        return con.execute(sql, params or []).fetchall()

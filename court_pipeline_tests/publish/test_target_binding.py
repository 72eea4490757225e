"""Published state is bound to its target; operators choose by command (issue 16, point 6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from court_pipeline.cli import main
from court_pipeline.publish.simulator import OcaSimulator
from court_pipeline.publish.target import OcaTargetChanged
from court_pipeline_tests.publish.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    COUNTY,
    STATUS,
    assert_matches,
    make_rows,
    query,
)
from court_pipeline_tests.publish.test_dagster_assets import (
    _materialize,
    _registry,
    _write_datasets,
)


@pytest.fixture
def other_sim() -> Iterator[OcaSimulator]:
    """A second, independent service: the new endpoint."""
    with OcaSimulator({CLIENT_ID: (CLIENT_SECRET, [COUNTY])}, keep_envelopes=True) as server:
        yield server


def _use_registry(monkeypatch, tmp_path, warehouse, sim) -> None:
    """Point the court-pipeline command at a registry file for ``sim`` and the warehouse."""
    path = tmp_path / f"registry-{sim.port}.yaml"
    registry = _registry(sim).model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(registry), encoding="utf-8")
    monkeypatch.setenv("COURT_PIPELINE_CONFIG", str(path))
    monkeypatch.setenv("COURT_PIPELINE_WAREHOUSE", str(warehouse))


def _published_then_moved(sim, other_sim, warehouse, capsys=None):
    status = make_rows(STATUS, 20)
    _write_datasets(warehouse, status)
    first, _ = _materialize(_registry(sim), warehouse)
    assert first.success and len(sim.records(STATUS)) == 20

    moved, _ = _materialize(_registry(other_sim), warehouse, key="harris|2026-03-03")

    assert not moved.success
    failure = next(e for e in moved.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.cause.message  # the OcaTargetChanged
    assert "OcaTargetChanged" in message and "Nothing was sent" in message
    assert f"endpoint {sim.messages_url} -> {other_sim.messages_url}" in message
    assert "court-pipeline oca resend --all --agency harris" in message
    assert "court-pipeline oca adopt --agency harris" in message
    assert CLIENT_SECRET not in message and CLIENT_ID not in message
    assert other_sim.stats.puts == 0 and other_sim.stats.token_requests == 0
    return status


def test_new_endpoint_stops_the_run_until_resend_all_sends_everything(
    sim, other_sim, credential, warehouse, tmp_path, monkeypatch, capsys
):
    status = _published_then_moved(sim, other_sim, warehouse)
    _use_registry(monkeypatch, tmp_path, warehouse, other_sim)

    assert main(["oca", "resend", "--all", "--agency", "harris"]) == 0
    assert "sends all 20 published record(s) whole" in capsys.readouterr().out

    again, _ = _materialize(_registry(other_sim), warehouse, key="harris|2026-03-04")
    assert again.success and all(c.passed for c in again.get_asset_check_evaluations())
    assert_matches(other_sim, STATUS, status)
    assert query(warehouse, "SELECT bound_by, messages_url FROM oca_publish_targets") == [
        ("resend_all", other_sim.messages_url)]
    assert query(warehouse, "SELECT count(*) FROM oca_published_state WHERE needs_full_resend"
                 ) == [(0,)]


def test_new_endpoint_stops_the_run_until_adopt_trusts_it(
    sim, other_sim, credential, warehouse, tmp_path, monkeypatch, capsys
):
    status = _published_then_moved(sim, other_sim, warehouse)
    for key, data in sim.records(STATUS).items():  # the new service was loaded by OCA
        other_sim.seed_record(key[0], data)
    _use_registry(monkeypatch, tmp_path, warehouse, other_sim)

    assert main(["oca", "adopt", "--agency", "harris"]) == 0
    assert "adopted; the 20 published record(s)" in capsys.readouterr().out

    changed = status.copy()
    changed.loc[3, "court_name"] = "Renamed court"
    _write_datasets(warehouse, changed)
    again, _ = _materialize(_registry(other_sim), warehouse, key="harris|2026-03-04")
    assert again.success
    meta = again.asset_materializations_for_node("oca_publication")[0].metadata
    assert meta["accepted"].value == 1  # only the change: the rest is trusted to be there
    assert_matches(other_sim, STATUS, changed)


def test_new_client_id_on_the_same_endpoint_stops_the_run(sim, publish, monkeypatch):
    publish({STATUS: make_rows(STATUS, 5)})
    sim.add_client("harris-client-2", "another-secret", [COUNTY])
    monkeypatch.setenv("OCA_HARRIS_CLIENT_ID", "harris-client-2")
    monkeypatch.setenv("OCA_HARRIS_CLIENT_SECRET", "another-secret")
    from court_pipeline.publish.client import Credential

    second = Credential.from_env("OCA_HARRIS_CLIENT_ID", "OCA_HARRIS_CLIENT_SECRET", "Harris")
    puts = sim.stats.puts

    with pytest.raises(OcaTargetChanged, match=r"client [0-9a-f]{16} -> [0-9a-f]{16}") as info:
        publish({STATUS: make_rows(STATUS, 6)}, credential_=second)

    assert "harris-client" not in str(info.value) and "another-secret" not in str(info.value)
    assert sim.stats.puts == puts


def test_target_command_shows_bound_and_configured(
    sim, credential, warehouse, tmp_path, monkeypatch, capsys
):
    _use_registry(monkeypatch, tmp_path, warehouse, sim)
    assert main(["oca", "target", "--agency", "harris"]) == 0
    assert "(nothing yet" in capsys.readouterr().out
    _write_datasets(warehouse, make_rows(STATUS, 2))
    assert _materialize(_registry(sim), warehouse)[0].success

    assert main(["oca", "target", "--agency", "harris"]) == 0
    out = capsys.readouterr().out
    assert f"bound       {sim.messages_url}" in out and "first_run" in out
    assert CLIENT_ID not in out
    assert main(["oca", "adopt", "--agency", "nobody"]) == 2

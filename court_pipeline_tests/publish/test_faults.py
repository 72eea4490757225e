"""Faults of every kind: rate limits, 5xx, dropped connections, lost acks, 403, 409, tokens."""

from __future__ import annotations

import httpx
import pytest

from court_pipeline.publish.client import Credential, OcaCredentialsError, TokenProvider
from court_pipeline_tests.publish.conftest import (
    CLIENT_SECRET,
    STATUS,
    assert_matches,
    make_rows,
    query,
)


def _attempts(warehouse):
    return [r[0] for r in query(warehouse, "SELECT attempts FROM oca_envelope_log "
                                           "ORDER BY created_at")]


def test_429_honours_retry_after_then_succeeds(sim, publish, warehouse):
    sim.faults.rate_limit_next = 2
    sim.faults.retry_after_seconds = 0.3
    status = make_rows(STATUS, 40)

    report = publish({STATUS: status})

    assert report.accepted == 40 and report.clean
    assert _attempts(warehouse) == [3]
    assert sim.stats.statuses[429] == 2
    assert_matches(sim, STATUS, status)


def test_5xx_and_dropped_connections_are_retried(sim, publish, warehouse):
    sim.faults.server_error_next = 2
    sim.faults.drop_next = 1
    status = make_rows(STATUS, 40)

    report = publish({STATUS: status})

    assert report.accepted == 40 and report.clean
    assert _attempts(warehouse) == [4]
    assert sim.stats.dropped == 1 and sim.stats.statuses[503] == 2
    assert_matches(sim, STATUS, status)


def test_lost_acknowledgement_resend_is_harmless(sim, publish, warehouse):
    status = make_rows(STATUS, 30)
    publish({STATUS: status})
    changed = status.copy()
    changed.loc[0, "court_name"] = "Renamed court"
    changed = changed.drop(index=[5]).reset_index(drop=True)  # a delete in the same batch
    sim.faults.lost_ack_next = 1  # applied, then the connection drops

    report = publish({STATUS: changed}, max_entities=1)  # one entity per event

    # the update envelope's ack was lost: retried (applied twice, same result)
    assert report.accepted == 2 and report.clean
    assert sim.stats.lost_acks == 1
    assert_matches(sim, STATUS, changed)


def test_lost_ack_of_a_delete_resend_answers_404_and_counts_as_done(sim, publish, warehouse):
    status = make_rows(STATUS, 10)
    publish({STATUS: status})
    sim.faults.lost_ack_next = 1

    report = publish({STATUS: status.drop(index=[0, 1])})

    assert report.accepted == 2 and report.deletes_not_found == 2 and report.clean
    assert query(warehouse, "SELECT http_status FROM oca_envelope_log ORDER BY created_at "
                            "OFFSET 1") == [(404,)]
    assert_matches(sim, STATUS, status.drop(index=[0, 1]))
    assert query(warehouse, "SELECT count(*) FROM oca_published_state") == [(8,)]


def test_circuit_breaker_stops_the_run_and_next_run_converges(sim, publish, warehouse):
    status = make_rows(STATUS, 100)
    sim.faults.server_error_rate = 1.0

    report = publish({STATUS: status}, max_events=1, max_entities=10, circuit_breaker_threshold=2)

    assert report.circuit_open and report.accepted == 0
    assert report.retry_next_run == 100 and report.held_back == 0
    assert any("circuit breaker opened" in m for m in report.messages)
    assert sim.stats.puts == 2 * 4  # two envelopes x 4 attempts, then nothing more
    kinds = query(warehouse, "SELECT reason_kind, count(*) FROM oca_open_held_back GROUP BY 1")
    assert kinds == [("retry_next_run", 100)]
    assert query(warehouse, "SELECT status, count(*) FROM oca_envelope_log GROUP BY 1") == [
        ("failed", 2)]

    sim.faults.server_error_rate = 0.0
    again = publish({STATUS: status}, max_events=1, max_entities=10)
    assert again.accepted == 100 and again.clean
    assert_matches(sim, STATUS, status)
    assert query(warehouse, "SELECT count(*) FROM oca_open_held_back") == [(0,)]


def test_403_county_association_is_reported_and_not_retried(sim, publish, warehouse,
                                                            monkeypatch):
    monkeypatch.setenv("OCA_DALLAS_ID", "dallas-client")
    monkeypatch.setenv("OCA_DALLAS_SECRET", "dallas-secret")
    wrong = Credential.from_env("OCA_DALLAS_ID", "OCA_DALLAS_SECRET", "Harris")
    status = make_rows(STATUS, 60)

    report = publish({STATUS: status}, credential_=wrong, max_events=1, max_entities=10)

    assert report.county_refused and report.accepted == 0 and report.held_back == 60
    assert sim.stats.puts == 1  # first 403; the other envelopes are not sent
    assert any("403 System_County_Association" in m for m in report.messages)
    assert query(warehouse, "SELECT reason_kind, count(*) FROM oca_open_held_back GROUP BY 1"
                 ) == [("county_403", 60)]
    assert sim.records() == {}


def test_409_is_logged_held_back_and_not_looped(sim, publish, warehouse):
    sim.faults.conflict_next = 1
    status = make_rows(STATUS, 20)

    report = publish({STATUS: status})

    assert report.held_back == 20 and sim.stats.puts == 1
    assert query(warehouse, "SELECT DISTINCT reason_kind FROM oca_open_held_back") == [
        ("conflict_409",)]
    again = publish({STATUS: status})
    assert again.accepted == 20
    assert_matches(sim, STATUS, status)


def test_token_expires_mid_run_refreshed_once_and_resent(sim, publish, warehouse):
    sim.faults.token_max_uses = 2  # the service kills each token after two calls
    status = make_rows(STATUS, 100)

    report = publish({STATUS: status}, max_events=1, max_entities=10)

    assert report.accepted == 100 and report.clean
    assert sim.stats.statuses[401] == 4  # calls 3, 5, 7, 9 met a dead token
    assert sim.stats.token_requests == 5
    assert _attempts(warehouse) == [1] * 10  # a 401 refresh is not a retry
    assert_matches(sim, STATUS, status)


@pytest.mark.parametrize(("lifetime", "refresh_at"), [
    (1000.0, 700.0),  # the 300 s margin before expiry
    (400.0, 200.0),  # a short token: at half its life (the margin would exceed it)
])
def test_token_is_refreshed_before_expiry(sim, credential, lifetime, refresh_at):
    """Read on the provider's own clock, stepped by hand: no test time, no luck."""
    sim.faults.token_lifetime_seconds = lifetime
    now = [0.0]
    with httpx.Client() as http:
        provider = TokenProvider(http, sim.token_url, credential, clock=lambda: now[0])
        first = provider.token()
        now[0] = refresh_at - 0.1
        assert provider.token() == first  # still cached
        assert (provider.fetches, sim.stats.token_requests) == (1, 1)
        now[0] = refresh_at
        second = provider.token()  # a new token, before the service would expire the first
        now[0] = 2 * refresh_at - 0.1  # the second token refreshes refresh_at after it came
        assert provider.token() == second
    assert second != first
    assert (provider.fetches, sim.stats.token_requests) == (2, 2)


def test_bad_credentials_fail_loudly_without_the_secret(sim, publish, monkeypatch, warehouse):
    monkeypatch.setenv("OCA_BAD_ID", "harris-client")
    monkeypatch.setenv("OCA_BAD_SECRET", "not-the-" + CLIENT_SECRET)
    bad = Credential.from_env("OCA_BAD_ID", "OCA_BAD_SECRET", "Harris (OCA_BAD_ID)")

    with pytest.raises(OcaCredentialsError) as info:
        publish({STATUS: make_rows(STATUS, 3)}, credential_=bad)

    assert "invalid_client" in str(info.value) and "Harris" in str(info.value)
    assert CLIENT_SECRET not in str(info.value) and "not-the-" not in repr(bad)
    assert sim.stats.puts == 0
    assert query(warehouse, "SELECT count(*) FROM oca_envelopes") == [(0,)]


def test_missing_env_var_names_the_variable():
    with pytest.raises(OcaCredentialsError, match="OCA_NOT_SET_SECRET"):
        Credential.from_env("PATH", "OCA_NOT_SET_SECRET", "Harris")

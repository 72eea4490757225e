"""429 pauses the whole sender; the token endpoint is retried (issue 16, points 3 and 4)."""

from __future__ import annotations

from court_pipeline.publish.client import Credential
from court_pipeline.publish.retrying import RetryPolicy
from court_pipeline_tests.publish.conftest import (
    CLIENT_SECRET,
    STATUS,
    assert_matches,
    make_rows,
    query,
)

FEW_ATTEMPTS = RetryPolicy(max_attempts=2, max_seconds=20, wait_initial=0.01, wait_max=0.05,
                           wait_jitter=0.01, max_retry_after=2.0)


def test_429_spends_no_failure_attempts(sim, publish, warehouse):
    sim.faults.rate_limit_next = 5  # more 429s than the 2 failure attempts allowed
    sim.faults.retry_after_seconds = 0.05
    status = make_rows(STATUS, 20)

    report = publish({STATUS: status}, retry=FEW_ATTEMPTS)

    assert report.accepted == 20 and report.clean
    assert report.rate_limited == 5 and report.rate_pauses == 5
    assert query(warehouse, "SELECT attempts FROM oca_envelope_log") == [(6,)]
    assert_matches(sim, STATUS, status)


def test_429_still_gives_up_after_failure_attempts_of_5xx(sim, publish, warehouse):
    sim.faults.rate_limit_next = 3
    sim.faults.retry_after_seconds = 0.05
    sim.faults.server_error_next = 2  # after the 429s: two 503s spend both failure attempts

    report = publish({STATUS: make_rows(STATUS, 10)}, retry=FEW_ATTEMPTS)

    assert report.retry_next_run == 10 and sim.stats.puts == 5
    assert sim.stats.statuses[429] == 3 and sim.stats.statuses[503] == 2


def test_429_pauses_every_request_in_flight(sim, publish, warehouse):
    """A real limiter answers 429 to everything until Retry-After has passed: a sender that
    paused only the refused request would keep hitting it from the other workers."""
    sim.faults.rate_limit_window = True
    sim.faults.rate_limit_next = 1
    sim.faults.retry_after_seconds = 0.5
    sim.faults.latency_ms = 20
    status = make_rows(STATUS, 160)

    report = publish({STATUS: status}, concurrency=4, max_events=1, max_entities=10)

    assert report.accepted == 160 and report.clean and report.envelopes == 16
    # only requests already on their way when the first 429 came back can meet the window
    assert sim.stats.refused_in_window <= 3
    assert sim.stats.statuses[429] == 1 + sim.stats.refused_in_window
    assert sim.stats.max_concurrent <= 4
    assert_matches(sim, STATUS, status)


def test_429_beyond_the_time_budget_defers_without_waiting(sim, publish, warehouse):
    sim.faults.rate_limit_next = 1
    sim.faults.retry_after_seconds = 30  # the budget below is 1 s
    budget = RetryPolicy(max_attempts=4, max_seconds=1, wait_initial=0.01, wait_max=0.05,
                         wait_jitter=0.01, max_retry_after=60)
    status = make_rows(STATUS, 10)

    report = publish({STATUS: status}, retry=budget)

    assert report.retry_next_run == 10 and report.accepted == 0 and sim.stats.puts == 1
    reasons = query(warehouse, "SELECT DISTINCT reason_kind, http_status, reason "
                               "FROM oca_open_held_back")
    assert reasons == [("retry_next_run", 429, "rate limited (429) beyond the 1s time budget "
                        "after 1 request(s); sent first by the next run")]
    assert query(warehouse, "SELECT count(*) FROM oca_published_state WHERE needs_full_resend"
                 ) == [(0,)]
    again = publish({STATUS: status})
    assert again.accepted == 10 and again.clean
    assert_matches(sim, STATUS, status)


def test_token_endpoint_500_drop_and_429_are_retried(sim, publish):
    sim.faults.token_error_next = 1
    sim.faults.token_drop_next = 1
    sim.faults.token_rate_limit_next = 1
    sim.faults.retry_after_seconds = 0.05
    status = make_rows(STATUS, 10)

    report = publish({STATUS: status})

    assert report.accepted == 10 and report.clean
    assert sim.stats.token_requests == 4 and report.rate_limited == 1
    assert_matches(sim, STATUS, status)


def test_token_endpoint_down_defers_everything_bounded_and_next_run_sends(
    sim, publish, warehouse, monkeypatch
):
    sim.faults.token_error_next = 100
    status = make_rows(STATUS, 10)

    report = publish({STATUS: status}, retry=FEW_ATTEMPTS)

    assert sim.stats.token_requests == 2 and sim.stats.puts == 0  # bounded: 2 attempts
    assert report.retry_next_run == 10 and report.accepted == 0 and not report.clean
    assert any("token endpoint unavailable" in m and "HTTP 500" in m for m in report.messages)
    assert all(CLIENT_SECRET not in m for m in report.messages)
    assert query(warehouse, "SELECT reason_kind, count(*) FROM oca_open_held_back GROUP BY 1"
                 ) == [("retry_next_run", 10)]
    sim.faults.token_error_next = 0
    again = publish({STATUS: status})
    assert again.accepted == 10 and again.clean
    assert_matches(sim, STATUS, status)


def test_refused_credentials_at_the_token_endpoint_are_not_retried(sim, publish, monkeypatch):
    monkeypatch.setenv("OCA_BAD_ID", "harris-client")
    monkeypatch.setenv("OCA_BAD_SECRET", "wrong")
    bad = Credential.from_env("OCA_BAD_ID", "OCA_BAD_SECRET", "Harris")
    try:
        publish({STATUS: make_rows(STATUS, 3)}, credential_=bad)
    except Exception as exc:  # noqa: BLE001 (the type is checked below)
        assert type(exc).__name__ == "OcaCredentialsError"
    else:
        raise AssertionError("bad credentials must fail the run")
    assert sim.stats.token_requests == 1

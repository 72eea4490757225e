"""Two publishers for one county at once: the second gets a clear error and sends nothing."""

from __future__ import annotations

import threading

import pytest

from court_pipeline.publish.state import PublishLockTimeout
from court_pipeline_tests.publish.conftest import STATUS, assert_matches, make_rows


def test_second_publisher_of_a_county_gets_the_lock_error_and_sends_nothing(sim, publish, tmp_path):
    status = make_rows(STATUS, 30)
    first_sent, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def hold_after_first_send(envelope_id, result):
        first_sent.set()
        assert release.wait(60), "the test never released the first publisher"

    def first_publisher() -> None:
        try:
            outcome["report"] = publish(
                {STATUS: status}, max_events=1, max_entities=10, after_send=hold_after_first_send
            )
        except BaseException as exc:  # surfaced by the asserts below
            outcome["error"] = exc

    worker = threading.Thread(target=first_publisher)
    worker.start()
    try:
        assert first_sent.wait(60), outcome.get("error")
        # the first publisher holds the county's lock mid-run (one envelope sent)
        with pytest.raises(PublishLockTimeout) as info:
            publish({STATUS: status}, lock_wait_seconds=1.0)
        lock = tmp_path / "locks" / "oca-publish-staging-Harris.lock"
        assert str(info.value) == (
            f"another run is publishing Harris to staging (waited 1s for {lock})"
        )
        assert sim.stats.puts == 1  # only the first publisher's envelope
    finally:
        release.set()
        worker.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].accepted == 30 and sim.stats.puts == 3
    assert_matches(sim, STATUS, status)

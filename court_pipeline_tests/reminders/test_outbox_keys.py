"""The outbox has no key index (its upkeep held the writer lock for seconds on a big first
plan): the planner's anti-join keeps dedupe keys and message ids unique, the asset check's
query proves it, and a warehouse from an older version loses its indexes, not its rows."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from court_pipeline.reminders.assets import CHECK_NO_DUPLICATES, _check_queries
from court_pipeline.reminders.outbox import PlanDiff, write_plan
from court_pipeline.reminders.planner import plan_reminders
from court_pipeline.warehouse import connect_warehouse
from court_pipeline.warehouse import connection as warehouse_connection
from court_pipeline_tests.reminders.seed import (
    add_case,
    add_contact,
    add_hearing,
    add_party,
    local,
    outbox,
)

NOW = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)


def _key_constraints(con) -> int:
    return con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'reminder_outbox' "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
    ).fetchone()[0]


def test_a_plan_written_twice_and_a_batch_with_a_repeated_key_store_each_key_once(
    con, agency, flows
):
    add_party(con, "100234", "MARIA")
    add_contact(con, "100234", "+17135550142", phone_type="mobile")
    add_case(con)
    add_hearing(con, "9900017", local(2026, 11, 2, 9))
    plan_reminders(con, agency, flows, now=NOW)
    rows = outbox(con)
    assert len(rows) == 4 and _key_constraints(con) == 0
    stored = con.execute("SELECT * FROM reminder_outbox").fetchdf().to_dict("records")
    # another pass that planned the same messages meanwhile (and twice in its own batch)
    write_plan(con, PlanDiff(inserts=[*stored, stored[0]]))
    assert len(outbox(con)) == 4
    assert _check_queries(con, agency.id)[CHECK_NO_DUPLICATES] == 0
    con.execute("INSERT INTO reminder_outbox SELECT * FROM reminder_outbox LIMIT 1")
    assert _check_queries(con, agency.id)[CHECK_NO_DUPLICATES] == 2  # key and id, once each


def test_an_older_warehouse_loses_the_outbox_indexes_not_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as old:
        old.execute(
            "CREATE TABLE reminder_outbox (message_id VARCHAR NOT NULL PRIMARY KEY, "
            "dedupe_key VARCHAR NOT NULL UNIQUE, agency_id VARCHAR NOT NULL, "
            "hearing_id VARCHAR NOT NULL, party_id VARCHAR NOT NULL, flow VARCHAR NOT NULL, "
            "kind VARCHAR NOT NULL, hearing_start_at TIMESTAMPTZ NOT NULL, "
            "due_at TIMESTAMPTZ NOT NULL, status VARCHAR NOT NULL, body VARCHAR)"
        )
        old.execute(
            "INSERT INTO reminder_outbox VALUES ('m1', 'k1', 'a', 'h1', 'p1', 'f', 'reminder', "
            "'2026-11-02 15:00+00', '2026-10-26 14:00+00', 'sent', 'Hello')"
        )
    warehouse_connection._schema_ready.discard(str(path.resolve()))
    with connect_warehouse(path) as con:
        assert _key_constraints(con) == 0
        assert con.execute(
            "SELECT message_id, dedupe_key, status, body, attempts, input_digest "
            "FROM reminder_outbox"
        ).fetchall() == [("m1", "k1", "sent", "Hello", 0, None)]
        assert (
            con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'reminder_outbox%'"
            ).fetchone()[0]
            == 1
        )

"""The court-pipeline command: read-only SQL and the end-to-end demo, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from court_pipeline.cli import main
from court_pipeline.warehouse import connect_warehouse


def _seed(home) -> None:
    with connect_warehouse(home / "warehouse.duckdb") as con:
        con.execute(
            "INSERT INTO parties (agency_id, party_id, last_name, source) VALUES "
            "('alpha', '1', 'PEÑA', 'ecr'), ('alpha', '2', 'NGUYỄN', 'ecr')"
        )


def test_sql_prints_a_table(pipeline_home, capsys):
    _seed(pipeline_home)
    assert main(["sql", "SELECT party_id, last_name FROM parties ORDER BY party_id"]) == 0
    out = capsys.readouterr().out
    assert "PEÑA" in out and "NGUYỄN" in out and "(2 rows)" in out


def test_sql_csv(pipeline_home, capsys, tmp_path):
    _seed(pipeline_home)
    assert main(["sql", "--csv", "SELECT party_id FROM parties ORDER BY 1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["party_id", "1", "2"]


def test_sql_is_read_only(pipeline_home, capsys):
    _seed(pipeline_home)
    assert main(["sql", "DELETE FROM parties"]) == 2
    assert "read-only" in capsys.readouterr().err.lower()
    with connect_warehouse(pipeline_home / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM parties").fetchall() == [(2,)]


def test_sql_error_is_a_message_not_a_traceback(pipeline_home, capsys):
    assert main(["sql", "SELECT * FROM no_such_table"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("query failed:") and "no_such_table" in err


@pytest.mark.slow  # the whole demo in a subprocess
def test_demo_runs_end_to_end_offline(tmp_path):
    """`court-pipeline demo` on a fresh data home: exit 0, rows loaded and rejected, reminders
    planned, OCA envelopes accepted by the bundled simulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURT_PIPELINE", "DEMO_"))}
    env["COURT_PIPELINE_HOME"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "court_pipeline.cli", "demo", "--rows", "600", "--day",
         "2026-11-23", "--free-ports"],  # the system picks the ports: tests run side by side
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "dagster dev" in done.stdout
    with connect_warehouse(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        loads = con.execute("SELECT rows_in, rows_loaded, rows_rejected FROM file_loads").fetchdf()
        outbox = con.execute("SELECT count(*) FROM reminder_outbox").fetchall()[0][0]
        api_parties = con.execute(
            "SELECT count(*) FROM parties WHERE source = 'odyssey_api'"
        ).fetchall()[0][0]
        accepted = con.execute(
            "SELECT coalesce(sum(accepted), 0) FROM oca_envelope_log WHERE http_status = 200"
        ).fetchall()[0][0]
    assert isinstance(loads, pd.DataFrame) and len(loads) == 1
    row = loads.iloc[0]
    assert row.rows_in == 600 and row.rows_loaded + row.rows_rejected == 600
    assert row.rows_rejected > 0  # the generator plants junk rows on purpose
    assert outbox > 0 and api_parties > 0 and accepted > 0


def test_reminder_reply_import_and_review_export(pipeline_home, capsys, tmp_path):
    replies = tmp_path / "replies.csv"
    replies.write_text("recipient,keyword\n(713) 555-0142,STOP\nnot a phone,STOP\n")
    assert main(["reminders", "import-replies", "--agency", "alpha", str(replies)]) == 0
    out = capsys.readouterr().out
    assert "2 rows = 1 opted out + 0 opted back in + 1 rejected" in out
    assert main(["reminders", "import-replies", "--agency", "alpha", str(replies)]) == 0
    assert "already imported" in capsys.readouterr().out
    with connect_warehouse(pipeline_home / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM reminder_opt_outs").fetchall() == [(1,)]
    review = tmp_path / "review.csv"
    assert main(["reminders", "export", "--agency", "alpha", "--out", str(review)]) == 0
    lines = review.read_text().splitlines()
    assert lines[0].startswith("message_id,status,status_reason,kind,flow")
    assert len(lines) == 1  # nothing planned yet for alpha: a header and no rows
    assert "wrote 0 messages for alpha" in capsys.readouterr().out

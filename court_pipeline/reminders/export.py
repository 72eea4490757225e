"""Review export: a CSV of the messages staff should look at before go-live.

Staff need the real phone numbers and emails to spot wrong ones, so the export is unmasked
unless ``--mask`` is given; that is why it is only ever an explicit file the user asks for
(written readable by its owner only), never Dagster metadata or a log line.

    python -m court_pipeline.reminders.export --agency demo --out review.csv [--mask]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from court_pipeline.pii import mask_email, mask_phone
from court_pipeline.registry import Agency
from court_pipeline.reminders.flows import RemindersConfig
from court_pipeline.reminders.render import fill_bodies

REVIEW_COLUMNS = (
    "message_id",
    "status",
    "status_reason",
    "kind",
    "flow",
    "offset_key",
    "due_local",
    "hearing_start_local",
    "case_number",
    "hearing_id",
    "party_id",
    "channel",
    "recipient",
    "preferred_language",
    "language",
    "template",
    "segments",
    "encoding",
    "subject",
    "body",
)


def export_review_csv(
    con: duckdb.DuckDBPyConnection,
    agency_id: str,
    out_path: str | Path,
    *,
    timezone: str = "America/Chicago",
    statuses: Sequence[str] = ("planned", "ready"),
    mask_recipients: bool = False,
    render_with: tuple[Agency, RemindersConfig] | None = None,
) -> int:
    """Write the agency's messages with these statuses to ``out_path``; returns the row count.

    Reminder bodies are rendered at delivery; with ``render_with`` (the agency and its
    flows) the review renders the ones not yet rendered, and a failure shows in the
    ``body`` cell as ``(not rendered: <reason>)``."""
    zone = ZoneInfo(timezone)
    cursor = con.execute(
        """
        SELECT message_id, status, status_reason, kind, flow, offset_key,
               timezone('UTC', due_at) AS due_utc, timezone('UTC', hearing_start_at) AS start_utc,
               case_number, hearing_id, party_id, channel, recipient, preferred_language,
               language, template, segments, encoding, subject, body,
               hearing_start_at
        FROM reminder_outbox
        WHERE agency_id = ? AND list_contains(?, status)
        ORDER BY due_at, hearing_id, party_id, kind, offset_key
        """,
        [agency_id, list(statuses)],
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, raw, strict=True)) for raw in cursor.fetchall()]
    if render_with is not None:
        agency, config = render_with
        for message_id, reason in fill_bodies(con, agency, config, rows).items():
            next(r for r in rows if r["message_id"] == message_id)["body"] = (
                f"(not rendered: {reason})"
            )
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    count = 0
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(REVIEW_COLUMNS))
        writer.writeheader()
        for row in rows:
            due = row.pop("due_utc").replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
            start = row.pop("start_utc").replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
            row["due_local"] = due.strftime("%Y-%m-%d %H:%M %Z")
            row["hearing_start_local"] = start.strftime("%Y-%m-%d %H:%M %Z")
            del row["hearing_start_at"]
            if mask_recipients and row["recipient"]:
                masker = mask_email if row["channel"] == "email" else mask_phone
                row["recipient"] = masker(row["recipient"])
            writer.writerow(row)
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: export one agency's planned/ready messages for review."""
    from court_pipeline import settings
    from court_pipeline.registry import load_registry
    from court_pipeline.registry.loader import registry_relative
    from court_pipeline.reminders.flows import load_flows
    from court_pipeline.warehouse import connect_warehouse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agency", required=True, help="agency id from the registry")
    parser.add_argument("--out", required=True, type=Path, help="CSV file to write")
    parser.add_argument(
        "--status",
        action="append",
        choices=["planned", "ready", "sent", "failed", "suppressed"],
        help="statuses to include (repeatable; default planned and ready)",
    )
    parser.add_argument("--mask", action="store_true", help="mask phone numbers and emails")
    parser.add_argument("--warehouse", type=Path, default=None, help="DuckDB file")
    args = parser.parse_args(argv)
    agency = load_registry().agency(args.agency)
    with connect_warehouse(args.warehouse, read_only=True) as con:
        count = export_review_csv(
            con,
            agency.id,
            args.out,
            timezone=agency.timezone,
            statuses=args.status or ("planned", "ready"),
            mask_recipients=args.mask,
            render_with=(
                (agency, load_flows(registry_relative(settings.registry_path(), agency.reminders)))
                if agency.reminders
                else None
            ),
        )
    print(f"wrote {count} messages for {agency.id} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

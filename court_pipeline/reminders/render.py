"""Rendering stored reminders at delivery, review export and preview time.

Planning stores a reminder's keys (hearing, party, flow, offset, hearing start), the
template file and language it picked, and a NULL body: rendering 135,000 bodies per pass
was most of a first plan's time and most of the bytes written under the writer lock. A
body is rendered when it is needed, through the same bounded sandbox, from the warehouse
rows the keys name. Change and cancellation notices are still rendered at planning: they
are few, and the old start a change notice names is known only to the planning pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from court_pipeline.registry import Agency
from court_pipeline.reminders.flows import Flow, RemindersConfig
from court_pipeline.reminders.snapshot import (
    KEYED_CANDIDATES_SQL,
    Candidate,
    as_utc,
    build_candidates,
)
from court_pipeline.reminders.templates import (
    Rendered,
    TemplateError,
    TemplateSet,
    money,
    template_error_reason,
)

DEFERRED_KINDS = frozenset({"reminder"})  # kinds whose body is rendered after planning


def message_context(
    agency: Agency, c: Candidate, offset_key: str | None, days: int | None
) -> dict[str, Any]:
    """The template fields of one message (dates are added by ``TemplateSet.render``)."""
    return {
        "agency_name": agency.name,
        "name": c.name,
        "hearing_type": c.hearing_type,
        "location": c.location,
        "courtroom": c.courtroom,
        "judge": c.judge,
        "case_number": c.case_number,
        "payment_status": c.payment_status,
        "amount_due": money(c.amount_due),
        "offset": offset_key,
        "days_before": days,
    }


def render_reminder(
    templates: TemplateSet,
    agency: Agency,
    flow: Flow,
    c: Candidate,
    kind: str,
    offset_key: str | None,
    channel: str,
    start_at: datetime,
) -> Rendered:
    """One reminder body for the hearing start it is about (raises ``TemplateError``)."""
    days = {o.key: o.days for o in flow.offsets}.get(offset_key)
    local = as_utc(start_at).astimezone(c.zone).replace(tzinfo=None)
    return templates.render(
        flow,
        kind,
        c.preferred_language,
        channel,
        message_context(agency, c, offset_key, days),
        local,
    )


def read_inputs(
    con: duckdb.DuckDBPyConnection, agency: Agency, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], Candidate]:
    """The current warehouse inputs of these (hearing_id, party_id) pairs."""
    if not keys:
        return {}
    con.register(
        "_render_keys",
        pa.table(
            {
                "hearing_id": pa.array([k[0] for k in keys], pa.string()),
                "party_id": pa.array([k[1] for k in keys], pa.string()),
            }
        ),
    )
    try:
        table = con.sql(KEYED_CANDIDATES_SQL, params={"agency": agency.id}).to_arrow_table()
    finally:
        con.unregister("_render_keys")
    return {(c.hearing_id, c.party_id): c for c in build_candidates(table, agency)}


@dataclass(frozen=True)
class RenderFailure:
    """Why a stored message could not be rendered (readable: names flow and template)."""

    reason: str


def needs_render(row: dict[str, Any]) -> bool:
    return (
        row.get("body") is None
        and row.get("channel") is not None
        and (row.get("kind") in DEFERRED_KINDS)
    )


def render_stored(
    templates: TemplateSet,
    agency: Agency,
    config: RemindersConfig,
    rows: list[dict[str, Any]],
    inputs: dict[tuple[str, str], Candidate],
) -> dict[str, Rendered | RenderFailure]:
    """message_id -> rendered message or the reason it failed, for rows whose body is NULL.

    A row needs ``message_id, hearing_id, party_id, flow, kind, offset_key, channel,
    hearing_start_at`` (or ``start_utc``). One failure never stops the others."""
    flows = {flow.name: flow for flow in config.flows}
    out: dict[str, Rendered | RenderFailure] = {}
    for row in rows:
        if not needs_render(row):
            continue
        flow = flows.get(row["flow"])
        c = inputs.get((row["hearing_id"], row["party_id"]))
        if flow is None:
            out[row["message_id"]] = RenderFailure(
                f"template error: flow {row['flow']!r} is no longer configured"
            )
            continue
        if c is None:
            out[row["message_id"]] = RenderFailure(
                f"template error: flow {flow.name!r}, template {row.get('template')}: "
                "the hearing or party is no longer in the warehouse"
            )
            continue
        start = row.get("hearing_start_at") or row.get("start_utc")
        try:
            out[row["message_id"]] = render_reminder(
                templates, agency, flow, c, row["kind"], row["offset_key"], row["channel"], start
            )
        except TemplateError as exc:
            out[row["message_id"]] = RenderFailure(template_error_reason(exc))
    return out


def apply_renders(
    rows: list[dict[str, Any]], done: dict[str, Rendered | RenderFailure]
) -> dict[str, str]:
    """Put rendered content into ``rows`` in place (body, subject, segments, encoding,
    language, template); return the failure reasons by message id (rows left unrendered)."""
    failures: dict[str, str] = {}
    for row in rows:
        result = done.get(row["message_id"])
        if isinstance(result, RenderFailure):
            failures[row["message_id"]] = result.reason
        elif result is not None:
            row.update(result.outbox_columns())
    return failures


def render_keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (hearing_id, party_id) pairs whose inputs the rows with a NULL body need."""
    return sorted({(r["hearing_id"], r["party_id"]) for r in rows if needs_render(r)})


def fill_bodies(
    con: duckdb.DuckDBPyConnection,
    agency: Agency,
    config: RemindersConfig,
    rows: list[dict[str, Any]],
    templates: TemplateSet | None = None,
) -> dict[str, str]:
    """Read the inputs and render the NULL bodies of ``rows`` in place (review export,
    tools); returns the failure reasons by message id."""
    keys = render_keys(rows)
    if not keys:
        return {}
    done = render_stored(
        templates or TemplateSet(config), agency, config, rows, read_inputs(con, agency, keys)
    )
    return apply_renders(rows, done)

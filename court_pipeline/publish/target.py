"""Which CourtAnalyticsTX target the published state belongs to: environment, URL, client.

Why: ``oca_published_state`` says what *one service* accepted. Pointed at another service (a
new Messages URL, or another client id), a run would compare with that state, send nothing
and say nothing. So the state of an (environment, county) is bound to the target that
accepted it, and a run for a different target stops with a clear message until an operator
chooses, by command: ``court-pipeline oca resend --all`` (send every record to the new
target) or ``court-pipeline oca adopt`` (the new target already holds what was published).

The client id is stored only as a SHA-256 fingerprint; the secret is never involved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import duckdb


class OcaTargetChanged(RuntimeError):
    """The run's endpoint or client differs from the one the published state belongs to."""


@dataclass(frozen=True)
class Target:
    """Where one county's records are published."""

    environment: str
    county: str
    messages_url: str
    client_id: str = field(repr=False)

    @property
    def client_fingerprint(self) -> str:
        return hashlib.sha256(self.client_id.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Binding:
    """The target the state is bound to, as stored."""

    messages_url: str
    client_fingerprint: str
    bound_by: str
    bound_at: str


def bound_target(con: duckdb.DuckDBPyConnection, environment: str, county: str
                 ) -> Binding | None:
    """The stored binding of (environment, county), if any."""
    row = con.execute(
        "SELECT messages_url, client_fingerprint, bound_by, CAST(bound_at AS VARCHAR) "
        "FROM oca_publish_targets WHERE environment = ? AND county = ?",
        [environment, county],
    ).fetchone()
    return Binding(*row) if row else None


def _bind(con: duckdb.DuckDBPyConnection, target: Target, how: str) -> None:
    con.execute(
        "INSERT OR REPLACE INTO oca_publish_targets (environment, county, messages_url, "
        "client_fingerprint, bound_by, bound_at) VALUES (?, ?, ?, ?, ?, now())",
        [target.environment, target.county, target.messages_url, target.client_fingerprint,
         how],
    )


def check_target(con: duckdb.DuckDBPyConnection, target: Target, agency_id: str) -> None:
    """Bind on first use; raise :class:`OcaTargetChanged` when the target moved."""
    bound = bound_target(con, target.environment, target.county)
    if bound is None:
        _bind(con, target, "first_run")  # state of an older version was made for this target
        return
    if (bound.messages_url, bound.client_fingerprint) == (
        target.messages_url, target.client_fingerprint
    ):
        return
    moved = [f"endpoint {bound.messages_url} -> {target.messages_url}"
             if bound.messages_url != target.messages_url else "",
             f"client {bound.client_fingerprint} -> {target.client_fingerprint} (fingerprints)"
             if bound.client_fingerprint != target.client_fingerprint else ""]
    raise OcaTargetChanged(
        f"{target.county} ({agency_id}) in {target.environment}: the published state belongs "
        f"to another target ({'; '.join(m for m in moved if m)}). Nothing was sent. Choose "
        f"one: `court-pipeline oca resend --all --agency {agency_id}` sends every record to "
        f"the new target; `court-pipeline oca adopt --agency {agency_id}` trusts that the new "
        "target already holds what was published."
    )


def adopt(con: duckdb.DuckDBPyConnection, target: Target) -> int:
    """Bind the state to ``target`` as it is; returns the records it holds."""
    _bind(con, target, "adopt")
    return _state_count(con, target)


def resend_all(con: duckdb.DuckDBPyConnection, target: Target) -> int:
    """Bind to ``target`` and flag every published record to be sent whole by the next run
    (records gone from the source are still deleted there; a 404 counts as done)."""
    con.execute(
        "UPDATE oca_published_state SET needs_full_resend = true "
        "WHERE environment = ? AND county = ?",
        [target.environment, target.county],
    )
    _bind(con, target, "resend_all")
    return _state_count(con, target)


def _state_count(con: duckdb.DuckDBPyConnection, target: Target) -> int:
    return int(con.execute(
        "SELECT count(*) FROM oca_published_state WHERE environment = ? AND county = ?",
        [target.environment, target.county],
    ).fetchone()[0])  # type: ignore[index]

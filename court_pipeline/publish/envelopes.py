"""Packing record changes into CourtAnalyticsTX envelopes.

The service rejects a whole envelope above 50 events, 50 entities per event or 6 MB, so the
packer builds the body from pre-serialized entities and measures the real bytes it will send;
the body is never re-serialized after measuring. One entity type per event, deletes in their
own events. Each change keeps its (event, entity) position so a ``dataPath`` in an error
(``.Events[i].Entities[j].EntityData...``) maps back to the record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

NEW_EVENT = "di-texas-oca-new-record-event"
DELETE_EVENT = "di-texas-oca-delete-record-event"
ENTITY_ID = "TX - OCA"
TRIGGERED_BY = "court_pipeline"
MAX_EVENTS = 50
MAX_ENTITIES_PER_EVENT = 50
MAX_BYTES = 6_000_000  # "6 MB": decimal megabytes, the stricter reading
KEY_FIELDS = ("recordid", "county", "publisher")

Action = Literal["new", "update", "delete"]

_PREFIX = (
    b'{"ResolveMappings":false,"ValidateEnvelope":true,"SynchronousValidation":true,'
    b'"TriggeredBy":"' + TRIGGERED_BY.encode() + b'","Events":['
)
_SUFFIX = b"]}"
_DATA_PATH = re.compile(r"^\.?Events\[(\d+)\](?:\.Entities\[(\d+)\])?")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, the form sent on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Change:
    """One record to send: a new record, an update (keys + changed fields), or a delete."""

    entity_type: str
    action: Action
    data: dict[str, Any]
    field_hashes: dict[str, int] | None = None  # the record's full field hashes once accepted
    record_hash: int | None = None  # hash of all field hashes: the cheap "unchanged" test

    @property
    def recordid(self) -> str:
        return str(self.data["recordid"])

    @property
    def county(self) -> str:
        return str(self.data["county"])

    @property
    def publisher(self) -> str:
        return str(self.data["publisher"])

    @property
    def event_type(self) -> str:
        return DELETE_EVENT if self.action == "delete" else NEW_EVENT

    def entity_bytes(self) -> bytes:
        """``{"EntityType":...,"EntityId":"TX - OCA","LinkEntity":false,"EntityData":{...}}``."""
        return _entity_prefix(self.entity_type) + dumps(self.data) + b"}"


@dataclass
class Envelope:
    """A ready-to-send body and the changes it carries, in body order."""

    changes: list[Change]
    positions: list[tuple[int, int]]  # (event index, entity index) per change
    body: bytes
    events: int

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def counts(self) -> dict[str, dict[str, int]]:
        """Entities per event type and entity type, for the envelope log."""
        out: dict[str, Counter[str]] = {}
        for change in self.changes:
            kind = "delete-record" if change.action == "delete" else "new-record"
            out.setdefault(kind, Counter())[change.entity_type] += 1
        return {kind: dict(counter) for kind, counter in out.items()}

    def index_for(self, data_path: str | None) -> list[int]:
        """The change indexes a service ``dataPath`` names (all of an event if no entity)."""
        if not data_path:
            return []
        match = _DATA_PATH.match(data_path)
        if not match:
            return []
        event = int(match.group(1))
        entity = match.group(2)
        return [
            i
            for i, (ev, en) in enumerate(self.positions)
            if ev == event and (entity is None or en == int(entity))
        ]


@dataclass
class Packing:
    """Envelopes plus changes that can never be sent (a single entity above the size limit)."""

    envelopes: list[Envelope] = field(default_factory=list)
    too_large: list[Change] = field(default_factory=list)


@functools.cache
def _entity_prefix(entity_type: str) -> bytes:
    return (b'{"EntityType":' + dumps(entity_type) + b',"EntityId":' + dumps(ENTITY_ID)
            + b',"LinkEntity":false,"EntityData":')


@functools.cache
def _event_open(event_type: str) -> bytes:
    return b'{"EventType":' + dumps(event_type) + b',"Entities":['


def _group_key(change: Change) -> tuple[int, str, str]:
    return (1 if change.action == "delete" else 0, change.event_type, change.entity_type)


def _ordered(changes: Iterable[Change], first: Collection[tuple[str, str]]) -> list[Change]:
    """Grouped by event and entity type; the ``first`` (entity type, recordid) ahead of all."""
    if not first:
        return sorted(changes, key=_group_key)
    return sorted(changes, key=lambda c: (
        0 if (c.entity_type, c.recordid) in first else 1, *_group_key(c)))


def pack(
    changes: Iterable[Change],
    *,
    max_events: int = MAX_EVENTS,
    max_entities: int = MAX_ENTITIES_PER_EVENT,
    max_bytes: int = MAX_BYTES,
    first: Collection[tuple[str, str]] = (),
) -> Packing:
    """Pack changes into as few envelopes as the limits allow (grouped, order-stable).

    ``first``: (entity type, recordid) of records a past run deferred; they go in the first
    envelopes, so a run that is cut short again still makes progress on the oldest work.
    """
    ordered = _ordered(changes, first)
    packing = Packing()
    builder = _Builder(max_events, max_entities, max_bytes)
    for change in ordered:
        raw = change.entity_bytes()
        if not builder.fits_alone(change, raw):
            packing.too_large.append(change)
            continue
        if not builder.add(change, raw):
            packing.envelopes.append(builder.finish())
            builder = _Builder(max_events, max_entities, max_bytes)
            builder.add(change, raw)
    if builder.changes:
        packing.envelopes.append(builder.finish())
    return packing


def build_envelope(changes: Sequence[Change], **limits: int) -> Envelope:
    """One envelope for changes known to fit (a resend of what remained of an envelope)."""
    packing = pack(changes, **limits)
    if len(packing.envelopes) != 1 or packing.too_large:
        raise ValueError("changes do not fit one envelope")
    return packing.envelopes[0]


class _Builder:
    """Accumulates serialized events and tracks the exact body length as it grows."""

    def __init__(self, max_events: int, max_entities: int, max_bytes: int) -> None:
        self.max_events, self.max_entities, self.max_bytes = max_events, max_entities, max_bytes
        self.changes: list[Change] = []
        self.positions: list[tuple[int, int]] = []
        self.events: list[tuple[tuple[int, str, str], list[bytes]]] = []
        self.size = len(_PREFIX) + len(_SUFFIX)

    def fits_alone(self, change: Change, raw: bytes) -> bool:
        alone = len(_PREFIX) + len(_SUFFIX) + len(_event_open(change.event_type)) + 2 + len(raw)
        return alone <= self.max_bytes

    def add(self, change: Change, raw: bytes) -> bool:
        key = _group_key(change)
        last = self.events[-1] if self.events else None
        if last is not None and last[0] == key and len(last[1]) < self.max_entities:
            extra = len(raw) + 1  # comma before it
            if self.size + extra > self.max_bytes:
                return False
            self.events[-1][1].append(raw)
        else:
            if len(self.events) >= self.max_events:
                return False
            extra = len(_event_open(change.event_type)) + 2 + len(raw) + (1 if self.events else 0)
            if self.size + extra > self.max_bytes:
                return False
            self.events.append((key, [raw]))
        self.size += extra
        self.changes.append(change)
        self.positions.append((len(self.events) - 1, len(self.events[-1][1]) - 1))
        return True

    def finish(self) -> Envelope:
        parts = [
            _event_open(key[1]) + b",".join(entities) + b"]}" for key, entities in self.events
        ]
        body = _PREFIX + b",".join(parts) + _SUFFIX
        if len(body) != self.size or len(body) > self.max_bytes:  # the real bytes decide
            raise AssertionError(f"envelope size bookkeeping off: {len(body)} vs {self.size}")
        return Envelope(list(self.changes), list(self.positions), body, len(self.events))

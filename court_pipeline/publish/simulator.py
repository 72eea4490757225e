"""A local CourtAnalyticsTX: token endpoint, Messages endpoint, and fault injection.

It implements the wire contract of the spec (courtanalyticstx-api.md) closely enough that the
publisher is tested against behaviour rather than against our own assumptions: Cognito-style
client-credential tokens with a lifetime, per-client county association (403), the envelope
limits (400), EntityData validated with jsonschema against the project's contract files
(400/422 with ajv-style ``Errors``), whole-envelope rejection with ``ValidateEnvelope``, record
semantics keyed by (recordid, county, publisher) per entity type, and 404 for deleting an
unknown record. Faults (429 + Retry-After, 5xx, dropped connections, lost acknowledgements,
latency, short-lived tokens) are switched on through :class:`SimulatorFaults`.

Design choices where the spec is silent, documented in docs/reference/publishing.md (Simulator):
- The check order is token (401), size/JSON/envelope structure (400), county association
  (403), contract validation (400 form / 422 business rule), unknown deletes (404), then apply.
- Nothing of an envelope is applied unless all of it is (ValidateEnvelope: true); a 404 lists
  the unknown deletes and applies nothing, so a client resends the rest.
- ``required``, ``type`` and ``additionalProperties`` errors are "form" errors (400); ``enum``,
  ``pattern`` and anything else are business-rule errors (422).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import datetime as dt
import json
import random
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from court_pipeline.publish.envelopes import (
    DELETE_EVENT,
    ENTITY_ID,
    KEY_FIELDS,
    MAX_BYTES,
    MAX_ENTITIES_PER_EVENT,
    MAX_EVENTS,
    NEW_EVENT,
)

TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a URL path, not a secret)
MESSAGES_PATH = "/exchange/Messages"
RECORDS_PATH = "/debug/records"
FORM_KEYWORDS = frozenset({"required", "type", "additionalProperties"})
_READ_CAP = 64 * 1024 * 1024
RecordKey = tuple[str, str, str, str]  # (entity_type, county, publisher, recordid)


def project_contracts() -> dict[str, dict]:
    """The project's JSON Schema contracts (court_pipeline/oca/contracts), by entity type."""
    from court_pipeline.oca.contracts import ENTITY_TYPES, load_contract

    return {entity_type: load_contract(entity_type) for entity_type in ENTITY_TYPES}


@dataclass
class SimulatorFaults:
    """Fault injection. ``*_next`` counters hit the next N Messages requests; rates are random."""

    latency_ms: float = 0.0
    rate_limit_next: int = 0
    rate_limit_rate: float = 0.0
    retry_after_seconds: float = 1.0
    server_error_next: int = 0
    server_error_rate: float = 0.0
    server_error_status: int = 503
    drop_next: int = 0  # close the connection without answering, before applying
    drop_rate: float = 0.0
    lost_ack_next: int = 0  # apply the envelope, then close the connection without answering
    lost_ack_rate: float = 0.0
    conflict_next: int = 0  # answer 409
    conflict_rate: float = 0.0
    not_found_next: int = 0  # answer 404 naming no record (a 404 the client cannot attribute)
    token_lifetime_seconds: float = 3600.0
    token_max_uses: int | None = None  # a token dies after N Messages calls (expiry mid-run)
    token_error_next: int = 0  # the next N token requests answer 500
    token_drop_next: int = 0  # the next N token requests are dropped without an answer
    token_rate_limit_next: int = 0  # the next N token requests answer 429 + Retry-After
    rate_limit_window: bool = False  # a real limiter: 429 to everything until Retry-After ends
    seed: int | None = None


@dataclass
class _Client:
    secret: str
    counties: frozenset[str]


@dataclass
class _Token:
    client_id: str
    expires_at: float
    uses: int = 0


@dataclass
class SimulatorStats:
    """What the simulator saw, for tests and the benchmark."""

    token_requests: int = 0
    puts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: int = 0
    lost_acks: int = 0
    applied_envelopes: int = 0
    applied_entities: int = 0
    envelope_ids: list[str] = field(default_factory=list)
    max_concurrent: int = 0
    refused_in_window: int = 0  # 429s answered because a Retry-After window was still open


def _envelope_schema(entity_types: Iterable[str], max_events: int, max_entities: int) -> dict:
    entity = {
        "type": "object",
        "required": ["EntityType", "EntityId", "EntityData"],
        "additionalProperties": False,
        "properties": {
            "EntityType": {"enum": sorted(entity_types)},
            "EntityId": {"const": ENTITY_ID},
            "LinkEntity": {"type": "boolean"},
            "EntityData": {"type": "object"},
        },
    }
    event = {
        "type": "object",
        "required": ["EventType", "Entities"],
        "additionalProperties": False,
        "properties": {
            "EventType": {"enum": [NEW_EVENT, DELETE_EVENT]},
            "Entities": {"type": "array", "minItems": 1, "maxItems": max_entities, "items": entity},
        },
    }
    return {
        "type": "object",
        "required": ["Events"],
        "additionalProperties": False,
        "properties": {
            "ResolveMappings": {"type": "boolean"},
            "ValidateEnvelope": {"type": "boolean"},
            "SynchronousValidation": {"type": "boolean"},
            "TriggeredBy": {"type": "string"},
            "Events": {"type": "array", "minItems": 1, "maxItems": max_events, "items": event},
        },
    }


def _delete_schema(contract: Mapping[str, Any]) -> dict:
    props = contract.get("properties", {})
    return {
        "type": "object",
        "required": list(KEY_FIELDS),
        "additionalProperties": False,
        "properties": {key: props.get(key, {"type": "string"}) for key in KEY_FIELDS},
    }


def _path(parts: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _leaf(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For anyOf/oneOf failures report the branch that says what is wrong (enum, pattern)."""
    while error.validator in ("anyOf", "oneOf", "allOf") and error.context:
        branches = [e for e in error.context if e.validator != "type"] or list(error.context)
        error = min(branches, key=lambda e: len(e.schema_path))
    return error


def _ajv_error(error: jsonschema.ValidationError, prefix: str, schema_name: str | None) -> dict:
    """Describe one jsonschema error the way the service does (ajv v6 style, no values)."""
    leaf = _leaf(error)
    keyword = str(leaf.validator)
    data_path = prefix + _path(leaf.absolute_path)
    params: dict[str, Any]
    if keyword == "enum":
        params = {"allowedValues": leaf.validator_value}
        message = "should be equal to one of the allowed values"
    elif keyword == "required":
        missing = next((p for p in leaf.validator_value if p not in (leaf.instance or {})), None)
        params = {"missingProperty": missing}
        message = f"should have required property '{missing}'"
    elif keyword == "additionalProperties":
        allowed = set((leaf.schema or {}).get("properties", {}))
        extra = sorted(set(leaf.instance or {}) - allowed)
        params = {"additionalProperty": extra[0] if extra else None}
        message = "should NOT have additional properties"
    elif keyword == "pattern":
        params = {"pattern": leaf.validator_value}
        message = f'should match pattern "{leaf.validator_value}"'
    elif keyword == "type":
        expected = leaf.validator_value
        params = {"type": expected if isinstance(expected, str) else ",".join(expected)}
        message = f"should be {params['type']}"
    elif keyword == "format":
        params = {"format": leaf.validator_value}
        message = f'should match format "{leaf.validator_value}"'
    elif keyword == "const":
        params = {"allowedValue": leaf.validator_value}
        message = "should be equal to constant"
    else:
        params = {"limit": leaf.validator_value}
        message = f"should pass {keyword!r} keyword validation"
    out = {
        "keyword": keyword,
        "dataPath": data_path,
        "schemaPath": "#/" + "/".join(str(p) for p in leaf.absolute_schema_path),
        "params": params,
        "message": message,
    }
    if schema_name:
        out["ErrorSchema"] = schema_name
    return out


_FAST_TOP = {"$schema", "$id", "title", "description", "type", "required",
             "additionalProperties", "properties"}
_FAST_PROP = {"type", "enum", "pattern", "minLength", "maxLength", "format", "description",
              "title", "$comment"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
FastCheck = Callable[[Any], bool]


def _type_ok(types: set[str] | None, value: Any) -> bool:
    if types is None:
        return True
    if value is None:
        return "null" in types
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, str):
        return "string" in types
    if isinstance(value, int):
        return bool(types & {"integer", "number"})
    if isinstance(value, float):
        return "number" in types or ("integer" in types and value.is_integer())
    return False


def _is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _compile_property(prop: Mapping[str, Any]) -> FastCheck | None:
    if any(k not in _FAST_PROP and not k.startswith("x-") for k in prop):
        return None
    raw_types = prop.get("type")
    types = {raw_types} if isinstance(raw_types, str) else set(raw_types) if raw_types else None
    if types and not types <= {"string", "null", "number", "integer", "boolean"}:
        return None
    enum = prop.get("enum")
    if enum is not None and any(v is not None and not isinstance(v, str) for v in enum):
        return None
    allowed = frozenset(enum) if enum is not None else None
    if prop.get("format") not in (None, "date"):
        return None
    pattern = re.compile(prop["pattern"]) if "pattern" in prop else None
    min_len, max_len = prop.get("minLength"), prop.get("maxLength")
    is_date = prop.get("format") == "date"

    def check(value: Any) -> bool:
        if not _type_ok(types, value):
            return False
        if allowed is not None and not (
            (value is None or isinstance(value, str)) and value in allowed
        ):
            return False
        if isinstance(value, str):
            if pattern is not None and not pattern.search(value):
                return False
            if min_len is not None and len(value) < min_len:
                return False
            if max_len is not None and len(value) > max_len:
                return False
            if is_date and not _is_date(value):
                return False
        return True

    return check


def compile_fast_check(schema: Mapping[str, Any]) -> FastCheck | None:
    """A quick validity test equivalent to jsonschema for simple flat contracts, else None.

    Only says valid/invalid; errors always come from jsonschema. Used by the benchmark so
    the simulator's validation is not the bottleneck being measured.
    """
    if any(k not in _FAST_TOP and not k.startswith("x-") for k in schema):
        return None
    if schema.get("type", "object") != "object" or schema.get("additionalProperties") is not False:
        return None
    checks: dict[str, FastCheck] = {}
    for name, prop in schema.get("properties", {}).items():
        compiled = _compile_property(prop)
        if compiled is None:
            return None
        checks[name] = compiled
    required = tuple(schema.get("required", ()))

    def check(data: Any) -> bool:
        if not isinstance(data, dict) or any(r not in data for r in required):
            return False
        for key, value in data.items():
            field_check = checks.get(key)
            if field_check is None or not field_check(value):
                return False
        return True

    return check


class _Reply(Exception):
    """Internal: answer the request with this status and body."""

    def __init__(self, status: int, body: dict, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


class _Drop(Exception):
    """Internal: close the connection without an answer."""


class OcaSimulator:
    """The simulated service. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        clients: Mapping[str, tuple[str, Iterable[str]]] | None = None,
        *,
        contracts: Mapping[str, dict] | None = None,
        faults: SimulatorFaults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_bytes: int = MAX_BYTES,
        max_events: int = MAX_EVENTS,
        max_entities: int = MAX_ENTITIES_PER_EVENT,
        keep_envelopes: bool = False,
        fast_validation: bool = False,
    ) -> None:
        self.keep_envelopes = keep_envelopes
        self.applied: list[dict] = []  # applied envelopes, when keep_envelopes (tests)
        self.faults = faults or SimulatorFaults()
        self._random = random.Random(self.faults.seed)
        self._lock = threading.RLock()
        self._clients: dict[str, _Client] = {}
        for client_id, (secret, counties) in (clients or {}).items():
            self.add_client(client_id, secret, counties)
        self._tokens: dict[str, _Token] = {}
        self._records: dict[RecordKey, dict[str, Any]] = {}
        self.stats = SimulatorStats()
        self._in_flight = 0
        self._limited_until = 0.0
        self.max_bytes = max_bytes
        contracts = dict(contracts) if contracts is not None else project_contracts()
        self._validators = {}
        self._delete_validators = {}
        self._fast: dict[tuple[str, str], FastCheck | None] = {}
        for entity_type, schema in contracts.items():
            cls = jsonschema.validators.validator_for(
                schema, default=jsonschema.Draft202012Validator
            )
            checker = cls.FORMAT_CHECKER
            self._validators[entity_type] = cls(schema, format_checker=checker)
            deletes = _delete_schema(schema)
            self._delete_validators[entity_type] = cls(deletes, format_checker=checker)
            if fast_validation:
                self._fast[(NEW_EVENT, entity_type)] = compile_fast_check(schema)
                self._fast[(DELETE_EVENT, entity_type)] = compile_fast_check(deletes)
        self._envelope_validator = jsonschema.Draft202012Validator(
            _envelope_schema(contracts, max_events, max_entities)
        )
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ----- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def messages_url(self) -> str:
        return self.base_url + MESSAGES_PATH

    def start(self) -> OcaSimulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oca-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Block serving requests (the CLI); Ctrl-C stops it."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self) -> OcaSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- Python API for tests --------------------------------------------------------
    def add_client(self, client_id: str, secret: str, counties: Iterable[str]) -> None:
        with self._lock:
            self._clients[client_id] = _Client(secret, frozenset(counties))

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (the next Messages call gets 401)."""
        with self._lock:
            self._tokens.clear()

    def records(self, entity_type: str | None = None) -> dict[RecordKey, dict[str, Any]]:
        """A deep copy of the stored records, keyed (entity_type, county, publisher, recordid)."""
        with self._lock:
            return {
                key: copy.deepcopy(value)
                for key, value in self._records.items()
                if entity_type is None or key[0] == entity_type
            }

    def seed_record(self, entity_type: str, data: Mapping[str, Any]) -> None:
        """Put a record in the store directly (a record published by an earlier system)."""
        with self._lock:
            self._records[self._key(entity_type, data)] = dict(data)

    # ----- request handling ------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "OcaSimulator/1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # quiet: tests and the bench would drown in access logs

            def do_POST(self) -> None:  # noqa: N802
                sim._dispatch(self, "POST")

            def do_PUT(self) -> None:  # noqa: N802
                sim._dispatch(self, "PUT")

            def do_GET(self) -> None:  # noqa: N802
                sim._dispatch(self, "GET")

        return Handler

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path
        try:
            body = self._read_body(handler)
            if method == "POST" and path == TOKEN_PATH:
                raise self._token(handler, body)
            if method == "PUT" and path == MESSAGES_PATH:
                self._messages(handler, body)
            if method == "GET" and path == RECORDS_PATH:
                raise self._debug_records(handler)
            if method == "GET" and path == "/health":
                raise _Reply(200, {"status": "ok"})
            raise _Reply(404, {"message": f"no route {method} {path}"})
        except _Reply as reply:
            self._send(handler, reply)
        except _Drop:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)

    def _read_body(self, handler: BaseHTTPRequestHandler) -> bytes:
        length = int(handler.headers.get("Content-Length") or 0)
        if length > _READ_CAP:
            raise _Drop
        return handler.rfile.read(length) if length else b""

    def _send(self, handler: BaseHTTPRequestHandler, reply: _Reply) -> None:
        payload = json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _token(self, handler: BaseHTTPRequestHandler, body: bytes) -> _Reply:
        with self._lock:
            self.stats.token_requests += 1
        if self._roll("token_drop_next", None):
            raise _Drop
        if self._roll("token_error_next", None):
            return _Reply(500, {"message": "Internal Server Error"})
        if self._roll("token_rate_limit_next", None):
            seconds = self.faults.retry_after_seconds
            return _Reply(429, {"message": "Too Many Requests"}, {"Retry-After": f"{seconds:g}"})
        auth = handler.headers.get("Authorization", "")
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return _Reply(400, {"error": "unsupported_grant_type"})
        if not auth.startswith("Basic "):
            return _Reply(401, {"error": "invalid_client"})
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _Reply(401, {"error": "invalid_client"})
        with self._lock:
            client = self._clients.get(client_id)
            if client is None or not secrets.compare_digest(client.secret, secret):
                return _Reply(400, {"error": "invalid_client"})
            lifetime = self.faults.token_lifetime_seconds
            token = secrets.token_urlsafe(32)
            self._tokens[token] = _Token(client_id, time.monotonic() + lifetime)
        return _Reply(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": int(lifetime)}
        )

    def _debug_records(self, handler: BaseHTTPRequestHandler) -> _Reply:
        query = parse_qs(urlsplit(handler.path).query)
        entity_type = (query.get("entity_type") or [None])[0]
        if (query.get("summary") or ["0"])[0] == "1":
            counts = Counter(key[0] for key in self.records(entity_type))
            return _Reply(200, {"count": sum(counts.values()), "by_entity_type": counts,
                                "max_concurrent": self.stats.max_concurrent})
        rows = [
            {"EntityType": key[0], "EntityData": value}
            for key, value in sorted(self.records(entity_type).items())
        ]
        return _Reply(200, {"count": len(rows), "records": rows})

    def _roll(self, counter: str, rate: str | None) -> bool:
        """Consume a ``*_next`` fault counter, else roll the dice on its rate (if any)."""
        with self._lock:
            if getattr(self.faults, counter) > 0:
                setattr(self.faults, counter, getattr(self.faults, counter) - 1)
                return True
            share = getattr(self.faults, rate) if rate else 0.0
            return bool(share) and self._random.random() < share

    def _messages(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self._lock:
            self.stats.puts += 1
            self._in_flight += 1
            self.stats.max_concurrent = max(self.stats.max_concurrent, self._in_flight)
        try:
            if self.faults.latency_ms:
                time.sleep(self.faults.latency_ms / 1000)
            try:
                reply = self._messages_reply(handler, body)
            except _Reply as raised:
                reply = raised
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self.stats.statuses[reply.status] += 1
        raise reply

    def _messages_reply(self, handler: BaseHTTPRequestHandler, body: bytes) -> _Reply:
        if self._roll("drop_next", "drop_rate"):
            with self._lock:
                self.stats.dropped += 1
            raise _Drop
        with self._lock:
            left = self._limited_until - time.monotonic() if self.faults.rate_limit_window else 0
            if left > 0:
                self.stats.refused_in_window += 1
        if left > 0 or self._roll("rate_limit_next", "rate_limit_rate"):
            seconds = left if left > 0 else self.faults.retry_after_seconds
            with self._lock:
                self._limited_until = max(self._limited_until, time.monotonic() + seconds)
            return _Reply(
                429,
                {"message": "Too Many Requests"},
                {"Retry-After": f"{seconds:g}"},
            )
        if self._roll("server_error_next", "server_error_rate"):
            status = self.faults.server_error_status
            return _Reply(status, {"message": HTTPStatus(status).phrase})
        if self._roll("conflict_next", "conflict_rate"):
            return _Reply(409, {"status": "FAILED", "Message": "Conflict."})
        if self._roll("not_found_next", None):
            return _failed(404, "Not Found.", [{"keyword": "notFound", "dataPath": "",
                                                "params": {}, "message": "not found"}])
        client = self._authorize(handler)
        if handler.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return _failed(400, "Event Schema Failed Validation.", [{"message": "not JSON"}])
        if len(body) > self.max_bytes:
            return _failed(
                400,
                "Event Schema Failed Validation.",
                [{"keyword": "maxSize", "dataPath": "", "params": {"limit": self.max_bytes},
                  "message": f"message is {len(body)} bytes; limit {self.max_bytes}"}],
            )
        try:
            envelope = json.loads(body)
        except ValueError:
            return _failed(400, "Event Schema Failed Validation.", [{"message": "invalid JSON"}])
        errors = [
            _ajv_error(e, "", None) for e in self._envelope_validator.iter_errors(envelope)
        ]
        if errors:
            return _failed(400, "Event Schema Failed Validation.", errors)
        reply = self._check_and_apply(envelope, client)
        if reply.status == 200 and self._roll("lost_ack_next", "lost_ack_rate"):
            with self._lock:
                self.stats.lost_acks += 1
            raise _Drop
        return reply

    def _authorize(self, handler: BaseHTTPRequestHandler) -> _Client:
        auth = handler.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None or entry.expires_at <= time.monotonic():
                raise _Reply(401, {"message": "Unauthorized"})
            limit = self.faults.token_max_uses
            if limit is not None and entry.uses >= limit:
                del self._tokens[token]
                raise _Reply(401, {"message": "The incoming token has expired"})
            entry.uses += 1
            return self._clients[entry.client_id]

    @staticmethod
    def _key(entity_type: str, data: Mapping[str, Any]) -> RecordKey:
        return (entity_type, str(data["county"]), str(data["publisher"]), str(data["recordid"]))

    def _check_and_apply(self, envelope: dict, client: _Client) -> _Reply:
        entities = [
            (i, j, event["EventType"], entity)
            for i, event in enumerate(envelope["Events"])
            for j, entity in enumerate(event["Entities"])
        ]
        forbidden = [
            {
                "keyword": "System_County_Association",
                "dataPath": f".Events[{i}].Entities[{j}].EntityData.county",
                "params": {"county": entity["EntityData"].get("county")},
                "message": "credential is not associated with this county",
            }
            for i, j, _, entity in entities
            if isinstance(entity["EntityData"].get("county"), str)
            and entity["EntityData"]["county"] not in client.counties
        ]
        if forbidden:
            return _failed(403, "System_County_Association", forbidden)
        errors: list[dict] = []
        for i, j, event_type, entity in entities:
            entity_type = entity["EntityType"]
            validators = self._delete_validators if event_type == DELETE_EVENT else self._validators
            fast = self._fast.get((event_type, entity_type))
            if fast is not None and fast(entity["EntityData"]):
                continue
            prefix = f".Events[{i}].Entities[{j}].EntityData"
            errors.extend(
                _ajv_error(e, prefix, entity_type)
                for e in validators[entity_type].iter_errors(entity["EntityData"])
            )
        if errors:
            status = 400 if any(e["keyword"] in FORM_KEYWORDS for e in errors) else 422
            return _failed(status, "Contract Schema Failed Validation.", errors)
        with self._lock:
            unknown = [
                {
                    "keyword": "notFound",
                    "dataPath": f".Events[{i}].Entities[{j}].EntityData.recordid",
                    "params": {},
                    "message": "record not found",
                    "ErrorSchema": entity["EntityType"],
                }
                for i, j, event_type, entity in entities
                if event_type == DELETE_EVENT
                and self._key(entity["EntityType"], entity["EntityData"]) not in self._records
            ]
            if unknown:
                return _failed(404, "Record Not Found.", unknown)
            for _, _, event_type, entity in entities:
                key = self._key(entity["EntityType"], entity["EntityData"])
                if event_type == DELETE_EVENT:
                    del self._records[key]
                else:
                    self._records.setdefault(key, {}).update(entity["EntityData"])
            envelope_id = str(uuid.uuid4())
            self.stats.applied_envelopes += 1
            self.stats.applied_entities += len(entities)
            self.stats.envelope_ids.append(envelope_id)
            if self.keep_envelopes:
                self.applied.append(envelope)
        return _Reply(200, {"status": "SUCCESS", "EnvelopeId": envelope_id})


def _failed(status: int, message: str, errors: list[dict]) -> _Reply:
    return _Reply(status, {"status": "FAILED", "Message": message, "Errors": errors})


def run_simulator(
    port: int,
    *,
    host: str = "127.0.0.1",
    clients: Mapping[str, tuple[str, Iterable[str]]] | None = None,
    faults: SimulatorFaults | None = None,
    block: bool = True,
    fast_validation: bool = False,
) -> OcaSimulator:
    """Start a simulator on ``host:port``; blocks (CLI) unless ``block`` is false."""
    sim = OcaSimulator(clients, faults=faults, host=host, port=port,
                       fast_validation=fast_validation)
    if block:
        sim.serve_forever()
    else:
        sim.start()
    return sim

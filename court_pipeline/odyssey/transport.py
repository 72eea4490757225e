"""HTTP for the Odyssey client: httpx's ``AsyncClient`` plus a capped body reader.

Why httpx: keep-alive pooling (``httpx.Limits``), proxies from ``HTTPS_PROXY``/``NO_PROXY``
(``trust_env``) or the registry's ``proxy`` field, TLS verification on, and an HTTP parser
that others maintain. The one thing done here by hand is decoding the body: httpx inflates
each network chunk without a size bound, so a gzip bomb could expand a small chunk far past
the cap before anyone looks. ``read_capped`` inflates with ``max_length`` and stops at the
cap, so no reply ever holds more than ``max_bytes`` decoded.
"""

from __future__ import annotations

import os
import ssl
import zlib
from typing import Any

import httpx

DEFAULT_MAX_REPLY_BYTES = 64 << 20


class ReplyTooLarge(httpx.DecodingError):
    """A reply (or a decompression bomb) beyond the cap; refused unread."""


def ssl_context_for(verify: bool | str) -> ssl.SSLContext | bool:
    """TLS as httpx sets it up (certifi CAs, or SSL_CERT_FILE), or the given CA bundle;
    verification stays on unless explicitly turned off."""
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return verify


def open_http_client(
    *,
    concurrency: int,
    timeout_seconds: float,
    verify: bool | str,
    proxy: str | None,
    headers: dict[str, str],
    auth: httpx.Auth,
) -> httpx.AsyncClient:
    """One keep-alive pool of at most ``concurrency`` connections.

    No pool timeout: the client's gate already bounds calls in flight to the pool size, and
    waiting for a slot is queueing behind this client's own calls, not a fault. Redirects are
    not followed: a 3xx is an error like any other non-200 status. With ``proxy`` unset,
    ``trust_env`` picks up ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (and SSL_CERT_FILE).
    """
    return httpx.AsyncClient(
        auth=auth,
        headers=headers,
        limits=httpx.Limits(
            max_connections=concurrency,
            max_keepalive_connections=concurrency,
            keepalive_expiry=5.0,
        ),
        timeout=httpx.Timeout(timeout_seconds, pool=None),
        verify=ssl_context_for(verify),
        proxy=proxy or None,
        trust_env=True,
        follow_redirects=False,
    )


class _Inflater:
    """gzip/deflate (zlib or raw) with a hard output cap."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise httpx.DecodingError(f"unsupported Content-Encoding {encoding!r}")
        self.deflate = encoding == "deflate"
        wbits = zlib.MAX_WBITS if self.deflate else zlib.MAX_WBITS | 32
        self._z = zlib.decompressobj(wbits)
        self._first = True
        self.left = max_bytes

    def feed(self, data: bytes) -> bytes:
        try:
            out = self._z.decompress(data, self.left + 1)
        except zlib.error as exc:
            if not (self.deflate and self._first):
                raise httpx.DecodingError(f"bad compressed body: {exc}") from None
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            out = self._feed_raw(data)
        self._first = False
        self.left -= len(out)
        if self.left < 0 or self._z.unconsumed_tail:
            del out  # the refusal's traceback keeps this frame: it must not keep the bytes
            self._z = zlib.decompressobj()
            raise ReplyTooLarge("decoded reply body is larger than the cap")
        return out

    def _feed_raw(self, data: bytes) -> bytes:
        try:
            return self._z.decompress(data, self.left + 1)
        except zlib.error as exc:
            raise httpx.DecodingError(f"bad deflate body: {exc}") from None


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body of a streamed ``response``, refused past ``max_bytes`` decoded."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ReplyTooLarge("reply announces more bytes than the cap")
    inflater = None if encoding in ("", "identity") else _Inflater(encoding, max_bytes)
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_raw():
            piece = chunk if inflater is None else inflater.feed(chunk)
            size += len(piece)
            if size > max_bytes:
                raise ReplyTooLarge("reply body is larger than the cap")
            parts.append(piece)
    except BaseException:
        # a refused reply's exception (and its traceback) may be kept by the caller, e.g. in
        # a list of results: it must not keep up to ``max_bytes`` of body alive with it
        parts.clear()
        chunk = piece = b""
        raise
    return b"".join(parts)


def connection_counter(counts: dict[str, int]) -> Any:
    """An httpcore ``trace`` hook counting new TCP connections (keep-alive evidence)."""

    async def trace(name: str, info: dict[str, Any]) -> None:
        if name == "connection.connect_tcp.complete":
            counts["opened"] = counts.get("opened", 0) + 1

    return trace

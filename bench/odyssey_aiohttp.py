"""The Odyssey client on aiohttp instead of httpx, for the bench's comparison only.

Issue 13 asked to measure both well-kept clients. This subclass swaps only the HTTP exchange
(``_exchange``: one POST, status, Content-Type, Retry-After, body) and the pool's lifecycle;
the gate, the retries, parsing and the sync are the package's own code, so the two runs make
the same calls. It lives in bench/, not in the package: court_pipeline ships httpx, and
aiohttp is a dev extra.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from court_pipeline.odyssey.client import REQUEST_HEADERS, OdysseyClient
from court_pipeline.odyssey.errors import OdysseyTransportError


class AiohttpOdysseyClient(OdysseyClient):
    """``OdysseyClient`` whose keep-alive pool is an ``aiohttp.ClientSession``."""

    session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AiohttpOdysseyClient:
        self.http = True  # type: ignore[assignment]  # the base class checks "opened"
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.concurrency, keepalive_timeout=5.0),
            auth=aiohttp.BasicAuth(self._credentials.username, self._credentials.password),
            headers=REQUEST_HEADERS,
            timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
            trust_env=True,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        session, self.session, self.http = self.session, None, None
        if session is not None:
            await session.close()

    async def _exchange(self, body: bytes, mt: str, ref: str) -> tuple[int, str, str | None, bytes]:
        assert self.session is not None
        try:
            async with self.session.post(self.url, data=body, allow_redirects=False) as response:
                parts: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > self.max_reply_bytes:
                        raise OdysseyTransportError(
                            "reply refused (larger than the cap)",
                            code="REPLY_TOO_LARGE",
                            message_type=mt,
                            reference=ref,
                        )
                    parts.append(chunk)
                raw = b"".join(parts)
                headers: Any = response.headers
                return (
                    response.status,
                    headers.get("Content-Type", ""),
                    headers.get("Retry-After"),
                    raw,
                )
        except TimeoutError:
            raise OdysseyTransportError(
                f"timed out after {self.timeout_seconds:g}s",
                code="TIMEOUT",
                message_type=mt,
                reference=ref,
            ) from None
        except aiohttp.ClientError as exc:
            raise OdysseyTransportError(
                f"connection failed ({type(exc).__name__}: {exc})",
                code="CONNECTION",
                message_type=mt,
                reference=ref,
            ) from None

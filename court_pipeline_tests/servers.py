"""Real servers on loopback that several test folders start (a module, not a conftest, so
it is imported once)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from moto.server import ThreadedMotoServer


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """moto's real HTTP S3 server on a free loopback port; yields its endpoint URL. Each test
    folder starts its own (their buckets have the same names)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()

"""Odyssey errors: each says which message and reference number failed, never a secret.

``retryable`` drives the retry policy in one place (client.should_retry): transport trouble,
429/5xx, SOAP faults, SITE_BUSY and garbage replies are transient; 401, INVALID_MESSAGE,
not-found answers and hostile XML are not.
"""

from __future__ import annotations


class OdysseyError(Exception):
    """Base class. ``retryable`` says whether another attempt could succeed."""

    retryable: bool = False
    code: str = "ERROR"

    def __init__(self, message: str, *, message_type: str = "", reference: str = "") -> None:
        where = f"{message_type} ref {reference}: " if message_type or reference else ""
        super().__init__(where + message)
        self.message_type = message_type
        self.reference = reference


class ReadOnlyViolation(OdysseyError):
    """Something tried to send a message type outside the read-only whitelist."""

    code = "READ_ONLY_VIOLATION"


class OdysseyConfigError(OdysseyError):
    """Missing secret environment variable or bad client settings."""

    code = "CONFIG"


class OdysseyAuthError(OdysseyError):
    """HTTP 401: bad Basic credentials or site key. Never retried; fails the run."""

    code = "HTTP_401"


class OdysseyHTTPError(OdysseyError):
    """A non-200 HTTP status other than 401 (429 and 5xx are retryable)."""

    def __init__(
        self, status: int, message: str, *, retry_after: float | None = None, **kw: str
    ) -> None:
        super().__init__(message, **kw)
        self.status = status
        self.retry_after = retry_after
        self.code = f"HTTP_{status}"
        self.retryable = status == 429 or status >= 500


class OdysseyTransportError(OdysseyError):
    """Timeout, refused or dropped connection."""

    retryable = True

    def __init__(self, message: str, *, code: str = "TRANSPORT", **kw: str) -> None:
        super().__init__(message, **kw)
        self.code = code


class SoapFault(OdysseyError):
    """A ``soap:Fault`` reply (HTTP 500): retryable."""

    retryable = True
    code = "SOAP_FAULT"

    def __init__(self, faultcode: str, faultstring: str, **kw: str) -> None:
        super().__init__(f"SOAP fault {faultcode}: {faultstring}", **kw)
        self.faultcode = faultcode
        self.faultstring = faultstring


class OdysseyReplyError(OdysseyError):
    """A reply that is not well-formed, not the expected shape, or hostile XML."""

    code = "BAD_REPLY"

    def __init__(self, message: str, *, retryable: bool, code: str = "BAD_REPLY", **kw: str):
        super().__init__(message, **kw)
        self.retryable = retryable
        self.code = code


class OdysseyApplicationError(OdysseyError):
    """A 200 ``<Error>`` reply: CASE_NOT_FOUND, PARTY_NOT_FOUND, INVALID_MESSAGE, SITE_BUSY."""

    def __init__(self, code: str, text: str, *, retryable: bool, **kw: str) -> None:
        super().__init__(f"Odyssey error {code}: {text}", **kw)
        self.code = code
        self.retryable = retryable

"""The exception hierarchy shared by every process.

Domain errors carry no HTTP: each service maps them to its own wire errors in one place
(the storage node's endpoint, the satellite's API, the gateway's S3 error table).
"""

from __future__ import annotations

__all__ = [
    "GeoshardError",
    "MessageError",
    "OrderError",
    "SignatureError",
]


class GeoshardError(Exception):
    """Base of every error Geoshard raises on purpose."""


class MessageError(GeoshardError):
    """A wire message is malformed: wrong shape, wrong type, unknown version."""


class SignatureError(MessageError):
    """A signature does not verify, or was made by someone other than the expected signer."""


class OrderError(GeoshardError):
    """An order limit is valid as a message but does not authorise this request
    (expired, for another node, wrong action, serial already used, over its byte limit)."""

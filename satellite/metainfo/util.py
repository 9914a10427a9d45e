"""Small pure helpers shared by the metainfo service and its store."""

from __future__ import annotations

from typing import Any

from satellite.errors import InvalidArgument

__all__ = ["MAX_KEY_BYTES", "check_key", "successor"]

MAX_KEY_BYTES = 1024


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidArgument("object keys are 1 to 1024 bytes of UTF-8")
    return key


def successor(s: str) -> str | None:
    """The least string greater than every string that starts with ``s`` (None if unbounded).

    In UTF-8 byte order (= code point order) that is ``s`` with its last character
    incremented, skipping the surrogate block, which no UTF-8 key contains.
    """
    while s:
        c = ord(s[-1])
        if c < 0x10FFFF:
            c += 1
            if 0xD800 <= c <= 0xDFFF:
                c = 0xE000
            return s[:-1] + chr(c)
        s = s[:-1]
    return None

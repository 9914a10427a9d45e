"""Small pure helpers shared by the metainfo service and its store."""

from __future__ import annotations

__all__ = ["successor"]


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

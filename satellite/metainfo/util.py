"""Small pure helpers shared by the metainfo service and its store."""

from __future__ import annotations

from typing import Any

from common.objectlock import VersionLock
from satellite.errors import InvalidArgument
from satellite.metainfo.types import ObjectMeta

__all__ = ["MAX_KEY_BYTES", "check_key", "parse_meta", "successor"]

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


def parse_meta(d: Any, *, size_required: bool = True) -> ObjectMeta:
    if not isinstance(d, dict):
        raise InvalidArgument("'meta' must be a JSON object")
    size = d.get("size", 0 if not size_required else None)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidArgument("meta.size must be a non-negative integer")
    out: dict[str, Any] = {}
    for name in ("metadata", "checksums", "tags"):
        v = d.get(name) or {}
        if not isinstance(v, dict):
            raise InvalidArgument(f"meta.{name} must be a JSON object")
        out[name] = v
    etag, ctype = d.get("etag", ""), d.get("content_type", "")
    if not isinstance(etag, str) or not isinstance(ctype, str):
        raise InvalidArgument("meta.etag and meta.content_type must be strings")
    lock = None
    if d.get("lock") is not None:
        try:
            lock = VersionLock.from_json(d["lock"])
        except ValueError as e:
            raise InvalidArgument(f"meta.lock: {e}") from None
    return ObjectMeta(size, etag, ctype, out["metadata"], out["checksums"], out["tags"], lock)

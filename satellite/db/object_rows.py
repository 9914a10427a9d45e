"""Object rows as the read paths select them: plain columns, decoded into ``ObjectInfo``."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, Text, type_coerce

from common.objectlock import VersionLock
from satellite.db.models import ObjectRow
from satellite.metainfo.types import ObjectInfo

__all__ = ["CURRENT_COLUMNS", "LIST_COLUMNS", "OBJECT_COLUMNS", "listed_info", "object_columns"]


# Listing selects ObjectInfo's fields as plain columns rather than ORM entities, and takes the
# three JSON columns as text (SQLite; asyncpg decodes them itself), decoding them here with a
# fast path for the usual "{}": on a 1,000-key page the ORM and 3,000 json.loads calls were
# two thirds of the CPU.
def object_columns(o: Any = ObjectRow) -> tuple[Any, ...]:
    """``OBJECT_COLUMNS`` of ``o``: ``ObjectRow`` or an alias of it (a GET's join with its bucket)."""
    return (
        o.id,
        o.key,
        o.version,
        o.size,
        o.etag,
        o.content_type,
        type_coerce(o.user_metadata, Text),
        type_coerce(o.checksums, Text),
        type_coerce(o.tags, Text),
        o.segment_count,
        o.created_at,
        o.version_id,
        o.is_latest,
        o.delete_marker,
        # GET and HEAD of one object also answer with its Object Lock.
        o.lock_mode,
        o.lock_until,
        o.legal_hold,
    )


OBJECT_COLUMNS = object_columns()
LIST_COLUMNS = OBJECT_COLUMNS[:14]
# ListObjects shows no version: its rows skip the versioning columns (a tenth of a page's decoding).
CURRENT_COLUMNS = LIST_COLUMNS[:11]


def _json_dict(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(raw, dict):  # asyncpg decodes json itself
        return raw
    return {} if raw is None or raw == "{}" else dict(json.loads(raw))


def listed_info(r: Row[Any]) -> ObjectInfo:
    meta, checksums, tags = _json_dict(r[6]), _json_dict(r[7]), _json_dict(r[8])
    if len(r) == len(CURRENT_COLUMNS):
        return ObjectInfo(r[0], r[1], r[2], r[3], r[4], r[5], meta, checksums, tags, r[9], r[10])
    lock = VersionLock.of_row(r[14], r[15], r[16]) if len(r) == len(OBJECT_COLUMNS) else None
    return ObjectInfo(r[0], r[1], r[2], r[3], r[4], r[5], meta, checksums, tags, r[9], r[10], r[11], bool(r[12]),
                      bool(r[13]), lock=lock)  # fmt: skip

"""Object rows as the read paths select them: plain columns, decoded into ``ObjectInfo``."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, Text, type_coerce

from common.objectlock import VersionLock
from satellite.db.models import ObjectRow
from satellite.metainfo.types import ObjectInfo

__all__ = ["CURRENT_COLUMNS", "LIST_COLUMNS", "OBJECT_COLUMNS", "listed_info"]


# Listing selects ObjectInfo's fields as plain columns rather than ORM entities, and takes the
# three JSON columns as text (SQLite; asyncpg decodes them itself), decoding them here with a
# fast path for the usual "{}": on a 1,000-key page the ORM and 3,000 json.loads calls were
# two thirds of the CPU.
LIST_COLUMNS = (
    ObjectRow.id,
    ObjectRow.key,
    ObjectRow.version,
    ObjectRow.size,
    ObjectRow.etag,
    ObjectRow.content_type,
    type_coerce(ObjectRow.user_metadata, Text),
    type_coerce(ObjectRow.checksums, Text),
    type_coerce(ObjectRow.tags, Text),
    ObjectRow.segment_count,
    ObjectRow.created_at,
    ObjectRow.version_id,
    ObjectRow.is_latest,
    ObjectRow.delete_marker,
)

# ListObjects shows no version: its rows skip the versioning columns (a tenth of a page's decoding).
CURRENT_COLUMNS = LIST_COLUMNS[:11]
# GET and HEAD of one object also answer with its Object Lock.
OBJECT_COLUMNS = (*LIST_COLUMNS, ObjectRow.lock_mode, ObjectRow.lock_until, ObjectRow.legal_hold)


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

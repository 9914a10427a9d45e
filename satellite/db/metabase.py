"""Buckets, objects, segments and pieces in the database (implements ``MetabaseStore``).

Listing with a delimiter must not read the keys inside each common prefix: a bucket with a
million keys under ``photos/`` would make one page cost a million rows. So the listing is
a *skip scan* written as one recursive query. Each step seeks the first committed key
after the previous one in the ``(bucket_id, key, version)`` index; when that key holds the
delimiter after the prefix, the next step seeks to the prefix's successor instead, i.e.
the key up to and excluding the delimiter followed by the delimiter's last character plus
one (``"a/b/"`` → ``"a/b0"``), which is the first possible key after every key that starts
with the common prefix. A page therefore costs one index seek per entry, however many keys
each common prefix hides. The query uses only ``WITH RECURSIVE``, ``substr``, ``length``
and ``||``, plus SQLite's ``instr`` or PostgreSQL's ``strpos`` (chosen per dialect).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from satellite.db.access import AccessRepository, access_columns, access_rows_of
from satellite.db.bucket_settings import BucketSettingsRepository
from satellite.db.deletion import delete_keys
from satellite.db.engine import Database
from satellite.db.models import (
    BadPieceReport,
    Bucket,
    Node,
    ObjectRow,
    ObjectStatus,
    PieceRow,
    PlacementPolicyRow,
    SegmentRow,
    Tenant,
    Upload,
)
from satellite.db.multipart import MultipartRepository
from satellite.db.object_lock import ObjectLockRepository
from satellite.db.object_rows import CURRENT_COLUMNS, OBJECT_COLUMNS, object_columns
from satellite.db.object_rows import listed_info as _listed_info
from satellite.db.object_versions import UNVERSIONED, replace_object
from satellite.db.policy_aliases import policy_by_name_or_alias, policy_names
from satellite.db.residency_ledger import LedgerEvent, placed, record_changes
from satellite.db.tenancy import policy_from_row
from satellite.db.versioning import VersioningRepository
from satellite.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
    UnknownPolicy,
)
from satellite.metainfo.types import (
    BucketInfo,
    ListEntry,
    ObjectInfo,
    ObjectMeta,
    PieceOut,
    SegmentIn,
    SegmentOut,
    WriteCondition,
)
from satellite.metainfo.util import successor

__all__ = ["MetabaseRepository", "replace_object", "successor"]

# Racing commits of one key each take the next version; the loser of a race retries. A unique
# violation means another commit of the key *committed* that version, so every retry follows
# progress and the retries needed are bounded by the commits racing at once (16 gateways
# racing for one key have been seen to need more than 5).
_COMMIT_RETRIES = 64
_VERSION_CONFLICT = ("uq_objects_bucket_id_key_version", "objects.bucket_id, objects.key, objects.version")

Conn = AsyncSession | AsyncConnection  # the statements below run on either


def _version_race(e: IntegrityError) -> bool:
    text_ = str(e.orig)
    return any(name in text_ for name in _VERSION_CONFLICT)


def object_info(o: ObjectRow, state: str = UNVERSIONED) -> ObjectInfo:
    return ObjectInfo(
        id=o.id,
        key=o.key,
        version=o.version,
        size=o.size,
        etag=o.etag,
        content_type=o.content_type,
        user_metadata=o.user_metadata,
        checksums=o.checksums,
        tags=o.tags,
        segment_count=o.segment_count,
        created_at=o.created_at,
        version_id=o.version_id,
        is_latest=o.is_latest,
        delete_marker=o.delete_marker,
        versioned=state != UNVERSIONED,
    )


async def insert_segments(
    s: Conn, segments: Sequence[SegmentIn], *, object_id: int | None, upload_id: str | None,
    event: LedgerEvent = LedgerEvent.UPLOAD,
    owner: tuple[str, str] | None = None,
) -> None:
    """Insert segments and their pieces: two statements, whatever the number of pieces; their
    placement (pieces, or the satellite's database) goes into the residency ledger in one append
    (``owner``: the bucket's name and the object's key, when the caller has them)."""
    if not segments:
        return
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "object_id": object_id,
            "upload_id": upload_id,
            "part_number": seg.part_number,
            "index": seg.index,
            "plain_size": seg.plain_size,
            "encrypted_size": seg.encrypted_size,
            "layout": seg.layout,
            "wrapped_key": seg.wrapped_key,
            "nonce": seg.nonce,
            "inline_data": seg.inline_data,
            "root_piece_id": seg.root_piece_id,
            "k": seg.scheme[0],
            "repair_threshold": seg.scheme[1],
            "success_threshold": seg.scheme[2],
            "total": seg.scheme[3],
            "piece_size": seg.piece_size,
            "created_at": now,
            "piece_expires": dt.datetime.fromtimestamp(seg.piece_expires, dt.UTC) if seg.piece_expires else None,
        }
        for seg in segments
    ]
    if len(rows) == 1:  # one row: a plain INSERT … RETURNING, not the batched many-rows form
        ids = [(await s.execute(_INSERT_SEGMENT, rows[0])).scalar_one()]
    else:
        ids = list((await s.execute(_INSERT_SEGMENTS, rows)).scalars())
    pieces = [
        {
            "segment_id": segment_id,
            "number": p.number,
            "node_id": p.node_id,
            "piece_id": p.piece_id,
            "merkle_root": p.root,
            "size": p.size,
        }
        for segment_id, seg in zip(ids, segments, strict=True)
        for p in seg.pieces
    ]
    if pieces:
        await s.execute(_INSERT_PIECES, pieces)
    changes = [c for sid, seg in zip(ids, segments, strict=True) for c in placed(sid, seg)]
    await record_changes(s, event, changes, owner=owner)


async def latest_version(s: Conn, bucket_id: int, key: str) -> int:
    v = await s.execute(
        select(func.max(ObjectRow.version)).where(ObjectRow.bucket_id == bucket_id, ObjectRow.key == key)
    )
    return int(v.scalar() or 0)


_INSERT_SEGMENTS = insert(cast(Table, SegmentRow.__table__)).returning(
    SegmentRow.__table__.c.id, sort_by_parameter_order=True
)
_INSERT_SEGMENT = insert(cast(Table, SegmentRow.__table__)).returning(SegmentRow.__table__.c.id)
_INSERT_PIECES = insert(cast(Table, PieceRow.__table__))


_buckets = cast(Table, Bucket.__table__)
_policies = cast(Table, PlacementPolicyRow.__table__)
# A bucket, its policy and its access settings as plain columns on a Core connection: the hot
# path's first query, and all an authorization reads.
_BUCKET_BY_NAME = (
    select(_buckets.c.id, _buckets.c.name, _buckets.c.tenant_id, _buckets.c.created_at, _buckets.c.versioning,
           _buckets.c.object_lock, *(c.label(f"p_{c.name}") for c in _policies.c),
           *access_columns(_buckets.c.id, _buckets.c.tenant_id))
    .join(_policies, _policies.c.id == _buckets.c.policy_id)
    .where(_buckets.c.name == bindparam("name"))
)  # fmt: skip


# The GET path's reads as Core statements on a connection, not ORM sessions: for a small
# (inline) object the session's setup, identity map and row objects were most of the
# satellite's CPU per request.
_OBJECT_BY_KEY = (
    select(*OBJECT_COLUMNS)
    .where(
        ObjectRow.bucket_id == bindparam("bucket_id"),
        ObjectRow.key == bindparam("key"),
        ObjectRow.status == ObjectStatus.COMMITTED,
    )
    .order_by(ObjectRow.version.desc())
    .limit(1)
)
_OBJECT_VERSION = select(*OBJECT_COLUMNS).where(
    ObjectRow.bucket_id == bindparam("bucket_id"),
    ObjectRow.key == bindparam("key"),
    ObjectRow.version_id == bindparam("version_id"),
)


def _bucket_and_object(by_version_id: bool) -> Any:
    """A GET's first read: its bucket (with policy and access settings, as ``_BUCKET_BY_NAME``)
    and the key's latest committed version, or its version ``version_id``, as columns ``o_0``…
    of an outer join (all None when there is no such version). The caller decides access
    before it looks at the object."""
    o = aliased(ObjectRow, name="o")
    on = [o.bucket_id == _buckets.c.id, o.key == bindparam("key")]
    if by_version_id:
        on.append(o.version_id == bindparam("version_id"))
    else:
        prior = cast(Table, ObjectRow.__table__).alias("prior")
        newest = select(func.max(prior.c.version)).where(
            prior.c.bucket_id == _buckets.c.id, prior.c.key == bindparam("key"),
            prior.c.status == ObjectStatus.COMMITTED,
        )  # fmt: skip
        on += [o.status == ObjectStatus.COMMITTED, o.version == newest.scalar_subquery()]
    columns = (c.label(f"o_{i}") for i, c in enumerate(object_columns(o)))
    return _BUCKET_BY_NAME.add_columns(*columns).outerjoin(o, and_(*on))


_BUCKET_AND_LATEST = _bucket_and_object(False)
_BUCKET_AND_VERSION = _bucket_and_object(True)
_segments = cast(Table, SegmentRow.__table__)
_SEGMENTS_OF_OBJECT = (
    select(_segments)
    .where(_segments.c.object_id == bindparam("object_id"))
    .order_by(_segments.c.part_number, _segments.c.index)
)
_pieces = cast(Table, PieceRow.__table__)
_nodes = cast(Table, Node.__table__)


def _bucket_info(r: Row[Any]) -> BucketInfo:
    m = r._mapping
    policy = policy_from_row(SimpleNamespace(**{k[2:]: v for k, v in m.items() if k.startswith("p_")}))  # type: ignore[arg-type]
    return BucketInfo(m["id"], m["name"], m["tenant_id"], policy, m["created_at"], m["versioning"], m["object_lock"],
                      access_rows=access_rows_of(m))  # fmt: skip


class MetabaseRepository(MultipartRepository, BucketSettingsRepository, AccessRepository, VersioningRepository,
                         ObjectLockRepository):
    """Implements ``satellite.metainfo.store.MetabaseStore``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._strpos = "instr" if db.dialect == "sqlite" else "strpos"

    # --- buckets ------------------------------------------------------------------------

    def _bucket_query(self):  # type: ignore[no-untyped-def]
        return select(Bucket, PlacementPolicyRow).join(PlacementPolicyRow, PlacementPolicyRow.id == Bucket.policy_id)

    @staticmethod
    def _bucket(b: Bucket, p: PlacementPolicyRow) -> BucketInfo:
        return BucketInfo(b.id, b.name, b.tenant_id, policy_from_row(p), b.created_at, b.versioning or UNVERSIONED,
                          b.object_lock)  # fmt: skip

    async def get_bucket(self, name: str) -> BucketInfo | None:
        async with self.db.read_conn() as c:
            row = (await c.execute(_BUCKET_BY_NAME, {"name": name})).first()
        return None if row is None else _bucket_info(row)

    async def get_bucket_object(
        self, name: str, key: str, version_id: str | None = None
    ) -> tuple[BucketInfo | None, ObjectInfo | None]:
        """Bucket ``name`` and the key's latest version (maybe a delete marker) or its version
        ``version_id``, in one statement; (None, None) when there is no such bucket."""
        row = await self._version_row(_BUCKET_AND_LATEST, _BUCKET_AND_VERSION, {"name": name, "key": key}, version_id)
        if row is None:
            return None, None
        obj = tuple(row)[-len(OBJECT_COLUMNS) :]
        return _bucket_info(row), None if obj[0] is None else _listed_info(obj)  # type: ignore[arg-type]

    async def create_bucket(self, tenant_id: str, name: str, policy: str | None, *, object_lock: bool = False
                            ) -> BucketInfo:  # fmt: skip
        try:
            async with self.db.transaction() as s:
                if policy:
                    prow = await policy_by_name_or_alias(s, policy)
                    if prow is None:
                        valid = ", ".join(await policy_names(s))
                        raise UnknownPolicy(f"{policy!r} names no residency policy; valid: {valid}", name=policy)
                else:
                    prow = (
                        await s.execute(
                            select(PlacementPolicyRow)
                            .join(Tenant, Tenant.default_policy_id == PlacementPolicyRow.id)
                            .where(Tenant.id == tenant_id)
                        )
                    ).scalar()
                    if prow is None:
                        raise UnknownPolicy(
                            "no LocationConstraint given and the tenant has no default placement policy"
                        )
                # Object Lock turns versioning on for good (S3: it can never be suspended).
                bucket = Bucket(name=name, tenant_id=tenant_id, policy_id=prow.id, created_at=dt.datetime.now(dt.UTC),
                                versioning="Enabled" if object_lock else UNVERSIONED,
                                object_lock={} if object_lock else None)  # fmt: skip
                s.add(bucket)
                await s.flush()
                return self._bucket(bucket, prow)
        except IntegrityError:
            existing = await self.get_bucket(name)
            if existing is not None and existing.tenant_id == tenant_id:
                raise BucketAlreadyOwnedByYou(f"you already own bucket {name!r}") from None
            raise BucketAlreadyExists(f"bucket name {name!r} is taken") from None

    async def list_buckets(self, tenant_id: str) -> list[BucketInfo]:
        async with self.db.read() as s:
            rows = (
                await s.execute(self._bucket_query().where(Bucket.tenant_id == tenant_id).order_by(Bucket.name))
            ).all()
        return [self._bucket(b, p) for b, p in rows]

    async def delete_bucket(self, bucket: BucketInfo) -> None:
        async with self.db.transaction() as s:
            if (await s.execute(select(ObjectRow.id).where(ObjectRow.bucket_id == bucket.id).limit(1))).first():
                raise BucketNotEmpty(f"bucket {bucket.name!r} is not empty")
            if (await s.execute(select(Upload.id).where(Upload.bucket_id == bucket.id).limit(1))).first():
                raise BucketNotEmpty(f"bucket {bucket.name!r} has multipart uploads in progress")
            res = await s.execute(delete(Bucket).where(Bucket.id == bucket.id))
            if not res.rowcount:
                raise NoSuchBucket(f"no bucket {bucket.name!r}")

    # --- objects ------------------------------------------------------------------------

    async def commit_object(
        self,
        bucket_id: int,
        key: str,
        meta: ObjectMeta,
        segments: Sequence[SegmentIn],
        condition: WriteCondition | None = None,
        *,
        bucket_name: str | None = None,
    ) -> ObjectInfo:
        owner = None if bucket_name is None else (bucket_name, key)
        for attempt in range(_COMMIT_RETRIES):
            try:
                async with self.db.write_conn() as c:
                    row, state = await replace_object(c, bucket_id, key, meta, len(segments), condition,
                                                      bucket_name=bucket_name)  # fmt: skip
                    await insert_segments(c, segments, object_id=row.id, upload_id=None, owner=owner)
                    return object_info(row, state)
            except IntegrityError as e:
                # Commits of one key raced for the same version (PostgreSQL); take the next.
                if not _version_race(e) or attempt == _COMMIT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def get_object(self, bucket_id: int, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """The key's latest version (maybe a delete marker), or its version ``version_id``."""
        row = await self._version_row(_OBJECT_BY_KEY, _OBJECT_VERSION, {"bucket_id": bucket_id, "key": key}, version_id)
        return None if row is None else _listed_info(row)

    async def _version_row(self, latest: Any, by_id: Any, params: dict[str, Any], version_id: str | None) -> Any:
        """The first row of ``latest``, or with a ``version_id`` of ``by_id`` (reads of one version)."""
        async with self.db.read_conn() as c:
            if version_id is None:
                return (await c.execute(latest, params)).first()
            return (await c.execute(by_id, {**params, "version_id": version_id})).first()

    async def get_segments(
        self, object_id: int, plain_range: tuple[int, int] | None, *, with_pieces: bool = True
    ) -> list[SegmentOut]:
        """The object's segments in order with plaintext offsets; only those meeting the range."""
        async with self.db.snapshot_conn() as c:  # segments and their pieces from one commit
            rows = (await c.execute(_SEGMENTS_OF_OBJECT, {"object_id": object_id})).all()
            out: list[SegmentOut] = []
            offset = 0
            for r in rows:
                start, offset = offset, offset + r.plain_size
                if plain_range is not None and (offset <= plain_range[0] or start > plain_range[1]):
                    continue
                out.append(
                    SegmentOut(
                        id=r.id,
                        part_number=r.part_number,
                        index=r.index,
                        plain_offset=start,
                        plain_size=r.plain_size,
                        encrypted_size=r.encrypted_size,
                        layout=r.layout,
                        wrapped_key=r.wrapped_key,
                        nonce=r.nonce,
                        inline_data=r.inline_data,
                        root_piece_id=r.root_piece_id,
                        scheme=(r.k, r.repair_threshold, r.success_threshold, r.total),
                        piece_size=r.piece_size,
                        piece_expires=int(r.piece_expires.timestamp()) if r.piece_expires else 0,
                    )
                )
            # An inline object (the usual small GET) has no pieces: no second query.
            if with_pieces and any(seg.root_piece_id for seg in out):
                by_id = {seg.id: seg for seg in out}
                pieces = await c.execute(
                    select(_pieces.c.segment_id, _pieces.c.number, _pieces.c.node_id, _pieces.c.piece_id,
                           _pieces.c.merkle_root, _pieces.c.size, _nodes.c.address, _nodes.c.last_contact_at,
                           _nodes.c.disqualified_at)
                    .join(_nodes, _nodes.c.id == _pieces.c.node_id)
                    .where(_pieces.c.segment_id.in_(list(by_id)))
                    .order_by(_pieces.c.segment_id, _pieces.c.number)
                )  # fmt: skip
                for seg_id, number, node_id, piece_id, root, size, address, contact, dq in pieces:
                    by_id[seg_id].pieces.append(
                        PieceOut(number, node_id, piece_id, root, size, address, contact, dq is not None)
                    )
        return out

    async def list_objects(
        self,
        bucket_id: int,
        *,
        prefix: str,
        delimiter: str,
        start: str,
        start_inclusive: bool,
        limit: int,
    ) -> list[ListEntry]:
        """Up to ``limit`` entries after ``start`` in key order (see the module's docstring)."""
        upper = successor(prefix) if prefix else None
        lo, lo_incl = (start, start_inclusive) if start > prefix else (prefix, True)
        # One snapshot: a key the skip scan found must still have its row, or the page comes
        # back short and says "not truncated" over keys it never reached.
        async with self.db.snapshot_conn() as s:
            if not delimiter:
                q = select(*CURRENT_COLUMNS).where(
                    ObjectRow.bucket_id == bucket_id,
                    ObjectRow.is_latest == True,  # noqa: E712  (the (bucket_id, is_latest, key) index)
                    ObjectRow.key >= lo if lo_incl else ObjectRow.key > lo,
                    ObjectRow.status == ObjectStatus.COMMITTED,
                    ObjectRow.delete_marker == False,  # noqa: E712
                )
                if upper is not None:
                    q = q.where(ObjectRow.key < upper)
                rows = await s.execute(q.order_by(ObjectRow.key).limit(limit))
                return [ListEntry(r[1], _listed_info(r)) for r in rows]
            keys = await self._skip_scan(s, bucket_id, prefix, delimiter, lo, lo_incl, upper, limit)
            plain = [k for k in keys if delimiter not in k[len(prefix) :]]
            infos: dict[str, ObjectInfo] = {}
            for i in range(0, len(plain), 500):
                rows = await s.execute(
                    select(*CURRENT_COLUMNS).where(
                        ObjectRow.bucket_id == bucket_id,
                        ObjectRow.is_latest == True,  # noqa: E712
                        ObjectRow.key.in_(plain[i : i + 500]),
                        ObjectRow.status == ObjectStatus.COMMITTED,
                        ObjectRow.delete_marker == False,  # noqa: E712
                    )
                )
                for r in rows:
                    infos[r[1]] = _listed_info(r)
        out: list[ListEntry] = []
        for k in keys:
            rest = k[len(prefix) :]
            cut = rest.find(delimiter)
            if cut >= 0:
                out.append(ListEntry(prefix + rest[: cut + len(delimiter)], None))
            elif k in infos:  # deleted between the two queries: leave it out
                out.append(ListEntry(k, infos[k]))
        return out

    async def _skip_scan(
        self,
        s: Conn,
        bucket_id: int,
        prefix: str,
        delimiter: str,
        lo: str,
        lo_incl: bool,
        upper: str | None,
        limit: int,
        *,
        current_only: bool = True,
    ) -> list[str]:
        """The next ``limit`` keys and common prefixes (as their first key) after ``lo``; with
        ``current_only`` only keys whose latest version is an object, so a prefix holding only
        delete markers is never seen (ListObjects), else every key with a version (ListObjectVersions)."""
        dsucc = successor(delimiter[-1])
        if dsucc is None:
            raise ValueError("delimiter ends with the last Unicode character")
        dsucc = delimiter[:-1] + dsucc
        lp = len(prefix)
        up = "AND o.key < :upper" if upper is not None else ""
        if current_only:  # the (bucket_id, is_latest, key) index
            up += " AND o.is_latest = :yes AND o.delete_marker = :no"
        pos = f"{self._strpos}(substr(w.k, :lp + 1), :delim)"
        # The next seek from key k: past k itself, or past its whole common prefix.
        nxt = f"CASE WHEN {pos} > 0 THEN substr(w.k, 1, :lp + {pos} - 1) || :dsucc ELSE w.k END"
        sql = f"""
            WITH RECURSIVE walk(k, n) AS (
                SELECT (SELECT MIN(o.key) FROM objects o
                        WHERE o.bucket_id = :b AND o.key {">=" if lo_incl else ">"} :lo {up}
                          AND o.status = 'committed'), 1
                UNION ALL
                SELECT (SELECT MIN(o.key) FROM objects o
                        WHERE o.bucket_id = :b AND o.key >= ({nxt}) AND o.key <> w.k {up}
                          AND o.status = 'committed'), w.n + 1
                FROM walk w WHERE w.k IS NOT NULL AND w.n < :limit
            )
            SELECT k FROM walk WHERE k IS NOT NULL ORDER BY n
        """
        params: dict[str, Any] = {
            "b": bucket_id,
            "lo": lo,
            "lp": lp,
            "delim": delimiter,
            "dsucc": dsucc,
            "limit": limit,
        }
        if current_only:
            params.update(yes=True, no=False)
        if upper is not None:
            params["upper"] = upper
        return list((await s.execute(text(sql), params)).scalars())

    async def delete_objects(self, bucket_id: int, keys: Sequence[str]) -> list[str]:
        """Delete each key's versions; returns the keys that existed (``satellite.db.deletion``)."""
        async with self.db.transaction() as s:
            return await delete_keys(s, bucket_id, keys)

    async def set_tags(self, bucket_id: int, key: str, tags: dict[str, Any], version_id: str | None = None) -> bool:
        """Tag the latest version (or ``version_id``); never a delete marker (the service refuses those)."""
        async with self.db.transaction() as s:
            which = ObjectRow.version_id == version_id
            if version_id is None:
                which = ObjectRow.version == await latest_version(s, bucket_id, key)
            res = await s.execute(
                update(ObjectRow)
                .where(ObjectRow.bucket_id == bucket_id, ObjectRow.key == key, which,
                       ObjectRow.delete_marker == False)  # noqa: E712
                .values(tags=tags)
            )  # fmt: skip
            return bool(res.rowcount)

    async def copy_object(
        self,
        source: ObjectInfo,
        bucket_id: int,
        key: str,
        meta: ObjectMeta,
        wrapped_keys: Sequence[bytes] | None,
        condition: WriteCondition | None = None,
    ) -> ObjectInfo:
        """A new object sharing the source's pieces (retain lists keep a piece any segment names)."""
        segments = await self.get_segments(source.id, None)
        if wrapped_keys is not None and len(wrapped_keys) != len(segments):
            from satellite.errors import InvalidArgument

            raise InvalidArgument(f"segment_keys has {len(wrapped_keys)} keys for {len(segments)} segments")
        copies = [
            SegmentIn(
                part_number=seg.part_number,
                index=seg.index,
                plain_size=seg.plain_size,
                encrypted_size=seg.encrypted_size,
                layout=seg.layout,
                wrapped_key=seg.wrapped_key if wrapped_keys is None else wrapped_keys[i],
                nonce=seg.nonce,
                inline_data=seg.inline_data,
                root_piece_id=seg.root_piece_id,
                scheme=seg.scheme,
                piece_size=seg.piece_size,
                pieces=tuple(_piece_in(p) for p in seg.pieces),
                piece_expires=seg.piece_expires,  # the copy shares the pieces, and so their TTL
            )
            for i, seg in enumerate(segments)
        ]
        async with self.db.transaction() as s:
            # The source may have been replaced or deleted since it was read: copy nothing then.
            still = await s.execute(select(ObjectRow.id).where(ObjectRow.id == source.id))
            if still.first() is None:
                raise NoSuchKey(f"the copy source {source.key!r} changed during the copy; retry")
            row, state = await replace_object(s, bucket_id, key, meta, len(copies), condition)
            await insert_segments(s, copies, object_id=row.id, upload_id=None, event=LedgerEvent.COPY)
            return object_info(row, state)

    async def record_bad_piece(
        self, node_id: str, piece_id: str, segment_id: int | None, number: int | None, reason: str
    ) -> None:
        async with self.db.transaction() as s:
            s.add(BadPieceReport.now(node_id, piece_id, segment_id, number, reason))


def _piece_in(p: PieceOut):  # type: ignore[no-untyped-def]
    from satellite.metainfo.types import PieceIn

    return PieceIn(p.number, p.node_id, p.piece_id, p.root, p.size)

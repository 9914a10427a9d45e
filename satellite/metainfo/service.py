"""Buckets and objects for gateways: placement and orders out, verified commits in.

Every call names the tenant the gateway authenticated. A tenant touches only its own
buckets: another tenant's bucket is ``AccessDenied`` (creating a taken name is
``BucketAlreadyExists``, as S3 says).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import Any

from common.lifecycle_rules import SETTING
from common.messages import Action
from common.piece_ttl import PieceTtl, piece_expiry
from satellite.access.service import ACL_MARK, AccessService, Requester
from satellite.errors import (
    AccessDenied,
    CopyNeedsReupload,
    InvalidArgument,
    InvalidPartNumber,
    InvalidRange,
    NoSuchBucket,
    NotEnoughNodes,
)
from satellite.metainfo.segments import SegmentChecker, field_bytes
from satellite.metainfo.store import MetabaseStore
from satellite.metainfo.types import (
    BucketInfo,
    ListEntry,
    ObjectInfo,
    ObjectMeta,
    SegmentIn,
    SegmentOut,
    WriteCondition,
    b64,
)
from satellite.metainfo.util import MAX_KEY_BYTES, check_key, parse_meta, successor
from satellite.metainfo.versions import check_version_id, missing, present
from satellite.nodeselection import NodeCandidate, PlacementError, SelectionConfig, in_policy, select_nodes
from satellite.orders import OrderSigner, SegmentToken, TokenPiece, derive_piece_id
from satellite.overlay.service import OverlayService
from satellite.residency import MetadataLocation

__all__ = ["MAX_KEY_BYTES", "MetainfoService", "check_key", "parse_meta"]

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_LIST = 1000


class MetainfoService:
    def __init__(
        self,
        store: MetabaseStore,
        overlay: OverlayService,
        signer: OrderSigner,
        *,
        selection: SelectionConfig,
        inline_threshold: int,
        max_segment_size: int,
        rng: random.Random | None = None,
        access: AccessService | None = None,
        metadata: MetadataLocation | None = None,
        piece_ttl: PieceTtl | None = None,
    ) -> None:
        self.piece_ttl = piece_ttl or PieceTtl()  # lifecycle expiry as the PUT orders' piece TTL
        self.metadata = metadata or MetadataLocation()  # where inline segments would be stored
        self.store = store
        # Who may read or write what: decided here, with the orders (satellite/access).
        self.access = access or AccessService(store)  # type: ignore[arg-type]
        self.overlay = overlay
        self.signer = signer
        self.selection = selection
        self.max_segment_size = max_segment_size
        self.checker = SegmentChecker(signer, inline_threshold=inline_threshold)
        self.rng = rng or random.SystemRandom()

    # --- buckets ------------------------------------------------------------------------

    async def any_bucket(self, name: str) -> BucketInfo:
        """Bucket ``name`` whoever owns it, or NoSuchBucket."""
        if not isinstance(name, str) or not name:
            raise InvalidArgument("a bucket name is required")
        b = await self.store.get_bucket(name)
        if b is None:
            raise NoSuchBucket(f"no bucket named {name!r}")
        return b

    async def bucket(self, tenant_id: str | None, name: str) -> BucketInfo:
        """The tenant's bucket ``name``, or NoSuchBucket / AccessDenied."""
        b = await self.any_bucket(name)
        if b.tenant_id != tenant_id:
            raise AccessDenied(f"bucket {name!r} belongs to another tenant")
        return b

    async def bucket_for(self, who: Requester | str | None, name: str, action: str,
                         extra: dict[str, str | None] | None = None) -> BucketInfo:  # fmt: skip
        """Bucket ``name`` if ``who`` may do ``action`` on it (the owner, or as its ACL or policy grants)."""
        b = await self.any_bucket(name)
        await self.access.authorize(Requester.of(who), b, action, extra=extra)
        return b

    async def owned(self, who: Requester | str | None, name: str, action: str, key: str | None = None) -> BucketInfo:
        """The requester's own bucket, unless its policy denies ``action`` (writes stay the owner's)."""
        requester = Requester.of(who)
        b = await self.bucket(requester.tenant_id, name)
        await self.access.authorize_owner(requester, b, action, key)
        return b

    async def create_bucket(self, tenant_id: str, name: str, policy: str | None, *, ownership: Any = None,
                            acl: Any = None, object_lock: bool = False) -> BucketInfo:  # fmt: skip
        """A new bucket; ``ownership`` (Object Ownership) and a canned ``acl`` are checked
        before it exists, as S3 refuses such a CreateBucket whole."""
        if not isinstance(name, str) or not _BUCKET_NAME.match(name) or ".." in name:
            raise InvalidArgument(f"invalid bucket name {name!r}")
        await self.access.check_new_bucket(tenant_id, ownership, acl)
        b = await self.store.create_bucket(tenant_id, name, policy or None, object_lock=object_lock is True)
        await self.access.configure_new_bucket(b, ownership, acl)
        return b

    async def list_buckets(self, tenant_id: str) -> list[BucketInfo]:
        return await self.store.list_buckets(tenant_id)

    async def delete_bucket(self, tenant_id: str, name: str) -> None:
        await self.store.delete_bucket(await self.bucket(tenant_id, name))

    # --- bucket settings (S3 configuration documents: CORS) --------------------------------

    async def setting(self, tenant_id: str | None, bucket_name: str, name: Any) -> dict[str, Any] | None:
        """A bucket's ``name`` setting, or None. ``tenant_id`` None: whoever owns the bucket —
        for a browser's unauthenticated CORS preflight, which the gateway answers."""
        name = _setting_name(name)
        if tenant_id is None:
            b = await self.store.get_bucket(bucket_name)
            if b is None:
                raise NoSuchBucket(f"no bucket named {bucket_name!r}")
        else:
            b = await self.bucket(tenant_id, bucket_name)
        return await self.store.get_setting(b.id, name)

    async def put_setting(self, tenant_id: str, bucket_name: str, name: Any, value: Any) -> None:
        if not isinstance(value, dict):
            raise InvalidArgument("a setting's value is a JSON object")
        await self.store.put_setting((await self.bucket(tenant_id, bucket_name)).id, _setting_name(name), value)

    async def delete_setting(self, tenant_id: str, bucket_name: str, name: Any) -> None:
        await self.store.delete_setting((await self.bucket(tenant_id, bucket_name)).id, _setting_name(name))

    # --- placement ----------------------------------------------------------------------

    async def begin_segment(
        self,
        tenant_id: str,
        bucket_name: str,
        key: str,
        piece_size: int,
        *,
        upload_id: str = "",
        part_number: int = 0,
    ) -> dict[str, Any]:
        """Place ``total`` pieces under the bucket's policy; a token and one PUT order per piece."""
        bucket = await self.bucket(tenant_id, bucket_name)
        check_key(key)
        if isinstance(piece_size, bool) or not isinstance(piece_size, int) or not piece_size > 0:
            raise InvalidArgument("piece_size must be a positive integer")
        if piece_size > self.max_segment_size:
            raise InvalidArgument(f"piece_size {piece_size} exceeds {self.max_segment_size}")
        return await self._place(bucket, key, piece_size, upload_id, part_number)

    async def authorize_write(
        self, tenant_id: Requester | str, bucket_name: str, key: str, size: Any, *, placed: Any = True,
        acl: Any = None,
    ) -> dict[str, Any]:
        """Everything that can refuse an upload, decided before its body is sent: the
        bucket is the tenant's (NoSuchBucket / AccessDenied), the key is valid, and — when
        the object needs pieces (``placed``) — its policy can place them now
        (NotEnoughNodes). Nothing is signed or reserved; begin-segment and commit check
        again, so this answers "would be refused", never "may write".

        ``inline`` says whether a small object may be stored inline: only when the bucket's
        policy allows the satellite's own location. When it may not, a small object needs
        pieces like any other, so it is refused now exactly as a large one would be."""
        bucket = await self.owned(tenant_id, bucket_name, "s3:PutObject", key)
        check_key(key)
        await self.access.check_object_acl(bucket, acl)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidArgument("size must be a non-negative integer")
        inline = self.metadata.allows_inline(bucket.policy)
        if placed or not inline:
            await self._select(bucket)
        return {"scheme": bucket.policy.scheme.to_dict(), "inline": inline}

    async def _select(self, bucket: BucketInfo) -> list[NodeCandidate]:
        policy = bucket.policy
        candidates = await self.overlay.candidates()
        try:
            return select_nodes(
                candidates,
                policy,
                policy.scheme.total,
                now=dt.datetime.now(dt.UTC).timestamp(),
                config=self.selection,
                rng=self.rng,  # type: ignore[arg-type]
            )
        except PlacementError as e:
            raise NotEnoughNodes(str(e), policy=policy.name) from None

    async def _place(
        self, bucket: BucketInfo, key: str, piece_size: int, upload_id: str, part_number: int
    ) -> dict[str, Any]:
        policy = bucket.policy
        chosen = await self._select(bucket)
        root = self.signer.new_root_piece_id()
        expires = int(dt.datetime.now(dt.UTC).timestamp()) + self.signer.token_ttl
        ttl = 0  # a part's object is current only at completion: no TTL (common/piece_ttl.py)
        if not upload_id and bucket.versioning == "unversioned" and bucket.object_lock is None:
            lifecycle = await self.store.get_setting(bucket.id, SETTING)
            ttl = piece_expiry(versioning=bucket.versioning, locked=False, lifecycle=lifecycle, key=key,
                               created_by=expires, ttl=self.piece_ttl)  # fmt: skip
        limits = []
        token_pieces = []
        for number, node in enumerate(chosen):
            piece_id = derive_piece_id(root, node.id, number)
            order = self.signer.order_limit(node.id, piece_id, Action.PUT, piece_size, piece_expires=ttl)
            token_pieces.append(TokenPiece(number, node.id, order.message.serial))
            limits.append(
                {
                    "number": number,
                    "node_id": node.id,
                    "address": node.address,
                    "order_limit": order.to_json(),
                }
            )
        token = SegmentToken(
            bucket_id=bucket.id,
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            scheme=policy.scheme,
            root_piece_id=root,
            max_piece_size=piece_size,
            pieces=tuple(token_pieces),
            expires=expires,
            piece_expires=ttl,
        )
        return {"token": self.signer.seal(token), "scheme": policy.scheme.to_dict(), "limits": limits}

    def check_segments(
        self, raw: Any, *, bucket: BucketInfo, key: str, upload_id: str = "", part_number: int = 0
    ) -> list[SegmentIn]:
        """Verify every segment of a commit; an inline one only where the bucket's policy
        allows the satellite's location (503, as a placement with too few nodes: a gateway
        that learned otherwise before a policy change retries and pieces it)."""
        if not isinstance(raw, list):
            raise InvalidArgument("'segments' must be a list")
        checked = [
            self.checker.check(s, bucket_id=bucket.id, key=key, upload_id=upload_id, part_number=part_number, index=i)
            for i, s in enumerate(raw)
        ]
        if any(s.inline_data is not None for s in checked) and not self.metadata.allows_inline(bucket.policy):
            raise NotEnoughNodes(
                f"policy {bucket.policy.name!r} does not allow the satellite's database "
                f"({self.metadata.describe()}) to hold data: small objects need pieces too; retry",
                policy=bucket.policy.name,
            )
        return checked

    # --- objects ------------------------------------------------------------------------

    async def commit_object(
        self, tenant_id: Requester | str, bucket_name: str, key: str, meta: Any, segments: Any,
        condition: Any = None,
    ) -> ObjectInfo:
        """Store the object; ``condition`` (``{if_match, if_none_match}``) is checked in the
        commit's transaction, so of racing conditional writers exactly one can win."""
        bucket = await self.owned(tenant_id, bucket_name, "s3:PutObject", key)
        check_key(key)
        parsed_meta = await self.with_checked_acl(bucket, parse_meta(meta))
        cond = WriteCondition.from_json(condition)
        checked = self.check_segments(segments, bucket=bucket, key=key)
        plain = sum(s.plain_size for s in checked)
        if plain != parsed_meta.size:
            raise InvalidArgument(f"segments hold {plain} plaintext bytes but meta.size is {parsed_meta.size}")
        return await self.store.commit_object(bucket.id, key, parsed_meta, checked, cond, bucket_name=bucket.name)

    async def with_checked_acl(self, bucket: BucketInfo, meta: ObjectMeta) -> ObjectMeta:
        """``meta`` with its canned ACL entry checked (AccessControlListNotSupported on a bucket
        without ACLs, AccessDenied under BlockPublicAcls) and dropped when private."""
        if ACL_MARK not in meta.user_metadata:
            return meta
        stored = await self.access.check_object_acl(bucket, meta.user_metadata[ACL_MARK])
        md = {k: v for k, v in meta.user_metadata.items() if k != ACL_MARK}
        if stored is not None:
            md[ACL_MARK] = stored
        return ObjectMeta(meta.size, meta.etag, meta.content_type, md, meta.checksums, meta.tags)

    async def object(self, tenant_id: str, bucket_name: str, key: str,
                     version_id: str | None = None) -> tuple[BucketInfo, ObjectInfo]:  # fmt: skip
        bucket = await self.bucket(tenant_id, bucket_name)
        version_id = check_version_id(version_id)
        info = await self.store.get_object(bucket.id, check_key(key), version_id)
        if info is None:
            raise missing(key, bucket_name, version_id)
        return bucket, present(info, bucket, version_id)

    async def readable_object(self, who: Requester | str | None, bucket_name: str, key: str,
                              version_id: str | None = None) -> tuple[BucketInfo, ObjectInfo]:  # fmt: skip
        """The object (its latest version, or ``version_id``) if ``who`` may read it: the owner
        (unless the policy denies), a policy grant, or the object's ACL. A missing key is
        NoSuchKey only for a requester who may list the bucket; for anyone else it is
        AccessDenied, so names cannot be probed (AWS). A delete marker is NoSuchKey (latest)
        or MethodNotAllowed (asked for by version id), both saying it is a marker."""
        requester = Requester.of(who)
        if not isinstance(bucket_name, str) or not bucket_name:
            raise InvalidArgument("a bucket name is required")
        try:
            check_key(key)
            version_id = check_version_id(version_id)
        except InvalidArgument:
            await self.any_bucket(bucket_name)  # a missing bucket is still said first
            raise
        # One read: the bucket, its access settings and the version (looked at once access allows it).
        found, info = await self.store.get_bucket_object(bucket_name, key, version_id)
        if (bucket := found) is None:
            raise NoSuchBucket(f"no bucket named {bucket_name!r}")
        action = "s3:GetObject" if version_id is None else "s3:GetObjectVersion"  # as AWS authorizes them
        access = await self.access.load(bucket)
        if self.access.allows(access, requester, action, bucket, key):
            if info is not None:
                return bucket, present(info, bucket, version_id)
            if requester.tenant_id == bucket.tenant_id or self.access.allows(access, requester, "s3:ListBucket",
                                                                              bucket):  # fmt: skip
                raise missing(key, bucket_name, version_id)
        elif access.acls_enabled:  # the object's own ACL may still grant it
            acl = str(info.user_metadata.get(ACL_MARK, "private")) if info is not None else "private"
            if info is not None and self.access.allows(access, requester, action, bucket, key, object_acl=acl):
                return bucket, present(info, bucket, version_id)
        raise AccessDenied(f"{action} on {bucket_name!r}/{key!r} is not allowed for this requester")

    async def get_object(
        self,
        tenant_id: Requester | str | None,
        bucket_name: str,
        key: str,
        *,
        range_start: int | None = None,
        range_end: int | None = None,
        suffix_length: int | None = None,
        part_number: int | None = None,
        version_id: str | None = None,
    ) -> dict[str, Any]:
        """Metadata, the segments covering the (resolved) range and GET orders for their pieces.

        ``part_number`` (S3's ``?partNumber=N``) asks for the bytes of the object's N-th part
        instead of a range; the answer then also says ``parts_count``."""
        bucket, info = await self.readable_object(tenant_id, bucket_name, key, version_id)
        extra: dict[str, Any] = {"owner": bucket.tenant_id}
        if part_number is not None:
            if range_start is not None or range_end is not None or suffix_length is not None:
                raise InvalidArgument("a part number and a range cannot be asked for together")
            rng, extra["parts_count"] = await self.part_range(info, part_number)
        else:
            rng = resolve_range(info.size, range_start, range_end, suffix_length)
        segments = await self.store.get_segments(info.id, rng) if info.size else []
        now = dt.datetime.now(dt.UTC)
        out = []
        for seg in segments:
            pieces = []
            for p in seg.pieces:
                if p.disqualified or (now - p.last_contact).total_seconds() > self.overlay.online_window:
                    continue
                order = self.signer.order_limit(p.node_id, p.piece_id, Action.GET, p.size)
                pieces.append(
                    {
                        "number": p.number,
                        "node_id": p.node_id,
                        "address": p.address,
                        "root": b64(p.root),
                        "size": p.size,
                        "order_limit": order.to_json(),
                    }
                )
            out.append(segment_json(seg, pieces))
        return {"object": info.to_json(), "range": list(rng) if rng else None, "segments": out, **extra}

    async def part_range(self, info: ObjectInfo, part_number: Any) -> tuple[tuple[int, int] | None, int]:
        """The byte range of the object's ``part_number``-th part (1-based, in the order the
        parts were completed) and the number of parts: a multipart object has the parts of its
        ETag's ``-N``; any other object is one part. An empty part has no range (None)."""
        if isinstance(part_number, bool) or not isinstance(part_number, int) or not 1 <= part_number <= 10_000:
            raise InvalidArgument("part numbers are integers from 1 to 10000")
        parts, count = await self.part_bounds(info)
        # Fewer stored parts than the ETag counts: a copy streamed through the pipeline keeps
        # the source's ETag but is one part of bytes.
        if part_number > min(count, len(parts)):
            raise InvalidPartNumber("The requested partnumber is not satisfiable")
        start, stop = parts[part_number - 1]
        return ((start, stop - 1) if stop > start else None), count

    async def part_bounds(self, info: ObjectInfo) -> tuple[list[tuple[int, int]], int]:
        """The ``[start, stop)`` byte bounds of the object's parts in order, and the number of
        parts its ETag counts (1 for an object that was not uploaded in parts)."""
        head, sep, tail = info.etag.strip('"').rpartition("-")
        multipart = bool(sep and head and tail.isdigit())
        if not multipart:
            return [(0, info.size)], 1
        segments = await self.store.get_segments(info.id, None, with_pieces=False) if info.size else []
        bounds: dict[int, list[int]] = {}
        for seg in segments:
            b = bounds.setdefault(seg.part_number, [seg.plain_offset, seg.plain_offset])
            b[1] = seg.plain_offset + seg.plain_size
        return [(bounds[n][0], bounds[n][1]) for n in sorted(bounds)], int(tail)

    async def list_objects(
        self,
        tenant_id: Requester | str | None,
        bucket_name: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        max_keys: int = MAX_LIST,
    ) -> dict[str, Any]:
        """One page in key order. ``next`` is where the following page starts (opaque to S3 clients)."""
        if not all(isinstance(v, str) for v in (prefix, delimiter, start_after)):
            raise InvalidArgument("prefix, delimiter and start_after must be strings")
        keys = {"s3:prefix": prefix, "s3:delimiter": delimiter or None, "s3:max-keys": str(max_keys)}
        bucket = await self.bucket_for(tenant_id, bucket_name, "s3:ListBucket", keys)
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 0:
            raise InvalidArgument("max_keys must be a non-negative integer")
        max_keys = min(max_keys, MAX_LIST)
        if max_keys == 0:
            return {"objects": [], "prefixes": [], "truncated": False, "next": None, "owner": bucket.tenant_id}
        start, inclusive = start_after, False
        if delimiter and start_after.startswith(prefix):
            # A marker inside a common prefix resumes after that whole prefix (S3 never repeats it).
            cut = start_after.find(delimiter, len(prefix))
            if cut >= 0:
                start, inclusive = start_after[:cut] + (successor(delimiter) or delimiter), True
        entries = await self.store.list_objects(
            bucket.id,
            prefix=prefix,
            delimiter=delimiter,
            start=start,
            start_inclusive=inclusive,
            limit=max_keys + 1,
        )
        truncated = len(entries) > max_keys
        page: list[ListEntry] = entries[:max_keys]
        return {
            "objects": [e.info.to_json() for e in page if e.info is not None],
            "prefixes": [e.key for e in page if e.info is None],
            "truncated": truncated,
            "next": page[-1].key if truncated and page else None,
            "owner": bucket.tenant_id,
        }

    async def put_tags(self, tenant_id: str, bucket_name: str, key: str, tags: Any,
                       version_id: str | None = None) -> ObjectInfo:  # fmt: skip
        """Tag the latest version (or ``version_id``); returns the version tagged."""
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise InvalidArgument("'tags' must be an object of strings")
        bucket, info = await self.object(tenant_id, bucket_name, key, version_id)
        if not await self.store.set_tags(bucket.id, key, tags, info.version_id):
            raise missing(key, bucket_name, version_id)
        return info

    async def copy_object(
        self,
        source_tenant_id: Requester | str,
        source_bucket: str,
        source_key: str,
        tenant_id: str,
        bucket_name: str,
        key: str,
        *,
        meta: Any = None,
        segment_keys: Any = None,
        condition: Any = None,
        source_version_id: str | None = None,
    ) -> tuple[ObjectInfo, ObjectInfo]:
        """Copy by sharing pieces when the destination's policy allows every one of them; the
        source's version and the new object.

        ``meta`` None copies the source's metadata (and tags); ``segment_keys`` (base64, one per
        segment) replaces the wrapped keys when the gateway re-wrapped them for the destination.
        """
        # The source is read as a GET would read it: another tenant's object if its bucket lets this requester in.
        _, src = await self.readable_object(source_tenant_id, source_bucket, source_key, source_version_id)
        dst = await self.owned(tenant_id, bucket_name, "s3:PutObject", key)
        check_key(key)
        # A copy is private unless the request gives it an ACL: S3 never copies ACLs.
        src_meta = {k: v for k, v in src.user_metadata.items() if k != ACL_MARK}
        new_meta = await self.with_checked_acl(dst, (
            ObjectMeta(src.size, src.etag, src.content_type, src_meta, src.checksums, src.tags)
            if meta is None
            else parse_meta({**meta, "size": src.size, "etag": src.etag}, size_required=False)
        ))  # fmt: skip
        keys = None
        if segment_keys is not None:
            if not isinstance(segment_keys, list):
                raise InvalidArgument("'segment_keys' must be a list")
            keys = [field_bytes({"k": k}, "k") or b"" for k in segment_keys]
        cond = WriteCondition.from_json(condition)
        segments = await self.store.get_segments(src.id, None)
        await self._check_copy_placement(segments, dst)
        return src, await self.store.copy_object(src, dst.id, key, new_meta, keys, cond)

    async def _check_copy_placement(self, segments: list[SegmentOut], dst: BucketInfo) -> None:
        node_ids = sorted({p.node_id for s in segments for p in s.pieces})
        nodes = await self.overlay.nodes(node_ids)
        scheme = dst.policy.scheme
        for seg in segments:
            if seg.inline_data is not None:
                if not self.metadata.allows_inline(dst.policy):
                    raise CopyNeedsReupload(
                        f"the destination's policy {dst.policy.name!r} keeps no data in the satellite's database"
                    )
                continue
            if seg.scheme != (scheme.k, scheme.repair, scheme.success, scheme.total):
                raise CopyNeedsReupload(f"the destination's policy {dst.policy.name!r} uses another scheme")
            for p in seg.pieces:
                n = nodes.get(p.node_id)
                cand = NodeCandidate(
                    id=p.node_id,
                    address="",
                    country=n.country if n else "",
                    region=n.region if n else "",
                    net="",
                    free_bytes=0,
                    vetted=True,
                    last_contact=0.0,
                )
                if n is None or not in_policy(cand, dst.policy):
                    raise CopyNeedsReupload(
                        f"a source piece is outside policy {dst.policy.name!r}; copy through the pipeline"
                    )

    async def report_bad_piece(
        self,
        tenant_id: str,
        node_id: Any,
        piece_id: Any,
        reason: Any,
        segment_id: Any = None,
        number: Any = None,
    ) -> None:
        """A gateway saw a share of this piece fail its Merkle check (evidence for audits)."""
        if not all(isinstance(v, str) and v for v in (node_id, piece_id)):
            raise InvalidArgument("node_id and piece_id are required")
        await self.store.record_bad_piece(
            node_id,
            piece_id,
            segment_id if isinstance(segment_id, int) else None,
            number if isinstance(number, int) else None,
            f"tenant {tenant_id}: {reason}",
        )


_SETTINGS = frozenset({"cors", "lifecycle"})


def _setting_name(name: Any) -> str:
    if name not in _SETTINGS:
        raise InvalidArgument(f"bucket settings are {sorted(_SETTINGS)}")
    return str(name)


def resolve_range(size: int, start: int | None, end: int | None, suffix: int | None) -> tuple[int, int] | None:
    """An HTTP byte range resolved against ``size`` (inclusive ends), as S3 does; None = all."""
    for v in (start, end, suffix):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise InvalidArgument("range values must be non-negative integers")
    if suffix is not None:
        if start is not None or end is not None:
            raise InvalidArgument("a suffix range has no start or end")
        if suffix == 0 or size == 0:
            raise InvalidRange("the requested range is not satisfiable", size=size)
        return (max(0, size - suffix), size - 1)
    if start is None:
        if end is not None:
            raise InvalidArgument("a range with an end needs a start")
        return None
    if start >= size or (end is not None and end < start):
        raise InvalidRange("the requested range is not satisfiable", size=size)
    return (start, size - 1 if end is None or end >= size else end)


def segment_json(seg: SegmentOut, pieces: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": seg.id,
        "part_number": seg.part_number,
        "index": seg.index,
        "plain_offset": seg.plain_offset,
        "plain_size": seg.plain_size,
        "encrypted_size": seg.encrypted_size,
        "layout": seg.layout,
        "wrapped_key": b64(seg.wrapped_key),
        "nonce": b64(seg.nonce),
        "inline_data": b64(seg.inline_data),
        "pieces": pieces,
    }

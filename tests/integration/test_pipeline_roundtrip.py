"""Upload and download through the pipeline against real storage nodes on loopback."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import AsyncIterator

import pytest

from erasure import TAG_SIZE
from gateway.pipeline import DownloadConfig, ObjectDownloader, ObjectUploader, UploadConfig
from tests.pipeline_fixtures import TestNetwork, network

SEGMENT = 256 * 1024
THRESHOLD = 4096


async def chunks(data: bytes, size: int = 50_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def uploader(net: TestNetwork, **kw: object) -> ObjectUploader:
    cfg = UploadConfig(segment_size=SEGMENT, inline_threshold=THRESHOLD)
    return ObjectUploader(net.client, net, net.bucket_key, net.scheme, config=cfg, **kw)  # type: ignore[arg-type]


def downloader(net: TestNetwork, window: int = 64 * 1024, spare_after: float = 1.0) -> ObjectDownloader:
    return ObjectDownloader(
        net.client, net.bucket_key, config=DownloadConfig(window=window, spare_after=spare_after), reporter=net
    )


@pytest.mark.parametrize(
    "size",
    [0, 1, THRESHOLD - TAG_SIZE - 1, THRESHOLD - TAG_SIZE, THRESHOLD - TAG_SIZE + 1,
     SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 12_345],
)
async def test_round_trip_sizes(tmp_path, size):
    data = os.urandom(size)
    async with network(tmp_path) as net:
        md5 = hashlib.md5()
        result = await uploader(net, hashers=[md5]).upload(chunks(data))
        assert result.size == size
        assert md5.digest() == hashlib.md5(data).digest()
        inline = size + TAG_SIZE <= THRESHOLD
        assert [s.is_inline for s in result.segments] == [inline] * len(result.segments)
        assert len(result.segments) == (1 if size <= SEGMENT else -(-size // SEGMENT))
        assert net.begun == (0 if inline else len(result.segments))
        for seg in result.segments:
            if not seg.is_inline:
                assert len(seg.pieces) >= net.scheme.success
                # The node's signed receipt names the root we computed.
                assert all(p.receipt.message.merkle_root == p.root for p in seg.pieces)
            else:  # encrypted: the plaintext does not appear in what the satellite stores
                assert seg.inline_data is not None and len(seg.inline_data) == size + TAG_SIZE
                if size >= 16:
                    assert data not in seg.inline_data
        got = await downloader(net).read(net.sources(result.segments), 0, size)
        assert got == data


async def test_random_ranges_read_only_their_stripes(tmp_path):
    rng = random.Random(7)
    size = 3 * SEGMENT + 99_999
    data = rng.randbytes(size)
    async with network(tmp_path) as net:
        result = await uploader(net).upload(chunks(data, 65_536))
        for _ in range(25):
            a = rng.randrange(size)
            n = rng.randrange(1, min(size - a, 300_000) + 1)
            assert await downloader(net, window=rng.choice([65_536, 200_000])).read(
                net.sources(result.segments), a, n
            ) == data[a : a + n]
        # One byte in the middle of the second segment: the nodes serve one block's stripes
        # from k pieces, not the segment.
        sources = net.sources(result.segments)
        seg = sources[1]
        assert seg.layout is not None
        offset = seg.offset + seg.plain_size // 2
        assert await downloader(net).read(sources, offset, 1) == data[offset : offset + 1]
        plan = seg.layout.stripe_range(seg.plain_size // 2, 1)
        served = sum(net.node(p.node_id).peer.db.orders.served(p.order.message.serial) for p in seg.pieces)
        assert served == net.scheme.k * plan.piece_length
        assert plan.piece_length < seg.layout.piece_size // 2


async def test_empty_range_reads_nothing(tmp_path):
    data = os.urandom(SEGMENT + 10)
    async with network(tmp_path) as net:
        result = await uploader(net).upload(chunks(data))
        assert await downloader(net).read(net.sources(result.segments), 5, 0) == b""


async def test_unknown_scheme_is_learned_and_a_changed_one_is_re_placed(tmp_path):
    from erasure import RedundancyScheme

    data = os.urandom(2 * SEGMENT + 3)
    async with network(tmp_path) as net:
        cfg = UploadConfig(segment_size=SEGMENT)
        learner = ObjectUploader(net.client, net, net.bucket_key, None, config=cfg)
        result = await learner.upload(chunks(data))
        assert learner.scheme == net.scheme and net.begun == 3
        assert await downloader(net).read(net.sources(result.segments), 0, len(data)) == data
        # A stale scheme (the policy changed): each mismatching begin is placed again.
        stale = ObjectUploader(net.client, net, net.bucket_key, RedundancyScheme(3, 3, 4, 6), config=cfg)
        result = await stale.upload(chunks(data))
        assert stale.scheme == net.scheme
        assert all(s.layout is not None and s.layout.scheme == net.scheme for s in result.segments)
        assert await downloader(net).read(net.sources(result.segments), 0, len(data)) == data

"""The uploader's memory stays at a few segments however large the streamed object."""

from __future__ import annotations

import gc
import os
import tracemalloc
from collections.abc import AsyncIterator

from gateway.pipeline import ObjectUploader, UploadConfig
from tests.pipeline_fixtures import network

SEGMENT = 256 * 1024


async def test_upload_memory_is_bounded_by_segments_not_object_size(tmp_path):
    count = 80  # a 20 MiB object
    block = os.urandom(SEGMENT)

    async def body() -> AsyncIterator[bytes]:
        # Fresh chunks, as a socket would hand them over; nothing keeps them but the uploader.
        for _ in range(count * 4):
            yield bytes(block[: SEGMENT // 4])

    async with network(tmp_path, scheme="2/3/4/6") as net:
        up = ObjectUploader(net.client, net, net.bucket_key, net.scheme,
                            config=UploadConfig(segment_size=SEGMENT))
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            result = await up.upload(body())
            gc.collect()  # garbage awaiting a collection is not kept (it made the figure load-dependent)
            end, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.size == count * SEGMENT and len(result.segments) == count
        # What the upload keeps is metadata for the commit (receipts, roots, keys): small.
        kept = end - base
        assert kept < count * 32 * 1024, f"kept {kept} bytes for {count} segments"
        # What it held on the way is buffers. With n/k = 3 here, a segment being encoded
        # (plaintext, cipher, transposed blocks, 3 segments of pieces) while the previous
        # one's 3 segments of pieces travel is ~10 segments; the in-process nodes' request
        # buffers are counted too. The object is 80 segments.
        transient = peak - end
        assert transient < 16 * SEGMENT, f"uploader held {transient / SEGMENT:.1f} segments at its peak"

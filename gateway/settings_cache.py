"""Buckets' settings cached in the gateway, and the generation table that lets a change made
through one worker process invalidate every worker's copy before the change is answered.

CORS rules (read on every request that carries ``Origin``) and lifecycle rules (for
``x-amz-expiration``) are cached per bucket for ``credential_cache_ttl`` seconds. A change
made through the gateway must take effect at once, as in one process: a client that was
told "200" for PutBucketCors and then sends a preflight — on another connection, which the
kernel may give to another worker (``gateway.process``) — must see the new rules.

So every cached entry carries the **generation** of its bucket as it was before the entry
was fetched, and a hit counts only while the generation is unchanged. The generation lives in
:class:`SettingGenerations`, a table of counters in memory shared by the workers (a memfd the
parent creates and every worker maps): one row per worker, so each row has a single writer
and a bump is a plain store, never a read-modify-write that two processes could race. A
bucket's generation is the sum of its column; rows only grow, so any bump anywhere changes
it. A worker that changed a setting bumps the bucket after the satellite committed the
change and before it answers; a fetch that was in flight across the bump stored the old
generation and is refetched at the next lookup. Buckets share 4,096 columns by a stable
hash: a collision costs one extra satellite read, never a stale answer.
"""

from __future__ import annotations

import mmap
import os
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["SLOTS", "SettingCache", "SettingGenerations"]

SLOTS = 4096
_WORD = 8
T = TypeVar("T")


class SettingGenerations:
    """Per-bucket change counters; ``rows`` workers share ``buffer``, this one writes row ``index``."""

    def __init__(self, buffer: mmap.mmap | bytearray, rows: int, index: int) -> None:
        if not 0 <= index < rows or len(buffer) < rows * SLOTS * _WORD:
            raise ValueError(f"a generation table of {len(buffer)} bytes has no row {index} of {rows}")
        self._buffer = buffer
        self._words = memoryview(buffer).cast("B").cast("Q")
        self.rows = rows
        self.index = index

    @classmethod
    def private(cls) -> SettingGenerations:
        """A table for one process (an in-process gateway, ``--workers 1``)."""
        return cls(bytearray(SLOTS * _WORD), 1, 0)

    @staticmethod
    def create_shared(rows: int) -> int:
        """A zeroed table for ``rows`` workers in an anonymous memory file; returns its fd
        (inheritable, for ``pass_fds``), which :meth:`attach` maps in each worker."""
        fd = os.memfd_create("geoshard-gateway-generations", 0)
        os.ftruncate(fd, rows * SLOTS * _WORD)
        os.set_inheritable(fd, True)
        return fd

    @classmethod
    def attach(cls, fd: int, rows: int, index: int) -> SettingGenerations:
        return cls(mmap.mmap(fd, rows * SLOTS * _WORD), rows, index)

    @staticmethod
    def _slot(bucket: str) -> int:
        return zlib.crc32(bucket.encode()) % SLOTS

    def generation(self, bucket: str) -> int:
        slot, words = self._slot(bucket), self._words
        return sum(words[row * SLOTS + slot] for row in range(self.rows))

    def bump(self, bucket: str) -> None:
        """Record that a setting of ``bucket`` changed (after the satellite committed it)."""
        at = self.index * SLOTS + self._slot(bucket)
        self._words[at] = self._words[at] + 1


class SettingCache(Generic[T]):
    """One kind of bucket setting, cached for ``ttl`` seconds and while its generation holds."""

    def __init__(self, generations: SettingGenerations, ttl: float) -> None:
        self.generations = generations
        self.ttl = ttl
        self._entries: dict[str, tuple[float, int, T]] = {}

    async def get(self, bucket: str, fetch: Callable[[], Awaitable[T]]) -> T:
        generation = self.generations.generation(bucket)
        hit = self._entries.get(bucket)
        if hit is not None and hit[1] == generation and time.monotonic() - hit[0] < self.ttl:
            return hit[2]
        value = await fetch()
        if self.ttl > 0:
            self._entries[bucket] = (time.monotonic(), generation, value)
        return value

    def forget(self, bucket: str) -> None:
        """A setting of ``bucket`` changed through this worker: drop it here and in every sibling."""
        self._entries.pop(bucket, None)
        self.generations.bump(bucket)

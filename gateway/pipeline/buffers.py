"""Segment-sized buffers kept for reuse, so that a PUT does not fault in fresh memory.

Every segment of an upload needs two large buffers: its plaintext as it is cut from the
body, and its ciphertext padded to whole stripes. Above glibc's largest mmap threshold
(32 MiB) each allocation is a fresh ``mmap`` and each first touch of a page is a page fault
and a page of zeroes: on this VM that cost 0.5–0.7 ns per byte of object, more than
AES-GCM itself (docs/performance.md, "Fresh pages on the data path"). A :class:`BufferPool` keeps
a few buffers that were given back and hands them out again, already faulted in.

Safety rests on one rule, kept by the callers: a buffer is given back only once nothing
can read or write it any more — after the thread that encrypted from it (or coded from it)
has returned, on the success path. A request that fails or is cancelled while a worker
thread may still hold a view simply drops its buffer to the garbage collector.

Memory: at most ``max_held`` bytes of free buffers are held (160 MiB: the two buffers a
PUT of 64 MiB segments cycles through, or the twenty of ten 8 MiB parts in flight), and
buffers left unused for ``idle`` seconds are let go, and the free heap with them
(:func:`~gateway.pipeline.heap.release_free_heap`), so an idle gateway returns to its
resting size.
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from .heap import release_free_heap

__all__ = ["SEGMENT_BUFFERS", "BufferPool"]


class BufferPool:
    """Free ``uint8`` arrays by capacity; :meth:`take` reuses one that fits or allocates."""

    def __init__(self, max_held: int = 160 << 20, idle: float = 30.0, min_size: int = 8 << 20) -> None:
        self.max_held = max_held
        self.idle = idle
        self.min_size = min_size  # smaller buffers come from malloc's heap, already reused
        self._free: list[tuple[float, np.ndarray]] = []  # (given back at, buffer)
        self._lock = threading.Lock()
        self._trim_loop: asyncio.AbstractEventLoop | None = None

    def take(self, size: int) -> np.ndarray:
        """A buffer of exactly ``size`` bytes (a view of a pooled one when one fits).

        Its contents are whatever was there: callers overwrite what they use."""
        if size >= self.min_size:
            with self._lock:
                fits = [i for i, (_, b) in enumerate(self._free) if size <= len(b) <= 2 * size]
                if fits:
                    best = min(fits, key=lambda i: len(self._free[i][1]))
                    return self._free.pop(best)[1][:size]
        return np.empty(size, dtype=np.uint8)

    def give(self, buf: np.ndarray) -> None:
        """Hand back a buffer from :meth:`take` that nothing reads or writes any more."""
        base = buf.base if isinstance(buf.base, np.ndarray) else buf
        if len(base) < self.min_size:
            return
        self.trim()
        with self._lock:
            if any(b is base for _, b in self._free):
                return
            self._free.append((time.monotonic(), base))
            self._free.sort(key=lambda e: -e[0])  # the most recently given first
            held = 0
            for i, (_, b) in enumerate(self._free):
                held += len(b)
                if held > self.max_held:
                    del self._free[i:]
                    break
        self._schedule_trim()

    def held(self) -> int:
        """Bytes held in free buffers."""
        with self._lock:
            return sum(len(b) for _, b in self._free)

    def trim(self, now: float | None = None) -> None:
        """Let go of buffers unused for ``idle`` seconds."""
        cutoff = (time.monotonic() if now is None else now) - self.idle
        with self._lock:
            self._free = [(t, b) for t, b in self._free if t > cutoff]

    def _schedule_trim(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not on an event loop (a worker thread, a test): the next give trims
        if self._trim_loop is loop:
            return  # already scheduled on this loop (a closed loop's schedule is simply replaced)
        self._trim_loop = loop

        def run() -> None:
            self._trim_loop = None
            self.trim()
            release_free_heap()  # what the trim freed, and the windows' heap, goes back to the kernel
            if self.held() and not loop.is_closed():
                self._trim_loop = loop
                loop.call_later(self.idle, run)

        loop.call_later(self.idle, run)


SEGMENT_BUFFERS = BufferPool()

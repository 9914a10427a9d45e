"""The gateway process keeps freed data-path buffers in its heap instead of unmapping them.

A PUT codes each segment a window at a time (:mod:`~gateway.pipeline.streaming`): per
4 MiB window a transposed copy of the stripes and ``n − k`` parity pieces of 1 MiB, freed
as the nodes drain them. glibc serves allocations of that size with ``mmap`` (or from the
top of the heap, which it trims back to the kernel past a few MiB free), so every window
faults its pages in afresh and the kernel zeroes them: on this VM 0.4–0.8 GB/s, a fifth of
the gateway's CPU per PUT byte (docs/performance.md, "Fresh pages on the data path"). Raising the
mmap threshold to glibc's maximum (32 MiB) and the trim threshold to 256 MiB lets freed
windows be reused in place. One arena for all threads (``M_ARENA_MAX`` 1): a GET decrypts
its windows in worker threads, whose arenas' heaps glibc unmaps whole once they empty, so
each window faulted again (4,000 faults per 64 MiB GET before, none after); the data path
allocates a few large buffers per window, so the one arena's lock is not contended.
Buffers of a whole segment (64 MiB, above any threshold) are reused through
:mod:`~gateway.pipeline.buffers` instead.

Memory: the gateway's peak during a PUT is unchanged (the same buffers, reused rather than
remapped). After a burst the heap would keep up to the trim threshold of free space, so when
the segment buffer pool lets its idle buffers go it also hands the free heap back to the
kernel (:func:`release_free_heap`, glibc's ``malloc_trim``): an idle gateway returns to its
resting size.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from typing import Any

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_buffers", "release_free_heap"]

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 << 20  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 256 << 20


def _libc_function(name: str) -> Any:
    """glibc's ``name``, or None where there is no such function (musl, macOS)."""
    lib = ctypes.util.find_library("c")
    if lib is None:
        return None
    try:
        return getattr(ctypes.CDLL(lib), name)
    except (OSError, AttributeError):
        return None


def keep_freed_buffers() -> bool:
    """Tune this process's glibc malloc as the module says; False where there is no glibc."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_ARENA_MAX, 1))
    ok = all(mallopt(param, value) for param, value in settings)
    if not ok:
        log.warning("mallopt refused the gateway's heap settings; data-path windows will be remapped")
    return ok


@functools.cache
def _malloc_trim() -> Any:
    fn = _libc_function("malloc_trim")
    if fn is not None:
        fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def release_free_heap() -> None:
    """Give the heap's free pages back to the kernel (where glibc is the allocator)."""
    fn = _malloc_trim()
    if fn is not None:
        fn(0)

"""Settings of Python's cyclic garbage collector for long-running server processes.

A server allocates and frees thousands of short-lived objects per request (aiohttp's
request, headers, futures, JSON), and with the default threshold (a young collection every
700 net allocations, a full one every hundred of those) the full collections keep walking
every object the process made at start-up: modules, classes, functions, the loaded
configuration — objects that never become garbage. In a storage node under load that was
≈ 7 % of its CPU (``gc_collect_main`` and its visitors in ``perf``; docs/performance.md).

:func:`settle` moves what exists once the process serves into the collector's permanent
generation (``gc.freeze``), so no later collection walks it again, and collects the young
generation less often: each collection then has more to do but there are far fewer, and
reference cycles still get freed within tens of thousands of allocations.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle"]

YOUNG_THRESHOLD = 20_000  # net allocations between young collections (CPython's default: 700)


def settle(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Call once start-up is done: freeze what exists, collect the young less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)

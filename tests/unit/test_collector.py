"""common.collector: start-up objects leave the collector's walks; later cycles are still freed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from common.collector import YOUNG_THRESHOLD, settle


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_settle_freezes_startup_objects_and_later_cycles_are_still_freed(restored_collector: None) -> None:
    before = _Node()
    settle()
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert not any(o is before for o in gc.get_objects())  # frozen: no collection walks it
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    # Enough allocations for a young collection at the new threshold, and no explicit collect.
    keep = [[] for _ in range(2 * YOUNG_THRESHOLD)]
    assert gone() is None
    del keep

"""How a GET range is cut into windows: each window is one range request to each of k nodes."""

from __future__ import annotations

from erasure import RedundancyScheme, SegmentLayout, wrap_key
from gateway.pipeline import DownloadConfig, ObjectDownloader
from gateway.pipeline.types import SegmentSource

MiB = 2**20
BUCKET_KEY = bytes(32)


def _windows(size: int, offset: int, length: int, window: int = 16 * MiB) -> list[tuple[int, int]]:
    layout = SegmentLayout.for_segment(RedundancyScheme(4, 6, 8, 10), size)
    seg = SegmentSource(0, 0, size, b"s" * 32, wrap_key(BUCKET_KEY, bytes(32)), layout=layout)
    dl = ObjectDownloader(None, BUCKET_KEY, config=DownloadConfig(window=window))  # type: ignore[arg-type]
    return [(w.offset, w.length) for w in dl._windows([seg], offset, length)]


def test_a_long_range_starts_with_a_quarter_window_then_whole_windows_covering_it_once():
    got = _windows(64 * MiB, 0, 64 * MiB)
    block = 64 * 1024 - 16  # windows are whole encryption blocks of plaintext
    whole = got[1][1]
    assert 16 * MiB - block < whole <= 16 * MiB and all(n == whole for _, n in got[1:-1])
    assert got[0][0] == 0 and 4 * MiB - block < got[0][1] <= 4 * MiB
    assert [o for o, _ in got] == [sum(n for _, n in got[:i]) for i in range(len(got))]  # in order, no gaps
    assert sum(n for _, n in got) == 64 * MiB


def test_a_ranged_get_that_fits_in_one_window_is_one_window():
    assert _windows(64 * MiB, 8 * MiB, 8 * MiB) == [(8 * MiB, 8 * MiB)]
    assert len(_windows(64 * MiB, 5 * MiB + 3, 16 * MiB)) <= 2  # unaligned: at most the block edges split it

"""The piece-size bound the uploader orders before it knows the bucket's scheme."""

from __future__ import annotations

import random

from erasure import RedundancyScheme, SegmentLayout
from gateway.pipeline.upload import max_piece_size


def test_no_scheme_makes_pieces_larger_than_the_bound():
    rng = random.Random(3)
    sizes = [0, 1, 4081, 65_520, 65_536, 1 << 20, 64 * 2**20, *(rng.randrange(1, 70 * 2**20) for _ in range(60))]
    for size in sizes:
        bound = max_piece_size(size)
        for k in (1, 2, 3, 4, 5, 8, 13, 29):
            layout = SegmentLayout.for_segment(RedundancyScheme(k, k, k, k), size)
            assert layout.piece_size <= bound, (size, k)
    # A full 64 MiB segment still fits what the satellite accepts (65 MiB).
    assert max_piece_size(64 * 2**20) <= 65 * 2**20

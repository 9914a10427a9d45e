"""The retain-list bloom filter, the retain key convention and the country list."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from common.bloom import BloomFilter
from common.countries import ISO_3166_ALPHA2, is_country_code
from common.retain import build_retain_filter, retains


@settings(max_examples=100, deadline=None)
@given(items=st.sets(st.binary(min_size=1, max_size=40), max_size=300), rate=st.sampled_from([0.01, 0.1, 0.3]))
def test_no_false_negatives(items, rate):
    bloom = BloomFilter.for_capacity(len(items), rate)
    for it in items:
        bloom.add(it)
    assert all(it in bloom for it in items)


def test_false_positive_rate_is_near_the_target():
    bloom = BloomFilter.for_capacity(5000, 0.05)
    for _ in range(5000):
        bloom.add(os.urandom(32))
    fp = sum(os.urandom(32) in bloom for _ in range(20000)) / 20000
    assert fp < 0.08


def test_positions_are_pinned_across_processes_and_versions():
    b = BloomFilter(bytearray(16), 3)
    b.add(b"geoshard")
    # a satellite and a node of different versions must agree bit for bit
    assert bytes(b.bits).hex() == "00400100000000000080000000000000"


def test_filter_survives_the_wire():
    ids = [os.urandom(32).hex() for _ in range(200)]
    bloom = build_retain_filter(ids)
    again = BloomFilter(bytes(bloom.bits), bloom.hash_count)
    assert all(retains(again, pid) for pid in ids)


def test_country_codes():
    assert len(ISO_3166_ALPHA2) == 249
    assert is_country_code("DE") and is_country_code("GB") and is_country_code("US")
    assert not any(is_country_code(c) for c in ("UK", "EU", "de", "XX", "", None, "DEU"))

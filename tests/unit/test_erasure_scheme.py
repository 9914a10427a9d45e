"""Redundancy schemes: the ordering rule, parsing, and the JSON form stored in metadata."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from erasure import RedundancyScheme, SchemeError


@st.composite
def valid_schemes(draw: st.DrawFn) -> RedundancyScheme:
    total = draw(st.integers(1, 256))
    success = draw(st.integers(1, total))
    repair = draw(st.integers(1, success))
    k = draw(st.integers(1, repair))
    return RedundancyScheme(k, repair, success, total)


@given(valid_schemes())
def test_valid_scheme_round_trips_through_text_and_dict(scheme: RedundancyScheme) -> None:
    assert RedundancyScheme.parse(str(scheme)) == scheme
    assert RedundancyScheme.from_dict(scheme.to_dict()) == scheme
    assert scheme.n == scheme.total


@given(st.tuples(*[st.integers(-3, 300)] * 4))
def test_any_tuple_breaking_the_ordering_is_rejected(values: tuple[int, int, int, int]) -> None:
    k, repair, success, total = values
    if 1 <= k <= repair <= success <= total <= 256:
        assert RedundancyScheme(*values).k == k
    else:
        with pytest.raises(SchemeError, match=r"1 ≤ k ≤ repair ≤ success ≤ total ≤ 256"):
            RedundancyScheme(*values)


def test_storj_and_default_schemes_parse() -> None:
    assert RedundancyScheme.parse("29/35/80/110") == RedundancyScheme(29, 35, 80, 110)
    assert str(RedundancyScheme.parse(" 4/6/8/10 ")) == "4/6/8/10"
    assert RedundancyScheme(4, 6, 8, 10).expansion == 2.5


@pytest.mark.parametrize(
    "values",
    [(0, 1, 1, 1), (5, 4, 8, 10), (4, 6, 5, 10), (4, 6, 8, 7), (4, 6, 8, 257), (-1, 6, 8, 10)],
)
def test_out_of_order_or_out_of_range_thresholds_raise_scheme_error(values: tuple[int, ...]) -> None:
    with pytest.raises(SchemeError) as err:
        RedundancyScheme(*values)
    assert isinstance(err.value, ValueError)  # callers validating config may catch ValueError
    assert "/".join(map(str, values)) in str(err.value)


@pytest.mark.parametrize("bad", [True, 4.0, "4", None])
def test_non_integer_fields_are_rejected(bad: object) -> None:
    with pytest.raises(SchemeError, match="must be an integer"):
        RedundancyScheme(bad, 6, 8, 10)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["4/6/8", "4/6/8/10/12", "a/6/8/10", "", "4//8/10", "4/6/8/1.5"])
def test_malformed_scheme_text_is_rejected(text: str) -> None:
    with pytest.raises(SchemeError):
        RedundancyScheme.parse(text)


@pytest.mark.parametrize(
    "data",
    [
        {"k": 4, "repair": 6, "success": 8},
        {"k": 4, "repair": 6, "success": 8, "total": 10, "extra": 1},
        [4, 6, 8, 10],
        {"k": 4, "repair": 6, "success": 8, "total": "10"},
    ],
)
def test_malformed_scheme_dict_is_rejected(data: object) -> None:
    with pytest.raises(SchemeError):
        RedundancyScheme.from_dict(data)


def test_scheme_is_immutable() -> None:
    scheme = RedundancyScheme(4, 6, 8, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scheme.k = 5  # type: ignore[misc]

"""The FEC backends behind one interface: systematic, any k pieces decode, ISA-L's parity is
pyeclib's and stays what it was when stored, zfec's segments still decode."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erasure import (
    DEFAULT_BACKEND,
    BackendError,
    FecBackend,
    IsalBackend,
    NotEnoughPiecesError,
    PieceError,
    ZfecBackend,
    backend_names,
    get_backend,
)
from erasure import isal as isal_module

BACKENDS = ["zfec", "isal"]


def test_isal_loads_here_and_is_the_default_for_new_segments() -> None:
    # pyeclib is a dependency, so its bundled libisal is always there on Linux.
    assert isal_module.load() is not None
    assert DEFAULT_BACKEND == "isal" and isinstance(get_backend(), IsalBackend)
    assert backend_names() == ["isal", "zfec"]
    assert isinstance(get_backend("zfec"), ZfecBackend)
    for name in BACKENDS:
        assert isinstance(get_backend(name), FecBackend)
    with pytest.raises(BackendError, match="unknown"):
        get_backend("isa-l-not-installed")


@pytest.mark.parametrize("name", BACKENDS)
@settings(max_examples=50, deadline=None)
@given(st.integers(1, 20), st.integers(0, 40), st.integers(1, 300), st.randoms(use_true_random=False))
def test_any_k_of_n_pieces_give_back_the_primary_blocks(
    name: str, k: int, extra: int, size: int, rng: random.Random
) -> None:
    backend = get_backend(name)
    n = min(k + extra, 256)
    blocks = [rng.randbytes(size) for _ in range(k)]
    pieces = backend.encode(k, n, blocks)
    assert len(pieces) == n
    assert [bytes(p) for p in pieces[:k]] == blocks  # systematic: primaries are pieces 0..k-1
    nums = rng.sample(range(n), k)
    out = backend.decode(k, n, {j: pieces[j] for j in nums})
    assert [bytes(b) for b in out] == blocks


@pytest.mark.parametrize("name", BACKENDS)
def test_every_k_subset_of_a_4_of_10_code_decodes(name: str) -> None:
    backend, rng = get_backend(name), random.Random(7)
    blocks = [rng.randbytes(1000) for _ in range(4)]
    pieces = backend.encode(4, 10, blocks)
    for nums in itertools.combinations(range(10), 4):  # all 210
        assert [bytes(b) for b in backend.decode(4, 10, {j: pieces[j] for j in nums})] == blocks


@pytest.mark.parametrize(("k", "n"), [(1, 256), (29, 80), (100, 256), (255, 256), (256, 256)])
def test_isal_codes_wide_schemes_that_pyeclib_caps_at_32_pieces(k: int, n: int) -> None:
    backend, rng = get_backend("isal"), random.Random(k * 1000 + n)
    blocks = [rng.randbytes(64) for _ in range(k)]
    pieces = backend.encode(k, n, blocks)
    for _ in range(3):
        nums = sorted(rng.sample(range(n), k))
        assert [bytes(b) for b in backend.decode(k, n, {j: pieces[j] for j in nums})] == blocks
    last = list(range(n - k, n))  # as much parity as there is
    assert [bytes(b) for b in backend.decode(k, n, {j: pieces[j] for j in last})] == blocks


@pytest.mark.parametrize(("k", "m"), [(1, 1), (2, 1), (4, 6), (10, 6), (20, 12)])
def test_isal_parity_is_byte_for_byte_pyeclibs_isa_l_rs_cauchy(k: int, m: int) -> None:
    """The same Cauchy code as liberasurecode's ISA-L backend, without its 80-byte frames."""
    from pyeclib.ec_iface import ECDriver

    rng = random.Random(k * 100 + m)
    length = 4096  # a multiple of liberasurecode's alignment, so it adds no padding
    blocks = [rng.randbytes(length) for _ in range(k)]
    fragments = ECDriver(k=k, m=m, ec_type="isa_l_rs_cauchy").encode(b"".join(blocks))
    header = len(fragments[0]) - length
    ours = get_backend("isal").encode(k, k + m, blocks)
    assert [bytes(f[header:]) for f in fragments] == [bytes(p) for p in ours]


def test_isal_parity_never_changes_for_stored_segments() -> None:
    """Known answer: pieces already on nodes must decode with any later libisal."""
    blocks = [bytes((i * 7 + j) % 251 for j in range(4096)) for i in range(10)]
    pieces = get_backend("isal").encode(10, 16, blocks)
    digest = hashlib.sha256(b"".join(bytes(p) for p in pieces[10:])).hexdigest()
    assert digest == KNOWN_10_OF_16


@pytest.mark.parametrize("name", BACKENDS)
def test_every_buffer_kind_codes_alike_and_inputs_are_not_copied_into_the_output(name: str) -> None:
    backend, rng = get_backend(name), random.Random(3)
    raw = [rng.randbytes(333) for _ in range(3)]
    expected = [bytes(p) for p in backend.encode(3, 5, raw)]
    strided = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(3, 333)
    kinds = [
        [bytearray(b) for b in raw],
        [memoryview(b) for b in raw],  # read-only
        [strided[j] for j in range(3)],  # rows of one array, as the window encoder passes
        [memoryview(bytearray(b"x" + b))[1:] for b in raw],  # offset views
    ]
    for blocks in kinds:
        pieces = backend.encode(3, 5, blocks)  # type: ignore[arg-type]
        assert [bytes(p) for p in pieces] == expected
        assert [bytes(b) for b in backend.decode(3, 5, {1: pieces[1], 3: pieces[3], 4: pieces[4]})] == raw


@pytest.mark.parametrize("name", BACKENDS)
def test_two_threads_code_at_once_and_get_the_right_pieces(name: str) -> None:
    backend, rng = get_backend(name), random.Random(11)
    jobs = [[rng.randbytes(50_000) for _ in range(10)] for _ in range(8)]
    expected = [[bytes(p) for p in backend.encode(10, 16, blocks)] for blocks in jobs]

    def roundtrip(i: int) -> bool:
        pieces = backend.encode(10, 16, jobs[i])
        nums = random.Random(i).sample(range(16), 10)
        back = backend.decode(10, 16, {j: pieces[j] for j in nums})
        return [bytes(p) for p in pieces] == expected[i] and [bytes(b) for b in back] == jobs[i]

    with ThreadPoolExecutor(2) as pool:
        assert all(pool.map(roundtrip, range(8)))


@pytest.mark.parametrize("name", BACKENDS)
def test_decode_arguments_are_checked(name: str) -> None:
    backend = get_backend(name)
    pieces = backend.encode(2, 4, [b"ab", b"cd"])
    with pytest.raises(NotEnoughPiecesError):
        backend.decode(2, 4, {3: pieces[3]})
    with pytest.raises(PieceError, match="exactly"):
        backend.decode(2, 4, dict(enumerate(pieces[:3])))
    with pytest.raises(PieceError, match="length"):
        backend.decode(2, 4, {0: b"a", 3: pieces[3]})
    with pytest.raises(PieceError, match="outside"):
        backend.decode(2, 4, {0: pieces[0], 4: pieces[3]})
    with pytest.raises(PieceError):
        backend.encode(2, 4, [b"ab"])
    with pytest.raises(PieceError):
        backend.encode(2, 4, [b"ab", b"c"])
    with pytest.raises(BackendError):
        backend.encode(3, 2, [b"a", b"b", b"c"])
    with pytest.raises(BackendError):
        backend.encode(2, 257, [b"a", b"b"])
    assert backend.encode(2, 3, [b"", b""]) == [b"", b"", b""]
    assert backend.decode(2, 3, {0: b"", 2: b""}) == [b"", b""]


@pytest.mark.parametrize(("value", "outcome"), [("zfec", "zfec"), ("isal", "isal"), ("reed-solomon", "not a backend")])
def test_an_admin_can_pin_the_backend_of_new_segments(value: str, outcome: str) -> None:
    env = {**os.environ, "GEOSHARD_ERASURE_BACKEND": value}
    run = subprocess.run([sys.executable, "-c", "import erasure; print(erasure.DEFAULT_BACKEND)"],
                         capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert outcome in (run.stdout if run.returncode == 0 else run.stderr)


def test_without_isa_l_the_isal_backend_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isal_module, "load", lambda: None)
    with pytest.raises(BackendError, match="pyeclib"):
        IsalBackend().encode(2, 3, [b"ab", b"cd"])


KNOWN_10_OF_16 = "fde52a1b9409d8ad3c190f132bb46b89c844383d4c9d5e655c9e99f741c7cb0f"

"""Signed wire messages: round trips, tamper detection, canonical bytes, strict decoding."""

from __future__ import annotations

import copy
import json
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import MessageError, SignatureError
from common.identity import Identity
from common.messages import (
    Action,
    AuditChallenge,
    AuditProof,
    CheckIn,
    Message,
    OrderLimit,
    PieceReceipt,
    RetainList,
    Signed,
    canonical_bytes,
    new_serial,
    now,
)

SAT = Identity.generate()
NODE = Identity.generate()
PIECE = "ab" * 32


def _examples() -> list[Message]:
    return [
        OrderLimit("serial0001", SAT.id, NODE.id, PIECE, Action.PUT, 1 << 20, 2000, 1000, 5000),
        PieceReceipt("serial0001", NODE.id, PIECE, 12345, 4096, b"\x07" * 32, 1000),
        AuditChallenge(SAT.id, NODE.id, PIECE, (0, 5, 9), b"n" * 16, 2000),
        AuditProof(NODE.id, PIECE, b"n" * 16, (0, 5), (b"leaf0", b""), ((b"\1" * 32,), ())),
        CheckIn(NODE.id, "http://10.0.0.1:7777", "DE", "eu", 100, 10, 90, "0.1.0", "0xabc", 1000),
        RetainList(SAT.id, NODE.id, 1000, 3, b"\xff\x00" * 8, 12),
    ]


@pytest.mark.parametrize("msg", _examples(), ids=lambda m: m.TYPE)
def test_signed_round_trip(msg):
    signer = SAT if msg.TYPE in ("order_limit", "audit_challenge", "retain_list") else NODE
    signed = Signed.sign(signer, msg)
    back = Signed.loads(signed.dumps(), type(msg))
    assert back == signed and back.verify(signer.id) == msg
    assert Signed.from_json(json.loads(json.dumps(signed.to_json())), type(msg)).verify() == msg


@pytest.mark.parametrize("msg", _examples(), ids=lambda m: m.TYPE)
def test_every_field_is_covered_by_the_signature(msg):
    signed = Signed.sign(SAT, msg)
    base = signed.to_json()
    fields = [n for n in base["message"] if n not in ("type", "v")]
    caught_by_signature = 0
    for name in fields:
        env = copy.deepcopy(base)
        env["message"][name] = _tamper(env["message"][name])
        try:
            forged = Signed.from_json(env, type(msg))
        except MessageError:
            continue  # the change made the message invalid: refused too
        with pytest.raises(SignatureError):
            forged.verify(SAT.id)
        caught_by_signature += 1
    assert caught_by_signature >= len(fields) // 2  # the test really exercises signatures


def _tamper(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        if value.startswith(("http", "0x")) or len(value) < 8 or value in ("DE", "eu"):
            return value + "0"
        return ("1" if value[0] != "1" else "2") + value[1:]
    if isinstance(value, list):
        return value[:-1] if value else [0]
    raise AssertionError(value)


def test_signature_by_another_key_or_for_another_signer_is_refused():
    msg = _examples()[0]
    signed = Signed.sign(NODE, msg)
    with pytest.raises(SignatureError, match="expected"):
        signed.verify(SAT.id)
    stolen = Signed(msg, SAT.id, signed.signature)  # relabelled as the satellite's
    with pytest.raises(SignatureError):
        stolen.verify(SAT.id)


def test_a_message_cannot_be_replayed_as_another_type():
    signed = Signed.sign(SAT, _examples()[0])
    with pytest.raises(MessageError, match="expected a audit_challenge"):
        Signed.from_json(signed.to_json(), AuditChallenge)


def test_canonical_bytes_are_stable():
    m = OrderLimit("a" * 16, "1" * 64, "2" * 64, "3" * 64, Action.GET, 10, 200, 100)
    # pinned: changing the encoding would invalidate every signature in flight and on disk
    assert canonical_bytes(m) == (
        b'{"action":"GET","created":100,"expires":200,"max_bytes":10,"node_id":"' + b"2" * 64
        + b'","piece_expires":0,"piece_id":"' + b"3" * 64 + b'","satellite_id":"' + b"1" * 64
        + b'","serial":"aaaaaaaaaaaaaaaa","type":"order_limit","v":1}'
    )


@settings(max_examples=50, deadline=None)
@given(
    max_bytes=st.integers(0, 2**62),
    expires=st.integers(0, 2**40),
    action=st.sampled_from(list(Action)),
    serial=st.text("abcdef0123456789", min_size=8, max_size=64),
)
def test_canonical_bytes_survive_a_json_round_trip_in_any_key_order(max_bytes, expires, action, serial):
    m = OrderLimit(serial, SAT.id, NODE.id, PIECE, action, max_bytes, expires, 0)
    signed = Signed.sign(SAT, m)
    env = signed.to_json()
    env["message"] = dict(reversed(list(env["message"].items())))
    back = Signed.loads(json.dumps(env), OrderLimit)
    assert canonical_bytes(back.message) == canonical_bytes(m)
    back.verify(SAT.id)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda m: m.update(v=2), "unsupported order_limit version"),
        (lambda m: m.update(extra=1), "unknown fields"),
        (lambda m: m.pop("serial"), "missing field"),
        (lambda m: m.update(max_bytes=True), "must be an integer"),
        (lambda m: m.update(max_bytes=-1), "must not be negative"),
        (lambda m: m.update(action="STEAL"), "must be one of"),
        (lambda m: m.update(piece_id="../../etc/passwd"), "not a piece id"),
        (lambda m: m.update(node_id="ABC"), "not a peer id"),
    ],
)
def test_strict_decoding_says_what_is_wrong(mutate, needle):
    env = Signed.sign(SAT, _examples()[0]).to_json()
    mutate(env["message"])
    with pytest.raises(MessageError, match=needle):
        Signed.from_json(env, OrderLimit)


def test_malformed_envelopes():
    with pytest.raises(MessageError, match="not valid JSON"):
        Signed.loads("{", OrderLimit)
    env = Signed.sign(SAT, _examples()[0]).to_json()
    with pytest.raises(MessageError):
        Signed.from_json({**env, "signature": "%%%"}, OrderLimit)
    with pytest.raises(SignatureError, match="64 bytes"):
        Signed.from_json({**env, "signature": "AAAA"}, OrderLimit)


def test_identity_files_are_private_and_round_trip(tmp_path):
    ident = Identity.generate()
    path = tmp_path / "sub" / "id.pem"
    ident.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identity.load(path).id == ident.id == Identity.load_or_create(path).id


def test_identity_signatures_are_the_rfc8032_ones_whichever_library_makes_them():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    ident = Identity.generate()
    for data in (b"", b"x", os.urandom(1000)):
        sig = ident.sign(data)
        assert sig == ident._key.sign(data)  # Ed25519 is deterministic: one right answer
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(ident.id)).verify(sig, data)


def test_a_signed_message_sends_the_fields_it_signed():
    sat = Identity.generate()
    t = now()
    signed = Signed.sign(sat, OrderLimit(new_serial(), sat.id, sat.id, "ab" * 32, Action.GET, 10, t + 60, t))
    again = Signed.loads(signed.dumps(), OrderLimit)
    assert again.verify(sat.id) == signed.message
    assert again.to_json() == signed.to_json()

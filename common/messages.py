"""Signed wire messages: the contract between satellite, gateway and storage nodes.

Every message is a frozen dataclass with a ``TYPE`` name and a ``VERSION``. It has exactly
one canonical byte encoding: compact JSON with sorted keys, where ``bytes`` fields are
base64 (standard alphabet, padded) and enums are their string value, and the envelope
fields ``type`` and ``v`` are part of what is signed. A signature therefore binds the
message kind and its version as well as its fields: an ``OrderLimit`` cannot be replayed
as an ``AuditChallenge``, and a v1 verifier never accepts a message meant for v2.

A :class:`Signed` envelope carries the message, the signer's peer id and the Ed25519
signature over ``SIGNING_PREFIX + canonical(message)``. Decoding is strict: unknown or
missing fields, wrong types, malformed ids and unknown versions raise
:class:`~common.errors.MessageError` naming what was wrong; signature failures raise
:class:`~common.errors.SignatureError`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import json
import secrets
import time
import types
import typing
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from common.errors import MessageError, OrderError, SignatureError
from common.identity import Identity, is_peer_id, verify_signature

__all__ = [
    "SIGNING_PREFIX",
    "Action",
    "AuditChallenge",
    "AuditProof",
    "CheckIn",
    "EarningsRequest",
    "ExitRequest",
    "Message",
    "OrderLimit",
    "OrderSettlement",
    "PieceLossReport",
    "PieceReceipt",
    "ReputationRequest",
    "RetainList",
    "Signed",
    "canonical_bytes",
    "decode_message",
    "encode_message",
    "is_piece_id",
    "new_serial",
    "now",
]

SIGNING_PREFIX = b"geoshard signed message\n"

_PIECE_ID_LEN = 64  # hex characters of a 32-byte piece id


def now() -> int:
    """Unix time in whole seconds: the clock every expiry is measured against."""
    return int(time.time())


def new_serial() -> str:
    """A fresh, unpredictable 128-bit order serial."""
    return secrets.token_hex(16)


def is_piece_id(value: object) -> bool:
    """True for 64 lowercase hex characters: never a path separator, dot or other surprise."""
    if not isinstance(value, str) or len(value) != _PIECE_ID_LEN:
        return False
    return all(c in "0123456789abcdef" for c in value)


class Action(str, enum.Enum):  # noqa: UP042 - str() and format() of members must stay as they are
    """What an order limit allows its bearer to do with one piece on one node."""

    PUT = "PUT"
    GET = "GET"
    AUDIT = "AUDIT"
    REPAIR_PUT = "REPAIR_PUT"
    REPAIR_GET = "REPAIR_GET"
    DELETE = "DELETE"

    @property
    def is_upload(self) -> bool:
        return self in (Action.PUT, Action.REPAIR_PUT)

    @property
    def is_download(self) -> bool:
        return self in (Action.GET, Action.REPAIR_GET, Action.AUDIT)


class Message:
    """Base of every wire message (a frozen dataclass with ``TYPE`` and ``VERSION``)."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def validate(self) -> None:
        """Check invariants beyond field types; raise :class:`MessageError`."""


M = TypeVar("M", bound=Message)

_REGISTRY: dict[str, type[Message]] = {}


def _register(cls: type[M]) -> type[M]:
    _REGISTRY[cls.TYPE] = cls
    return cls


def _check_peer(name: str, value: str) -> None:
    if not is_peer_id(value):
        raise MessageError(f"{name} is not a peer id (64 lowercase hex characters): {value!r}")


def _check_piece(name: str, value: str) -> None:
    if not is_piece_id(value):
        raise MessageError(f"{name} is not a piece id (64 lowercase hex characters): {value!r}")


def _check_nonneg(name: str, value: int) -> None:
    if value < 0:
        raise MessageError(f"{name} must not be negative, got {value}")


@_register
@dataclass(frozen=True)
class OrderLimit(Message):
    """The satellite's permission for one transfer of one piece with one node.

    ``serial`` is single-use on the node; ``max_bytes`` bounds the bytes moved; ``expires``
    is unix seconds. ``piece_expires`` (0 = never) is the piece's TTL on the node.
    """

    TYPE: ClassVar[str] = "order_limit"

    serial: str
    satellite_id: str
    node_id: str
    piece_id: str
    action: Action
    max_bytes: int
    expires: int
    created: int
    piece_expires: int = 0

    def validate(self) -> None:
        if not (8 <= len(self.serial) <= 64) or not self.serial.isalnum():
            raise MessageError(f"serial must be 8-64 alphanumeric characters, got {self.serial!r}")
        _check_peer("satellite_id", self.satellite_id)
        _check_peer("node_id", self.node_id)
        _check_piece("piece_id", self.piece_id)
        _check_nonneg("max_bytes", self.max_bytes)
        _check_nonneg("piece_expires", self.piece_expires)

    def check(
        self,
        *,
        satellite_id: str,
        node_id: str,
        piece_id: str,
        actions: tuple[Action, ...],
        at: int | None = None,
    ) -> None:
        """Raise :class:`OrderError` unless this order authorises the described transfer."""
        if self.satellite_id != satellite_id:
            raise OrderError(f"order limit is from satellite {self.satellite_id[:16]}…, not ours")
        if self.node_id != node_id:
            raise OrderError(
                f"order limit is for node {self.node_id[:16]}…, not this node {node_id[:16]}…"
            )
        if self.piece_id != piece_id:
            raise OrderError(f"order limit is for piece {self.piece_id}, not {piece_id}")
        if self.action not in actions:
            wanted = "/".join(a.value for a in actions)
            raise OrderError(f"order limit action is {self.action.value}, this request needs {wanted}")
        t = now() if at is None else at
        if self.expires <= t:
            raise OrderError(f"order limit expired {t - self.expires}s ago")


@_register
@dataclass(frozen=True)
class PieceReceipt(Message):
    """A node's signed statement that it durably stored a piece with this Merkle root."""

    TYPE: ClassVar[str] = "piece_receipt"

    serial: str
    node_id: str
    piece_id: str
    size: int
    leaf_size: int
    merkle_root: bytes
    created: int

    def validate(self) -> None:
        _check_peer("node_id", self.node_id)
        _check_piece("piece_id", self.piece_id)
        _check_nonneg("size", self.size)
        if self.leaf_size <= 0:
            raise MessageError("leaf_size must be positive")
        if len(self.merkle_root) != 32:
            raise MessageError("merkle_root must be 32 bytes")


@_register
@dataclass(frozen=True)
class AuditChallenge(Message):
    """Prove you hold ``piece_id``: send these leaves with their Merkle paths, echoing ``nonce``."""

    TYPE: ClassVar[str] = "audit_challenge"

    satellite_id: str
    node_id: str
    piece_id: str
    leaf_indexes: tuple[int, ...]
    nonce: bytes
    expires: int

    def validate(self) -> None:
        _check_peer("satellite_id", self.satellite_id)
        _check_peer("node_id", self.node_id)
        _check_piece("piece_id", self.piece_id)
        if not self.leaf_indexes or len(self.leaf_indexes) > 64:
            raise MessageError("an audit asks for 1 to 64 leaves")
        for i in self.leaf_indexes:
            _check_nonneg("leaf index", i)
        if not (16 <= len(self.nonce) <= 64):
            raise MessageError("nonce must be 16-64 bytes")


@_register
@dataclass(frozen=True)
class AuditProof(Message):
    """The node's answer to an :class:`AuditChallenge`: one leaf and one path per index."""

    TYPE: ClassVar[str] = "audit_proof"

    node_id: str
    piece_id: str
    nonce: bytes
    leaf_indexes: tuple[int, ...]
    leaves: tuple[bytes, ...]
    proofs: tuple[tuple[bytes, ...], ...]

    def validate(self) -> None:
        _check_peer("node_id", self.node_id)
        _check_piece("piece_id", self.piece_id)
        if not (len(self.leaf_indexes) == len(self.leaves) == len(self.proofs)):
            raise MessageError("leaf_indexes, leaves and proofs must have the same length")
        for path in self.proofs:
            if any(len(h) != 32 for h in path):
                raise MessageError("every Merkle path element must be 32 bytes")


@_register
@dataclass(frozen=True)
class CheckIn(Message):
    """A node's periodic self-report to its satellite."""

    TYPE: ClassVar[str] = "check_in"

    node_id: str
    address: str
    country: str
    region: str
    capacity: int
    used: int
    free: int
    version: str
    wallet: str
    timestamp: int

    def validate(self) -> None:
        _check_peer("node_id", self.node_id)
        if not self.address.startswith(("http://", "https://")):
            raise MessageError(f"address must be an http(s) URL, got {self.address!r}")
        if len(self.country) != 2 or not self.country.isalpha() or not self.country.isupper():
            raise MessageError(f"country must be an ISO 3166-1 alpha-2 code, got {self.country!r}")
        for name in ("capacity", "used", "free"):
            _check_nonneg(name, getattr(self, name))


@_register
@dataclass(frozen=True)
class RetainList(Message):
    """Keep the pieces in this bloom filter; anything else created before ``created_before`` is garbage."""

    TYPE: ClassVar[str] = "retain_list"

    satellite_id: str
    node_id: str
    created_before: int
    hash_count: int
    bloom: bytes
    piece_count: int = 0

    def validate(self) -> None:
        _check_peer("satellite_id", self.satellite_id)
        _check_peer("node_id", self.node_id)
        if not (1 <= self.hash_count <= 32):
            raise MessageError("hash_count must be 1-32")
        if not self.bloom:
            raise MessageError("bloom filter must not be empty")


@_register
@dataclass(frozen=True)
class ExitRequest(Message):
    """A node asks its satellite to ``begin`` its graceful exit, or for its exit ``status``."""

    TYPE: ClassVar[str] = "exit_request"
    ACTIONS: ClassVar[tuple[str, ...]] = ("begin", "status")

    node_id: str
    satellite_id: str
    action: str
    timestamp: int

    def validate(self) -> None:
        _check_peer("node_id", self.node_id)
        _check_peer("satellite_id", self.satellite_id)
        if self.action not in self.ACTIONS:
            raise MessageError(f"action must be one of {', '.join(self.ACTIONS)}, got {self.action!r}")


@_register
@dataclass(frozen=True)
class ReputationRequest(Message):
    """A node asks its satellite for its own scores; signed by the node, recent by ``timestamp``."""

    TYPE: ClassVar[str] = "reputation_request"

    node_id: str
    satellite_id: str
    timestamp: int

    def validate(self) -> None:
        _check_peer("node_id", self.node_id)
        _check_peer("satellite_id", self.satellite_id)


@_register
@dataclass(frozen=True)
class PieceLossReport(Message):
    """A node tells its satellite it lost pieces: its scrub found them corrupt or missing
    and it deleted them. Signed by the node, addressed to one satellite, recent by
    ``timestamp``; the satellite counts it as an honest loss, not as a failed audit."""

    TYPE: ClassVar[str] = "piece_loss_report"
    REASONS: ClassVar[tuple[str, ...]] = ("corrupt", "missing")
    MAX_PIECES: ClassVar[int] = 1000

    node_id: str
    satellite_id: str
    piece_ids: tuple[str, ...]
    reason: str
    detail: str
    timestamp: int

    def validate(self) -> None:
        _check_peer("node_id", self.node_id)
        _check_peer("satellite_id", self.satellite_id)
        if not 1 <= len(self.piece_ids) <= self.MAX_PIECES:
            raise MessageError(f"piece_ids must name 1-{self.MAX_PIECES} pieces")
        for i, piece_id in enumerate(self.piece_ids):
            _check_piece(f"piece_ids[{i}]", piece_id)
        if self.reason not in self.REASONS:
            raise MessageError(f"reason must be one of {', '.join(self.REASONS)}, got {self.reason!r}")
        if len(self.detail) > 500:
            raise MessageError("detail must be at most 500 characters")


@_register
@dataclass(frozen=True)
class OrderSettlement(Message):
    """A node submits download orders it served to be paid for them.

    ``orders[i]`` is the satellite-signed :class:`OrderLimit` exactly as the node received it
    (its JSON envelope as text, so the satellite checks its own signature on the same bytes),
    and ``amounts[i]`` the bytes the node served under it. The node signs the whole batch.
    """

    TYPE: ClassVar[str] = "order_settlement"
    MAX_ORDERS: ClassVar[int] = 1000

    node_id: str
    satellite_id: str
    timestamp: int
    orders: tuple[str, ...]
    amounts: tuple[int, ...]

    def validate(self) -> None:
        _check_peer("node_id", self.node_id)
        _check_peer("satellite_id", self.satellite_id)
        if len(self.orders) != len(self.amounts):
            raise MessageError("orders and amounts must have the same length")
        if len(self.orders) > self.MAX_ORDERS:
            raise MessageError(f"at most {self.MAX_ORDERS} orders per settlement, got {len(self.orders)}")


@_register
@dataclass(frozen=True)
class EarningsRequest(Message):
    """A node asks its satellite for its own earnings: this period's estimate and its paystubs."""

    TYPE: ClassVar[str] = "earnings_request"

    node_id: str
    satellite_id: str
    timestamp: int

    def validate(self) -> None:
        _check_peer("node_id", self.node_id)
        _check_peer("satellite_id", self.satellite_id)


# --- canonical encoding -------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple | list):
        return [_encode_value(v) for v in value]
    return value


_FIELDS: dict[type, tuple[dataclasses.Field[Any], ...]] = {}


def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    """``dataclasses.fields`` of a message class, looked up once (it is on every hot path)."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = dataclasses.fields(cls)
    return found


def encode_message(msg: Message) -> dict[str, Any]:
    """The JSON-ready form of ``msg`` including its ``type`` and ``v`` envelope."""
    out: dict[str, Any] = {"type": msg.TYPE, "v": msg.VERSION}
    for f in _fields(type(msg)):
        out[f.name] = _encode_value(getattr(msg, f.name))
    return out


def _canonical(encoded: dict[str, Any]) -> bytes:
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def canonical_bytes(msg: Message) -> bytes:
    """The one byte string that is signed for ``msg``."""
    return _canonical(encode_message(msg))


def _decode_value(tp: Any, value: Any, name: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is bool:
        if not isinstance(value, bool):
            raise MessageError(f"{name} must be a boolean")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise MessageError(f"{name} must be an integer")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise MessageError(f"{name} must be a string")
        return value
    if tp is bytes:
        if not isinstance(value, str):
            raise MessageError(f"{name} must be base64 text")
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise MessageError(f"{name} is not valid base64") from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise MessageError(f"{name} must be one of {allowed}, got {value!r}") from None
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list):
            raise MessageError(f"{name} must be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode_value(args[0], v, f"{name}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        raise MessageError(f"{name}: union types are not part of the wire format")
    raise MessageError(f"{name}: unsupported field type {tp!r}")


_HINTS: dict[type, dict[str, Any]] = {}


def decode_message(data: Any, expected: type[M]) -> M:
    """Parse and validate the JSON form of a message of type ``expected``."""
    if not isinstance(data, dict):
        raise MessageError(f"{expected.TYPE} must be a JSON object")
    if data.get("type") != expected.TYPE:
        raise MessageError(f"expected a {expected.TYPE} message, got type {data.get('type')!r}")
    if data.get("v") != expected.VERSION:
        raise MessageError(
            f"unsupported {expected.TYPE} version {data.get('v')!r} (this peer speaks v{expected.VERSION})"
        )
    hints = _HINTS.get(expected)
    if hints is None:
        hints = _HINTS[expected] = typing.get_type_hints(expected)
    fields = {f.name: f for f in _fields(expected)}
    unknown = set(data) - set(fields) - {"type", "v"}
    if unknown:
        raise MessageError(f"{expected.TYPE}: unknown fields {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for fname, f in fields.items():
        if fname not in data:
            if f.default is not dataclasses.MISSING:
                continue
            raise MessageError(f"{expected.TYPE}: missing field {fname!r}")
        kwargs[fname] = _decode_value(hints[fname], data[fname], f"{expected.TYPE}.{fname}")
    msg = expected(**kwargs)
    msg.validate()
    return msg


# --- signed envelopes -----------------------------------------------------------------


@dataclass(frozen=True)
class Signed(Generic[M]):
    """A message, the id of its signer and the signer's Ed25519 signature."""

    message: M
    signer: str
    signature: bytes = field(repr=False)

    @classmethod
    def sign(cls, identity: Identity, message: M) -> Signed[M]:
        message.validate()
        encoded = encode_message(message)
        signed = cls(message, identity.id, identity.sign(SIGNING_PREFIX + _canonical(encoded)))
        signed.__dict__["encoded"] = encoded  # what cached_property would compute again
        return signed

    @cached_property
    def encoded(self) -> dict[str, Any]:
        """The message's JSON form (computed once: signing, verifying and sending share it)."""
        return encode_message(self.message)

    def verify(self, expected_signer: str | None = None) -> M:
        """Return the message if the signature is valid (and by ``expected_signer`` if given)."""
        if expected_signer is not None and self.signer != expected_signer:
            raise SignatureError(
                f"{self.message.TYPE} is signed by {self.signer[:16]}…, expected {expected_signer[:16]}…"
            )
        verify_signature(self.signer, self.signature, SIGNING_PREFIX + _canonical(self.encoded))
        return self.message

    def to_json(self) -> dict[str, Any]:
        return {
            "message": dict(self.encoded),  # a copy: callers may edit what they are given
            "signer": self.signer,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Any, expected: type[M]) -> Signed[M]:
        """Parse an envelope; does *not* verify the signature (call :meth:`verify`)."""
        if not isinstance(data, dict) or set(data) != {"message", "signer", "signature"}:
            raise MessageError(
                f"a signed {expected.TYPE} must be an object with message, signer and signature"
            )
        signer = data["signer"]
        if not is_peer_id(signer):
            raise MessageError(f"signer is not a peer id: {signer!r}")
        sig = _decode_value(bytes, data["signature"], "signature")
        if len(sig) != 64:
            raise SignatureError("an Ed25519 signature is 64 bytes")
        return cls(decode_message(data["message"], expected), signer, sig)

    @classmethod
    def loads(cls, text: str | bytes, expected: type[M]) -> Signed[M]:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise MessageError(f"signed {expected.TYPE} is not valid JSON: {e}") from None
        return cls.from_json(data, expected)

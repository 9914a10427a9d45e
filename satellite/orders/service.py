"""Order limits, piece ids and segment tokens: everything the satellite signs for a transfer.

**Piece ids.** A begun segment draws a random 32-byte *root piece id*. The piece with
number ``n`` placed on node ``N`` gets::

    piece_id = HMAC-SHA256(key=root_piece_id, msg=b"geoshard piece id" || N (32 bytes) || n (u16 BE))

hex-encoded, as Storj derives its piece ids. Knowing one piece id reveals nothing of the
others (HMAC is a PRF), and the same piece number re-placed on another node by repair gets
a different id, so the old node's copy can never be confused with the new one.

**Segment tokens.** Begin-segment is stateless: rather than writing a row per begun
segment, the satellite hands the gateway a token, signed with its own Ed25519 key, that
records what it placed (bucket, key, upload and part, scheme, root piece id, per piece the
node and order serial, the maximum piece size, the expiry). Commit trusts only what the
token says. Any satellite API process sharing the identity can verify it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from common.errors import SignatureError
from common.identity import Identity, verify_signature
from common.messages import Action, OrderLimit, Signed, new_serial, now
from erasure.scheme import RedundancyScheme
from satellite.errors import InvalidToken

__all__ = ["OrderSigner", "SegmentToken", "TokenPiece", "derive_piece_id", "fresh_piece_id"]

_PIECE_ID_CONTEXT = b"geoshard piece id"
_TOKEN_PREFIX = b"geoshard segment token\n"


def derive_piece_id(root_piece_id: str, node_id: str, number: int) -> str:
    msg = _PIECE_ID_CONTEXT + bytes.fromhex(node_id) + number.to_bytes(2, "big")
    return hmac.new(bytes.fromhex(root_piece_id), msg, hashlib.sha256).hexdigest()


def fresh_piece_id() -> str:
    """A random piece id, for pieces placed after the upload (repair, graceful exit).

    Derived ids are the same for the same (segment, node, number): a repair retried after
    a crash that placed a piece on the same node again would collide with the orphan the
    crashed attempt left there (409 PieceExists) until garbage collection removed it. A
    fresh id per attempt never collides; the orphan is collected as any other.
    """
    return secrets.token_hex(32)


@dataclass(frozen=True)
class TokenPiece:
    number: int
    node_id: str
    serial: str


@dataclass(frozen=True)
class SegmentToken:
    """What begin-segment placed; commit accepts pieces only as this token describes them."""

    bucket_id: int
    key: str
    upload_id: str  # "" for a simple PUT
    part_number: int
    scheme: RedundancyScheme
    root_piece_id: str
    max_piece_size: int
    pieces: tuple[TokenPiece, ...]
    expires: int
    piece_expires: int = 0  # the PUT orders' piece TTL (0: none), recorded on the segment

    def piece(self, number: int) -> TokenPiece:
        for p in self.pieces:
            if p.number == number:
                return p
        raise InvalidToken(f"piece {number} was not placed by this segment's begin")

    def piece_id(self, number: int) -> str:
        return derive_piece_id(self.root_piece_id, self.piece(number).node_id, number)

    def _payload(self) -> dict[str, Any]:
        return {
            "b": self.bucket_id,
            "k": self.key,
            "u": self.upload_id,
            "p": self.part_number,
            "s": self.scheme.to_dict(),
            "r": self.root_piece_id,
            "m": self.max_piece_size,
            "n": [[p.number, p.node_id, p.serial] for p in self.pieces],
            "e": self.expires,
            "x": self.piece_expires,
        }

    @classmethod
    def _from_payload(cls, d: dict[str, Any]) -> SegmentToken:
        return cls(
            bucket_id=int(d["b"]),
            key=str(d["k"]),
            upload_id=str(d["u"]),
            part_number=int(d["p"]),
            scheme=RedundancyScheme.from_dict(d["s"]),
            root_piece_id=str(d["r"]),
            max_piece_size=int(d["m"]),
            pieces=tuple(TokenPiece(int(n), str(node), str(serial)) for n, node, serial in d["n"]),
            expires=int(d["e"]),
            piece_expires=int(d.get("x", 0)),
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OrderSigner:
    """Signs order limits and segment tokens with the satellite's identity."""

    def __init__(self, identity: Identity, *, order_ttl: int, token_ttl: int) -> None:
        self.identity = identity
        self.order_ttl = order_ttl
        self.token_ttl = token_ttl

    @property
    def satellite_id(self) -> str:
        return self.identity.id

    def order_limit(
        self, node_id: str, piece_id: str, action: Action, max_bytes: int, piece_expires: int = 0
    ) -> Signed[OrderLimit]:
        t = now()
        limit = OrderLimit(
            serial=new_serial(),
            satellite_id=self.identity.id,
            node_id=node_id,
            piece_id=piece_id,
            action=action,
            max_bytes=max_bytes,
            expires=t + self.order_ttl,
            created=t,
            piece_expires=piece_expires,
        )
        return Signed.sign(self.identity, limit)

    @staticmethod
    def new_root_piece_id() -> str:
        return secrets.token_hex(32)

    def seal(self, token: SegmentToken) -> str:
        body = json.dumps(token._payload(), separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self.identity.sign(_TOKEN_PREFIX + body))}"

    def open(self, sealed: str, *, at: int | None = None) -> SegmentToken:
        """Verify and decode a token; :class:`InvalidToken` for anything forged, garbled or expired."""
        try:
            body_text, sig_text = sealed.split(".")
            body, sig = _unb64(body_text), _unb64(sig_text)
        except (ValueError, AttributeError):
            raise InvalidToken("segment token is malformed") from None
        try:
            verify_signature(self.identity.id, sig, _TOKEN_PREFIX + body)
        except SignatureError:
            raise InvalidToken("segment token was not issued by this satellite") from None
        try:
            token = SegmentToken._from_payload(json.loads(body))
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidToken(f"segment token payload is malformed: {e}") from None
        t = now() if at is None else at
        if token.expires <= t:
            raise InvalidToken(f"segment token expired {t - token.expires}s ago; begin the segment again")
        return token

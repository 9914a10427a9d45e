"""Checking what a gateway commits: segment tokens, receipts, roots and sizes.

A piece is accepted only if the node the token placed it on signed a receipt naming the
piece id derived for that node and number, the order serial, and the same Merkle root and
size the gateway computed while encoding: a node cannot choose the data it will be audited
against, and a gateway cannot attribute a piece to a node that never stored it. Any piece
that fails is a hard error for the whole commit (the gateway verifies receipts before it
commits, so a bad one here is a bug or an attack), and at least ``success`` pieces must
remain.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from common.errors import MessageError, SignatureError
from common.messages import PieceReceipt, Signed
from erasure.errors import ErasureError
from erasure.segment import SegmentLayout
from satellite.errors import InvalidArgument, InvalidReceipt, InvalidToken, TooFewPieces
from satellite.metainfo.types import PieceIn, SegmentIn
from satellite.orders import OrderSigner

__all__ = ["SegmentChecker", "field_bytes"]


def field_bytes(d: dict[str, Any], name: str, *, optional: bool = False) -> bytes | None:
    value = d.get(name)
    if value is None:
        if optional:
            return None
        raise InvalidArgument(f"missing {name!r}")
    if not isinstance(value, str):
        raise InvalidArgument(f"{name!r} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"{name!r} is not valid base64") from None


def _int(d: dict[str, Any], name: str, default: int | None = None) -> int:
    value = d.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{name!r} must be a non-negative integer")
    return value


class SegmentChecker:
    def __init__(self, signer: OrderSigner, *, inline_threshold: int) -> None:
        self.signer = signer
        self.inline_threshold = inline_threshold

    def check(self, raw: Any, *, bucket_id: int, key: str, upload_id: str, part_number: int, index: int) -> SegmentIn:
        if not isinstance(raw, dict):
            raise InvalidArgument("each segment must be a JSON object")
        wrapped_key = field_bytes(raw, "wrapped_key") or b""
        nonce = field_bytes(raw, "nonce") or b""
        inline = field_bytes(raw, "inline_data", optional=True)
        if inline is not None:
            if len(inline) > self.inline_threshold:
                raise InvalidArgument(
                    f"inline segment of {len(inline)} bytes exceeds the {self.inline_threshold}-byte threshold"
                )
            layout = raw.get("layout")
            return SegmentIn(
                part_number=part_number,
                index=index,
                plain_size=_int(raw, "plain_size"),
                encrypted_size=len(inline),
                layout=layout if isinstance(layout, dict) else None,
                wrapped_key=wrapped_key,
                nonce=nonce,
                inline_data=inline,
            )
        token_text = raw.get("token")
        if not isinstance(token_text, str):
            raise InvalidArgument("a segment is either inline_data or a token with pieces")
        token = self.signer.open(token_text)
        if (token.bucket_id, token.key, token.upload_id, token.part_number) != (
            bucket_id,
            key,
            upload_id,
            part_number,
        ):
            raise InvalidToken("segment token was issued for another bucket, key, upload or part")
        try:
            layout = SegmentLayout.from_dict(raw.get("layout"))
        except (ErasureError, ValueError, TypeError) as e:
            raise InvalidArgument(f"invalid segment layout: {e}") from None
        if layout.scheme != token.scheme:
            raise InvalidArgument(f"layout scheme {layout.scheme} is not the placed scheme {token.scheme}")
        if layout.piece_size > token.max_piece_size:
            raise InvalidArgument(
                f"pieces of {layout.piece_size} bytes exceed the {token.max_piece_size} bytes ordered"
            )
        pieces_raw = raw.get("pieces")
        if not isinstance(pieces_raw, list):
            raise InvalidArgument("'pieces' must be a list")
        pieces: dict[int, PieceIn] = {}
        for p in pieces_raw:
            piece = self._check_piece(p, token, layout.piece_size)
            if piece.number in pieces:
                raise InvalidArgument(f"piece {piece.number} is listed twice")
            pieces[piece.number] = piece
        if len(pieces) < token.scheme.success:
            raise TooFewPieces(f"only {len(pieces)} pieces landed; scheme {token.scheme} needs {token.scheme.success}")
        return SegmentIn(
            part_number=part_number,
            index=index,
            plain_size=layout.plain_size,
            encrypted_size=layout.cipher_size,
            layout=layout.to_dict(),
            wrapped_key=wrapped_key,
            nonce=nonce,
            inline_data=None,
            root_piece_id=token.root_piece_id,
            scheme=(token.scheme.k, token.scheme.repair, token.scheme.success, token.scheme.total),
            piece_size=layout.piece_size,
            pieces=tuple(sorted(pieces.values(), key=lambda x: x.number)),
            piece_expires=token.piece_expires,
        )

    def _check_piece(self, p: Any, token: Any, piece_size: int) -> PieceIn:
        if not isinstance(p, dict):
            raise InvalidArgument("each piece must be a JSON object")
        number = _int(p, "number")
        placed = token.piece(number)
        root = field_bytes(p, "root") or b""
        try:
            signed = Signed.from_json(p.get("receipt"), PieceReceipt)
            receipt = signed.verify(expected_signer=placed.node_id)
        except (MessageError, SignatureError) as e:
            raise InvalidReceipt(f"piece {number}: receipt rejected: {e}") from None
        piece_id = token.piece_id(number)
        problems = []
        if receipt.node_id != placed.node_id:
            problems.append(f"names node {receipt.node_id[:16]}…")
        if receipt.piece_id != piece_id:
            problems.append(f"is for piece {receipt.piece_id}, not {piece_id}")
        if receipt.serial != placed.serial:
            problems.append("is for another order")
        if receipt.merkle_root != root:
            problems.append("names a Merkle root other than the one the gateway computed")
        if receipt.size != piece_size:
            problems.append(f"is for {receipt.size} bytes, the layout's pieces are {piece_size}")
        if problems:
            raise InvalidReceipt(f"piece {number} on node {placed.node_id[:16]}…: receipt " + "; ".join(problems))
        return PieceIn(number, placed.node_id, piece_id, root, piece_size)

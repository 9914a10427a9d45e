"""Checks that a signed satellite message authorises what a request asks for.

Every check raises a typed domain error in the order a client developer would want to
read them: malformed before forged, forged before misdirected, misdirected before
expired. Only the satellite pinned at ``node init`` is trusted; a valid signature by any
other key is refused.
"""

from __future__ import annotations

import base64
import binascii
import json

from common.audit_batch import AuditBatchChallenge
from common.messages import Action, AuditChallenge, OrderLimit, RetainList, Signed, now
from storage_node.errors import BadRequest, OrderExpired, OrderNotForThisNode, WrongAction

__all__ = [
    "LEAF_COUNT_HEADER",
    "LEAF_SIZE_HEADER",
    "ORDER_HEADER",
    "PIECE_SIZE_HEADER",
    "PROOF_HEADER",
    "OrderVerifier",
    "encode_order_header",
    "parse_leaf_size",
    "parse_order_header",
]

ORDER_HEADER = "Geoshard-Order-Limit"
LEAF_SIZE_HEADER = "Geoshard-Leaf-Size"
PROOF_HEADER = "Geoshard-Merkle-Proof"
LEAF_COUNT_HEADER = "Geoshard-Leaf-Count"
PIECE_SIZE_HEADER = "Geoshard-Piece-Size"

MIN_LEAF, MAX_LEAF = 64, 65536


def encode_order_header(signed: Signed[OrderLimit]) -> str:
    """What a client puts in ``Geoshard-Order-Limit``: base64 of the envelope's JSON."""
    return base64.b64encode(signed.dumps().encode()).decode("ascii")


def parse_order_header(value: str | None) -> Signed[OrderLimit]:
    if not value:
        raise BadRequest(f"the {ORDER_HEADER} header is required (base64 of a signed order limit)")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise BadRequest(f"the {ORDER_HEADER} header is not valid base64") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"the {ORDER_HEADER} header does not decode to JSON") from None
    return Signed.from_json(data, OrderLimit)


def parse_leaf_size(value: str | None) -> int:
    if value is None:
        raise BadRequest(f"the {LEAF_SIZE_HEADER} header is required")
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f"{LEAF_SIZE_HEADER} must be an integer, got {value[:40]!r}") from None
    if not MIN_LEAF <= n <= MAX_LEAF or n & (n - 1):
        raise BadRequest(f"{LEAF_SIZE_HEADER} must be a power of two from {MIN_LEAF} to {MAX_LEAF}, got {n}")
    return n


class OrderVerifier:
    """Verifies orders, audit challenges and retain lists for one node and its satellite."""

    def __init__(self, satellite_id: str, node_id: str) -> None:
        self.satellite_id = satellite_id
        self.node_id = node_id

    def _addressed(self, what: str, satellite_id: str, node_id: str) -> None:
        if satellite_id != self.satellite_id:
            raise OrderNotForThisNode(
                f"{what} names satellite {satellite_id[:16]}…, but this node trusts {self.satellite_id[:16]}…"
            )
        if node_id != self.node_id:
            raise OrderNotForThisNode(f"{what} is for node {node_id[:16]}…, not this node {self.node_id[:16]}…")

    def order(self, signed: Signed[OrderLimit], piece_id: str, actions: tuple[Action, ...]) -> OrderLimit:
        o = signed.verify(self.satellite_id)
        self._addressed("order limit", o.satellite_id, o.node_id)
        if o.piece_id != piece_id:
            raise OrderNotForThisNode(f"order limit is for piece {o.piece_id}, not {piece_id}")
        if o.action not in actions:
            wanted = " or ".join(a.value for a in actions)
            raise WrongAction(f"order limit allows {o.action.value}; this request needs {wanted}")
        t = now()
        if o.expires <= t:
            raise OrderExpired(f"order limit {o.serial} expired {t - o.expires}s ago; ask the satellite for a new one")
        return o

    def challenge(self, signed: Signed[AuditChallenge]) -> AuditChallenge:
        """A challenge signed by our satellite and addressed to us; its expiry is not ours to judge.

        The satellite's clock rules an audit: it enforces the deadline by how long it waits
        for the answer. Judging ``expires`` by this node's clock would turn a node clock
        that runs hours fast into failed audits (and, in the end, disqualification) of an
        honest node, while buying nothing: replaying an old challenge only makes the node
        read a few leaves and sign a proof whose nonce the satellite no longer waits for.
        """
        c = signed.verify(self.satellite_id)
        self._addressed("audit challenge", c.satellite_id, c.node_id)
        return c

    def batch_challenge(self, signed: Signed[AuditBatchChallenge]) -> AuditBatchChallenge:
        """A batch of challenges, checked as :meth:`challenge` checks one (its expiry is not ours either)."""
        c = signed.verify(self.satellite_id)
        self._addressed("audit batch challenge", c.satellite_id, c.node_id)
        return c

    def retain_list(self, signed: Signed[RetainList]) -> RetainList:
        r = signed.verify(self.satellite_id)
        self._addressed("retain list", r.satellite_id, r.node_id)
        return r

"""One audit: send a signed Merkle challenge to a node and judge its answer.

The satellite picks ``leaves`` distinct leaf indexes of the piece with a CSPRNG, signs an
:class:`~common.messages.AuditChallenge` with a fresh 32-byte nonce, and POSTs it to the
node's ``/v1/audit``. The node answers with a node-signed
:class:`~common.messages.AuditProof`: each asked leaf and its sibling path. We accept it
only if it is signed by the audited node's own key, echoes our nonce, names the piece and
the indexes we asked for, every leaf is one share long, and every path leads to the root
the node signed at upload (``erasure.merkle.verify_proof`` with the leaf count that the
piece size and the segment's share size imply). Bytes on the wire: a few hundred plus
``leaves × (share + 32·log₂ shares)`` — never the piece.

How an answer is classified (the reputation model turns these into scores):

* **success** — a valid proof;
* **failure** — evidence of lost data: 404 (piece missing), 416 (the node's piece is
  shorter than what it signed for), a CorruptPiece 500, or a 200 whose body is garbage,
  signed by another key, for another piece or nonce, or whose leaves do not hash to the root;
* **offline** — no connection (refused, unreachable, connect timed out);
* **contained** — connected but no answer within ``timeout``: the challenge is kept and
  retried (the chore's containment);
* **unknown** — any other answer (another 5xx, a refusal): it proves nothing either way.

Clocks: expiries are the satellite's. The challenge carries one (the satellite's now +
timeout) but the satellite enforces the deadline itself by how long it waits; nodes do not
reject a challenge by their own clock (``storage_node.piecestore.verification``). Should a
node still refuse one as expired (410), that is *unknown*, with a reason that names the
node's clock, so the operator sees it on ``geoshard node status``.

**Batches.** :meth:`AuditVerifier.audit_batch` audits many pieces of one node in one request
(``POST /v1/audit/batch``, :mod:`common.audit_batch`): one satellite-signed challenge with a
fresh nonce, one node-signed proof, and every piece judged on its own as above — a wrong
leaf, a missing piece or a damaged one fails that piece's audit only. What concerns the
whole exchange applies to each piece: no connection is *offline* for each, no answer in time
*contained* for each, an answer that is not the node's signed proof of exactly this batch
(garbage, another key, another nonce, other pieces or indexes) *failure* for each, and any
other status than 200 *unknown* for each (a batch's status says nothing about one piece). A
batch of one piece is the single challenge above: one request, one signature either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
from dataclasses import dataclass

import aiohttp

from common.audit_batch import AuditBatchChallenge, AuditBatchProof
from common.errors import MessageError, SignatureError
from common.identity import Identity
from common.messages import AuditChallenge, AuditProof, Signed, now
from erasure.merkle import leaf_count, verify_proof
from satellite.reputation import Outcome

__all__ = ["AUDIT_BATCH_PATH", "AUDIT_PATH", "AuditReport", "AuditTarget", "AuditVerifier", "pick_leaves"]

AUDIT_PATH = "/v1/audit"
AUDIT_BATCH_PATH = "/v1/audit/batch"
_SYSRAND = secrets.SystemRandom()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditTarget:
    """One piece on one node, with what the satellite recorded at upload."""

    node_id: str
    address: str
    segment_id: int
    piece_number: int
    piece_id: str
    merkle_root: bytes
    piece_size: int
    share_size: int

    @property
    def leaf_count(self) -> int:
        return leaf_count(self.piece_size, self.share_size)


@dataclass(frozen=True)
class AuditReport:
    outcome: Outcome
    reason: str
    leaf_indexes: tuple[int, ...]
    request_bytes: int = 0  # bodies only; bench/audit.py measures whole HTTP exchanges
    response_bytes: int = 0


def pick_leaves(count: int, leaves: int) -> tuple[int, ...]:
    """``leaves`` distinct indexes in ``[0, count)`` the node cannot predict (sorted)."""
    return tuple(sorted(_SYSRAND.sample(range(count), min(leaves, count))))


def _node_error(body: bytes) -> tuple[str, str]:
    try:
        data = json.loads(body)
        return str(data.get("error", "")), str(data.get("message", ""))[:200]
    except (ValueError, AttributeError):
        return "", body[:120].decode("utf-8", "replace")


class AuditVerifier:
    """Signs challenges with the satellite's identity and judges proofs."""

    def __init__(self, identity: Identity, *, timeout: float, connect_timeout: float | None = None) -> None:
        self.identity = identity
        self.timeout = timeout
        self.connect_timeout = connect_timeout if connect_timeout is not None else min(timeout, 5.0)
        self._session: aiohttp.ClientSession | None = None
        # Nodes of a release without POST /v1/audit/batch (it answered 404/405 with no error
        # of its own): they are audited one challenge at a time, as before batches.
        self.single_only: set[str] = set()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=self.connect_timeout),
                connector=aiohttp.TCPConnector(limit=0),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def challenge(self, target: AuditTarget, leaf_indexes: tuple[int, ...]) -> Signed[AuditChallenge]:
        return Signed.sign(
            self.identity,
            AuditChallenge(
                satellite_id=self.identity.id,
                node_id=target.node_id,
                piece_id=target.piece_id,
                leaf_indexes=leaf_indexes,
                nonce=secrets.token_bytes(32),
                expires=now() + math.ceil(self.timeout) + 1,
            ),
        )

    async def audit(self, target: AuditTarget, leaf_indexes: tuple[int, ...]) -> AuditReport:
        return (await self.exchange(target, leaf_indexes))[0]

    async def exchange(
        self, target: AuditTarget, leaf_indexes: tuple[int, ...]
    ) -> tuple[AuditReport, Signed[AuditChallenge], bytes | None]:
        """One audit, with the signed challenge sent and the node's 200 answer as it came
        (``None`` for any other): residency audits keep both as evidence (satellite/residency)."""
        signed = self.challenge(target, leaf_indexes)
        body = signed.dumps().encode()
        got = await self._post(target, AUDIT_PATH, body)
        if isinstance(got, tuple):
            outcome, reason = got
            return AuditReport(outcome, reason, leaf_indexes, len(body)), signed, None
        status, answer = got.status, got.body
        if status != 200:
            outcome, reason = _status_verdict(status, answer)
            return AuditReport(outcome, reason, leaf_indexes, len(body), len(answer)), signed, None
        verdict = await asyncio.to_thread(self.judge, target, signed.message, answer)
        outcome = Outcome.SUCCESS if verdict is None else Outcome.FAILURE
        return AuditReport(outcome, verdict or "proof verified", leaf_indexes, len(body), len(answer)), signed, answer

    async def audit_batch(self, targets: list[AuditTarget], leaf_indexes: list[tuple[int, ...]]) -> list[AuditReport]:
        """Audit pieces of one node in one request; one report per piece, in order (module doc)."""
        if len(targets) == 1 or targets[0].node_id in self.single_only:
            return list(await asyncio.gather(*(self.audit(t, li) for t, li in zip(targets, leaf_indexes, strict=True))))
        node = targets[0]
        signed = Signed.sign(
            self.identity,
            AuditBatchChallenge(
                satellite_id=self.identity.id,
                node_id=node.node_id,
                piece_ids=tuple(t.piece_id for t in targets),
                leaf_indexes=tuple(leaf_indexes),
                nonce=secrets.token_bytes(32),
                expires=now() + math.ceil(self.timeout) + 1,
            ),
        )
        body = signed.dumps().encode()
        sent = len(body) // len(targets)  # each piece's share of the exchange
        got = await self._post(node, AUDIT_BATCH_PATH, body)
        if isinstance(got, tuple):
            return [AuditReport(got[0], got[1], li, sent) for li in leaf_indexes]
        status, answer = got.status, got.body
        share = len(answer) // len(targets)
        if status in (404, 405) and not _node_error(answer)[0]:  # no such route: an older node
            log.info("node %s has no batch audit endpoint; auditing it one piece at a time", node.node_id)
            self.single_only.add(node.node_id)
            return await self.audit_batch(targets, leaf_indexes)
        if status != 200:
            outcome, reason = _status_verdict(status, answer, what="the batch")
            return [AuditReport(outcome, reason, li, sent, share) for li in leaf_indexes]
        verdicts = await asyncio.to_thread(self.judge_batch, targets, signed.message, answer)
        return [AuditReport(o, r, li, sent, share) for (o, r), li in zip(verdicts, leaf_indexes, strict=True)]

    async def _post(self, target: AuditTarget, path: str, body: bytes) -> _Answer | tuple[Outcome, str]:
        """The node's answer, or the outcome of not getting one."""
        url = target.address.rstrip("/") + path
        try:
            async with self._client().post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                return _Answer(r.status, await r.read())
        except aiohttp.ConnectionTimeoutError:
            return Outcome.OFFLINE, f"could not connect to {target.address} within {self.connect_timeout}s"
        except aiohttp.ClientConnectorError as e:
            return Outcome.OFFLINE, f"could not connect to {target.address}: {e.os_error or e}"
        except TimeoutError:
            return Outcome.CONTAINED, f"no answer within {self.timeout}s; the same challenge will be retried"
        except aiohttp.ClientError as e:
            return Outcome.UNKNOWN, f"connection failed mid-audit: {type(e).__name__}: {e}"

    @staticmethod
    def judge(target: AuditTarget, challenge: AuditChallenge, answer: bytes) -> str | None:
        """None for a valid proof, else why it is not one (pure; runs off the event loop)."""
        try:
            signed = Signed.loads(answer, AuditProof)
        except (MessageError, SignatureError) as e:
            return f"answer is not a signed audit proof: {e}"
        if signed.signer != target.node_id:
            return f"proof is signed by {signed.signer[:16]}…, not by the audited node {target.node_id[:16]}…"
        try:
            proof = signed.verify(target.node_id)
        except SignatureError as e:
            return f"proof signature is invalid: {e}"
        if proof.node_id != target.node_id:
            return f"proof names node {proof.node_id[:16]}…, not the audited node"
        if proof.piece_id != target.piece_id:
            return f"proof is for piece {proof.piece_id[:16]}…, not the audited piece {target.piece_id[:16]}…"
        if proof.nonce != challenge.nonce:
            return "proof does not echo the challenge's nonce (a replayed or precomputed answer)"
        if proof.leaf_indexes != challenge.leaf_indexes:
            return f"proof answers leaves {list(proof.leaf_indexes)}, not the asked {list(challenge.leaf_indexes)}"
        return _check_leaves(target, proof.leaf_indexes, proof.leaves, proof.proofs)

    @staticmethod
    def judge_batch(
        targets: list[AuditTarget], challenge: AuditBatchChallenge, answer: bytes
    ) -> list[tuple[Outcome, str]]:
        """Each piece's outcome and reason; what is wrong with the whole answer fails every piece."""
        node_id = targets[0].node_id

        def every(reason: str) -> list[tuple[Outcome, str]]:
            return [(Outcome.FAILURE, reason)] * len(targets)

        try:
            signed = Signed.loads(answer, AuditBatchProof)
        except (MessageError, SignatureError) as e:
            return every(f"answer is not a signed audit batch proof: {e}")
        if signed.signer != node_id:
            return every(f"proof is signed by {signed.signer[:16]}…, not by the audited node {node_id[:16]}…")
        try:
            proof = signed.verify(node_id)
        except SignatureError as e:
            return every(f"proof signature is invalid: {e}")
        if proof.node_id != node_id:
            return every(f"proof names node {proof.node_id[:16]}…, not the audited node")
        if proof.nonce != challenge.nonce:
            return every("proof does not echo the batch's nonce (a replayed or precomputed answer)")
        if proof.piece_ids != challenge.piece_ids or proof.leaf_indexes != challenge.leaf_indexes:
            return every("proof does not answer the pieces and leaves the batch asked for")
        out: list[tuple[Outcome, str]] = []
        for i, t in enumerate(targets):
            code = proof.errors[i]
            if code == "PieceNotFound":
                out.append((Outcome.FAILURE, f"piece missing — node answered {code} in its signed batch proof"))
            elif code in ("InvalidRange", "CorruptPiece"):
                out.append((Outcome.FAILURE, f"piece damaged — node answered {code} in its signed batch proof"))
            elif code:
                out.append((Outcome.UNKNOWN, f"node answered {code[:40]} for this piece in its signed batch proof"))
            else:
                verdict = _check_leaves(t, proof.leaf_indexes[i], proof.leaves[i], proof.proofs[i])
                out.append((Outcome.SUCCESS, "proof verified") if verdict is None else (Outcome.FAILURE, verdict))
        return out


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes


def _status_verdict(status: int, answer: bytes, *, what: str = "the challenge") -> tuple[Outcome, str]:
    """What a non-200 answer means (module doc); to a batch, only *unknown*."""
    code, message = _node_error(answer)
    said = f"node answered {status} {code}: {message}".strip()
    single = what == "the challenge"
    if single and status == 404:
        return Outcome.FAILURE, f"piece missing — {said}"
    if single and (status == 416 or code == "CorruptPiece"):
        return Outcome.FAILURE, f"piece damaged — {said}"
    if status == 410:
        clock = "by its own clock (is the node's clock right?)"
        return Outcome.UNKNOWN, f"node refused {what} as expired {clock} — {said}"
    return Outcome.UNKNOWN, said


def _check_leaves(
    target: AuditTarget, indexes: tuple[int, ...], leaves: tuple[bytes, ...], paths: tuple[tuple[bytes, ...], ...]
) -> str | None:
    """None when every leaf is one share long and leads to the piece's root, else why not."""
    n = target.leaf_count
    for index, leaf, path in zip(indexes, leaves, paths, strict=True):
        want = min(target.share_size, target.piece_size - index * target.share_size)
        if len(leaf) != want:
            return f"leaf {index} is {len(leaf)} bytes, not {want}"
        if not verify_proof(target.merkle_root, index, leaf, path, n):
            return f"leaf {index} does not verify against the piece's Merkle root (wrong data)"
    return None

"""The dashboard's data: what the node knows itself, and what it last heard from its satellite.

Space comes from the piece store's own counters — a scan of ``blobs/`` and ``trash/`` at
start, adjusted on every commit, move and delete — so the stored bytes shown are the bytes
of the piece files on disk. Bandwidth comes from the order database
(:class:`storage_node.nodedb.BandwidthUsage`), per order action, for the current calendar
month (UTC), the period payouts use. Scores, vetting and graceful-exit progress are the
satellite's: the chore asks for them every ``dashboard_refresh`` seconds with the same
node-signed requests ``geoshard node status`` and ``geoshard node exit --status`` send, and
the page shows when it last heard and why it could not. It asks that often only while someone
watches (an API request in the last ``WATCH_WINDOW`` seconds: a page, the multinode view, a
script); unwatched, it asks every ``dashboard_unwatched_refresh`` seconds, so that a devnet of
twelve idle nodes does not keep its satellite busy answering dashboards no one reads. The
first request after an unwatched stretch wakes the chore at once.

**Warnings before a threshold.** Each score has a margin, the distance between a perfect
1.0 and its threshold; a score that has used up a quarter of its margin is a warning, half
of it is critical, and crossing it is what the satellite reports as suspension or
disqualification. Every audit that did not pass is listed with its reason, so a drop is
never unexplained. Earnings — this period's estimate, every paystub with its byte-hours,
egress by kind, gross, held, paid and settlement transaction, and the held total — are the
satellite's accounting, asked in the same chore (``POST /api/v1/nodes/earnings``, node-signed
as ``geoshard node earnings`` does), never per page view. Until the satellite first answered
the payouts document says why (``available: false``) and carries no numbers. The scrub
panel is the node's own :class:`~storage_node.scrub.ScrubRecords`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import shutil
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from common.identity import Identity
from common.messages import Action
from storage_node.config import NodeConfig
from storage_node.contact import CheckInState
from storage_node.dashboard.history import NodeHistory, Sample
from storage_node.earnings import EARNINGS_PATH, earnings_request, format_stake
from storage_node.gracefulexit import EXIT_PATH, exit_request
from storage_node.nodedb import NodeDB, utc_day
from storage_node.pieces.store import PieceStore
from storage_node.reputation import REPUTATION_PATH, add_clock_warning, reputation_request
from storage_node.scrub import ScrubRecords

__all__ = ["INGRESS", "DashboardService", "SatelliteUnavailable", "score_warnings"]

log = logging.getLogger(__name__)

INGRESS = (Action.PUT.value, Action.REPAIR_PUT.value)
WATCH_WINDOW = 30.0  # seconds after an API request during which the dashboard counts as watched
EGRESS = (Action.GET.value, Action.REPAIR_GET.value, Action.AUDIT.value)
# (score key, threshold key, what crossing it does)
_SCORES = (
    ("audit", "audit_disqualify", "disqualification"),
    ("unknown", "unknown_suspend", "suspension"),
    ("online", "online_suspend", "suspension"),
)
_NAMES = {"audit": "audit score", "unknown": "unknown-audit score", "online": "online score"}


def _iso(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def period_start(t: float) -> dt.datetime:
    d = dt.datetime.fromtimestamp(t, dt.UTC)
    return dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC)


def score_warnings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Warnings from a satellite reputation report, before and after any threshold."""
    out: list[dict[str, Any]] = []
    if report.get("disqualified"):
        why = report.get("disqualification_reason")
        out.append({"severity": "critical", "kind": "disqualified",
                    "message": f"disqualified {report.get('disqualified_at')}: {why}"})
    if report.get("suspended"):
        out.append({"severity": "critical", "kind": "suspended",
                    "message": f"suspended (no new pieces) since {report.get('suspended_at')}: "
                               f"{report.get('suspension_reason')}"})
    scores, thresholds = report.get("scores", {}), report.get("thresholds", {})
    for key, tkey, consequence in _SCORES:
        score, threshold = scores.get(key), thresholds.get(tkey)
        if score is None or threshold is None or report.get("disqualified") or threshold >= 1:
            continue
        used = (1.0 - score) / (1.0 - threshold)  # share of the margin already used
        if used >= 1.0:
            continue  # past the threshold: the satellite's suspension/disqualification says it
        if used >= 0.25:
            out.append({
                "severity": "critical" if used >= 0.5 else "warning",
                "kind": f"{key}_score",
                "message": f"{_NAMES[key]} {score:.4f} has used {used:.0%} of its margin to {consequence} "
                           f"at {threshold}",
            })
    bad = [a for a in report.get("recent_audits", []) if a.get("outcome") != "success"]
    if bad:
        last = bad[0]
        out.append({
            "severity": "warning" if last.get("outcome") in ("offline", "timeout") else "critical",
            "kind": "failed_audits",
            "message": f"{len(bad)} recent audit(s) did not pass; latest {last.get('at')}: {last.get('outcome')} "
                       f"— {last.get('reason') or 'no reason given'} (piece {str(last.get('piece_id'))[:16]}…)",
        })
    out += [{"severity": "warning", "kind": "satellite", "message": w} for w in report.get("warnings", [])
            if not any(w in o["message"] for o in out)]
    if report.get("contained"):
        out.append({"severity": "warning", "kind": "contained",
                    "message": f"an audit timed out and is being retried ({report.get('contained_misses')} "
                               "miss(es)); answer it or it counts as a failure"})
    return out


def scrub_warnings(scrub: dict[str, Any]) -> list[dict[str, Any]]:
    """Warnings from the node's own scrub (``Dashboard.scrub``): pieces its disk lost, reports not delivered."""
    if not scrub.get("available"):
        return []
    out: list[dict[str, Any]] = []
    current = scrub.get("current") or {}
    damaged = max(scrub.get("pieces_damaged") or 0, current.get("pieces_damaged") or 0)
    if damaged:
        out.append({"severity": "critical", "kind": "scrub_losses",
                    "message": f"the scrub found {damaged} corrupt or missing piece(s) in its last pass: they were "
                               "deleted and reported lost, and the satellite repairs them elsewhere; a disk that "
                               "keeps losing pieces is failing (check it with smartctl)"})
    if scrub.get("losses_unreported"):
        out.append({"severity": "warning", "kind": "scrub_unreported",
                    "message": f"{scrub['losses_unreported']} lost piece(s) not yet reported to the satellite: "
                               "the node retries; until then their repair waits for an audit or a reader"})
    return out


_NO_STAKE: dict[str, Any] = {
    "available": False,
    "message": "Stake is off: this network does not require stake, so this node has none.",
    "amount": None,
}


def _stake(e: dict[str, Any]) -> dict[str, Any]:
    """The stake panel: the satellite's ``stake`` (when the network requires stake), in whole tokens,
    with the line ``geoshard node earnings`` prints as the panel's message."""
    st = e.get("stake")
    if not st:
        return _NO_STAKE
    token = e.get("token") or {}
    decimals = int(token.get("decimals", 0))

    def tokens(units: Any) -> str:
        whole, frac = divmod(int(units or 0), 10**decimals)
        return f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".") if decimals else str(whole)

    line = format_stake(e) or ""
    return {
        "available": True,
        "message": line.removeprefix("stake").strip(),
        "state": st.get("state"),
        "amount": tokens(st.get("amount_units")),
        "bonded": tokens(st.get("bonded_units")),
        "symbol": token.get("symbol"),
        "counts_for_placement": st.get("counts_for_placement"),
        "unbonding_until": st.get("unbonding_until"),
        "wallet": st.get("wallet"),
        "slash_tx": st.get("slash_tx"),
    }


def _paystub(p: dict[str, Any]) -> dict[str, Any]:
    """A paystub as the page draws it: the satellite's fields, plus ``paid`` once confirmed."""
    confirmed = p.get("settlement_state") == "confirmed"
    return {**p, "paid": p.get("to_pay") if confirmed else "0"}


class SatelliteUnavailable(Exception):
    """The satellite could not be asked, or refused; the message says why."""


async def _ask(session: aiohttp.ClientSession, url: str, body: bytes, timeout: float) -> dict[str, Any]:
    """POST a node-signed request; the satellite's JSON answer, or why there is none."""
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"},
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = await resp.text()
            if resp.status != 200:
                try:
                    detail = json.loads(text).get("message", "")
                except ValueError:
                    detail = ""
                raise SatelliteUnavailable(f"satellite answered {resp.status}: {detail or resp.reason}")
            data: dict[str, Any] = json.loads(text)
            return data
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        raise SatelliteUnavailable(f"cannot reach the satellite at {url}: {e or type(e).__name__}") from None


class DashboardService:
    """Builds the dashboard's JSON documents and runs the chore that refreshes and samples."""

    def __init__(
        self,
        config: NodeConfig,
        identity: Identity,
        store: PieceStore,
        db: NodeDB,
        checkin: CheckInState,
        *,
        address: Callable[[], str],
        version: str,
        scrub: ScrubRecords | None = None,
    ) -> None:
        self.config, self.identity, self.store, self.db = config, identity, store, db
        self.checkin = checkin
        self.address = address
        self.version = version
        self.history = NodeHistory(db.conn)
        self.started_at = time.time()
        self.reputation: dict[str, Any] | None = None
        self.reputation_error: str | None = None
        self.exit: dict[str, Any] | None = None
        self.exit_error: str | None = None
        self.earnings: dict[str, Any] | None = None
        self.earnings_error: str | None = None
        self.earnings_at: float | None = None
        self.scrub_records = scrub if scrub is not None else ScrubRecords(db.conn)
        self.refreshed_at: float | None = None
        self.refreshed = asyncio.Event()  # set after each refresh, for tests
        self.watched_at: float | None = None  # the last API request of a viewer (time.time())
        self._wake = asyncio.Event()  # a viewer arrived while the satellite's answers are stale
        self._session: aiohttp.ClientSession | None = None

    # --- the chore ---------------------------------------------------------------------

    async def refresh(self) -> None:
        """Ask the satellite for this node's reputation and exit state (off the loop)."""
        c = self.config
        if self._session is None:
            self._session = aiohttp.ClientSession()
        base = c.satellite_url.rstrip("/")
        # Asked on the loop (no worker thread that could hold up shutdown), and both answers
        # published together, so a page never shows these scores beside the last exit state.
        rep, rep_error, exit_state, exit_error = self.reputation, None, self.exit, None
        try:
            rep = add_clock_warning(await _ask(self._session, base + REPUTATION_PATH,
                                               reputation_request(self.identity, c.satellite_id), c.checkin_timeout))
        except SatelliteUnavailable as e:
            rep_error = str(e)
        try:
            exit_state = await _ask(self._session, base + EXIT_PATH,
                                    exit_request(self.identity, c.satellite_id, "status"), c.checkin_timeout)
        except SatelliteUnavailable as e:
            exit_error = str(e)
        earn, earn_error, earn_at = self.earnings, None, self.earnings_at
        try:
            earn = await _ask(self._session, base + EARNINGS_PATH,
                              earnings_request(self.identity, c.satellite_id), c.checkin_timeout)
            earn_at = time.time()
        except SatelliteUnavailable as e:
            earn_error = str(e)
        self.reputation, self.reputation_error, self.exit, self.exit_error = rep, rep_error, exit_state, exit_error
        self.earnings, self.earnings_error, self.earnings_at = earn, earn_error, earn_at
        self.refreshed_at = time.time()

    def sample(self, at: float | None = None) -> Sample:
        usage = self.store.usage()
        totals = self.db.bandwidth.totals(0)
        scores = (self.reputation or {}).get("scores", {})
        s = Sample(
            at=time.time() if at is None else at,
            used=usage.pieces,
            trash=usage.trash,
            free=self.store.free,
            ingress=sum(totals.get(a, 0) for a in INGRESS),
            egress=sum(totals.get(a, 0) for a in EGRESS),
            audit=scores.get("audit"),
            unknown=scores.get("unknown"),
            online=scores.get("online"),
        )
        self.history.add(s)
        return s

    def watched(self, at: float | None = None) -> None:
        """A viewer asked for a document: refresh at the watched pace, and now if that is overdue."""
        self.watched_at = time.time() if at is None else at
        if self.refresh_due(self.watched_at):
            self._wake.set()

    def refresh_due(self, now: float) -> bool:
        """Whether the satellite's answers are older than the pace for now (watched or not)."""
        if self.refreshed_at is None:
            return True
        pace = self.config.dashboard_refresh
        if self.watched_at is None or now - self.watched_at >= WATCH_WINDOW:
            pace = max(pace, self.config.dashboard_unwatched_refresh)
        return now - self.refreshed_at >= pace

    async def step(self) -> None:
        """One pass: refresh from the satellite when due, flush bandwidth, sample if one is due."""
        if self.refresh_due(time.time()):
            await self.refresh()
        self.db.bandwidth.flush()
        last = self.history.last()
        if last is None or time.time() - last.at >= self.config.history_interval:
            self.sample()
        self.refreshed.set()
        self.refreshed.clear()

    async def run(self) -> None:
        interval = max(0.05, min(self.config.dashboard_refresh, self.config.history_interval))
        while True:
            try:
                await self.step()
            except Exception:  # the dashboard must never take the node down
                log.exception("dashboard refresh failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- documents ---------------------------------------------------------------------

    def bandwidth(self, t: float | None = None) -> dict[str, Any]:
        start = period_start(time.time() if t is None else t)
        totals = self.db.bandwidth.totals(utc_day(start.timestamp()))
        ingress = {a: totals.get(a, 0) for a in INGRESS}
        egress = {a: totals.get(a, 0) for a in EGRESS}
        return {
            "period": start.strftime("%Y-%m"),
            "since": _iso(start.timestamp()),
            "ingress": {**ingress, "total": sum(ingress.values())},
            "egress": {**egress, "total": sum(egress.values())},
        }

    def space(self) -> dict[str, Any]:
        u = self.store.usage()
        try:
            disk_free = shutil.disk_usage(self.store.root).free
        except OSError:
            disk_free = None
        return {
            "capacity": self.store.capacity,
            "stored": u.pieces,
            "piece_count": u.piece_count,
            "trash": u.trash,
            "trash_count": u.trash_count,
            "used": u.used,
            "reserved": u.reserved,
            "free": self.store.free,
            "disk_free": disk_free,
        }

    def warnings(self, space: dict[str, Any], scrub: dict[str, Any]) -> list[dict[str, Any]]:
        out = score_warnings(self.reputation) if self.reputation else []
        if self.reputation_error:
            out.append({"severity": "warning", "kind": "satellite_unreachable",
                        "message": f"scores unavailable: {self.reputation_error}"})
        st = self.checkin
        if st.consecutive_failures:
            out.append({"severity": "critical" if st.consecutive_failures >= 3 else "warning", "kind": "checkin",
                        "message": f"{st.consecutive_failures} check-in(s) in a row failed: {st.last_error}"})
        cap = space["capacity"]
        if cap and space["free"] < cap * 0.05:
            out.append({"severity": "warning", "kind": "space",
                        "message": f"only {space['free']} of {cap} bytes free: the satellite stops sending "
                                   "new pieces when the node is full"})
        if space["disk_free"] is not None and space["disk_free"] < space["free"]:
            out.append({"severity": "warning", "kind": "disk",
                        "message": f"the disk has {space['disk_free']} bytes free, less than the "
                                   f"{space['free']} this node still offers: lower capacity or free disk space"})
        out += scrub_warnings(scrub)
        if self.exit and self.exit.get("status") == "failed":
            out.append({"severity": "critical", "kind": "exit",
                        "message": f"graceful exit failed: {self.exit.get('reason')}"})
        return out

    def payouts(self) -> dict[str, Any]:
        """The satellite's earnings as last fetched by the chore (docs/node-dashboard.md)."""
        e = self.earnings
        if e is None:
            why = self.earnings_error or "the satellite has not been asked yet"
            return {
                "available": False,
                "message": f"Earnings unavailable: {why}. Once the satellite answers, this panel shows the "
                           "estimated earnings of this period, each paystub with its transaction hash and the "
                           "held amount.",
                "error": self.earnings_error,
                "fetched_at": None,
                "currency": None,
                "token": None,
                "rates": None,
                "estimated_this_period": None,
                "current_period": None,
                "held": None,
                "paid": None,
                "pending": None,
                "stake": _NO_STAKE,
                "paystubs": [],
            }
        cur = e.get("current_period") or {}
        return {
            "available": True,
            "message": None,
            "error": self.earnings_error,  # set when the last ask failed: the figures are from fetched_at
            "fetched_at": _iso(self.earnings_at),
            "currency": e.get("currency"),
            "token": e.get("token"),
            "rates": e.get("rates"),
            "estimated_this_period": cur.get("gross"),
            "current_period": cur,
            "held": e.get("held_total"),
            "paid": e.get("paid_total"),
            "pending": e.get("pending_total"),
            "stake": _stake(e),
            "paystubs": [_paystub(p) for p in e.get("paystubs", [])],
        }

    def scrub(self) -> dict[str, Any]:
        """The node's own scrub records: the last finished pass, the one running, losses found."""
        c = self.config
        st = self.scrub_records.load()
        if c.scrub_period <= 0 and not st.passes and not st.pass_started:
            return {"available": False, "message": "Scrubbing is off on this node (scrub_period = 0).",
                    "enabled": False, "last_run_at": None, "pieces_checked": None, "pieces_damaged": None,
                    "passes": 0, "current": None, "totals": None, "losses": []}
        return {
            "available": True,
            "message": None,
            "enabled": c.scrub_period > 0,
            "period_seconds": c.scrub_period,
            "passes": st.passes,
            # The last finished pass; before the first one finishes, these are null.
            "last_run_at": _iso(st.last_pass_finished) if st.passes else None,
            "last_pass_seconds": st.last_pass_seconds if st.passes else None,
            "pieces_checked": st.last_pass_verified if st.passes else None,
            "pieces_damaged": st.last_pass_losses if st.passes else None,
            "current": None if not st.pass_started else {
                "started_at": _iso(st.pass_started), "pieces_checked": st.pass_verified,
                "bytes_checked": st.pass_bytes, "pieces_damaged": st.pass_losses,
            },
            "totals": {"pieces_checked": st.total_verified, "bytes_checked": st.total_bytes,
                       "pieces_damaged": st.total_losses},
            "losses_unreported": len(self.scrub_records.unreported()),
            "losses": self.scrub_records.recent_losses(20),
        }

    def summary(self) -> dict[str, Any]:
        space, scrub = self.space(), self.scrub()
        rep = self.reputation
        st = self.checkin
        c = self.config
        return {
            "node": {
                "id": self.identity.id,
                "version": self.version,
                "address": self.address(),
                "country": c.country,
                "region": c.region,
                "wallet": c.wallet,
                "satellite_id": c.satellite_id,
                "satellite_url": c.satellite_url,
                "started_at": _iso(self.started_at),
                "uptime_seconds": round(time.time() - self.started_at),
            },
            "checkin": {
                "last_success_at": _iso(st.last_success),
                "consecutive_failures": st.consecutive_failures,
                "last_error": st.last_error,
                "interval_seconds": c.checkin_interval,
            },
            "space": space,
            "bandwidth": self.bandwidth(),
            "reputation": rep,
            "reputation_error": self.reputation_error,
            "vetting": None if rep is None else {"vetted": rep.get("vetted"), "vetted_at": rep.get("vetted_at"),
                                                 "audits_to_vetting": rep.get("audits_to_vetting"),
                                                 "successful_audits": rep.get("counts", {}).get("success")},
            "exit": self.exit,
            "exit_error": self.exit_error,
            "refreshed_at": _iso(self.refreshed_at),
            "warnings": self.warnings(space, scrub),
            "payouts": self.payouts(),
            "scrub": scrub,
        }

// The node dashboard: polls /api/summary every few seconds and /api/history less often,
// and redraws in place (docs/node-dashboard.md describes both documents).
"use strict";
(() => {
  const { el, clear, fmtBytes, fmtTime, fmtAgo, api, lineChart, rates } = GS;
  const TOKEN = "geoshard-dashboard-token";
  const $ = id => document.getElementById(id);
  const POLL_MS = 2000;
  let historyEvery = 15000;  // then the node's own sampling interval, within 5–60 s
  let lastHistory = 0, lastSummary = null;

  function text(id, v) { $(id).textContent = v === null || v === undefined ? "—" : v; }
  function meter(id, frac) { $(id).style.width = Math.max(0, Math.min(1, frac || 0)) * 100 + "%"; }

  function showLogin(message) {
    $("content").hidden = true; $("login").hidden = false;
    text("login-error", message || "");
  }

  function drawWarnings(ws) {
    const box = clear($("warnings"));
    if (!ws.length) { box.append(el("div", { class: "warning none", id: "no-warnings" }, "No warnings: scores are healthy and the satellite is reachable.")); return; }
    for (const w of ws) box.append(el("div", { class: "warning " + w.severity, "data-kind": w.kind }, w.message));
  }

  function drawScores(rep, error) {
    for (const [key, th, what] of [["audit", "audit_disqualify", "disqualified at"],
                                   ["unknown", "unknown_suspend", "suspended at"],
                                   ["online", "online_suspend", "suspended below"]]) {
      if (!rep) { text("score-" + key, "—"); text("score-" + key + "-th", error || "not heard from the satellite yet"); continue; }
      const s = rep.scores[key], t = rep.thresholds[th];
      text("score-" + key, s.toFixed(key === "audit" ? 4 : 3));
      text("score-" + key + "-th", `${what} ${t}`);
      meter("meter-" + key, (s - t) / (1 - t));
    }
    if (!rep) return;
    const ok = rep.counts.success, left = rep.audits_to_vetting;
    text("vetting", rep.vetted ? "vetted" : `${ok} of ${ok + left} audits`);
    text("vetting-detail", rep.vetted ? `since ${fmtTime(rep.vetted_at)}` :
      `${left} more successful audit(s) until this node gets its full share of new pieces`);
    meter("meter-vetting", rep.vetted ? 1 : ok / (ok + left || 1));
    const bad = rep.recent_audits.filter(a => a.outcome !== "success");
    const box = clear($("audits"));
    if (!bad.length) { box.append(el("p", { class: "empty" }, `All of the last ${rep.recent_audits.length} audits passed.`)); return; }
    box.append(el("table", { id: "failed-audits" },
      el("thead", {}, el("tr", {}, el("th", {}, "when"), el("th", {}, "outcome"), el("th", {}, "why"), el("th", {}, "piece"))),
      el("tbody", {}, bad.map(a => el("tr", {}, el("td", {}, fmtTime(a.at)), el("td", {}, a.outcome),
        el("td", {}, a.reason || "—"), el("td", { class: "mono" }, a.piece_id.slice(0, 16) + "…"))))));
  }

  function drawExit(ex, error) {
    if (!ex) { text("exit", "—"); text("exit-detail", error || ""); meter("meter-exit", 0); return; }
    if (ex.status === "none") { text("exit", "not requested"); text("exit-detail", "geoshard node exit --config … starts one"); meter("meter-exit", 0); return; }
    const start = ex.pieces_at_start || 0, left = ex.pieces_remaining || 0;
    const pct = start ? (start - left) / start : (ex.status === "exited" ? 1 : 0);
    text("exit", `${ex.status} ${Math.round(pct * 100)}%`);
    text("exit-detail", ex.status === "failed" ? `failed: ${ex.reason}` :
      `${left} of ${start} pieces left, ${ex.pieces_transferred} moved, ${ex.pieces_failed} failed`);
    meter("meter-exit", pct);
  }

  function drawPanel(id, doc, filled) {
    const box = clear($(id));
    if (!doc.available) { box.append(el("p", { class: "empty" }, doc.message)); return; }
    filled(box, doc);
  }

  function drawPayouts(box, p) {
    const cur = p.currency || "";
    const c = p.current_period || {};
    const g = c.egress || {};
    const stake = p.stake && p.stake.available ? `${p.stake.bonded} ${p.stake.symbol || ""} ${p.stake.state}` : (p.stake ? p.stake.message : "—");
    const stakeDetail = p.stake && p.stake.available ? p.stake.message : "";
    box.append(el("table", {}, el("tbody", {},
      el("tr", {}, el("th", {}, `estimated this period (${c.period || "—"})`), el("td", { class: "num", id: "earn-estimate" }, `${p.estimated_this_period ?? "—"} ${cur}`)),
      el("tr", {}, el("th", {}, "stored so far"), el("td", { class: "num" }, `${c.byte_hours ?? 0} byte-hours`)),
      el("tr", {}, el("th", {}, "egress so far"), el("td", { class: "num" }, `${fmtBytes(g.get || 0)} download, ${fmtBytes(g.repair || 0)} repair, ${fmtBytes(g.audit || 0)} audit`)),
      el("tr", {}, el("th", {}, "held total"), el("td", { class: "num" }, `${p.held ?? "—"} ${cur}`)),
      el("tr", {}, el("th", {}, "paid (confirmed on chain)"), el("td", { class: "num" }, `${p.paid ?? "—"} ${cur}`)),
      el("tr", {}, el("th", {}, "awaiting settlement"), el("td", { class: "num" }, `${p.pending ?? "—"} ${cur}`)),
      el("tr", {}, el("th", {}, "stake"), el("td", { id: "stake", title: stakeDetail }, stake)),
      ...(stakeDetail ? [el("tr", {}, el("th", {}, ""), el("td", { id: "stake-detail" }, stakeDetail))] : []))));
    if (p.error) box.append(el("p", { class: "empty" }, `last refresh failed (${p.error}); figures from ${fmtTime(p.fetched_at)}`));
    if (!p.paystubs.length) { box.append(el("p", { class: "empty" }, "No paystubs yet (a period's paystub appears once it closes).")); return; }
    box.append(el("table", { id: "paystubs" }, el("thead", {}, el("tr", {}, ["period", "byte-hours", "egress (get / repair / audit)", "gross", "held", "paid", "settlement", "transaction"].map(h => el("th", {}, h)))),
      el("tbody", {}, p.paystubs.map(s => el("tr", {}, el("td", {}, s.period), el("td", { class: "num" }, s.byte_hours),
        el("td", { class: "num" }, `${fmtBytes(s.egress.get)} / ${fmtBytes(s.egress.repair)} / ${fmtBytes(s.egress.audit)}`),
        el("td", { class: "num" }, s.gross), el("td", { class: "num" }, s.held), el("td", { class: "num" }, s.paid),
        el("td", {}, s.settlement_state || "awaiting settlement"), el("td", { class: "mono" }, s.tx_hash || "—"))))));
  }

  function drawScrub(box, d) {
    box.append(el("p", {}, d.passes ? `last pass ${fmtTime(d.last_run_at)}: ${d.pieces_checked} pieces verified, ${d.pieces_damaged} lost` :
      "no pass finished yet"));
    if (d.current) box.append(el("p", {}, `this pass since ${fmtTime(d.current.started_at)}: ${d.current.pieces_checked} verified (${fmtBytes(d.current.bytes_checked)}), ${d.current.pieces_damaged} lost`));
    if (d.totals) box.append(el("p", {}, `all passes: ${d.totals.pieces_checked} verified, ${d.totals.pieces_damaged} lost; ${d.losses_unreported} loss report(s) not yet delivered`));
    if (d.losses.length) box.append(el("table", {}, el("thead", {}, el("tr", {}, ["piece", "why", "found", "reported"].map(h => el("th", {}, h)))),
      el("tbody", {}, d.losses.map(l => el("tr", {}, el("td", { class: "mono" }, l.piece_id.slice(0, 16) + "…"), el("td", {}, `${l.reason}: ${l.detail}`),
        el("td", {}, fmtTime(l.found_at)), el("td", {}, l.reported_at ? fmtTime(l.reported_at) : "pending"))))));
  }

  function drawSummary(s) {
    $("login").hidden = true; $("content").hidden = false;
    lastSummary = s;
    text("node-id", s.node.id);
    const rep = s.reputation;
    const crit = s.warnings.some(w => w.severity === "critical");
    const pill = $("status-pill");
    pill.className = "pill " + (rep && rep.disqualified ? "crit" : crit ? "crit" : s.warnings.length ? "warn" : "ok");
    pill.textContent = rep && rep.disqualified ? "disqualified" : rep && rep.suspended ? "suspended" :
      s.checkin.consecutive_failures ? "offline" : s.warnings.length ? `${s.warnings.length} warning(s)` : "online";
    text("updated", "updated " + new Date().toISOString().slice(11, 19) + "Z");
    drawWarnings(s.warnings);
    const sp = s.space;
    text("stored", fmtBytes(sp.stored)); text("stored-bytes", sp.stored); $("stored-bytes").dataset.bytes = sp.stored;
    text("piece-count", sp.piece_count);
    text("trash", fmtBytes(sp.trash)); text("trash-bytes", sp.trash); text("trash-count", sp.trash_count);
    text("free", fmtBytes(sp.free)); text("capacity", fmtBytes(sp.capacity)); text("disk-free", fmtBytes(sp.disk_free));
    meter("used-meter", sp.used / (sp.capacity || 1));
    const bw = s.bandwidth;
    text("period", bw.period);
    const rows = [["ingress: uploads", bw.ingress.PUT], ["ingress: repair", bw.ingress.REPAIR_PUT],
                  ["egress: downloads", bw.egress.GET], ["egress: repair & exit", bw.egress.REPAIR_GET],
                  ["egress: audits", bw.egress.AUDIT]];
    const tb = clear($("bandwidth"));
    for (const [k, v] of rows) tb.append(el("tr", {}, el("td", {}, k), el("td", { class: "num" }, fmtBytes(v))));
    tb.append(el("tr", {}, el("th", {}, "total"), el("th", { class: "num", id: "bandwidth-total" }, fmtBytes(bw.ingress.total + bw.egress.total))));
    drawScores(rep, s.reputation_error);
    drawExit(s.exit, s.exit_error);
    drawPanel("payouts-body", s.payouts, drawPayouts);
    drawPanel("scrub-body", s.scrub, drawScrub);
    const info = clear($("node-info"));
    const n = s.node;
    for (const [k, v] of [["address", n.address], ["location", `${n.country} / ${n.region}`], ["wallet", n.wallet],
                          ["version", n.version], ["satellite", n.satellite_url], ["last check-in", fmtAgo(s.checkin.last_success_at)],
                          ["up since", fmtTime(n.started_at)]])
      info.append(el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, v)));
  }

  function drawHistory(h) {
    const S = h.samples;
    lineChart($("chart-space"), { yMin: 0, yFormat: fmtBytes, series: [
      { name: "stored", points: S.map(s => [s.at, s.used]) },
      { name: "trash", points: S.map(s => [s.at, s.trash]), color: "#e67e22" }] });
    lineChart($("chart-bandwidth"), { yMin: 0, yFormat: v => fmtBytes(v) + "/s", series: [
      { name: "ingress", points: rates(S, "ingress") },
      { name: "egress", points: rates(S, "egress"), color: "#27ae60" }] });
    const th = h.thresholds || {};
    const thresholds = [];
    if (th.audit_disqualify !== undefined) thresholds.push({ value: th.audit_disqualify, label: `audit: disqualified at ${th.audit_disqualify}` });
    if (th.unknown_suspend !== undefined) thresholds.push({ value: th.unknown_suspend, label: `unknown: suspended at ${th.unknown_suspend}`, color: "#b7791f" });
    if (th.online_suspend !== undefined && th.online_suspend !== th.unknown_suspend)
      thresholds.push({ value: th.online_suspend, label: `online: suspended below ${th.online_suspend}`, color: "#8e44ad" });
    // Each audit that did not pass is a red tick on the score chart: the reason for a drop.
    const rep = lastSummary && lastSummary.reputation;
    const markers = rep ? rep.recent_audits.filter(a => a.outcome !== "success")
      .map(a => ({ at: new Date(a.at).getTime() / 1000, label: `${a.outcome}: ${a.reason}` })) : [];
    lineChart($("chart-scores"), { yMax: 1, yFormat: v => v.toFixed(2), thresholds, markers, series: [
      { name: "audit", points: S.map(s => [s.at, s.audit]) },
      { name: "unknown", points: S.map(s => [s.at, s.unknown]), color: "#b7791f" },
      { name: "online", points: S.map(s => [s.at, s.online]), color: "#27ae60" }] });
  }

  async function tick() {
    try {
      drawSummary(await api("/api/summary", { tokenKey: TOKEN }));
      if (Date.now() - lastHistory > historyEvery) {
        lastHistory = Date.now();
        const h = await api("/api/history", { tokenKey: TOKEN });
        historyEvery = Math.max(5000, Math.min(60000, h.interval_seconds * 1000));
        drawHistory(h);
      }
    } catch (e) {
      if (e.status === 401) { showLogin(sessionStorage.getItem(TOKEN) ? "wrong token" : ""); return; }
      text("updated", "cannot reach the node: " + e.message);
    }
    setTimeout(tick, POLL_MS);
  }

  $("login-form").addEventListener("submit", ev => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN, $("token").value.trim());
    lastHistory = 0;
    tick();
  });
  tick();
})();

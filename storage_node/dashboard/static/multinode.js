// The multi-node view: totals first, then one row per node with its warnings (GET /api/multinode).
"use strict";
(() => {
  const { el, clear, fmtBytes, api } = GS;
  const TOKEN = "geoshard-dashboard-token";
  const $ = id => document.getElementById(id);
  let timer = null;

  function card(label, value, id, small) {
    return el("div", { class: "card" }, el("h2", {}, label), el("div", { class: "big", id }, value),
      small ? el("div", { class: "small" }, small) : null);
  }

  function status(r) {
    if (!r.ok) return el("span", { class: "pill crit" }, "unreachable");
    if (r.disqualified) return el("span", { class: "pill crit" }, "disqualified");
    if (r.suspended) return el("span", { class: "pill crit" }, "suspended");
    if (r.exit && r.exit !== "none") return el("span", { class: "pill warn" }, "exit " + r.exit);
    return el("span", { class: "pill " + (r.warnings.length ? "warn" : "ok") }, r.vetted ? "vetted" : "vetting");
  }

  function draw(v) {
    $("login").hidden = true; $("content").hidden = false;
    const t = v.totals;
    const tot = clear($("totals"));
    tot.append(card("Nodes", `${t.reachable} / ${t.nodes}`, "total-nodes", "reachable / added"),
      card("Stored", fmtBytes(t.stored), "total-stored", `${t.stored} bytes`),
      card("Trash", fmtBytes(t.trash), "total-trash"),
      card("Free", fmtBytes(t.free), "total-free", `of ${fmtBytes(t.capacity)} offered`),
      card("Bandwidth this month", fmtBytes(t.ingress + t.egress), "total-bandwidth", `${fmtBytes(t.ingress)} in, ${fmtBytes(t.egress)} out`),
      card("Warnings", t.warnings, "total-warnings", `on ${t.nodes_with_warnings} node(s)`));
    const body = clear($("nodes"));
    for (const r of v.nodes) {
      const remove = r.local ? null : el("button", { class: "remove", onclick: async () => {
        if (!await GS.confirmDialog("Remove node", `Stop showing ${r.name} here? The node itself is not changed.`, { confirmLabel: "Remove" })) return;
        await api(`/api/multinode/nodes/${r.id}`, { method: "DELETE", tokenKey: TOKEN }); refresh();
      } }, "remove");
      const warns = r.ok ? r.warnings.map(w => el("div", { class: "warning " + w.severity }, w.message)) :
        [el("div", { class: "warning critical" }, r.error)];
      body.append(el("tr", { class: "node-row", "data-url": r.url, "data-node-id": r.node_id || "" },
        el("td", {}, el("strong", {}, r.name), el("div", { class: "mono small" }, r.ok ? r.node_id.slice(0, 16) + "…" : r.url)),
        el("td", {}, r.ok ? `${r.country} / ${r.region}` : "—"),
        el("td", { class: "num", "data-bytes": r.ok ? r.space.stored : "" }, r.ok ? fmtBytes(r.space.stored) : "—"),
        el("td", { class: "num" }, r.ok ? fmtBytes(r.space.free) : "—"),
        el("td", { class: "num" }, r.ok ? fmtBytes(r.bandwidth.ingress + r.bandwidth.egress) : "—"),
        el("td", { class: "num" }, r.ok && r.scores ? r.scores.audit.toFixed(4) : "—"),
        el("td", { class: "num" }, r.ok && r.scores ? r.scores.online.toFixed(3) : "—"),
        el("td", {}, status(r)), el("td", { class: "warnings-cell" }, warns), el("td", {}, remove)));
    }
    $("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + "Z";
  }

  async function refresh() {
    clearTimeout(timer);
    try { draw(await api("/api/multinode", { tokenKey: TOKEN })); }
    catch (e) {
      if (e.status === 401) { $("content").hidden = true; $("login").hidden = false; return; }
      $("updated").textContent = "cannot reach this node: " + e.message;
    }
    timer = setTimeout(refresh, 5000);
  }

  $("add-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    $("add-error").textContent = "";
    $("add-button").disabled = true;
    try {
      await api("/api/multinode/nodes", { method: "POST", tokenKey: TOKEN,
        body: { name: $("add-name").value, url: $("add-url").value, token: $("add-token").value } });
      $("add-form").reset();
      await refresh();
    } catch (e) { $("add-error").textContent = e.message; }
    finally { $("add-button").disabled = false; }
  });
  $("login-form").addEventListener("submit", ev => {
    ev.preventDefault(); sessionStorage.setItem(TOKEN, $("token").value.trim()); refresh();
  });
  refresh();
})();

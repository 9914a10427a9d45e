// The admin console: one page per area (the URL's #hash), each drawn from the admin API
// with the admin token as a bearer header, redrawn every few seconds without a reload.
"use strict";
(() => {
  const { el, clear, fmtBytes, fmtTime, fmtAgo, api, barChart, confirmDialog } = GS;
  const TOKEN = "geoshard-admin-token";
  const $ = id => document.getElementById(id);
  const call = (path, opts = {}) => api(path, { ...opts, tokenKey: TOKEN });
  const enc = encodeURIComponent;
  let timer = null, drawing = false, churnPeriod = "month";

  const table = (id, heads, rows, empty) => rows.length ? el("table", { id },
    el("thead", {}, el("tr", {}, heads.map(h => el("th", { class: h.startsWith("#") ? "num" : "" }, h.replace(/^#/, ""))))),
    el("tbody", {}, rows)) : el("p", { class: "empty", id: id + "-empty" }, empty);
  const num = v => el("td", { class: "num" }, v);
  const pill = (text, kind) => el("span", { class: "pill " + kind }, text);
  const section = (title, ...body) => el("section", { class: "card" }, el("h2", {}, title), ...body);

  function showError(e) { $("action-error").textContent = e ? (e.message || String(e)) : ""; }

  async function act(fn) {
    showError(null);
    try { await fn(); await draw(true); } catch (e) { if (e.status === 401) return logout("session expired"); showError(e); }
  }

  // --- overview -------------------------------------------------------------------------
  async function overview() {
    const o = await call(`/v1/console/overview?period=${churnPeriod}`);
    const n = o.nodes, c = o.capacity;
    const util = c.utilization === null ? "—" : (c.utilization * 100).toFixed(2) + "%";
    const cards = el("div", { class: "grid" },
      el("div", { class: "card" }, el("h2", {}, "Nodes"), el("div", { class: "big", id: "ov-nodes" }, `${n.online} / ${n.members}`),
        el("div", { class: "small" }, `online / in the network; ${n.vetted} vetted, ${n.suspended} suspended, ${n.exiting} exiting, ${n.disqualified} disqualified, ${n.exited} exited`)),
      el("div", { class: "card" }, el("h2", {}, "Utilization"), el("div", { class: "big", id: "ov-utilization" }, util),
        el("div", { class: "small" }, `${fmtBytes(c.used)} used of ${fmtBytes(c.offered)} offered (${fmtBytes(c.online_offered)} on online nodes)`),
        el("div", { class: "meter" }, el("span", { style: `width:${(c.utilization || 0) * 100}%` }))),
      el("div", { class: "card" }, el("h2", {}, "Free"), el("div", { class: "big" }, fmtBytes(c.free)),
        el("div", { class: "small" }, "reported by nodes at check-in")));
    const chart = el("div", { id: "chart-countries" });
    barChart(chart, o.by_country.map(r => ({ label: r.country, value: r.nodes,
      title: `${r.country}: ${r.nodes} nodes (${r.online} online), ${fmtBytes(r.used)} of ${fmtBytes(r.capacity)}` })),
      { format: v => v + " nodes", empty: "No nodes have checked in yet." });
    const capChart = el("div", { id: "chart-country-capacity" });
    barChart(capChart, o.by_country.map(r => ({ label: r.country, value: r.used })), { format: fmtBytes, empty: "Nothing stored yet." });
    const periodSel = el("select", { id: "churn-period", onchange: e => { churnPeriod = e.target.value; draw(true); } },
      ["day", "week", "month"].map(p => el("option", { value: p, selected: p === churnPeriod }, "per " + p)));
    const churn = table("churn", ["period", "#joined", "#disqualified", "#exited", "#active at end", "#churn"],
      o.churn.periods.map(p => el("tr", {}, el("td", {}, p.period), num(p.joined), num(p.disqualified), num(p.exited),
        num(p.active_end), num(p.churn_rate === null ? "—" : (p.churn_rate * 100).toFixed(1) + "%"))), "No nodes yet.");
    const acc = o.accounting;
    const money = (title, id, what) => section(title, acc.available ? el("div", { id }, what()) :
      el("p", { class: "empty", id }, acc.message));
    return el("div", {}, cards,
      el("div", { class: "grid wide" }, section("Nodes by country", chart), section("Stored bytes by country", capChart)),
      section("Node churn ", periodSel, churn),
      el("div", { class: "grid wide" },
        money("Revenue, payouts and reserve fund per period", "acc-periods", () => table("acc-periods-table",
          ["period", "#revenue", "#operator payouts", "#held", "#reserve in", "#reserve out", "#credits", "#margin", "settlement"],
          acc.periods.map(p => el("tr", {}, el("td", {}, p.period), num(p.revenue), num(p.payouts), num(p.held), num(p.reserve_in),
            num(p.reserve_out), num(p.credits), num(p.margin), el("td", {}, p.settlement))), "No closed period yet.")),
        money("Revenue per node operator", "acc-operators", () => table("acc-op-table", ["period", "#operators", "#revenue", "#per operator"],
          acc.revenue_per_operator.map(p => el("tr", {}, el("td", {}, p.period), num(p.operators), num(p.revenue),
            num(p.revenue_per_operator ?? "—"))), "No closed period yet.")),
        money("Tenants' statements (last closed period)", "acc-statements", () => table("acc-st-table",
          ["tenant", "period", "#byte-hours", "#egress", "#requests (A / B)", "#credits", "#total"],
          acc.statements.map(s => el("tr", {}, el("td", {}, s.tenant), el("td", {}, s.period), num(s.byte_hours),
            num(fmtBytes(s.egress)), num(`${s.class_a} / ${s.class_b}`), num(s.credits), num(s.total))), "No statements yet.")),
        money(`Reserve fund: ${acc.reserve ? acc.reserve.balance : "—"} ${acc.currency || ""}`, "acc-reserve", () => table("acc-reserve-table",
          ["at", "period", "kind", "#amount", "reason"],
          acc.reserve.movements.map(m => el("tr", {}, el("td", {}, fmtTime(m.at)), el("td", {}, m.period), el("td", {}, m.kind),
            num(m.amount), el("td", {}, m.reason || ""))), "No movements yet.")),
        money("Credits and data-loss incidents", "acc-incidents", () => el("div", {},
          table("acc-credits-table", ["at", "tenant", "kind", "#amount", "reason"],
            acc.credits.map(c => el("tr", {}, el("td", {}, fmtTime(c.at)), el("td", { class: "mono" }, c.tenant_id || ""), el("td", {}, c.kind),
              num(c.amount), el("td", {}, c.reason || ""))), "No credits."),
          table("acc-incidents-table", ["found", "bucket/key", "#healthy / k", "#credit"],
            acc.incidents.map(i => el("tr", {}, el("td", {}, fmtTime(i.found_at)), el("td", {}, `${i.bucket}/${i.key}`),
              num(`${i.healthy} / ${i.k}`), num(i.credit))), "No incidents."))),
        money("Settlement batches", "acc-settlement", () => !acc.settlement.available ?
          el("p", { class: "empty" }, acc.settlement.message) : table("acc-batches-table",
          ["period", "#seq", "state", "#payees", "#total (token units)", "transaction", "confirmed"],
          acc.settlement.batches.map(b => el("tr", {}, el("td", {}, b.period), num(b.seq), el("td", {}, b.state), num(b.payees),
            num(b.total), el("td", { class: "mono" }, b.tx_hash || "—"), el("td", {}, fmtTime(b.confirmed_at)))), "No batches yet."))));
  }

  // --- nodes ----------------------------------------------------------------------------
  async function nodes() {
    const { nodes, thresholds } = await call("/v1/console/nodes");
    const kind = { online: "ok", offline: "warn", suspended: "warn", exiting: "warn", disqualified: "crit" };
    const scoreCell = (v, t) => el("td", { class: "num" + (v - t < (1 - t) / 2 ? " error" : "") }, v.toFixed(4));
    const rows = nodes.map(n => el("tr", { class: "node-row", "data-node-id": n.id },
      el("td", { class: "mono", title: n.id }, n.id.slice(0, 12) + "…"), el("td", {}, n.country), el("td", {}, n.region),
      scoreCell(n.scores.audit, thresholds.audit_disqualify), scoreCell(n.scores.unknown, thresholds.unknown_suspend),
      scoreCell(n.scores.online, thresholds.online_suspend),
      el("td", {}, pill(n.status, kind[n.status] || ""), n.disqualification_reason ? el("div", { class: "small" }, n.disqualification_reason) : null),
      el("td", {}, n.vetted ? "vetted" : `${n.audits_to_vetting} audits to go`),
      num(fmtBytes(n.used)), num(fmtBytes(n.capacity)), el("td", { title: n.last_contact_at }, fmtAgo(n.last_contact_at)),
      el("td", {}, n.disqualified
        ? el("button", { class: "reinstate", onclick: () => act(() => call(`/v1/nodes/${n.id}/reinstate`, { method: "POST" })) }, "reinstate")
        : el("button", { class: "danger disqualify", onclick: async () => {
          const ok = await confirmDialog("Disqualify node", `Node ${n.id} (${n.country}/${n.region}) will get no new pieces, its pieces will be repaired elsewhere, and its held amount is forfeited. This is recorded in the audit log.`,
            { confirmLabel: "Disqualify", typed: n.id.slice(0, 8) });
          if (ok) act(() => call(`/v1/nodes/${n.id}/disqualify`, { method: "POST", body: { reason: "disqualified from the admin console" } }));
        } }, "disqualify"))));
    return section(`Nodes (${nodes.length})`, el("p", { class: "small muted" },
      `Scores in red have used more than half of their margin (audit: disqualified at ${thresholds.audit_disqualify}; unknown: suspended at ${thresholds.unknown_suspend}; online: suspended below ${thresholds.online_suspend}).`),
      table("nodes-table", ["node", "country", "region", "#audit", "#unknown", "#online", "status", "vetting", "#stored", "#capacity", "last contact", ""],
        rows, "No node has checked in yet."));
  }

  // --- policies -------------------------------------------------------------------------
  const list = s => s.split(",").map(x => x.trim()).filter(Boolean);
  const schemeText = s => `${s.k}/${s.repair}/${s.success}/${s.total}`;

  function policyForm(p) {
    const f = el("form", { class: "inline", id: p ? "policy-edit-form" : "policy-form" },
      el("label", {}, "name", el("input", { id: "pf-name", value: p ? p.name : "", required: true, disabled: !!p, size: 10 })),
      el("label", {}, "scheme k/repair/success/total", el("input", { id: "pf-scheme", value: p ? schemeText(p.scheme) : "4/6/8/10", size: 12 })),
      el("label", {}, "allowed regions", el("input", { id: "pf-regions", value: p ? p.allowed_regions.join(", ") : "", placeholder: "eu, na", size: 10 })),
      el("label", {}, "allowed countries", el("input", { id: "pf-countries", value: p ? p.allowed_countries.join(", ") : "", placeholder: "DE, FR or EU", size: 12 })),
      el("label", {}, "excluded countries", el("input", { id: "pf-excluded", value: p ? p.excluded_countries.join(", ") : "", size: 8 })),
      el("label", {}, "min countries", el("input", { id: "pf-min", type: "number", min: 1, value: p ? p.min_countries : 1, style: "width:5em" })),
      el("button", { class: "primary", type: "submit", id: "pf-submit" }, p ? "Save" : "Create policy"),
      p ? el("button", { type: "button", onclick: () => draw(true) }, "Cancel") : null);
    f.addEventListener("submit", ev => {
      ev.preventDefault();
      const body = { scheme: $("pf-scheme").value.trim(), allowed_regions: list($("pf-regions").value),
        allowed_countries: list($("pf-countries").value), excluded_countries: list($("pf-excluded").value),
        min_countries: parseInt($("pf-min").value, 10) || 1 };
      act(() => p ? call(`/v1/policies/${enc(p.name)}`, { method: "PUT", body })
                  : call("/v1/policies", { method: "POST", body: { name: $("pf-name").value.trim(), ...body } }));
    });
    return f;
  }

  async function policies() {
    const { policies } = await call("/v1/policies");
    const details = await Promise.all(policies.map(p => call(`/v1/policies/${enc(p.name)}`)));
    const box = el("div", {});
    const rows = details.map(p => {
      const used = p.buckets.length + p.default_for_tenants.length;
      return el("tr", { class: "policy-row", "data-policy": p.name }, el("td", {}, el("strong", {}, p.name)), el("td", { class: "mono" }, schemeText(p.scheme)),
        el("td", {}, p.allowed_regions.join(", ") || "any"), el("td", {}, p.allowed_countries.join(", ") || "any"),
        el("td", {}, p.excluded_countries.join(", ") || "—"), num(p.min_countries),
        el("td", {}, [p.buckets.length ? `buckets: ${p.buckets.join(", ")}` : "", p.default_for_tenants.length ? ` default of: ${p.default_for_tenants.join(", ")}` : ""].join("") || "unused"),
        el("td", {}, el("button", { class: "edit", onclick: () => { clear(box).append(policyForm(p)); } }, "edit"), " ",
          el("button", { class: "danger delete", disabled: used > 0, title: used ? "in use: move its buckets and tenants first" : "", onclick: async () => {
            if (await confirmDialog("Delete policy", `Delete placement policy ${p.name}? Nothing uses it. This is recorded in the audit log.`, { confirmLabel: "Delete" }))
              act(() => call(`/v1/policies/${enc(p.name)}`, { method: "DELETE" }));
          } }, "delete")));
    });
    box.append(policyForm(null));
    return el("div", {}, section("Placement policies", table("policies-table",
      ["name", "scheme", "regions", "countries", "excluded", "#min countries", "used by", ""], rows, "No policies yet.")),
      section("Create or edit", box));
  }

  // --- tenants and keys -----------------------------------------------------------------
  let newSecret = null;
  async function tenants() {
    const [{ tenants }, { policies }] = await Promise.all([call("/v1/tenants"), call("/v1/policies")]);
    const details = await Promise.all(tenants.map(t => call(`/v1/tenants/${enc(t.id)}`)));
    const out = el("div", {});
    if (newSecret) out.append(el("div", { class: "warning", id: "new-secret" }, "New key ", el("code", {}, newSecret.access_key_id),
      " secret ", el("code", {}, newSecret.secret_access_key), " — shown only now; store it, it cannot be read back."));
    for (const t of details) {
      const keys = t.keys.map(k => el("tr", { class: "key-row", "data-key": k.access_key_id }, el("td", { class: "mono" }, k.access_key_id),
        el("td", {}, pill(k.status, k.status === "active" ? "ok" : "crit")), el("td", {}, fmtTime(k.created_at)),
        el("td", {}, k.status === "active" ? el("button", { class: "danger revoke", onclick: async () => {
          if (await confirmDialog("Revoke key", `Revoke access key ${k.access_key_id} of ${t.name}? Clients using it fail from now on. This is recorded in the audit log.`, { confirmLabel: "Revoke" }))
            act(() => call(`/v1/keys/${enc(k.access_key_id)}`, { method: "DELETE" }));
        } }, "revoke") : null)));
      const sel = el("select", { class: "default-policy", onchange: e => act(() => call(`/v1/tenants/${enc(t.id)}/default-policy`, { method: "PUT", body: { policy: e.target.value || null } })) },
        el("option", { value: "" }, "(none)"), policies.map(p => el("option", { value: p.name, selected: p.name === t.default_policy }, p.name)));
      out.append(section(`Tenant ${t.name}`, el("p", { class: "small" }, "id ", el("code", {}, t.id), ` · ${t.buckets.length} bucket(s) · default policy `, sel),
        table(`keys-${t.name}`, ["access key", "status", "created", ""], keys, "No keys."),
        el("button", { class: "create-key", onclick: () => act(async () => { newSecret = await call(`/v1/tenants/${enc(t.id)}/keys`, { method: "POST" }); }) }, "Create key")));
    }
    const form = el("form", { class: "inline", id: "tenant-form" }, el("label", {}, "name", el("input", { id: "tf-name", required: true })),
      el("label", {}, "default policy", el("select", { id: "tf-policy" }, el("option", { value: "" }, "(none)"), policies.map(p => el("option", { value: p.name }, p.name)))),
      el("button", { class: "primary", type: "submit" }, "Create tenant"));
    form.addEventListener("submit", ev => { ev.preventDefault(); act(() => call("/v1/tenants", { method: "POST", body: { name: $("tf-name").value.trim(), default_policy: $("tf-policy").value || null } })); });
    out.append(section("New tenant", form));
    return out;
  }

  // --- buckets and compliance -----------------------------------------------------------
  let openReport = null;
  function report(r) {
    const byCountry = el("div", { id: "report-countries" });
    barChart(byCountry, Object.entries(r.pieces_by_country).map(([k, v]) => ({ label: k, value: v })), { format: v => v + " pieces", empty: "No pieces (empty bucket or inline objects only)." });
    const below = r.below_repair_threshold;
    return section(`Compliance of ${r.bucket}`,
      el("p", { id: "report-verdict" }, r.compliant ? pill("compliant", "ok") : pill("NOT compliant", "crit"),
        ` policy ${r.policy.name} · ${r.objects} object(s), ${r.segments.remote} remote and ${r.segments.inline} inline segment(s), ${r.pieces} piece(s)`),
      el("div", { class: "grid" },
        el("div", { class: "card" }, el("h2", {}, "Pieces out of policy"), el("div", { class: "big", id: "report-outside" }, r.out_of_policy.pieces)),
        el("div", { class: "card" }, el("h2", {}, "Segments below repair threshold"), el("div", { class: "big", id: "report-below" }, below.segments),
          el("div", { class: "small" }, `${below.lost} lost`)),
        el("div", { class: "card" }, el("h2", {}, "Countries"), el("div", { class: "big", id: "report-country-count" }, Object.keys(r.pieces_by_country).length),
          el("div", { class: "small" }, `policy needs at least ${r.policy.min_countries}`))),
      el("h3", {}, "Pieces per country"), byCountry,
      r.out_of_policy.nodes.length ? table("report-nodes", ["node", "country", "region", "#pieces"], r.out_of_policy.nodes.map(n =>
        el("tr", {}, el("td", { class: "mono" }, n.node_id.slice(0, 16) + "…"), el("td", {}, n.country), el("td", {}, n.region), num(n.pieces))), "") : null);
  }

  async function buckets() {
    const [{ buckets }, { policies }] = await Promise.all([call("/v1/buckets"), call("/v1/policies")]);
    const rows = buckets.map(b => el("tr", { class: "bucket-row", "data-bucket": b.name }, el("td", {}, el("strong", {}, b.name)), el("td", {}, b.tenant),
      el("td", {}, el("select", { class: "bucket-policy", onchange: e => act(() => call(`/v1/buckets/${enc(b.name)}/policy`, { method: "PUT", body: { policy: e.target.value } })) },
        policies.map(p => el("option", { value: p.name, selected: p.name === b.policy }, p.name)))),
      el("td", {}, fmtTime(b.created_at)),
      el("td", {}, el("button", { class: "show-report", onclick: () => { openReport = b.name; draw(true); } }, "compliance"))));
    const out = el("div", {}, section("Buckets", el("p", { class: "small muted" }, "Changing a bucket's policy sends new pieces to the new policy's nodes; existing pieces outside it migrate through repair."),
      table("buckets-table", ["bucket", "tenant", "policy", "created", ""], rows, "No buckets yet: create one with any S3 client.")));
    if (openReport && buckets.some(b => b.name === openReport)) out.append(report(await call(`/v1/buckets/${enc(openReport)}/report`)));
    return out;
  }

  // --- repair, audits, exits, log --------------------------------------------------------
  async function repair() {
    const q = await call("/v1/console/repair");
    return el("div", {}, el("div", { class: "grid" },
      el("div", { class: "card" }, el("h2", {}, "Queue"), el("div", { class: "big", id: "repair-length" }, q.length), el("div", { class: "small" }, `${q.claimed} being repaired now`)),
      el("div", { class: "card" }, el("h2", {}, "Oldest job"), el("div", { class: "big" }, q.oldest_at ? fmtAgo(q.oldest_at) : "—"), el("div", { class: "small" }, fmtTime(q.oldest_at)))),
      section("By reason", table("repair-reasons", ["reason", "#jobs", "#closest to loss (margin)", "oldest"], q.by_reason.map(r =>
        el("tr", {}, el("td", {}, r.reason), num(r.jobs), num(r.min_margin), el("td", {}, fmtTime(r.oldest_at)))), "The repair queue is empty: every segment has enough healthy pieces.")),
      section("Most urgent jobs", table("repair-jobs", ["segment", "reason", "#healthy", "#margin", "#attempts", "claimed", "last error"], q.jobs.map(j =>
        el("tr", {}, num(j.segment_id), el("td", {}, j.reason), num(j.healthy), num(j.margin), num(j.attempts), el("td", {}, j.claimed_at ? fmtAgo(j.claimed_at) : "—"),
          el("td", { class: "error" }, j.last_error || ""))), "No jobs.")));
  }

  async function audits() {
    const { failures } = await call("/v1/console/audit-failures?limit=200");
    return section("Audits that did not pass (newest first)", table("audit-failures", ["when", "node", "location", "outcome", "why", "piece"], failures.map(f =>
      el("tr", { class: "audit-failure", "data-node-id": f.node_id }, el("td", {}, fmtTime(f.at)), el("td", { class: "mono" }, f.node_id.slice(0, 12) + "…"),
        el("td", {}, `${f.country || "?"}/${f.region || "?"}`), el("td", {}, pill(f.outcome, f.outcome === "failure" ? "crit" : "warn")),
        el("td", {}, f.reason), el("td", { class: "mono" }, f.piece_id.slice(0, 12) + "…"))), "No failed audits: every node answered its challenges."));
  }

  async function exits() {
    const { exits } = await call("/v1/console/exits");
    return section("Graceful exits", table("exits-table", ["node", "location", "status", "progress", "#moved", "#failed", "started", "finished / reason"], exits.map(e =>
      el("tr", {}, el("td", { class: "mono" }, e.node_id.slice(0, 12) + "…"), el("td", {}, `${e.country}/${e.region}`),
        el("td", {}, pill(e.status, e.status === "exited" ? "ok" : e.status === "failed" ? "crit" : "warn")),
        el("td", {}, el("div", { class: "meter" }, el("span", { style: `width:${e.progress * 100}%` })), `${Math.round(e.progress * 100)}% of ${e.pieces_at_start} pieces`),
        num(e.pieces_transferred), num(e.pieces_failed), el("td", {}, fmtTime(e.initiated_at)), el("td", {}, e.reason || fmtTime(e.finished_at)))),
      "No node has asked to leave."));
  }

  async function log() {
    const { entries } = await call("/v1/console/audit-log?limit=200");
    return section("Admin audit log: every change through the admin API, by console, CLI or script", table("audit-log",
      ["when", "action", "path", "#status", "from", "body", "error"], entries.map(e =>
        el("tr", { class: "log-entry", "data-route": e.route }, el("td", {}, fmtTime(e.at)), el("td", {}, e.route), el("td", { class: "mono" }, e.path),
          num(e.status), el("td", { class: "mono" }, e.remote), el("td", { class: "mono" }, e.body), el("td", { class: "error" }, e.result))), "No changes recorded yet."));
  }

  const PAGES = { overview, nodes, policies, tenants, buckets, repair, audits, exits, log };
  const page = () => (location.hash.slice(1) in PAGES ? location.hash.slice(1) : "overview");

  async function draw(force) {
    clearTimeout(timer);
    // Pages with a form being filled in are redrawn only when asked (after an action).
    const editing = document.activeElement && ["INPUT", "SELECT"].includes(document.activeElement.tagName) || $("confirm");
    if (!drawing && (force || !editing)) {
      drawing = true;
      try {
        const content = await PAGES[page()]();
        $("login").hidden = true; $("nav").hidden = false; $("logout").hidden = false;
        clear($("view")).append(content);
        for (const a of $("nav").querySelectorAll("a")) a.classList.toggle("active", a.getAttribute("href") === "#" + page());
        $("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + "Z";
      } catch (e) {
        drawing = false;
        if (e.status === 401) return logout(sessionStorage.getItem(TOKEN) ? "wrong admin token" : "");
        $("updated").textContent = "cannot reach the admin API: " + e.message;
      }
      drawing = false;
    }
    timer = setTimeout(draw, 3000);
  }

  function logout(message) {
    clearTimeout(timer);
    sessionStorage.removeItem(TOKEN);
    clear($("view")); $("nav").hidden = true; $("logout").hidden = true; $("login").hidden = false;
    $("login-error").textContent = message || "";
  }

  $("login-form").addEventListener("submit", ev => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN, $("token").value.trim());
    $("token").value = "";
    draw(true);
  });
  $("logout").addEventListener("click", () => logout(""));
  window.addEventListener("hashchange", () => { openReport = null; showError(null); draw(true); });
  if (sessionStorage.getItem(TOKEN)) draw(true); else logout("");
})();

// Geoshard pages' shared browser code: DOM helpers, byte formatting, an API call that
// carries the page's token, and small inline-SVG charts (lines with thresholds, bars).
// Plain ES2017, no dependencies, nothing fetched from elsewhere.
"use strict";
const GS = (() => {
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return "—";
    const units = [["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
    for (const [u, s] of units) if (Math.abs(n) >= s) return (n / s).toFixed(2) + " " + u;
    return n + " B";
  }

  function fmtTime(t) {
    if (!t) return "—";
    const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function fmtAgo(t) {
    if (!t) return "never";
    const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
    if (s < 90) return s + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " days ago";
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // fetch JSON; the token (if the page has one) travels as a bearer header.
  async function api(path, { method = "GET", body, tokenKey } = {}) {
    const headers = { "Accept": "application/json" };
    const token = tokenKey ? sessionStorage.getItem(tokenKey) : null;
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = data && data.error ? data.error.message : resp.status + " " + resp.statusText;
      throw new ApiError(resp.status, msg);
    }
    return data;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  // A line chart: series of [unix seconds, value]; thresholds drawn as dashed lines.
  // markers: [{at, label}] drawn as red ticks with a tooltip (e.g. failed audits on a score chart).
  function lineChart(box, { series, thresholds = [], markers = [], yMin, yMax, yFormat = String, height = 180, empty }) {
    clear(box);
    const pts = series.flatMap(s => s.points.filter(p => p[1] !== null && p[1] !== undefined));
    if (pts.length < 2) {
      box.append(el("p", { class: "empty" }, empty || "Not enough history yet: the node records a sample every few minutes."));
      return;
    }
    const W = 640, H = height, L = 64, R = 12, T = 10, B = 24;
    const xs = pts.map(p => p[0]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1;
    let lo = yMin !== undefined ? yMin : Math.min(...pts.map(p => p[1]), ...thresholds.map(t => t.value));
    let hi = yMax !== undefined ? yMax : Math.max(...pts.map(p => p[1]), ...thresholds.map(t => t.value));
    if (hi === lo) { hi = lo + 1; }
    const X = t => L + (W - L - R) * (t - x0) / ((x1 - x0) || 1);
    const Y = v => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
    for (let i = 0; i <= 4; i++) {
      const v = lo + (hi - lo) * i / 4;
      root.append(svg("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
      root.append(svg("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end", class: "axis" }, yFormat(v)));
    }
    root.append(svg("text", { x: L, y: H - 6, class: "axis" }, fmtTime(x0)));
    root.append(svg("text", { x: W - R, y: H - 6, "text-anchor": "end", class: "axis" }, fmtTime(x1)));
    for (const t of thresholds) {
      root.append(svg("line", { x1: L, x2: W - R, y1: Y(t.value), y2: Y(t.value), class: "threshold",
                                stroke: t.color || "#c0392b" }));
      root.append(svg("text", { x: W - R - 4, y: Y(t.value) - 4, "text-anchor": "end", class: "threshold-label",
                                fill: t.color || "#c0392b" }, t.label));
    }
    for (const m of markers) {
      if (m.at < x0 || m.at > x1) continue;
      const tick = svg("line", { x1: X(m.at), x2: X(m.at), y1: T, y2: H - B, class: "marker" });
      tick.append(svg("title", {}, m.label));
      root.append(tick);
    }
    series.forEach((s, i) => {
      const p = s.points.filter(q => q[1] !== null && q[1] !== undefined);
      if (!p.length) return;
      const d = p.map((q, j) => (j ? "L" : "M") + X(q[0]).toFixed(1) + " " + Y(q[1]).toFixed(1)).join(" ");
      root.append(svg("path", { d, class: "line", stroke: s.color || ["#2c7be5", "#27ae60", "#e67e22"][i % 3],
                                "data-series": s.name }));
    });
    box.append(root);
    box.append(el("div", { class: "legend" }, series.map((s, i) => el("span", {},
      el("i", { style: `background:${s.color || ["#2c7be5", "#27ae60", "#e67e22"][i % 3]}` }), s.name))));
  }

  // Horizontal bars: [{label, value, title}].
  function barChart(box, rows, { format = String, empty = "Nothing to show yet." } = {}) {
    clear(box);
    if (!rows.length) { box.append(el("p", { class: "empty" }, empty)); return; }
    const max = Math.max(...rows.map(r => r.value)) || 1;
    const W = 640, rowH = 22, L = 90, H = rows.length * rowH + 4;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart bars", role: "img" });
    rows.forEach((r, i) => {
      const y = 2 + i * rowH, w = (W - L - 80) * r.value / max;
      root.append(svg("text", { x: L - 8, y: y + 15, "text-anchor": "end", class: "axis" }, r.label));
      const bar = svg("rect", { x: L, y: y + 3, width: Math.max(1, w), height: rowH - 6, class: "bar",
                                "data-label": r.label, "data-value": r.value });
      if (r.title) bar.append(svg("title", {}, r.title));
      root.append(bar);
      root.append(svg("text", { x: L + w + 6, y: y + 15, class: "axis" }, format(r.value)));
    });
    box.append(root);
  }

  // Differences of running totals, per second, as chart points.
  function rates(samples, key) {
    const out = [];
    for (let i = 1; i < samples.length; i++) {
      const dt = samples[i].at - samples[i - 1].at;
      if (dt > 0) out.push([samples[i].at, Math.max(0, samples[i][key] - samples[i - 1][key]) / dt]);
    }
    return out;
  }

  // A modal confirmation: resolves true only when the person confirms.
  function confirmDialog(title, text, { confirmLabel = "Confirm", typed } = {}) {
    return new Promise(resolve => {
      const input = typed ? el("input", { id: "confirm-typed", placeholder: typed, autocomplete: "off" }) : null;
      const ok = el("button", { id: "confirm-ok", class: "danger" }, confirmLabel);
      const cancel = el("button", { id: "confirm-cancel" }, "Cancel");
      const box = el("div", { class: "modal-back", id: "confirm" },
        el("div", { class: "modal", role: "dialog", "aria-modal": "true" },
          el("h3", {}, title), el("p", {}, text),
          typed ? el("p", {}, "Type ", el("code", {}, typed), " to confirm:") : null, input,
          el("div", { class: "actions" }, cancel, ok)));
      if (input) { ok.disabled = true; input.addEventListener("input", () => { ok.disabled = input.value !== typed; }); }
      const done = v => { box.remove(); resolve(v); };
      ok.addEventListener("click", () => done(true));
      cancel.addEventListener("click", () => done(false));
      document.body.append(box);
      (input || cancel).focus();
    });
  }

  return { el, svg, clear, fmtBytes, fmtTime, fmtAgo, api, ApiError, lineChart, barChart, rates, confirmDialog };
})();

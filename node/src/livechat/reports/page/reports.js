// The live chat reports page: reads the report API with the console's token and draws the
// charts as SVG. Text goes into the page through textContent only.
"use strict";

const TOKEN_KEY = "ochat.token";
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function takeTokenFromFragment() {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  const body = await resp.json().catch(() => null);
  if (resp.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin("Your token is no longer valid; please sign in again.");
    throw new Error("unauthorized");
  }
  if (!resp.ok) {
    throw new Error(body && body.error ? body.error.message : "the node answered " + resp.status);
  }
  return body;
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function clear(svg, height) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  svg.setAttribute("viewBox", "0 0 1100 " + height);
  svg.setAttribute("height", String(height));
}

function empty(svg, text) {
  clear(svg, 60);
  svg.appendChild(el("text", { x: 550, y: 34, "text-anchor": "middle", class: "empty" }, text));
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function round(v, digits) {
  const f = Math.pow(10, digits);
  return Math.round(v * f) / f;
}

// Vertical bars: sessions per day.
// Every day from the first to the last with sessions, the days between at zero.
function everyDay(rows) {
  const have = new Map(rows.map((r) => [r.key, r.count]));
  const first = Date.parse(rows[0].key + "T00:00:00Z");
  const last = Date.parse(rows[rows.length - 1].key + "T00:00:00Z");
  if (!(last >= first) || (last - first) / 86400000 > 366) return rows;
  const out = [];
  for (let t = first; t <= last; t += 86400000) {
    const key = new Date(t).toISOString().slice(0, 10);
    out.push({ key, label: key, count: have.get(key) || 0 });
  }
  return out;
}

function drawDays(svg, rows) {
  const with_sessions = rows.filter((r) => r.key !== "total");
  if (with_sessions.length === 0) return empty(svg, "No sessions in this range.");
  const days = everyDay(with_sessions);
  const h = 260, left = 44, bottom = 40, top = 16, width = 1100 - left - 10;
  clear(svg, h);
  const max = niceMax(Math.max(...days.map((d) => d.count)));
  const plot = h - top - bottom;
  for (let i = 0; i <= 4; i++) {
    const y = top + plot - (plot * i) / 4;
    svg.appendChild(el("line", { x1: left, x2: left + width, y1: y, y2: y, class: "grid" }));
    svg.appendChild(el("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, round((max * i) / 4, 1)));
  }
  const step = width / days.length;
  const bw = Math.max(4, Math.min(60, step * 0.7));
  days.forEach((d, i) => {
    const bh = (plot * d.count) / max;
    const x = left + i * step + (step - bw) / 2;
    const bar = el("rect", { x, y: top + plot - bh, width: bw, height: bh, class: "bar" });
    bar.appendChild(el("title", {}, d.label + ": " + d.count + " sessions"));
    svg.appendChild(bar);
    svg.appendChild(el("text", { x: x + bw / 2, y: top + plot - bh - 4, "text-anchor": "middle", class: "value" }, d.count));
    if (days.length <= 31 || i % Math.ceil(days.length / 31) === 0) {
      svg.appendChild(el("text", { x: x + bw / 2, y: h - bottom + 16, "text-anchor": "middle" }, d.label.slice(5)));
    }
  });
  svg.appendChild(el("line", { x1: left, x2: left + width, y1: top + plot, y2: top + plot, class: "axis" }));
}

// Horizontal bars: one per operator, weighted over their channels.
function drawAnswer(svg, rows) {
  const byOp = new Map();
  for (const r of rows) {
    const o = byOp.get(r.operator_id) || { name: r.operator, answered: 0, sum: 0 };
    if (r.avg_time_to_answer_s !== null) {
      o.answered += r.answered;
      o.sum += r.avg_time_to_answer_s * r.answered;
    }
    byOp.set(r.operator_id, o);
  }
  const ops = [...byOp.values()].filter((o) => o.answered > 0).map((o) => ({ name: o.name, avg: o.sum / o.answered, n: o.answered }));
  if (ops.length === 0) return empty(svg, "No operator answered in this range.");
  ops.sort((a, b) => a.name.localeCompare(b.name));
  drawHorizontal(svg, ops.map((o) => ({ label: o.name, value: o.avg, note: round(o.avg, 1) + " s (" + o.n + " answered)" })), "bar-answer");
}

function drawHorizontal(svg, items, cls) {
  const rowH = 30, left = 170, top = 10, width = 1100 - left - 180;
  const h = top + items.length * rowH + 10;
  clear(svg, h);
  const max = niceMax(Math.max(...items.map((i) => i.value)));
  items.forEach((it, i) => {
    const y = top + i * rowH;
    svg.appendChild(el("text", { x: left - 8, y: y + 18, "text-anchor": "end" }, it.label));
    const w = Math.max(1, (width * it.value) / max);
    const bar = el("rect", { x: left, y: y + 4, width: w, height: rowH - 10, class: cls });
    bar.appendChild(el("title", {}, it.label + ": " + it.note));
    svg.appendChild(bar);
    svg.appendChild(el("text", { x: left + w + 6, y: y + 18, class: "value" }, it.note));
  });
}

// Stacked 100% bars: happy / okay / unhappy per channel, then per operator.
function drawRatings(svg, shares) {
  if (shares.length === 0) return empty(svg, "No ratings in this range.");
  const rowH = 30, left = 170, top = 10, width = 1100 - left - 200;
  const h = top + shares.length * rowH + 10;
  clear(svg, h);
  shares.forEach((s, i) => {
    const y = top + i * rowH;
    svg.appendChild(el("text", { x: left - 8, y: y + 18, "text-anchor": "end" }, (s.by === "channel" ? "Channel " : "") + s.name));
    let x = left;
    for (const [part, pct, n] of [["happy", s.happy_pct, s.happy], ["okay", s.okay_pct, s.okay], ["unhappy", s.unhappy_pct, s.unhappy]]) {
      const w = (width * pct) / 100;
      if (w > 0) {
        const r = el("rect", { x, y: y + 4, width: w, height: rowH - 10, class: part });
        r.appendChild(el("title", {}, s.name + ": " + n + " " + part + " (" + round(pct, 1) + "%)"));
        svg.appendChild(r);
        if (w > 34) svg.appendChild(el("text", { x: x + w / 2, y: y + 18, "text-anchor": "middle", class: "value" }, round(pct, 0) + "%"));
      }
      x += w;
    }
    svg.appendChild(el("text", { x: left + width + 8, y: y + 18 }, s.total + " rating" + (s.total === 1 ? "" : "s")));
  });
}

function queryString() {
  const p = new URLSearchParams();
  if ($("from").value) p.set("from", $("from").value);
  if ($("to").value) p.set("to", $("to").value);
  if ($("channel").value) p.set("channel", $("channel").value);
  return p.toString();
}

async function refresh() {
  $("error").textContent = "";
  const q = queryString();
  try {
    const [days, ops, shares] = await Promise.all([
      api("/api/v1/livechat/reports/stats?group_by=day&" + q),
      api("/api/v1/livechat/reports/operators?" + q),
      api("/api/v1/livechat/reports/ratings/shares?" + q),
    ]);
    const total = days.rows.find((r) => r.key === "total");
    const tta = total && total.time_to_answer_s.avg !== null ? round(total.time_to_answer_s.avg, 1) + " s" : "—";
    const rating = total && total.rating.avg !== null ? round(total.rating.avg, 2) : "—";
    // Time in the queue (lc-queue): only when some visitors waited in line.
    const queued = total && total.time_in_queue_s && total.time_in_queue_s.n > 0
      ? " · " + total.time_in_queue_s.n + " waited in line, " + round(total.time_in_queue_s.avg, 1) + " s on average" : "";
    $("summary").textContent = (total ? total.count : 0) + " sessions · average time to answer " + tta + " · average rating " + rating + queued;
    drawDays($("chart-days"), days.rows);
    drawAnswer($("chart-answer"), ops.operators);
    drawRatings($("chart-ratings"), shares.shares);
  } catch (e) {
    if (e.message !== "unauthorized") $("error").textContent = e.message;
  }
}

async function loadChannels() {
  try {
    const list = await api("/api/v1/livechat/channels");
    const select = $("channel");
    for (const c of list) {
      const o = document.createElement("option");
      o.value = c.id;
      o.textContent = c.name;
      select.appendChild(o);
    }
  } catch (e) {
    if (e.message !== "unauthorized") $("error").textContent = e.message;
  }
}

function showLogin(message) {
  $("reports").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

function showReports() {
  $("login").hidden = true;
  $("reports").hidden = false;
  $("logout").hidden = false;
  loadChannels();
  refresh();
}

async function login(ev) {
  ev.preventDefault();
  const resp = await fetch("/api/v1/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ login: $("login-name").value, password: $("login-password").value }),
  });
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    $("login-error").textContent = body && body.error ? body.error.message : "sign-in failed";
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, body.token);
  showReports();
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromFragment();
  $("login-form").addEventListener("submit", login);
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token-input").value.trim();
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t);
      showReports();
    }
  });
  $("filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    refresh();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
  });
  if (token()) showReports();
  else showLogin();
});

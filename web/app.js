/*
 * sentineld console: one script, no framework, no build step. The token
 * stays in sessionStorage; every API call sends it as a bearer token. The
 * live feed is read with fetch() (so the token goes in a header, not the
 * URL) and parsed as Server-Sent Events; it resumes with Last-Event-ID
 * and refetches the list when the server reports a gap.
 */
"use strict";

const $ = (s) => document.querySelector(s);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
};
const RANK = { viewer: 1, operator: 2, admin: 3 };
const SEVS = ["info", "low", "medium", "high", "critical"];
const state = { token: sessionStorage.getItem("sn_token") || "", me: null,
  incidents: new Map(), cursor: null, lastSeq: null, feed: null,
  events: [], lastEvents: null };

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: Object.assign(
    { Authorization: "Bearer " + state.token },
    body ? { "Content-Type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!r.ok) {
    const err = new Error(json && json.error ? json.error.message : r.status + " " + r.statusText);
    err.code = json && json.error ? json.error.code : String(r.status);
    err.status = r.status;
    throw err;
  }
  return json;
}

/* ---- login -------------------------------------------------------------- */

async function login(token) {
  state.token = token;
  try {
    state.me = await api("GET", "/api/v1/whoami");
  } catch (e) {
    state.me = null;
    sessionStorage.removeItem("sn_token");
    return e.message;
  }
  sessionStorage.setItem("sn_token", token);
  $("#who").textContent = state.me.name + " (" + state.me.role + ")";
  $("#logout").classList.remove("hidden");
  startFeed();
  route();
  return null;
}

function logout() {
  sessionStorage.removeItem("sn_token");
  state.token = "";
  state.me = null;
  if (state.feed) state.feed.abort();
  location.hash = "#/";
  location.reload();
}

/* ---- incident list ----------------------------------------------------- */

function filters() {
  const q = new URLSearchParams();
  for (const [id, key] of [["#f-status", "status"], ["#f-severity", "severity"],
    ["#f-rule", "rule"], ["#f-text", "q"]]) {
    const v = $(id).value.trim();
    if (v) q.set(key, v);
  }
  return q;
}

function matches(inc) {
  const f = filters();
  if (f.get("status") && inc.status !== f.get("status")) return false;
  if (f.get("severity") && SEVS.indexOf(inc.severity) < SEVS.indexOf(f.get("severity"))) return false;
  if (f.get("rule") && inc.rule_id !== f.get("rule")) return false;
  const t = f.get("q");
  if (t && ![inc.title, inc.rule_id, JSON.stringify(inc.group_key)].some((s) => s && s.includes(t))) return false;
  return true;
}

function keyText(k) {
  if (!k || typeof k !== "object") return "";
  return Object.entries(k).map(([a, b]) => a + "=" + b).join(" ");
}

function shortTime(t) {
  return t ? t.replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

function row(inc) {
  const tr = el("tr");
  tr.dataset.id = inc.id;
  tr.append(el("td", "sev sev-" + inc.severity, inc.severity),
    el("td", "status", inc.status + (inc.pending_approval ? " (pending)" : "")),
    el("td", "title", inc.title || inc.rule_id), el("td", "mono", inc.rule_id),
    el("td", "key", keyText(inc.group_key)), el("td", null, inc.hit_count),
    el("td", "mono", shortTime(inc.last_seen)), el("td", null, inc.owner || ""),
    el("td", null, inc.version));
  tr.addEventListener("click", () => { location.hash = "#/incident/" + inc.id; });
  return tr;
}

function renderList() {
  const tb = $("#incidents tbody");
  const rows = [...state.incidents.values()].filter(matches)
    .sort((a, b) => (b.last_seen || "").localeCompare(a.last_seen || ""));
  tb.replaceChildren(...rows.map(row));
  drawChart();
}

async function loadList(more) {
  const q = filters();
  if (more && state.cursor) q.set("cursor", state.cursor);
  q.set("limit", "200");
  const page = await api("GET", "/api/v1/incidents?" + q);
  if (!more) state.incidents.clear();
  for (const i of page.incidents) state.incidents.set(i.id, i);
  state.cursor = page.next_cursor;
  $("#more").classList.toggle("hidden", !state.cursor);
  renderList();
}

/* ---- live feed (SSE over fetch) ---------------------------------------- */

function setConn(cls, text) {
  const c = $("#conn");
  c.className = "conn " + cls;
  c.textContent = text;
}

function onFeed(ev, data, id) {
  if (id) state.lastSeq = id;
  if (ev === "gap") { loadList(false).catch(() => {}); return; }
  if (ev !== "incident") return;
  const inc = JSON.parse(data);
  const old = state.incidents.get(inc.id);
  if (old && old.version > inc.version) return;
  state.incidents.set(inc.id, inc);
  if ($("#list-view").classList.contains("hidden")) {
    if (current() === inc.id) showIncident(inc.id);
    return;
  }
  renderList();
  const tr = document.querySelector('#incidents tr[data-id="' + inc.id + '"]');
  if (tr) tr.classList.add("flash");
}

async function startFeed() {
  let delay = 500;
  for (;;) {
    if (!state.token) return;
    const ctl = new AbortController();
    state.feed = ctl;
    setConn("wait", "connecting");
    try {
      const h = { Authorization: "Bearer " + state.token };
      if (state.lastSeq !== null) h["Last-Event-ID"] = state.lastSeq;
      const r = await fetch("/api/v1/stream", { headers: h, signal: ctl.signal });
      if (!r.ok) throw new Error("feed: " + r.status);
      setConn("live", "live");
      delay = 500;
      const rd = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await rd.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let ev = "message", id = null;
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) ev = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
            else if (line.startsWith("id: ")) id = line.slice(4);
          }
          if (data.length) onFeed(ev, data.join("\n"), id);
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    setConn("off", "reconnecting");
    await new Promise((res) => setTimeout(res, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

/* ---- volume chart -------------------------------------------------------- */

async function sampleEvents() {
  try {
    const r = await fetch("/metrics");
    const t = await r.text();
    let sum = 0;
    for (const m of t.matchAll(/^sentineld_input_records_total\{[^}]*\} (\d+)/gm)) sum += Number(m[1]);
    const now = Date.now();
    if (state.lastEvents) {
      const rate = (sum - state.lastEvents.v) / ((now - state.lastEvents.t) / 1000);
      state.events.push({ t: now, rate: Math.max(0, rate) });
      state.events = state.events.filter((e) => now - e.t < 30 * 60e3);
    }
    state.lastEvents = { t: now, v: sum };
    drawChart();
  } catch (e) { /* the chart is best effort */ }
}

function drawChart() {
  const c = $("#chart");
  if (!c || !c.getContext) return;
  const g = c.getContext("2d"), W = c.width, H = c.height, now = Date.now();
  const bins = new Array(30).fill(0);
  for (const i of state.incidents.values()) {
    const age = (now - Date.parse(i.last_seen)) / 60e3;
    if (age >= 0 && age < 30) bins[29 - Math.floor(age)]++;
  }
  g.clearRect(0, 0, W, H);
  const bmax = Math.max(1, ...bins), bw = W / 30;
  g.fillStyle = "#d9480f";
  bins.forEach((n, k) => { const h = (n / bmax) * (H - 4); g.fillRect(k * bw + 1, H - h, bw - 2, h); });
  const emax = Math.max(1, ...state.events.map((e) => e.rate));
  g.strokeStyle = "#1f6feb";
  g.beginPath();
  state.events.forEach((e, k) => {
    const x = W - ((now - e.t) / (30 * 60e3)) * W, y = H - (e.rate / emax) * (H - 4) - 2;
    if (k) g.lineTo(x, y); else g.moveTo(x, y);
  });
  g.stroke();
  g.fillStyle = "#1b1f24";
  g.font = "10px sans-serif";
  const last = state.events.length ? state.events[state.events.length - 1].rate : 0;
  g.fillText(Math.round(last) + " ev/s · " + bins.reduce((a, b) => a + b, 0) + " inc/30m", 4, 10);
}

/* ---- incident page -------------------------------------------------------- */

function current() {
  const m = location.hash.match(/^#\/incident\/([0-9a-f-]+)$/);
  return m ? m[1] : null;
}

const nsTime = (ns) => (ns ? new Date(Number(ns) / 1e6).toISOString() : "");

function facts(pairs) {
  const d = el("div", "facts");
  for (const [k, v] of pairs) {
    const s = el("span", null, k + " ");
    s.append(el("b", null, v));
    d.append(s);
  }
  return d;
}

function renderHead(inc) {
  const h = $("#inc-head");
  const t = el("h1");
  t.append(el("span", "sev sev-" + inc.severity, inc.severity + " "), document.createTextNode(inc.title || inc.rule_id));
  h.replaceChildren(t, facts([["status", inc.status], ["rule", inc.rule_id], ["key", keyText(inc.group_key)],
    ["hits", inc.hit_count], ["first", shortTime(inc.first_seen)], ["last", shortTime(inc.last_seen)],
    ["owner", inc.owner || "—"], ["version", inc.version]]));
  if (inc.description) h.append(el("p", null, inc.description));
  if (inc.pending_approval) {
    const p = inc.pending_approval;
    h.append(el("p", "pending", "Waiting for approval: " + p.action + (p.to ? " to " + p.to : "") +
      ", requested by " + p.requested_by + " — " + (p.reason || "")));
  }
}

function renderActions(inc) {
  const box = $("#actions");
  box.replaceChildren();
  const role = RANK[state.me.role] || 0;
  const approver = RANK[state.me.approve_role] || 2;
  const acts = [["acknowledge", inc.status === "open"], ["assign", true], ["comment", true],
    ["resolve", inc.status !== "resolved"], ["reopen", inc.status === "resolved" || inc.status === "suppressed"],
    ["suppress", inc.status !== "resolved" && inc.status !== "suppressed" && !inc.pending_approval],
    ["approve", !!inc.pending_approval], ["reject", !!inc.pending_approval]];
  for (const [a, applies] of acts) {
    const need = a === "approve" || a === "reject" ? approver : 2;
    if (role < need || !applies) continue;
    const b = el("button", null, a[0].toUpperCase() + a.slice(1));
    b.id = "act-" + a;
    b.addEventListener("click", () => act(inc.id, a));
    box.append(b);
  }
  if (role < 2) box.append(el("span", "facts", "read-only: your role is " + state.me.role));
}

function renderExplanation(inc) {
  const ex = inc.explanation || {};
  const tb = $("#trace tbody");
  tb.replaceChildren();
  for (const t of ex.trace || []) {
    const tr = el("tr");
    tr.append(el("td", t.pass ? "pass" : "fail", t.pass ? "PASS" : "FAIL"),
      el("td", "mono", t.expr || t.condition || ""), el("td", "mono", t.actual === undefined ? "" : JSON.stringify(t.actual)));
    tb.append(tr);
  }
  if (!(ex.trace || []).length) {
    const tr = el("tr");
    const td = el("td", "facts", "no condition trace in this signal");
    td.colSpan = 3;
    tr.append(td);
    tb.append(tr);
  }
  const w = ex.window;
  let txt = "";
  if (w) {
    const secs = (w.length_ns || 0) / 1e9;
    txt = (ex.kind || "window") + ": " + w.count + (w.count >= w.threshold ? " ≥ " : " < ") + w.threshold +
      " within " + secs + " s (" + shortTime(nsTime(w.first_ns)) + " → " + shortTime(nsTime(w.last_ns)) + ")";
    if (ex.baseline) txt += "; baseline mean " + ex.baseline.mean + " ± " + ex.baseline.k + "×" + ex.baseline.stddev;
    if (ex.new_value) txt += "; new value " + ex.new_value;
  }
  $("#window").textContent = txt ? "Window math: " + txt : "";
  const seq = $("#sequence");
  seq.replaceChildren();
  const steps = ex.sequence || [];
  const t0 = steps.length ? Number(steps[0].time_ns) : 0;
  for (const s of steps) {
    const li = el("li");
    li.append(el("span", "t", "+" + ((Number(s.time_ns) - t0) / 1e9).toFixed(1) + "s"),
      el("span", "mono", s.rule + ": "), document.createTextNode(s.summary || ""));
    seq.append(li);
  }
  if (!steps.length) seq.append(el("li", "facts", "not a sequence rule"));
  const ev = $("#evidence tbody");
  ev.replaceChildren();
  const items = [];
  const e = ex.evidence || {};
  for (const x of [...(e.first || []), ...(e.last || [])]) items.push([nsTime(x.time_ns), x.summary]);
  if (!items.length) for (const x of inc.evidence || []) items.push([x.time, x.summary]);
  for (const [t, s] of items) {
    const tr = el("tr");
    tr.append(el("td", "mono", shortTime(t)), el("td", "mono", typeof s === "string" ? s : JSON.stringify(s)));
    ev.append(tr);
  }
}

function renderAudit(inc) {
  const tb = $("#audit tbody");
  tb.replaceChildren(...(inc.audit || []).map((a) => {
    const tr = el("tr");
    tr.append(el("td", null, a.version), el("td", "mono", shortTime(a.at)), el("td", null, a.actor),
      el("td", null, a.action), el("td", null, a.reason), el("td", "mono", a.correlation_id || ""));
    return tr;
  }));
}

async function showIncident(id) {
  let inc;
  try {
    inc = await api("GET", "/api/v1/incidents/" + encodeURIComponent(id));
  } catch (e) {
    $("#inc-head").replaceChildren(el("p", "err", e.message));
    return;
  }
  renderHead(inc);
  renderActions(inc);
  renderExplanation(inc);
  renderAudit(inc);
}

function act(id, action) {
  const d = $("#act-dialog");
  $("#act-title").textContent = action[0].toUpperCase() + action.slice(1) + " incident";
  $("#owner-label").classList.toggle("hidden", action !== "assign");
  $("#act-reason").value = "";
  $("#act-owner").value = "";
  $("#act-err").textContent = "";
  d.onclose = async () => {
    if (d.returnValue !== "ok") return;
    const body = { reason: $("#act-reason").value.trim() };
    if (action === "assign") body.owner = $("#act-owner").value.trim();
    try {
      await api("POST", "/api/v1/incidents/" + id + "/" + action, body);
      showIncident(id);
    } catch (e) {
      $("#act-err").textContent = e.code + ": " + e.message;
      d.showModal();
    }
  };
  d.showModal();
}

/* ---- event search and volume chart -------------------------------------- */

const SYSLOG_SEV = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];
const PALETTE = ["#3b6fd8", "#d9480f", "#1a7f37", "#b08900", "#8e44ad", "#0b7285",
  "#c2255c", "#5c940d", "#495057", "#e67700"];

/* The filters of the events page as query parameters; the range ends now. */
function eventQuery() {
  const q = new URLSearchParams();
  const until = Date.now();
  q.set("since", new Date(until - Number($("#ev-range").value) * 1000).toISOString());
  q.set("until", new Date(until + 1000).toISOString());
  for (const [id, key] of [["#ev-host", "host"], ["#ev-app", "app"], ["#ev-text", "q"]]) {
    const v = $(id).value.trim();
    if (v) q.set(key, v);
  }
  for (const f of $("#ev-field").value.trim().split(/\s+/)) if (f) q.append("field", f);
  return q;
}

function fieldsText(f) {
  if (!f) return "";
  return Object.entries(f).map(([k, v]) => k + "=" + v).join(" ");
}

function eventRow(item) {
  const e = item.event || {};
  const tr = el("tr");
  tr.append(el("td", "mono", new Date(item.time_ns / 1e6).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")),
    el("td", null, e.hostname || ""), el("td", null, e.appname || ""),
    el("td", null, e.severity === null || e.severity === undefined ? "" : SYSLOG_SEV[e.severity]),
    el("td", "msg", e.msg || ""), el("td", "key", fieldsText(e.fields)));
  return tr;
}

async function loadEvents(more) {
  const q = more ? state.evQuery : eventQuery();
  $("#ev-err").textContent = "";
  if (!more) {
    state.evQuery = q;
    state.evCursor = null;
    loadCounts(q).catch((e) => { $("#ev-err").textContent = e.message; });
  }
  const p = new URLSearchParams(q);
  p.set("limit", "100");
  if (more && state.evCursor) p.set("cursor", state.evCursor);
  let page;
  try {
    page = await api("GET", "/api/v1/events?" + p.toString());
  } catch (e) {
    $("#ev-err").textContent = e.message;
    return;
  }
  const tb = $("#events tbody");
  const rows = page.events.map(eventRow);
  if (more) tb.append(...rows); else tb.replaceChildren(...rows);
  state.evCursor = page.next_cursor;
  $("#ev-more").classList.toggle("hidden", !page.next_cursor);
}

async function loadCounts(q) {
  const p = new URLSearchParams(q);
  const g = $("#ev-group").value;
  if (g) p.set("group_by", g);
  p.set("bucket", Math.max(1, Math.ceil(Number($("#ev-range").value) / 60)) + "s");
  const c = await api("GET", "/api/v1/events/counts?" + p.toString());
  drawVolume(c);
}

/* Stacked bars, one colour per group (biggest first), from
 * /api/v1/events/counts. */
function drawVolume(c) {
  const cv = $("#ev-chart");
  cv.width = cv.clientWidth || 1200;
  const ctx = cv.getContext("2d");
  const W = cv.width, H = cv.height, n = c.buckets.length;
  ctx.clearRect(0, 0, W, H);
  const sums = c.buckets.map((_, i) => c.series.reduce((a, s) => a + s.counts[i], 0));
  const max = Math.max(1, ...sums);
  const bw = W / Math.max(1, n);
  c.series.forEach((s, k) => {
    ctx.fillStyle = PALETTE[k % PALETTE.length];
    s.counts.forEach((v, i) => {
      if (!v) return;
      const below = c.series.slice(0, k).reduce((a, t) => a + t.counts[i], 0);
      const y0 = H - 14 - (below / max) * (H - 20), h = (v / max) * (H - 20);
      ctx.fillRect(i * bw + 1, y0 - h, Math.max(1, bw - 2), h);
    });
  });
  ctx.fillStyle = "#667";
  ctx.font = "11px sans-serif";
  ctx.fillText("max " + max + " / " + Math.round(c.bucket_ns / 1e9) + " s", 4, 11);
  ctx.fillText(new Date(c.since / 1e6).toISOString().slice(11, 16) + "Z", 4, H - 2);
  ctx.fillText(new Date(c.until / 1e6).toISOString().slice(11, 16) + "Z", W - 40, H - 2);
  cv.dataset.total = String(c.total);
  const legend = c.series.map((s, k) => {
    const span = el("span", null);
    const sw = el("i");
    sw.style.background = PALETTE[k % PALETTE.length];
    let name = s.key === null ? "(none)" : s.key;
    if (c.group_by === "severity" && s.key !== null) name = SYSLOG_SEV[Number(s.key)] || s.key;
    if (c.group_by === null) name = "events";
    span.append(sw, document.createTextNode(name + " " + s.total));
    return span;
  });
  if (c.other) legend.push(el("span", null, "other " + c.other));
  $("#ev-legend").replaceChildren(...legend);
}

/* ---- routing ------------------------------------------------------------ */

function route() {
  const id = current(), events = location.hash === "#/events";
  $("#login").classList.toggle("hidden", !!state.me);
  $("#list-view").classList.toggle("hidden", !state.me || !!id || events);
  $("#incident-view").classList.toggle("hidden", !state.me || !id);
  $("#events-view").classList.toggle("hidden", !state.me || !events);
  if (!state.me) return;
  if (events) loadEvents(false);
  else if (id) showIncident(id);
  else loadList(false).catch((e) => setConn("off", e.message));
}

window.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = await login($("#token").value.trim());
    $("#login-err").textContent = err || "";
  });
  $("#logout").addEventListener("click", logout);
  $("#f-apply").addEventListener("click", () => loadList(false));
  $("#more").addEventListener("click", () => loadList(true));
  $("#ev-form").addEventListener("submit", (e) => { e.preventDefault(); loadEvents(false); });
  $("#ev-group").addEventListener("change", () => loadEvents(false));
  $("#ev-more").addEventListener("click", () => loadEvents(true));
  window.addEventListener("hashchange", route);
  setInterval(sampleEvents, 5000);
  sampleEvents();
  if (state.token) login(state.token).then((e) => { if (e) route(); });
  else route();
});

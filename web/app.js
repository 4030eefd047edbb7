/*
 * sentineld console, core: API calls, login, the live feed, routing, time
 * formatting, the incident list and the events page. The pages with more
 * to draw (overview, incident, rules, audit) are in views.js. No
 * framework, no build step. The token stays in sessionStorage; every API
 * call sends it as a bearer token. The live feed is read with fetch() (so
 * the token goes in a header, not the URL) and parsed as Server-Sent
 * Events; it resumes with Last-Event-ID and refetches when the server
 * reports a gap. Shapes come from the OpenAPI document the daemon serves
 * (components.schemas: Incident, Signal, ...), loaded at sign-in.
 */
"use strict";

const $ = (s) => document.querySelector(s);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
};
const link = (href, text, cls) => {
  const a = el("a", cls, text);
  a.href = href;
  return a;
};
const RANK = { viewer: 1, operator: 2, admin: 3 };
const state = { token: sessionStorage.getItem("sn_token") || "", me: null, schema: null,
  incidents: new Map(), cursor: null, lastSeq: null, feed: null,
  utc: localStorage.getItem("sn_utc") === "1", view: null, listeners: [] };

/* Enumerations from the OpenAPI document; the fallbacks are only used if
 * the document cannot be read. */
const SEVS = () => (state.schema && state.schema.Severity.enum) || ["info", "low", "medium", "high", "critical"];
const STATUSES = () => (state.schema && state.schema.Status.enum) || ["open", "acknowledged", "resolved", "suppressed"];
const describe = (schema, prop) => {
  const s = state.schema && state.schema[schema];
  return (s && s.properties && s.properties[prop] && s.properties[prop].description) || "";
};

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

/* ---- time: the browser's zone, or UTC ------------------------------------ */

const pad = (n, w) => String(n).padStart(w || 2, "0");
function fmtTime(t, withDate) {
  if (t === null || t === undefined || t === "") return "";
  const d = typeof t === "number" ? new Date(t) : new Date(t);
  if (isNaN(d)) return String(t);
  const u = state.utc;
  const Y = u ? d.getUTCFullYear() : d.getFullYear(), M = u ? d.getUTCMonth() + 1 : d.getMonth() + 1;
  const D = u ? d.getUTCDate() : d.getDate(), h = u ? d.getUTCHours() : d.getHours();
  const m = u ? d.getUTCMinutes() : d.getMinutes(), s = u ? d.getUTCSeconds() : d.getSeconds();
  const tz = u ? "Z" : "";
  const clock = pad(h) + ":" + pad(m) + ":" + pad(s) + tz;
  return withDate === false ? clock : Y + "-" + pad(M) + "-" + pad(D) + " " + clock;
}
const nsTime = (ns, withDate) => (ns ? fmtTime(Number(ns) / 1e6, withDate) : "");
function fmtDuration(ns) {
  const s = Number(ns) / 1e9;
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 120) return (Math.round(s * 10) / 10) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " days";
}
function timeCell(t) {
  const td = el("td", "mono time", fmtTime(t));
  td.title = t ? new Date(typeof t === "number" ? t : t).toISOString() : "";
  return td;
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
  try {
    const doc = await api("GET", "/api/v1/openapi.json");
    state.schema = doc.components.schemas;
    state.paths = doc.paths;
  } catch (e) { state.schema = null; state.paths = null; }
  sessionStorage.setItem("sn_token", token);
  $("#who").textContent = state.me.name + " (" + state.me.role + ")";
  $("#logout").classList.remove("hidden");
  fillFilters();
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

function fillFilters() {
  const st = $("#f-status"), sv = $("#f-severity");
  st.replaceChildren(el("option", null, "any status"), ...STATUSES().map((s) => el("option", null, s)));
  st.firstChild.value = "";
  sv.replaceChildren(el("option", null, "any severity"), ...SEVS().map((s) => el("option", null, s)));
  sv.firstChild.value = "";
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
  if (f.get("severity") && SEVS().indexOf(inc.severity) < SEVS().indexOf(f.get("severity"))) return false;
  if (f.get("rule") && inc.rule_id !== f.get("rule")) return false;
  const t = f.get("q");
  if (t && ![inc.title, inc.rule_id, JSON.stringify(inc.group_key)].some((s) => s && s.includes(t))) return false;
  return true;
}

function keyText(k) {
  if (!k || typeof k !== "object") return "";
  return Object.entries(k).map(([a, b]) => a + "=" + b).join(" ");
}

function row(inc) {
  const tr = el("tr");
  tr.dataset.id = inc.id;
  const title = el("td", "title");
  title.append(link("#/incident/" + inc.id, inc.title || inc.rule_id));
  const rule = el("td", "mono wide");
  rule.append(link("#/rules/" + encodeURIComponent(inc.rule_id), inc.rule_id));
  tr.append(el("td", "sev sev-" + inc.severity, inc.severity),
    el("td", "status", inc.status + (inc.pending_approval ? " (pending)" : "")),
    title, rule, el("td", "key", keyText(inc.group_key)), el("td", "num", inc.hit_count),
    timeCell(inc.last_seen), el("td", "wide", inc.owner || ""), el("td", "wide num", inc.version));
  return tr;
}

function renderList() {
  const tb = $("#incidents tbody");
  const rows = [...state.incidents.values()].filter(matches)
    .sort((a, b) => (b.last_seen || "").localeCompare(a.last_seen || ""));
  tb.replaceChildren(...rows.map(row));
  if (!rows.length) {
    const tr = el("tr"), td = el("td", "facts", "no incidents match");
    td.colSpan = 9;
    tr.append(td);
    tb.append(tr);
  }
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

/* Views register what they want to hear while they are shown. */
function onIncident(fn) { state.listeners.push(fn); }

/* The views that draw incidents: a gap in the feed means what they show
 * may be stale, so they are drawn again from the API. */
const FEED_VIEWS = ["overview", "incidents", "incident", "rules", "audit"];

/* "gap": the daemon could not send some changes (this console fell
 * further behind in a burst than the daemon keeps, or a resume reached
 * past what the store still has; docs/api.md). The feed goes on from
 * data.next; what it skipped is re-fetched by showing the view again. */
function onGap(data) {
  let g = {};
  try { g = JSON.parse(data); } catch (e) { /* an older daemon: reload all the same */ }
  if (typeof g.next === "number") state.lastSeq = String(g.next - 1);
  state.resyncs = (state.resyncs || 0) + 1;
  const c = $("#conn");
  c.dataset.resyncs = String(state.resyncs);
  c.title = "reloaded after a feed gap" + (g.skipped ? " (" + g.skipped + " changes skipped)" : "");
  if (FEED_VIEWS.includes(state.view)) route();
}

function onFeed(ev, data, id) {
  if (id) state.lastSeq = id;
  if (ev === "gap") { onGap(data); return; }
  if (ev !== "incident") return;
  const inc = JSON.parse(data);
  const old = state.incidents.get(inc.id);
  if (old && old.version > inc.version) return;
  state.incidents.set(inc.id, inc);
  for (const fn of state.listeners) fn(inc);
  if (state.view !== "incidents") return;
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

/* ---- events: search, volume chart, live tail --------------------------- */

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
  return Object.entries(f).map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" ");
}

function eventRow(item) {
  const e = item.event || {};
  const tr = el("tr");
  tr.dataset.t = String(item.time_ns);
  tr.append(timeCell(Number(item.time_ns) / 1e6),
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
  if (!more) state.evNewest = page.events.length ? Number(page.events[0].time_ns) : state.evNewest || 0;
  state.evCursor = page.next_cursor;
  $("#ev-more").classList.toggle("hidden", !page.next_cursor);
}

/* Live tail: every 2 s, the events newer than the newest shown go on top
 * (the same filters; the history is written by out_history in batches). */
async function tailEvents() {
  if (state.view !== "events" || !$("#ev-tail").checked) return;
  const q = eventQuery();
  if (state.evNewest) q.set("since", new Date(Math.floor(state.evNewest / 1e6)).toISOString());
  q.set("limit", "200");
  try {
    const page = await api("GET", "/api/v1/events?" + q.toString());
    const tb = $("#events tbody");
    const fresh = page.events.filter((x) => Number(x.time_ns) > state.evNewest ||
      !tb.querySelector('tr[data-t="' + x.time_ns + '"]'));
    if (fresh.length) {
      tb.prepend(...fresh.map((x) => { const r = eventRow(x); r.classList.add("flash"); return r; }));
      state.evNewest = Math.max(state.evNewest || 0, ...fresh.map((x) => Number(x.time_ns)));
      while (tb.children.length > 500) tb.lastChild.remove();
    }
  } catch (e) { $("#ev-err").textContent = e.message; }
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
  ctx.fillText(nsTime(c.since, false), 4, H - 2);
  ctx.fillText(nsTime(c.until, false), W - 60, H - 2);
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

/* "#/incident/ID" -> ["incident", "ID"]; "" and "#/" -> ["overview"]. */
function parseRoute() {
  const [h, query] = location.hash.replace(/^#\/?/, "").split("?");
  state.routeQuery = new URLSearchParams(query || "");
  if (h === "") return ["overview"];
  const [name, ...rest] = h.split("/");
  return [name, rest.map(decodeURIComponent).join("/")];
}

/* "#/incidents?status=open&severity=high" sets the list's filters. */
function applyListQuery() {
  const q = state.routeQuery;
  if (![...q.keys()].length) return;
  for (const [id, key] of [["#f-status", "status"], ["#f-severity", "severity"], ["#f-rule", "rule"], ["#f-text", "q"]])
    $(id).value = q.get(key) || "";
}

const VIEWS = {
  overview: { el: "#overview-view", show: () => window.snViews.overview() },
  incidents: { el: "#list-view", show: () => { applyListQuery(); return loadList(false).catch((e) => setConn("off", e.message)); } },
  incident: { el: "#incident-view", show: (id) => window.snViews.incident(id), needsArg: true },
  rules: { el: "#rules-view", show: (id) => window.snViews.rules(id) },
  audit: { el: "#audit-view", show: () => window.snViews.audit() },
  reports: { el: "#reports-view", show: () => window.snReports.show() },
  events: { el: "#events-view", show: () => loadEvents(false) },
};

function route() {
  const [name, arg] = parseRoute();
  const v = VIEWS[name] && (!VIEWS[name].needsArg || arg) ? VIEWS[name] : null;
  $("#login").classList.toggle("hidden", !!state.me);
  for (const m of document.querySelectorAll("main.view")) m.classList.add("hidden");
  state.listeners = [];
  if (window.snViews) window.snViews.leave();
  if (!state.me) return;
  for (const a of document.querySelectorAll("#nav a"))
    a.classList.toggle("here", a.dataset.view === name || (name === "incident" && a.dataset.view === "incidents"));
  if (!v) {
    state.view = "notfound";
    $("#nf-route").textContent = location.hash;
    $("#notfound-view").classList.remove("hidden");
    document.title = "no such page · sentineld";
    return;
  }
  state.view = name;
  document.title = name + " · sentineld";
  $(v.el).classList.remove("hidden");
  v.show(arg);
}

/* Times are re-rendered in the other zone by showing the view again. */
function setUtc(on) {
  state.utc = on;
  localStorage.setItem("sn_utc", on ? "1" : "0");
  if (state.me) route();
}

window.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = await login($("#token").value.trim());
    $("#login-err").textContent = err || "";
  });
  $("#logout").addEventListener("click", logout);
  $("#f-form").addEventListener("submit", (e) => { e.preventDefault(); loadList(false); });
  $("#more").addEventListener("click", () => loadList(true));
  $("#ev-form").addEventListener("submit", (e) => { e.preventDefault(); loadEvents(false); });
  $("#ev-group").addEventListener("change", () => loadEvents(false));
  $("#ev-more").addEventListener("click", () => loadEvents(true));
  $("#utc").checked = state.utc;
  $("#utc").addEventListener("change", (e) => setUtc(e.target.checked));
  window.addEventListener("hashchange", route);
  setInterval(tailEvents, 2000);
  if (state.token) login(state.token).then((e) => { if (e) route(); });
  else route();
});

/*
 * sentineld console, the pages with the most to draw: overview, incident,
 * rules and audit (app.js has the core, the list and the events page).
 * Each view renders from the documents the daemon serves, shaped as the
 * OpenAPI components.schemas say (Incident, Signal, ConditionTrace,
 * EvidenceItem, IncidentSummary, Rules).
 */
"use strict";

(function () {
  let timer = null;
  const later = (fn, ms) => { timer = setInterval(fn, ms); };

  /* ---- Prometheus text, the few series the overview shows ------------- */

  function parseMetrics(text) {
    const out = [];
    for (const line of text.split("\n")) {
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([0-9.eE+-]+)$/);
      if (!m) continue;
      const labels = {};
      for (const kv of (m[3] || "").matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) labels[kv[1]] = kv[2];
      out.push({ name: m[1], labels, v: Number(m[4]) });
    }
    return out;
  }

  /* ---- overview -------------------------------------------------------- */

  const ov = { prev: null };

  /* Entering the view: one refresh timer and one incident listener for
   * as long as it is shown (route() clears both), then the first draw. A
   * refresh asked for while one is in flight runs once after it, so a
   * burst of changes on a slow link never stacks requests. */
  let inflight = false, again = false;
  function refresh() {
    if (state.view !== "overview") return;
    if (inflight) { again = true; return; }
    overview().catch(() => {}).finally(() => { if (again) { again = false; refresh(); } });
  }
  function showOverview() {
    if (!timer) later(refresh, 5000);
    let pending = false;
    onIncident(() => {
      if (pending) return;
      pending = true;
      setTimeout(() => { pending = false; refresh(); }, 500);
    });
    return overview();
  }

  async function overview() {
    const t0 = performance.now();
    const view = $("#overview-view");
    delete view.dataset.ready;
    inflight = true;
    let sum, health, metrics;
    try {
      [sum, health, metrics] = await Promise.all([
        api("GET", "/api/v1/incidents/summary"),
        fetch("/health").then((r) => r.json()).catch(() => null),
        fetch("/metrics").then((r) => r.text()).catch(() => ""),
      ]);
    } finally {
      inflight = false;
    }
    const t1 = performance.now();
    renderSeverity(sum);
    renderOpened(sum.opened);
    renderTop(sum);
    renderHealth(health);
    renderMetrics(parseMetrics(metrics));
    view.dataset.ready = "1";
    /* The route-to-drawn time, and the part of it spent on the three
     * fetches (bench/console_overview.sh prints both). */
    view.dataset.ms = String(Math.round(performance.now() - t0));
    view.dataset.fetchMs = String(Math.round(t1 - t0));
  }

  function renderSeverity(sum) {
    const open = {}, status = {};
    for (const r of sum.by_severity) {
      if (r.status === "open") open[r.severity] = (open[r.severity] || 0) + r.n;
      status[r.status] = (status[r.status] || 0) + r.n;
    }
    const box = $("#ov-sev");
    box.replaceChildren(...SEVS().slice().reverse().map((s) => {
      const a = link("#/incidents?status=open&severity=" + s, "", "sevcount sev-" + s);
      a.dataset.severity = s;
      a.append(el("b", null, open[s] || 0), el("span", null, s));
      return a;
    }));
    $("#ov-status").replaceChildren(...STATUSES().map((s) => {
      const sp = el("span", null, s + " ");
      sp.append(el("b", null, status[s] || 0));
      return sp;
    }));
  }

  function renderOpened(o) {
    const c = $("#ov-opened"), g = c.getContext("2d");
    c.width = c.clientWidth || 360;
    const bins = new Array(24).fill(0);
    for (const [i, n] of o.buckets) if (i >= 0 && i < 24) bins[i] = n;
    const W = c.width, H = c.height, max = Math.max(1, ...bins), bw = W / 24;
    g.clearRect(0, 0, W, H);
    g.fillStyle = "#d9480f";
    bins.forEach((n, k) => { const h = (n / max) * (H - 16); g.fillRect(k * bw + 1, H - 12 - h, bw - 2, h); });
    g.fillStyle = "#667";
    g.font = "10px sans-serif";
    g.fillText(nsTime(o.since, false), 2, H - 1);
    g.fillText("now", W - 20, H - 1);
    g.fillText("max " + max + "/h", 2, 10);
    c.dataset.total = String(bins.reduce((a, b) => a + b, 0));
    $("#ov-opened-txt").textContent = c.dataset.total + " opened in 24 h";
  }

  function renderTop(sum) {
    $("#ov-rules").replaceChildren(...sum.top_rules.map((r) => {
      const li = el("li");
      li.append(link("#/rules/" + encodeURIComponent(r.rule_id), r.title || r.rule_id), el("span", "n", r.n));
      return li;
    }));
    $("#ov-sources").replaceChildren(...sum.top_sources.map((s) => {
      const li = el("li", "key");
      li.append(document.createTextNode(keyText(s.group_key)), el("span", "n", s.n));
      return li;
    }));
    for (const id of ["#ov-rules", "#ov-sources"])
      if (!$(id).children.length) $(id).append(el("li", "facts", "no open incidents"));
  }

  function renderHealth(h) {
    const d = (h && h.detection) || null, box = $("#ov-health");
    if (!d) { box.replaceChildren(el("p", "err", "/health did not answer")); return; }
    const p = el("p", d.degraded ? "bad" : "good", d.degraded ? "Detection degraded" : "Detection healthy");
    p.id = "ov-health-state";
    box.replaceChildren(p, facts([["keys evicted", d.keys_evicted], ["events dropped", d.events_dropped],
      ["late events", d.late_dropped]]));
    if (d.degraded) box.append(link("#/incidents?rule=detection-degraded", "detection-degraded incidents"));
  }

  function renderMetrics(ms) {
    const now = Date.now(), cur = {};
    const inputs = ms.filter((m) => m.name === "sentineld_input_records_total");
    for (const m of inputs) cur[m.labels.instance] = m.v;
    const dt = ov.prev ? (now - ov.prev.t) / 1000 : 0;
    $("#ov-inputs tbody").replaceChildren(...inputs.map((m) => {
      const tr = el("tr");
      const name = m.labels.instance;
      const rate = dt > 0 && ov.prev.v[name] !== undefined ? Math.max(0, (m.v - ov.prev.v[name]) / dt) : null;
      tr.append(el("td", null, name), el("td", "num", rate === null ? "…" : rate.toFixed(1)), el("td", "num", m.v));
      return tr;
    }));
    ov.prev = { t: now, v: cur };
    const rows = [];
    for (const m of ms) {
      const where = m.labels.instance || m.labels.output || "";
      if (m.name === "sentineld_outbox_backlog") rows.push(["output backlog", where, m.v]);
      else if (/(dropped|rejected|dead_lettered)_total$/.test(m.name) && m.v > 0)
        rows.push([m.name.replace(/^sentineld_(plugin_)?/, "").replace(/_total$/, ""), where, m.v]);
    }
    $("#ov-drops tbody").replaceChildren(...rows.map(([a, b, c]) => {
      const tr = el("tr");
      tr.append(el("td", "mono", a), el("td", null, b), el("td", "num" + (c > 0 ? " bad" : ""), c));
      return tr;
    }));
    if (!rows.length) $("#ov-drops tbody").append(el("tr", "facts", "nothing dropped"));
  }

  function facts(pairs) {
    const d = el("div", "facts");
    for (const [k, v, tip] of pairs) {
      const s = el("span", null, k + " ");
      if (tip) s.title = tip;
      if (v instanceof Node) s.append(v); else s.append(el("b", null, v));
      d.append(s);
    }
    return d;
  }

  /* ---- incident ---------------------------------------------------------- */

  let shown = null;

  /* Another incident's page must never show through while this one
   * loads: its Acknowledge button would act on the incident left. */
  function clearIncident() {
    $("#inc-head").replaceChildren(el("p", "desc", "Loading…"));
    for (const s of ["#actions", "#trace-rule", "#trace tbody", "#window", "#sequence", "#delivery tbody",
      "#evidence tbody", "#audit tbody"]) $(s).replaceChildren();
    delete $("#incident-view").dataset.version;
  }

  async function incident(id) {
    if (shown !== id) clearIncident();
    shown = id;
    onIncident((inc) => { if (inc.id === shown) loadIncident(id).catch(() => {}); });
    await loadIncident(id);
  }

  async function loadIncident(id) {
    let inc;
    try {
      inc = await api("GET", "/api/v1/incidents/" + encodeURIComponent(id));
    } catch (e) {
      $("#inc-head").replaceChildren(el("p", "err", e.message));
      for (const s of ["#trace tbody", "#evidence tbody", "#audit tbody", "#sequence", "#actions"]) $(s).replaceChildren();
      return;
    }
    if (shown !== id) return;
    renderHead(inc);
    window.snReports.reviewLinks(id);
    renderActions(inc);
    renderExplanation(inc);
    renderEvidence(inc);
    renderAudit(inc);
    renderDelivery().catch(() => {});
    $("#incident-view").dataset.version = String(inc.version);
  }

  function renderHead(inc) {
    const h = $("#inc-head");
    const t = el("h1");
    t.append(el("span", "sev sev-" + inc.severity, inc.severity + " "), document.createTextNode(inc.title || inc.rule_id));
    const rule = link("#/rules/" + encodeURIComponent(inc.rule_id), inc.rule_id, "mono");
    const D = (p) => describe("Incident", p);
    h.replaceChildren(t, facts([["status", inc.status, D("status")], ["rule", rule, D("rule_id")],
      ["key", keyText(inc.group_key), D("group_key")], ["hits", inc.hit_count, D("hit_count")],
      ["signals", inc.signal_count, D("signal_count")], ["first", fmtTime(inc.first_seen), D("first_seen")],
      ["last", fmtTime(inc.last_seen), D("last_seen")], ["owner", inc.owner || "—", D("owner")],
      ["version", inc.version, D("version")]]));
    if (inc.description) h.append(el("p", "desc", inc.description));
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
    if (inc.read_from) {
      /* Another instance's incident, read from the report source: actions
       * change this daemon's store only, where it is not (they would 404). */
      box.append(el("span", "facts", "read from " + inc.read_from +
        ": act on it in the console of the instance that holds it"));
      return;
    }
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

  const valueText = (v) => (v === null || v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

  /* One row per ConditionTrace step: groups as "all of / any of / not",
   * predicates with the value the field had, extractions with their regex. */
  function stepText(s) {
    switch (s.kind) {
    case "and": return "all of:";
    case "or": return "any of:";
    case "not": return "not:";
    case "extract": return "extract from " + s.from + " /" + s.regex + "/";
    case "skip": return s.expr + " (" + s.skipped + " not evaluated)";
    default: return s.expr || s.kind;
    }
  }

  function renderExplanation(inc) {
    const ex = inc.explanation || {};
    const tr0 = ex.trace;
    const tb = $("#trace tbody");
    tb.replaceChildren();
    $("#trace-rule").textContent = tr0 ? "condition trace of rule " + tr0.rule + " on the event that triggered it" +
      (tr0.prefilter ? " (prefilter " + tr0.prefilter + ")" : "") : "";
    for (const s of (tr0 && tr0.steps) || []) {
      const tr = el("tr");
      tr.dataset.result = s.result;
      const cond = el("td", "mono", stepText(s));
      cond.style.paddingLeft = (6 + 14 * (s.depth - 1)) + "px";
      const val = s.kind === "pred" ? (s.present === false ? "(field absent)" : valueText(s.actual)) +
        (s.field ? "  ← " + s.field + (s.extracted ? " (extracted)" : "") : "") : "";
      tr.append(el("td", s.result, s.result.toUpperCase()), cond, el("td", "mono", val));
      tb.append(tr);
    }
    if (tr0 && tr0.fields && Object.keys(tr0.fields).length) {
      const tr = el("tr", "fields");
      const td = el("td", "mono", "extracted: " + fieldsText(tr0.fields));
      td.colSpan = 3;
      tr.append(td);
      tb.append(tr);
    }
    if (!tr0) {
      const tr = el("tr"), td = el("td", "facts", ex.state === "degraded" ? "no condition trace: lost detection state, not a match"
        : "no condition trace: raised by the clock (" + (ex.kind || "unknown") + "), not by one event");
      td.colSpan = 3;
      tr.append(td);
      tb.append(tr);
    }
    $("#window").textContent = windowWords(inc, ex);
    const seq = $("#sequence");
    seq.replaceChildren();
    const steps = ex.sequence || [];
    const t0 = steps.length ? Number(steps[0].time_ns) : 0;
    for (const s of steps) {
      const li = el("li");
      li.append(el("span", "t", "+" + fmtDuration(Number(s.time_ns) - t0)),
        el("span", "mono", "step " + (s.step + 1) + " " + s.rule + " "), el("span", "t", nsTime(s.time_ns, false) + " "),
        document.createTextNode(summaryText(s.summary)));
      seq.append(li);
    }
    if (!steps.length) seq.append(el("li", "facts", ex.kind ? "not a sequence rule (" + ex.kind + ")" : "no explanation"));
  }

  /* The window math of a Signal in words, per correlation kind. */
  function windowWords(inc, ex) {
    const w = ex.window, key = keyText(inc.group_key) || "all events";
    if (ex.state === "degraded" && ex.degraded) {
      const d = ex.degraded;
      return "Rule " + ex.rule + " lost state: " + d.keys_evicted + " keys evicted and " + d.events_dropped +
        " events dropped; it holds " + d.keys + " keys of at most " + d.max_keys + ".";
    }
    if (!w) return "";
    const span = w.first_ns && w.last_ns ? " between " + nsTime(w.first_ns) + " and " + nsTime(w.last_ns) +
      " (" + fmtDuration(w.last_ns - w.first_ns) + " apart)" : "";
    const len = w.length_ns ? fmtDuration(w.length_ns) : "";
    switch (ex.kind) {
    case "threshold":
      return w.count + " matching events for " + key + " within " + len + span + ": at least " + w.threshold + " fire the rule.";
    case "distinct":
      return w.count + " distinct values for " + key + " within " + len + span + ": " + w.threshold + " fire the rule.";
    case "sequence":
      return "All " + w.count + " steps, in order, for " + key + " within " + len + span + ".";
    case "rate":
      return w.count + " events in one " + len + " bucket; " + w.threshold + " beat the baseline" +
        (ex.baseline ? " (mean " + ex.baseline.mean.toFixed(1) + ", " + ex.baseline.k + " × stddev " + ex.baseline.stddev.toFixed(1) + ")" : "") + ".";
    case "absence":
      return "No event for " + key + " for " + len + " after the last one at " + nsTime(w.last_ns) + ".";
    case "new_value":
      return "New value " + (ex.new_value || "") + " for " + key + " (" + w.count + " values known, learning period " + len + ").";
    case "match":
      return "One matching event at " + nsTime(w.last_ns) + " (the rule has no window).";
    default:
      return w.count + " of " + w.threshold + span + ".";
    }
  }

  function summaryText(s) {
    if (s === null || s === undefined) return "";
    if (typeof s === "string") return s;
    if (s.signal) return "signal " + s.signal + " (" + s.kind + " " + s.count + " of " + s.threshold + ")";
    return s.msg || JSON.stringify(s);
  }

  function renderEvidence(inc) {
    const tb = $("#evidence tbody");
    tb.replaceChildren(...(inc.evidence || []).map((x) => {
      const s = x.summary, tr = el("tr");
      const obj = s && typeof s === "object" && !s.signal;
      tr.append(timeCell(Number(x.time_ns) / 1e6), el("td", null, obj ? s.host || "" : ""),
        el("td", null, obj ? s.app || "" : x.rule || ""), el("td", "msg", summaryText(s)),
        el("td", "key", obj ? fieldsText(s.fields) : ""));
      return tr;
    }));
  }

  function renderAudit(inc) {
    const tb = $("#audit tbody");
    tb.replaceChildren(...(inc.audit || []).map((a) => {
      const tr = el("tr");
      /* A notification (escalation step) names the output it went to. */
      const what = a.action === "notify" && a.target ? a.action + " \u2192 " + a.target : a.action;
      tr.append(el("td", "num", a.version), timeCell(a.at), el("td", null, a.actor),
        el("td", null, what), el("td", null, [a.reason, a.details].filter(Boolean).join(" \u2014 ")));
      tr.title = a.correlation_id ? "correlation id " + a.correlation_id : "";
      return tr;
    }));
  }

  /* Delivery: each incident output's state, backlog, delivered and failed
   * versions (/health/ready and the outbox gauges on /metrics). */
  async function renderDelivery() {
    const [ready, text] = await Promise.all([fetch("/health/ready").then((r) => r.json()),
      fetch("/metrics").then((r) => r.text())]);
    const backlog = {};
    for (const m of parseMetrics(text)) if (m.name === "sentineld_outbox_backlog") backlog[m.labels.instance] = m.v;
    const outs = (ready.outputs || []).filter((o) => o.takes === "incidents");
    $("#delivery tbody").replaceChildren(...outs.map((o) => {
      const tr = el("tr");
      tr.append(el("td", null, o.name + " (" + o.plugin + ")"), el("td", o.state === "running" ? "good" : "bad", o.state),
        el("td", "num", backlog[o.name] === undefined ? "" : backlog[o.name]), el("td", "num", o.delivered),
        el("td", "num" + (o.failed ? " bad" : ""), o.failed));
      return tr;
    }));
    if (!outs.length) $("#delivery tbody").append(el("tr", "facts", "no incident outputs configured"));
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
        loadIncident(id);
      } catch (e) {
        $("#act-err").textContent = e.code + ": " + e.message;
        d.showModal();
      }
    };
    d.showModal();
  }

  /* ---- rules ------------------------------------------------------------ */

  /* Rules are served by the detectors themselves (plugin routes): find
   * every instance that serves GET .../rules in GET /api/v1/plugins and
   * read each one's list. */
  async function loadRules() {
    const list = await api("GET", "/api/v1/plugins");
    const urls = [];
    for (const p of list.plugins)
      for (const r of p.routes)
        if (r.method === "GET" && r.path === "/api/v1/plugins/" + p.instance + "/rules") urls.push(r.path);
    return { detectors: await Promise.all(urls.map((u) => api("GET", u))) };
  }

  async function rules(id) {
    const [doc, recent] = await Promise.all([loadRules(),
      api("GET", "/api/v1/incidents?limit=500")]);
    const last = {};
    for (const i of recent.incidents) if (!last[i.rule_id] || i.last_seen > last[i.rule_id]) last[i.rule_id] = i.last_seen;
    const all = [];
    for (const d of doc.detectors) for (const r of d.rules) all.push(Object.assign({ detector: d.detector }, r));
    const draw = () => {
      const f = $("#r-filter").value.trim();
      const shownRules = all.filter((r) => !f || r.id.includes(f) || (r.title || "").includes(f));
      $("#rules tbody").replaceChildren(...shownRules.map((r) => {
        const tr = el("tr");
        tr.dataset.rule = r.id;
        const name = el("td");
        name.append(link("#/rules/" + encodeURIComponent(r.id), r.id, "mono"), el("div", "facts", r.title || ""));
        tr.append(name, el("td", null, r.kind + (r.aggregate ? " (watcher)" : "")), el("td", "sev sev-" + r.severity, r.severity),
          el("td", "num", r.matches), el("td", "num", r.signals), timeCell(last[r.id] || ""));
        if (r.id === id) tr.classList.add("here");
        return tr;
      }));
      $("#r-count").textContent = shownRules.length + " of " + all.length + " rules loaded";
    };
    $("#r-filter").oninput = draw;
    draw();
    const det = $("#rule-detail");
    const r = id ? all.find((x) => x.id === id) : null;
    det.classList.toggle("hidden", !r);
    if (id && !r) {
      det.classList.remove("hidden");
      $("#rule-title").textContent = "No rule " + id + " is loaded";
      for (const s of ["#rule-facts", "#rule-desc", "#rule-match", "#rule-def", "#rule-samples tbody", "#rule-incidents"]) $(s).replaceChildren();
      return;
    }
    if (!r) return;
    $("#rule-title").textContent = r.title || r.id;
    $("#rule-facts").replaceChildren(facts([["id", r.id], ["kind", r.kind], ["severity", r.severity],
      ["matches", r.matches], ["signals", r.signals], ["last hit", fmtTime(last[r.id]) || "never"],
      ["file", String(r.file).split("/").pop() + ":" + r.line, r.file], ["tags", (r.tags || []).join(", ") || "—"]]));
    $("#rule-desc").textContent = r.description || "";
    $("#rule-match").textContent = r.match || "(no match expression)";
    $("#rule-def").textContent = r.definition || "(the rule file cannot be read)";
    $("#rule-samples tbody").replaceChildren(...(r.samples || []).map((x) => {
      const tr = el("tr");
      tr.append(el("td", "mono", x.expect), el("td", "mono msg", x.line));
      return tr;
    }));
    if (!(r.samples || []).length) {
      const tr = el("tr"), td = el("td", "facts", r.aggregate ? "a watcher has no matching lines to annotate"
        : "no annotated sample names this rule");
      td.colSpan = 2;
      tr.append(td);
      $("#rule-samples tbody").append(tr);
    }
    const inc = await api("GET", "/api/v1/incidents?limit=5&rule=" + encodeURIComponent(r.id));
    $("#rule-incidents").replaceChildren(...inc.incidents.map((i) => {
      const li = el("li");
      li.append(link("#/incident/" + i.id, (i.title || i.rule_id) + " " + keyText(i.group_key)),
        document.createTextNode(" · " + i.hit_count + " hits · " + fmtTime(i.last_seen)));
      return li;
    }));
    if (!inc.incidents.length) $("#rule-incidents").append(el("li", "facts", "no incident of this rule yet"));
    det.scrollIntoView();
  }

  /* ---- audit ------------------------------------------------------------ */

  async function audit() {
    const load = () => loadAudit().catch((e) => { $("#a-source").textContent = e.message; });
    $("#a-form").onsubmit = (e) => { e.preventDefault(); load(); };
    let pending = false;
    onIncident(() => {
      if (pending) return;
      pending = true;
      setTimeout(() => { pending = false; if (state.view === "audit") load(); }, 300);
    });
    await load();
  }

  /* GET /api/v1/audit (admin; every operator action, approval, token change
   * and reload). Where the daemon has no such endpoint (404) or the role
   * may not read it (403), the page falls back to the trails of the most
   * recently active incidents, and says so. */
  async function loadAudit() {
    const actor = $("#a-actor").value.trim(), range = Number($("#a-range").value);
    const since = range ? new Date(Date.now() - range * 1000).toISOString() : null;
    const q = new URLSearchParams();
    if (actor) q.set("actor", actor);
    if (since) q.set("since", since);
    q.set("limit", "500");
    let rows = null, source;
    /* The daemon's OpenAPI document says whether it has the endpoint. */
    const has = state.paths && state.paths["/api/v1/audit"] && (RANK[state.me.role] || 0) >= RANK.admin;
    try {
      if (!has) throw Object.assign(new Error("no audit endpoint"), { status: state.paths && state.paths["/api/v1/audit"] ? 403 : 404 });
      const doc = await api("GET", "/api/v1/audit?" + q);
      rows = doc.audit || [];
      source = "GET /api/v1/audit";
    } catch (e) {
      if (e.status !== 404 && e.status !== 403) throw e;
      const p = new URLSearchParams({ limit: "50" });
      if (since) p.set("since", since);
      const list = await api("GET", "/api/v1/incidents?" + p);
      const docs = await Promise.all(list.incidents.map((i) => api("GET", "/api/v1/incidents/" + i.id)));
      rows = [];
      for (const d of docs) for (const a of d.audit || []) rows.push(Object.assign({ incident_id: d.id, title: d.title }, a));
      rows = rows.filter((a) => (!actor || a.actor === actor) && (!since || a.at >= since));
      /* (trail rows: "at"; the API's: "time") */
      source = "from the trails of the " + docs.length + " most recent incidents (" +
        (e.status === 404 ? "this daemon has no GET /api/v1/audit" : "GET /api/v1/audit needs admin") + ")";
    }
    /* GET /api/v1/audit rows carry "time", "target" and "result";
     * incident trails carry "at". */
    const when = (a) => a.time || a.at;
    rows.sort((a, b) => String(when(b)).localeCompare(String(when(a))));
    $("#a-source").textContent = rows.length + " entries, " + source;
    $("#audit-all").dataset.actor = actor;
    $("#audit-all tbody").replaceChildren(...rows.map((a) => {
      const tr = el("tr");
      const inc = el("td");
      if (a.incident_id) inc.append(link("#/incident/" + a.incident_id, a.title || a.incident_id.slice(0, 8)));
      else if (a.target) inc.append(document.createTextNode(a.target));
      const what = a.action + (a.result && a.result !== "ok" ? " (" + a.result + ")" : "");
      tr.append(timeCell(when(a)), el("td", null, a.actor), el("td", a.result && a.result !== "ok" ? "bad" : null, what),
        inc, el("td", null, [a.reason, a.details].filter(Boolean).join(" — ")));
      return tr;
    }));
  }

  window.snViews = {
    overview: () => showOverview().catch((e) => setConn("off", e.message)),
    incident,
    rules: (id) => rules(id).catch((e) => setConn("off", e.message)),
    audit: () => audit().catch((e) => setConn("off", e.message)),
    leave: () => { if (timer) clearInterval(timer); timer = null; shown = null; },
  };
})();

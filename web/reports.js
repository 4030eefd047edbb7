/*
 * sentineld console, the Reports page (#/reports?since=&until=&group=)
 * and the incident page's "Download review" link. Renders the Report
 * document of GET /api/v1/reports (web/openapi.json, components.schemas
 * Report; definitions in docs/reports.md); the review is fetched with the
 * session's token and saved as a file, since a plain link cannot carry
 * the Authorization header.
 */
"use strict";

(function () {
  const DAY = 86400e3;

  /* "1 h 02 min", "3 min 04 s", "1.234 s" from milliseconds. */
  function ms(v) {
    if (v === null || v === undefined) return "—";
    if (v >= 3600e3) return Math.floor(v / 3600e3) + " h " + pad(Math.floor(v / 60e3) % 60) + " min";
    if (v >= 60e3) return Math.floor(v / 60e3) + " min " + pad(Math.floor(v / 1e3) % 60) + " s";
    return (v / 1e3).toFixed(3) + " s";
  }

  /* <input type=date> value "YYYY-MM-DD" <-> the query's RFC 3339 (UTC days). */
  const dateOf = (t) => new Date(t).toISOString().slice(0, 10);
  const rfc = (d) => d + "T00:00:00Z";

  function fillForm() {
    const q = state.routeQuery, now = Date.now();
    $("#rp-since").value = q.get("since") ? q.get("since").slice(0, 10) : dateOf(now - 29 * DAY);
    $("#rp-until").value = q.get("until") ? dateOf(Date.parse(q.get("until")) - DAY) : dateOf(now);
    $("#rp-group").value = q.get("group") || "day";
  }

  /* The form's period: whole UTC days, the last one included. */
  function query() {
    const until = new Date(Date.parse(rfc($("#rp-until").value)) + DAY).toISOString().replace(".000", "");
    return "since=" + encodeURIComponent(rfc($("#rp-since").value)) + "&until=" + encodeURIComponent(until) +
      "&group=" + $("#rp-group").value;
  }

  async function show() {
    const view = $("#reports-view");
    delete view.dataset.ready;
    fillForm();
    $("#rp-err").textContent = "";
    let r;
    try {
      r = await api("GET", "/api/v1/reports?" + (location.hash.split("?")[1] || query()));
    } catch (e) {
      $("#rp-err").textContent = e.message;
      view.dataset.ready = "error";
      return;
    }
    render(r);
    view.dataset.ready = "1";
  }

  function statsRow(name, s) {
    const tr = el("tr");
    tr.append(el("td", null, name === null ? "(unassigned)" : name), el("td", "num", s.n),
      el("td", "num", ms(s.median_ms)), el("td", "num", ms(s.p90_ms)));
    return tr;
  }

  /* One table per dimension of time to acknowledge and to resolve. */
  function durations(box, block, label) {
    const parts = [];
    for (const [dim, title] of [["by_severity", "severity"], ["by_rule", "rule"], ["by_owner", "owner"]]) {
      const t = el("table", "grid");
      t.dataset.dim = dim;
      const head = el("tr");
      for (const h of [title, "n", "median", "p90"]) head.append(el("th", null, h));
      const thead = el("thead"), tbody = el("tbody");
      thead.append(head);
      tbody.append(statsRow("all", block.overall));
      for (const g of block[dim]) tbody.append(statsRow(g.key, g));
      t.append(thead, tbody);
      const wrap = el("div", "scroll");
      wrap.append(t);
      parts.push(wrap);
    }
    const h = el("h2", null, label);
    box.replaceChildren(h, ...parts);
  }

  function render(r) {
    const t = r.totals, pct = (x) => (x * 100).toFixed(1) + " %";
    $("#rp-totals").replaceChildren(...[["incidents", t.incidents], ["acknowledged", t.acknowledged],
      ["resolved", t.resolved], ["auto-resolved", t.auto_resolved + " (" + pct(t.auto_resolved_share) + " of resolved)"],
      ["suppressed", t.suppressed + " (" + pct(t.suppressed_share) + ")"]].map(([k, v]) => {
      const s = el("span", null, k + " ");
      s.dataset.k = k;
      s.append(el("b", null, v));
      return s;
    }));
    $("#rp-period").textContent = fmtTime(r.since, true) + " – " + fmtTime(r.until, true) + ", per " + r.group;
    durations($("#rp-tta"), r.time_to_acknowledge, "Time to acknowledge");
    durations($("#rp-ttr"), r.time_to_resolve, "Time to resolve");
    const vb = $("#rp-volume tbody");
    vb.replaceChildren(...r.volume.map((v) => {
      const tr = el("tr"), rule = el("td");
      rule.append(link("#/rules/" + encodeURIComponent(v.rule_id), v.rule_id, "mono"));
      tr.append(el("td", null, v.bucket), rule, el("td", "sev sev-" + v.severity, v.severity), el("td", "num", v.n));
      return tr;
    }));
    if (!r.volume.length) {
      const tr = el("tr"), td = el("td", "facts", "no incidents in this period");
      td.colSpan = 4;
      tr.append(td);
      vb.append(tr);
    }
    $("#rp-sources").replaceChildren(...r.top_sources.map((s) => {
      const li = el("li", "key");
      li.append(document.createTextNode(keyText(s.group_key)), el("span", "n", s.n));
      return li;
    }));
    if (!r.top_sources.length) $("#rp-sources").append(el("li", "facts", "none"));
  }

  /* ---- the incident page's review download ------------------------------ */

  async function download(id, format) {
    const r = await fetch("/api/v1/incidents/" + encodeURIComponent(id) + "/report?format=" + format,
      { headers: { Authorization: "Bearer " + state.token } });
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    const url = URL.createObjectURL(await r.blob());
    const a = link(url, "");
    a.download = "incident-" + id + "." + format;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function reviewLinks(id) {
    const box = $("#inc-review");
    const md = link("/api/v1/incidents/" + encodeURIComponent(id) + "/report?format=md", "Download review");
    md.id = "inc-review-md";
    const js = link("/api/v1/incidents/" + encodeURIComponent(id) + "/report?format=json", "JSON");
    js.id = "inc-review-json";
    for (const [a, f] of [[md, "md"], [js, "json"]])
      a.addEventListener("click", (e) => {
        e.preventDefault();
        download(id, f).catch((err) => { $("#inc-review-err").textContent = err.message; });
      });
    box.replaceChildren(md, document.createTextNode(" · "), js, el("span", "err"));
    box.lastChild.id = "inc-review-err";
  }

  window.addEventListener("DOMContentLoaded", () => {
    $("#rp-form").addEventListener("submit", (e) => {
      e.preventDefault();
      location.hash = "#/reports?" + query();
    });
  });

  window.snReports = { show, reviewLinks };
})();

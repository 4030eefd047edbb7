#!/usr/bin/env python3
"""Recompute incident reports from a store's rows, independently of the
daemon's C code, and compare with what the daemon served (reports.sh).
Definitions are docs/reports.md's:

  opened        the incident's created_at
  acknowledged  its first successful `acknowledge` audit row
  resolved      its first successful `resolve` or `auto-resolve` row;
                auto-resolved when that row's actor is the daemon
  durations     whole milliseconds (truncated); median and p90 by nearest
                rank (the smallest value with >= p% of values at or below)

usage: report_check.py sqlite DB REPORT.json SINCE_NS UNTIL_NS day|week
       report_check.py review DB REVIEW.json INCIDENT_ID
"""
import datetime
import json
import math
import sqlite3
import sys

SEVERITIES = ["info", "low", "medium", "high", "critical"]


def rank(values, pct):
    values = sorted(values)
    return values[max(math.ceil(pct * len(values) / 100), 1) - 1]


def stats(values):
    if not values:
        return {"n": 0, "median_ms": None, "p90_ms": None}
    return {"n": len(values), "median_ms": rank(values, 50),
            "p90_ms": rank(values, 90)}


def lives_sqlite(db, since, until):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    incs = con.execute(
        "SELECT id, rule_id, severity, owner, group_key, created_at, status"
        " FROM incidents WHERE created_at >= ? AND created_at < ?",
        (since, until)).fetchall()
    audit = {}
    for iid, at, actor, action, result in con.execute(
            "SELECT incident_id, at, actor, action, result FROM audit"
            " ORDER BY seq"):
        audit.setdefault(iid, []).append((at, actor, action, result))
    out = []
    for iid, rule, sev, owner, key, created, status in incs:
        rows = [r for r in audit.get(iid, []) if r[3] == "ok"]
        ack = [r for r in rows if r[2] == "acknowledge"]
        res = [r for r in rows if r[2] in ("resolve", "auto-resolve")]
        out.append({
            "rule": rule, "severity": SEVERITIES[sev], "owner": owner,
            "source": json.loads(key), "opened": created,
            "acked": ack[0][0] if ack else None,
            "resolved": res[0][0] if res else None,
            "auto": bool(res) and res[0][1] == "sentineld",
            "suppressed": status == "suppressed"})
    return out


def bucket(ns, week):
    day = datetime.datetime.fromtimestamp(ns // 10**9,
                                          datetime.timezone.utc).date()
    if week:
        day -= datetime.timedelta(days=day.weekday())
    return day.isoformat()


def expected(lives, week):
    def ms(a, b):
        return max(a - b, 0) // 10**6

    rep = {}
    n = len(lives)
    res = [x for x in lives if x["resolved"]]
    rep["totals"] = {
        "incidents": n,
        "acknowledged": sum(1 for x in lives if x["acked"]),
        "resolved": len(res),
        "auto_resolved": sum(1 for x in lives if x["auto"]),
        "suppressed": sum(1 for x in lives if x["suppressed"]),
    }
    rep["totals"]["auto_resolved_share"] = round(
        rep["totals"]["auto_resolved"] / len(res), 4) if res else 0
    rep["totals"]["suppressed_share"] = round(
        rep["totals"]["suppressed"] / n, 4) if n else 0
    for name, field in (("time_to_acknowledge", "acked"),
                        ("time_to_resolve", "resolved")):
        done = [x for x in lives if x[field]]
        block = {"overall": stats([ms(x[field], x["opened"]) for x in done])}
        for dim, key in (("by_severity", "severity"), ("by_rule", "rule"),
                         ("by_owner", "owner")):
            groups = {}
            for x in done:
                groups.setdefault(x[key], []).append(ms(x[field], x["opened"]))
            block[dim] = sorted(
                ({"key": k, **stats(v)} for k, v in groups.items()),
                key=lambda g: (g["key"] is not None, g["key"] or ""))
        rep[name] = block
    vol = {}
    for x in lives:
        k = (bucket(x["opened"], week), x["rule"], x["severity"])
        vol[k] = vol.get(k, 0) + 1
    rep["volume"] = [{"bucket": b, "rule_id": r, "severity": s, "n": c}
                     for (b, r, s), c in sorted(vol.items())]
    src = {}
    for x in lives:
        if x["source"]:
            k = json.dumps(x["source"], sort_keys=True)
            src[k] = src.get(k, 0) + 1
    top = sorted(src.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    rep["top_sources"] = [(json.loads(k), c) for k, c in top]
    return rep


def compare_report(lives, got, week):
    want = expected(lives, week)
    assert got["group"] == ("week" if week else "day"), got["group"]
    for k, v in want["totals"].items():
        g = got["totals"][k]
        assert (abs(g - v) < 1e-4 if isinstance(v, float) else g == v), \
            (k, g, v)
    for name in ("time_to_acknowledge", "time_to_resolve"):
        assert got[name] == want[name], (name, got[name], want[name])
    assert got["volume"] == want["volume"], (got["volume"], want["volume"])
    top = [(s["group_key"], s["n"]) for s in got["top_sources"]]
    # Ties in count may order differently between text forms of a key:
    # compare counts in order and the sets of keys.
    assert [c for _, c in top] == [c for _, c in want["top_sources"]], top
    assert sorted(json.dumps(k, sort_keys=True) for k, _ in top) == sorted(
        json.dumps(k, sort_keys=True) for k, _ in want["top_sources"]), top
    assert want["totals"]["incidents"] > 0, "no incidents in the period"


def check_review(db, path, iid):
    rev = json.load(open(path))
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT at, actor, action, reason, result FROM audit"
        " WHERE incident_id = ? ORDER BY seq", (iid,)).fetchall()
    created, = con.execute("SELECT created_at FROM incidents WHERE id = ?",
                           (iid,)).fetchone()
    s = rev["summary"]
    assert rev["type"] == "review" and s["id"] == iid, s
    ok = [r for r in rows if r[4] == "ok"]
    ack = [r for r in ok if r[2] == "acknowledge"][0]
    res = [r for r in ok if r[2] in ("resolve", "auto-resolve")][0]
    assert s["acknowledged_by"] == ack[1], (s, ack)
    assert s["time_to_acknowledge_ms"] == (ack[0] - created) // 10**6, s
    assert s["resolved_by"] == res[1], (s, res)
    assert s["time_to_resolve_ms"] == (res[0] - created) // 10**6, s
    people = [(r[1], r[2], r[3], r[4]) for r in rows
              if r[1] != "sentineld" and not r[2].startswith("notif")]
    got = [(a["actor"], a["action"], a["reason"], a["result"])
           for a in rev["actions"]]
    assert got == people, (got, people)
    assert len(rev["versions"]) >= 1, rev["versions"]
    kinds = {t["kind"] for t in rev["timeline"]}
    assert {"event", "signal", "action"} <= kinds, kinds
    times = [t["at"] for t in rev["timeline"]]
    assert times == sorted(times), times
    assert rev["evidence"] and rev["explanation"]["rule"] == s["rule_id"]


def main(argv):
    if argv[1] == "review":
        check_review(argv[2], argv[3], argv[4])
        return
    since, until, week = int(argv[4]), int(argv[5]), argv[6] == "week"
    lives = lives_sqlite(argv[2], since, until)
    compare_report(lives, json.load(open(argv[3])), week)


if __name__ == "__main__":
    main(sys.argv)

#!/usr/bin/env python3
"""The two halves of parse_vs_rsyslog.sh.

send CORPUS RS_PORT SN_PORT
    Sends every message of CORPUS (messages.lp, see make_corpus.py) as one
    UDP datagram to each port, from a socket of its own: the source port
    names the message in both outputs. Prints "PORT ID" per message.

compare CORPUS PORTS RS_JSON SN_JSON DEVIATIONS
    Matches rsyslog's and sentineld's records, compares them field by
    field and prints every message that differs ("ID: message") followed
    by its differences as
        ID | FIELD | ours | rsyslog's    [listed or NOT LISTED]
    then the differences not in DEVIATIONS and the DEVIATIONS lines that
    did not occur. Exit status: 1 set for unlisted differences, 2 set for
    stale deviations.

What is compared, and how rsyslog's properties are read (so that only
parsing differences are left):
  facility, severity  syslogfacility/syslogseverity; ours null (no PRI)
                      is compared as it is
  timestamp           the UTC instant, to the microsecond (rsyslog keeps
                      no more). rsyslog substitutes the receive time when
                      it reads none: timereported == timegenerated counts
                      as "none". Compared when either side has one; the
                      year is masked ("????") on both sides when either
                      may have inferred it, so that nothing depends on
                      the day the test runs.
  hostname            rsyslog substitutes the sender's address when it
                      reads none: that counts as "none"
  app                 rsyslog's programname ("" = none) vs our appname
  procid, msgid       "-" = none
  sd                  rsyslog's structured-data string parsed per RFC
                      5424 6.3 ("-" = none) vs our sd object
  msg                 for RFC 3164 rsyslog's msg keeps the SP that
                      follows the TAG; pmrfc3164 documents it as part of
                      MSG, every consumer strips it: one leading SP is
                      removed before comparing
Values are shown as JSON, long strings cut to 60 characters plus their
length, which is also how DEVIATIONS spells them.
"""
import datetime
import json
import socket
import sys
import time

NONE = None


def read_corpus(path):
    out = []
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        mid, n = data[i:nl].decode().split(" ")
        n = int(n)
        msg = data[nl + 1:nl + 1 + n]
        assert data[nl + 1 + n:nl + 2 + n] == b"\n", mid
        out.append((mid, msg))
        i = nl + 2 + n
    return out


def send(corpus, rs_port, sn_port):
    socks = []
    for mid, msg in read_corpus(corpus):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.sendto(msg, ("127.0.0.1", rs_port))
        s.sendto(msg, ("127.0.0.1", sn_port))
        print(s.getsockname()[1], mid)
        socks.append(s)  # kept open: no port is reused by a later message
        time.sleep(0.002)
    sys.stdout.flush()


def parse_sd(s):
    """rsyslog's structured-data text -> {id: {name: value | [values]}}."""
    if s in ("", "-"):
        return NONE
    out, i = {}, 0
    try:
        while i < len(s):
            if s[i] != "[":
                return {"<unparsed>": s}
            j = i + 1
            while s[j] not in " ]":
                j += 1
            sid = s[i + 1:j]
            params = out.setdefault(sid, {})
            i = j
            while s[i] == " ":
                i += 1
                eq = s.index("=", i)
                name = s[i:eq]
                assert s[eq + 1] == '"'
                k, val = eq + 2, []
                while s[k] != '"':
                    if s[k] == "\\" and s[k + 1] in '"\\]':
                        k += 1
                    val.append(s[k])
                    k += 1
                v = "".join(val)
                if name in params:
                    if not isinstance(params[name], list):
                        params[name] = [params[name]]
                    params[name].append(v)
                else:
                    params[name] = v
                i = k + 1
            if s[i] != "]":
                return {"<unparsed>": s}
            i += 1
    except (IndexError, ValueError, AssertionError):
        return {"<unparsed>": s}
    return out


def rfc3339_us(s):
    """An RFC 3339 string -> microseconds since the epoch."""
    d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    e = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (d - e) // datetime.timedelta(microseconds=1)


def show_us(us):
    if us is NONE:
        return NONE
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def none_if(v, *nil):
    return NONE if v in nil else v


def num(v):
    return int(v) if v.isdigit() else v  # rsyslog's "invld" stays a word


def rs_fields(r):
    ts = NONE
    if r["ts"] != r["received"]:
        try:
            ts = show_us(rfc3339_us(r["ts"]))
        except ValueError:  # rsyslog wrote something that is no date
            ts = "unreadable: " + r["ts"]
    host = none_if(r["hostname"], "", r["fromhost"])
    msg = r["msg"]
    if r["version"] != "1" and msg.startswith(" "):
        msg = msg[1:]
    return {
        "facility": num(r["facility"]),
        "severity": num(r["severity"]),
        "timestamp": ts,
        "hostname": host,
        "app": none_if(r["programname"], ""),
        "procid": none_if(r["procid"], "", "-"),
        "msgid": none_if(r["msgid"], "", "-"),
        "sd": parse_sd(r["sd"]),
        "msg": msg,
    }


def sn_fields(e):
    ns = e.get("timestamp_utc_ns")
    return {
        "facility": e.get("facility"),
        "severity": e.get("severity"),
        "timestamp": show_us(ns // 1000 if ns is not None else None),
        "hostname": e.get("hostname"),
        "app": e.get("appname"),
        "procid": e.get("procid"),
        "msgid": e.get("msgid"),
        "sd": e.get("sd"),
        "msg": e.get("msg"),
    }


def inferred_year(e, r):
    """True when either side may have inferred the timestamp's year: ours
    says so in a note; rsyslog's is the year it received the message in
    (it may have been written, but it cannot be told apart)."""
    return ("year inferred" in (e.get("notes") or [])
            or (r["ts"] != r["received"] and r["ts"][:4] == r["received"][:4]))


def mask_year(ts):
    """The year of a rendered timestamp as "????": the result must not
    depend on the day the test runs."""
    if ts is None or not ts[:4].isdigit():
        return ts
    return "????" + ts[4:]


def show(v):
    if isinstance(v, str) and len(v) > 80:
        return json.dumps(v[:60], ensure_ascii=False) + "...(%d chars)" % len(v)
    t = json.dumps(v, ensure_ascii=False, sort_keys=True)
    if len(t) > 160:
        return t[:140] + "...(%d chars)" % len(t)
    return t


def load_json_lines(path):
    out = []
    with open(path, "rb") as f:
        for line in f:
            # rsyslog writes a message's bytes as they came, valid UTF-8
            # or not; ours writes U+FFFD for an invalid byte.
            out.append(json.loads(line.decode("utf-8", "replace")))
    return out


def raw_key(b):
    t = b.decode("utf-8", "replace").replace("\ufffd", "")
    return t.rstrip("\n\x00").strip()


def compare(corpus, ports, rs_json, sn_json, deviations):
    msgs = dict(read_corpus(corpus))
    order = []
    by_port = {}
    with open(ports) as f:
        for line in f:
            port, mid = line.split()
            by_port[port] = mid
            order.append(mid)
    rs, sn = {}, {}
    # rsyslog's raw message, as JSON gives it back (invalid UTF-8 made
    # U+FFFD; a trailing LF dropped on reception), names the message.
    by_raw = {}
    for mid, m in msgs.items():
        by_raw.setdefault(raw_key(m), []).append(mid)
    for r in load_json_lines(rs_json):
        mids = by_raw.get(raw_key(r["raw"].encode("utf-8", "surrogatepass")),
                          ["?" + r["raw"][:40]])
        rs[mids.pop(0) if len(mids) > 1 else mids[0]] = r
    for e in load_json_lines(sn_json):
        sn[by_port.get(e["peer"].rsplit(":", 1)[1], "?" + e["peer"])] = e
    diffs = []
    n_fields = 0
    for mid in order:
        if mid not in rs or mid not in sn:
            diffs.append((mid, "delivered", show(mid in sn), show(mid in rs)))
            continue
        a, b = sn_fields(sn[mid]), rs_fields(rs[mid])
        if inferred_year(sn[mid], rs[mid]):
            a["timestamp"] = mask_year(a["timestamp"])
            b["timestamp"] = mask_year(b["timestamp"])
        for k in a:
            n_fields += 1
            if a[k] != b[k]:
                diffs.append((mid, k, show(a[k]), show(b[k])))
    listed = {}
    with open(deviations, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split(" | ")]
            if len(parts) != 5:
                print("malformed deviation line: %s" % line)
                continue
            listed[tuple(parts[:4])] = parts[4]
    print("%d messages, %d fields compared, %d differences, %d listed deviations"
          % (len(order), n_fields, len(diffs), len(listed)))
    unlisted = []
    last = None
    for d in diffs:
        if d[0] != last:  # the message once, before its differences
            last = d[0]
            m = msgs[d[0]].decode("utf-8", "replace")
            t = json.dumps(m[:300], ensure_ascii=False)
            print("%s: %s%s" % (d[0], t, "...(%d chars)" % len(m) if len(m) > 300 else ""))
        mark = "listed" if d in listed else "NOT LISTED"
        print("    %s | %s | %s | %s    [%s]" % (d + (mark,)))
        if d not in listed:
            unlisted.append(d)
    stale = [k for k in listed if k not in set(diffs)]
    for k in stale:
        print("STALE deviation (no longer occurs): %s" % " | ".join(k))
    return (1 if unlisted else 0) | (2 if stale else 0)


def main():
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    return compare(*sys.argv[2:7])


if __name__ == "__main__":
    sys.exit(main())

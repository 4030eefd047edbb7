#!/usr/bin/env python3
"""Check the rule pack against fail2ban's own filters (issue #18's spec).

    scripts/fail2ban_coverage.py --fail2ban DIR [--sentineld BIN]
                                 [--rules DIR] [--samples DIR] [-v]

DIR is a fail2ban source tree (git clone https://github.com/fail2ban/fail2ban;
nothing is installed: its Python modules are imported from DIR). Two reports:

1. Coverage. Every sample line of conf/rules/samples/ goes through each
   fail2ban filter and mode of the spec (sshd normal/ddos/extra/aggressive,
   dropbear, pam-generic, postfix auth, dovecot normal/aggressive, vsftpd,
   proftpd); each failregex lists the samples fail2ban matches with it and
   how many of those the pack attributes to the same address. A failregex
   without a sample, or a sample the pack attributes to another address
   than fail2ban, is an error (exit status 1). Lines of rsyslog/syslog-ng
   repeat wrappers are matched by fail2ban only through their inner text
   and are counted apart.

2. Held-out recall. fail2ban's test logs (fail2ban/tests/files/logs/) are
   independent, real samples. Each line fail2ban's filter (in the union of
   the modes above) counts as a failure is a line the pack should attribute
   to that address: recall per filter, the lines missed, the lines where
   the pack names another address, and the lines fail2ban does not count
   but the pack attributes to someone (with -v).

The pack side is `sentineld test --json -r RULES` on the same lines.
"""

import argparse
import glob
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile

# (filter, label, options): the filter modes issue #18 takes as the spec.
SPEC = [
    ("sshd", "normal", {"mode": "normal"}),
    ("sshd", "ddos", {"mode": "ddos"}),
    ("sshd", "extra", {"mode": "extra"}),
    ("sshd", "aggressive", {"mode": "aggressive"}),
    ("dropbear", "", {}),
    ("pam-generic", "", {}),
    ("postfix", "auth", {"mode": "auth"}),
    ("dovecot", "normal", {"mode": "normal"}),
    ("dovecot", "aggressive", {"mode": "aggressive"}),
    ("vsftpd", "", {}),
    ("proftpd", "", {}),
]
# The pack's rules per filter whose attribution counts (per-event rules).
RULES_OF = {
    "sshd": {"ssh-auth-failure", "ssh-preauth-probe", "ssh-login-success"},
    "dropbear": {"dropbear-auth-failure"},
    "pam-generic": {"pam-auth-failure", "ssh-auth-failure", "vsftpd-auth-failure",
                    "dovecot-auth-failure", "su-auth-failure", "sudo-auth-failure"},
    "postfix": {"postfix-sasl-auth-failure", "auth-probe"},
    "dovecot": {"dovecot-auth-failure", "auth-probe"},
    "vsftpd": {"vsftpd-auth-failure"},
    "proftpd": {"proftpd-auth-failure"},
}
REPEAT = re.compile(r"message repeated \d+ times: \[|Last message '")


def load_fail2ban(root):
    sys.path.insert(0, root)
    from fail2ban.server.filter import Filter
    from fail2ban.client.filterreader import FilterReader
    from fail2ban.server.failregex import Regex  # noqa: F401 (import check)
    return Filter, FilterReader


def make_filter(Filter, FilterReader, root, name, opts):
    flt = Filter(None)
    flt.returnRawHost = True
    flt.checkAllRegex = True
    flt.checkFindTime = False
    flt.active = True
    reader = FilterReader(name, "jail", dict(opts),
                          basedir=os.path.join(root, "config"))
    reader.read()
    reader.getOptions({})
    for opt in reader.convert():
        vals = opt[3] if opt[0] == "multi-set" else [opt[3]]
        for v in vals:
            if opt[2] == "prefregex":
                flt.prefRegex = v
            elif opt[2] == "addfailregex":
                flt.addFailRegex(v)
            elif opt[2] == "addignoreregex":
                flt.addIgnoreRegex(v)
            elif opt[2] == "maxlines":
                flt.setMaxLines(v)
            elif opt[2] == "datepattern":
                flt.setDatePattern(v)
    return flt


class Fail2ban:
    """One Filter per (filter, options, logtype), built on first use."""

    def __init__(self, root):
        self.root = root
        self.Filter, self.Reader = load_fail2ban(root)
        self.cache = {}

    def filter(self, name, opts, logtype):
        key = (name, json.dumps(opts, sort_keys=True), logtype)
        if key not in self.cache:
            o = dict(opts)
            if logtype != "file":
                o["logtype"] = logtype
            self.cache[key] = make_filter(self.Filter, self.Reader, self.root,
                                          name, o)
        return self.cache[key]

    def regexes(self, name, opts):
        flt = self.filter(name, opts, "file")
        return [r.getRegex() for r in flt._Filter__failRegex]

    def match(self, name, opts, line, alone=False):
        """[(regex text, host or None if nofail)] for one log line; alone:
        without what earlier lines of the same process left (fail2ban's
        multi-line state), i.e. what the line's own text matches."""
        logtype = "rfc5424" if re.match(r"^<\d+>1 ", line) else "file"
        if logtype == "file":
            line = re.sub(r"^<\d+>", "", line)
        flt = self.filter(name, opts, logtype)
        if alone:
            flt._Filter__mlfidCache = None
        text = [r.getRegex() for r in self.filter(name, opts, "file")
                ._Filter__failRegex]
        out = []
        for failregex, fid, _t, fail in flt.processLine(line) or []:
            nofail = fid is None or fail.get("nofail")
            out.append((text[failregex], None if nofail else str(fid)))
        return out


def norm(host):
    try:
        a = ipaddress.ip_address(host.split("%")[0])
        if a.version == 6 and a.ipv4_mapped:
            a = a.ipv4_mapped
        return str(a)
    except ValueError:
        return host.lower()


def pack_results(sentineld, rules, lines):
    """{line index: (rules matched, addresses attributed)} for lines."""
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    try:
        out = subprocess.run([sentineld, "test", "--json", "-r", rules, path],
                             capture_output=True, text=True, check=False).stdout
    finally:
        os.unlink(path)
    res = {}
    for row in out.splitlines():
        o = json.loads(row)
        if "line" not in o:
            continue
        matched, addrs = set(), {}
        for m in o.get("matches", []):
            matched.add(m["rule"])
            f = m.get("fields", {})
            for k in ("source.ip", "source.domain"):
                if k in f:
                    addrs.setdefault(norm(str(f[k])), set()).add(m["rule"])
        res[o["line"] - 1] = (matched, addrs)
    return res


def sample_lines(samples):
    """[(file, line number, text)] of the annotated samples' log lines."""
    out = []
    for path in sorted(glob.glob(os.path.join(samples, "*.log"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if line and not line.startswith("#"):
                    out.append((os.path.basename(path), n, line))
    return out


def short(rx, width=100):
    rx = re.sub(r"\(\?:\\\[\?\(\?:.*?\)\\\]\?\)|\(\?:\[\\\]\?\)", "<HOST>", rx)
    return rx if len(rx) <= width else rx[: width - 3] + "..."


def coverage(f2b, args):
    lines = sample_lines(args.samples)
    ours = pack_results(args.sentineld, args.rules, [t for _, _, t in lines])
    errors = 0
    print("## Coverage: fail2ban failregexes and the pack's samples\n")
    print("| filter | mode(s) | # | failregex (start) | samples | same address |")
    print("|---|---|---|---|---|---|")
    seen = {}  # (filter, regex) -> [modes, [(file, n, host, ours ok)]]
    order = []
    for name, label, opts in SPEC:
        for rx in f2b.regexes(name, opts):
            key = (name, rx)
            if key not in seen:
                seen[key] = [[], []]
                order.append(key)
            seen[key][0].append(label or "-")
        for i, (fn, n, text) in enumerate(lines):
            if REPEAT.search(text):
                continue
            for rx, host in f2b.match(name, opts, text, alone=True):
                hits = seen[(name, rx)][1]
                if any(h[0] == fn and h[1] == n for h in hits):
                    continue
                _, addrs = ours.get(i, (set(), {}))
                ok = host is None or norm(host) in addrs
                hits.append((fn, n, host, ok, text))
    counter = {}
    for name, rx in order:
        modes, hits = seen[(name, rx)]
        counter[name] = counter.get(name, 0) + 1
        same = sum(1 for h in hits if h[2] is not None and h[3])
        withhost = sum(1 for h in hits if h[2] is not None)
        print("| %s | %s | %d | `%s` | %d | %s |" % (
            name, ",".join(modes), counter[name],
            short(rx).replace("|", "\\|"), len(hits),
            "%d/%d" % (same, withhost) if withhost else "(no address)"))
        if not hits:
            errors += 1
            print("ERROR: %s failregex %d has no sample: %s" %
                  (name, counter[name], rx), file=sys.stderr)
        for fn, n, host, ok, text in hits:
            if not ok:
                # A line fail2ban attributes to another address than the pack:
                # must be an injection sample the pack refuses (see its
                # '# expect:' line, checked by sentineld test --verify).
                print("note: %s:%d: fail2ban %s: %s, the pack: %s" % (
                    fn, n, name, host,
                    sorted(ours.get(lines.index((fn, n, text)), (0, {}))[1])
                    or "no address"), file=sys.stderr)
    print()
    print("| filter | failregexes | with a sample | sample lines fail2ban matches |")
    print("|---|---|---|---|")
    for name in counter:
        keys = [k for k in order if k[0] == name]
        lines_of = {(h[0], h[1]) for k in keys for h in seen[k][1]}
        print("| %s | %d | %d | %d |" % (
            name, len(keys), sum(1 for k in keys if seen[k][1]),
            len(lines_of)))
    print()
    return errors


def f2b_test_lines(root, name):
    path = os.path.join(root, "fail2ban", "tests", "files", "logs", name)
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line and not line.startswith("#"):
                out.append(line)
    return out


def heldout(f2b, args):
    print("## Held-out: fail2ban's test logs (fail2ban/tests/files/logs)\n")
    print("| filter | modes | lines | fail2ban failures | the pack, same "
          "address | recall | other address | pack only |")
    print("|---|---|---|---|---|---|---|---|")
    names = []
    for name, _, _ in SPEC:
        if name not in names:
            names.append(name)
    details = []
    for name in names:
        specs = [(lab, o) for n, lab, o in SPEC if n == name]
        lines = f2b_test_lines(f2b.root, name)
        ours = pack_results(args.sentineld, args.rules, lines)
        fails = same = other = extra = 0
        for i, text in enumerate(lines):
            hosts = set()
            for _, o in specs:
                for _, host in f2b.match(name, o, text):
                    if host is not None:
                        hosts.add(norm(host))
            matched, addrs = ours.get(i, (set(), {}))
            mine = {a for a, rs in addrs.items() if rs & RULES_OF[name]}
            if hosts:
                fails += 1
                if hosts & mine:
                    same += 1
                elif mine:
                    other += 1
                    details.append("%s other: fail2ban %s, pack %s: %s" % (
                        name, sorted(hosts), sorted(mine), text))
                else:
                    details.append("%s missed (%s): %s" % (
                        name, ",".join(sorted(matched)) or "no rule", text))
            elif mine:
                extra += 1
                details.append("%s pack only %s: %s" % (name, sorted(mine), text))
        print("| %s | %s | %d | %d | %d | %s | %d | %d |" % (
            name, ",".join(lab or "-" for lab, _ in specs), len(lines), fails,
            same, "%.1f%%" % (100.0 * same / fails) if fails else "-", other,
            extra))
    print()
    if args.verbose:
        for d in details:
            print("    " + d)
    else:
        for d in details:
            if " pack only " not in d:
                print("    " + d)
    print()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fail2ban", required=True, help="fail2ban source tree")
    ap.add_argument("--sentineld", default=os.path.join(top, "_build", "sentineld"))
    ap.add_argument("--rules", default=os.path.join(top, "conf", "rules"))
    ap.add_argument("--samples", default=None)
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also list the held-out lines only the pack attributes")
    args = ap.parse_args()
    if args.samples is None:
        args.samples = os.path.join(args.rules, "samples")
    f2b = Fail2ban(os.path.abspath(args.fail2ban))
    errors = coverage(f2b, args)
    heldout(f2b, args)
    if errors:
        print("%d failregex(es) without a sample" % errors, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Write messages.lp, the conformance corpus, from the list below.

Every message is what some sender puts on the wire: the RFC 5424 and
RFC 3164 examples and grammar corners (RFC 5424 sections 6 and 9, RFC 3164
section 4), and the forms real software emits (Linux syslog daemons,
logger, language libraries, network devices). They were written for this
project from those sources; none is copied from another project's tests.

messages.lp is length-prefixed so that any byte can be in a message: per
message a line "ID LEN", then LEN bytes, then one LF (not part of the
message). Rerun this script after editing the list:
    python3 tests/data/conformance/make_corpus.py
The ids are what tests/data/conformance/deviations.txt refers to: keep
them stable.
"""
import os

BOM = "\ufeff"
M = []  # (id, bytes)


def add(mid, msg):
    if isinstance(msg, str):
        msg = msg.encode("utf-8")
    assert all(mid != m[0] for m in M), mid
    M.append((mid, msg))


# Written years are never the current one: the test masks a year that
# may have been inferred (see tests/integration/conformance_compare.py),
# and rsyslog's inferred year is the current one.
TS = "2024-11-23T10:11:12Z"

# --- RFC 5424 -----------------------------------------------------------
# The examples of section 6.5.
add("5424-ex1", "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
    + BOM + "'su root' failed for lonvick on /dev/pts/8")
add("5424-ex2", "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
    "%% It's time to make the do-nuts.")
add("5424-ex3", "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
    '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] '
    + BOM + "An application event log entry...")
add("5424-ex4", "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
    '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
    '[examplePriority@32473 class="high"]')
# Every header field NILVALUE, one at a time and all together.
add("5424-nil-all", "<13>1 - - - - - -")
add("5424-nil-all-msg", "<13>1 - - - - - - hello")
add("5424-nil-ts", "<13>1 - host app 12 ID1 - msg")
add("5424-nil-host", "<13>1 " + TS + " - app 12 ID1 - msg")
add("5424-nil-app", "<13>1 " + TS + " host - 12 ID1 - msg")
add("5424-nil-procid", "<13>1 " + TS + " host app - ID1 - msg")
add("5424-nil-msgid", "<13>1 " + TS + " host app 12 - - msg")
add("5424-no-msg", "<13>1 " + TS + " host app 12 ID1 -")
add("5424-empty-msg", "<13>1 " + TS + " host app 12 ID1 - ")
add("5424-all-present", "<86>1 " + TS + " web01.example.net nginx 4242 ACCESS "
    '[req@32473 method="GET" status="200"] GET /index.html')
# Structured data: escapes (6.3.3), several elements, repeated names.
add("5424-sd-esc-quote", "<13>1 " + TS + ' host app - - [x@1 a="say \\"hi\\""] m')
add("5424-sd-esc-bracket", "<13>1 " + TS + ' host app - - [x@1 a="[1\\]"] m')
add("5424-sd-esc-backslash", "<13>1 " + TS + ' host app - - [x@1 a="C:\\\\tmp"] m')
add("5424-sd-esc-all", "<13>1 " + TS + ' host app - - [x@1 a="\\"\\]\\\\"] m')
add("5424-sd-esc-other", "<13>1 " + TS + ' host app - - [x@1 a="a\\nb"] m')
add("5424-sd-unescaped-bracket", "<13>1 " + TS + ' host app - - [x@1 a="a]b"] m')
add("5424-sd-two", "<13>1 " + TS + ' host app - - [a@1 x="1"][b@1 y="2"] m')
add("5424-sd-three", "<13>1 " + TS + ' host app - - [a@1 x="1"][b@1 y="2"][c@1] m')
add("5424-sd-no-params", "<13>1 " + TS + " host app - - [timeQuality] m")
add("5424-sd-registered", "<13>1 " + TS + ' host app - - '
    '[timeQuality tzKnown="1" isSynced="1" syncAccuracy="60000"]'
    '[origin ip="192.0.2.1" ip="192.0.2.129" enterpriseId="32473" software="x"] m')
add("5424-sd-meta", "<13>1 " + TS + ' host app - - [meta sequenceId="7" sysUpTime="100" language="en"] m')
add("5424-sd-empty-value", "<13>1 " + TS + ' host app - - [x@1 a=""] m')
add("5424-sd-utf8-value", "<13>1 " + TS + ' host app - - [x@1 user="Jürgen Ünal"] m')
add("5424-sd-no-msg", "<13>1 " + TS + ' host app - - [x@1 a="1"]')
add("5424-sd-many-params", "<13>1 " + TS + " host app - - [x@1 "
    + " ".join('p%d="%d"' % (i, i) for i in range(20)) + "] m")
add("5424-sd-32-char-id", "<13>1 " + TS + " host app - - [abcdefghijklmnopqrstuvwxyz@12345 k=\"v\"] m")
add("5424-sd-msg-bracket", "<13>1 " + TS + ' host app - - [x@1 a="1"] [not sd] text')
add("5424-sd-junos", "<14>1 2024-11-23T10:11:12.345+01:00 srx01 RT_FLOW - RT_FLOW_SESSION_CREATE "
    '[junos@2636.1.1.1.2.26 source-address="10.0.0.1" source-port="51234" '
    'destination-address="192.0.2.10" destination-port="443" service-name="junos-https"] '
    "session created 10.0.0.1/51234->192.0.2.10/443")
# BOM in MSG (6.4) and UTF-8 without it.
add("5424-bom", "<13>1 " + TS + " host app - - - " + BOM + "Grüße")
add("5424-bom-only", "<13>1 " + TS + " host app - - - " + BOM)
add("5424-utf8-no-bom", "<13>1 " + TS + " host app - - - Grüße ☃")
add("5424-invalid-utf8", b"<13>1 " + TS.encode() + b" host app - - - bad \xff\xfe bytes \xc3")
add("5424-bom-invalid-utf8", b"<13>1 " + TS.encode() + b" host app - - - \xef\xbb\xbfbad \xc0\xaf")
# Fractional seconds, 1 to 6 digits (TIME-SECFRAC) and the offsets.
for n in range(1, 7):
    add("5424-frac-%d" % n, "<13>1 2024-11-23T10:11:12.%s+02:00 host app - - - frac" % ("123456"[:n]))
add("5424-frac-7", "<13>1 2024-11-23T10:11:12.1234567Z host app - - - seven digits")
add("5424-frac-9", "<13>1 2024-11-23T10:11:12.123456789Z host app - - - nine digits")
add("5424-off-z", "<13>1 2024-11-23T10:11:12Z host app - - - z")
add("5424-off-plus", "<13>1 2024-11-23T10:11:12+05:30 host app - - - india")
add("5424-off-minus", "<13>1 2024-11-23T10:11:12-08:00 host app - - - pacific")
add("5424-off-zero", "<13>1 2024-11-23T10:11:12+00:00 host app - - - zero")
add("5424-off-minus-zero", "<13>1 2024-11-23T10:11:12-00:00 host app - - - minus zero")
add("5424-off-1400", "<13>1 2024-11-23T10:11:12+14:00 host app - - - kiribati")
add("5424-ts-day-rollover", "<13>1 2024-12-31T23:59:59.999-01:00 host app - - - new year")
add("5424-ts-leap-day", "<13>1 2024-02-29T00:00:00Z host app - - - leap day")
add("5424-ts-no-offset", "<13>1 2024-11-23T10:11:12 host app - - - no offset")
add("5424-ts-lower-t", "<13>1 2024-11-23t10:11:12z host app - - - lower case")
add("5424-ts-space", "<13>1 2024-11-23 10:11:12Z host app - - - space for T")
add("5424-ts-bad-month", "<13>1 2024-13-23T10:11:12Z host app - - - month 13")
add("5424-ts-bad-day", "<13>1 2024-02-30T10:11:12Z host app - - - feb 30")
add("5424-ts-hour-24", "<13>1 2024-11-23T24:00:00Z host app - - - hour 24")
add("5424-ts-leap-second", "<13>1 2016-12-31T23:59:60Z host app - - - leap second")
add("5424-ts-bsd", "<13>1 Nov 23 10:11:12 host app - - - bsd stamp in 5424")
# Field lengths (6: HOSTNAME 255, APP-NAME 48, PROCID 128, MSGID 32).
H255 = ("h" * 63 + ".") * 3 + "h" * 63
add("5424-max-host", "<13>1 " + TS + " " + H255 + " app - - - m")
add("5424-max-app", "<13>1 " + TS + " host " + "a" * 48 + " - - - m")
add("5424-max-procid", "<13>1 " + TS + " host app " + "9" * 128 + " - - m")
add("5424-max-msgid", "<13>1 " + TS + " host app - " + "M" * 32 + " - m")
add("5424-long-host", "<13>1 " + TS + " " + H255 + "x app - - - m")
add("5424-long-app", "<13>1 " + TS + " host " + "a" * 49 + " - - - m")
add("5424-long-procid", "<13>1 " + TS + " host app " + "9" * 129 + " - - m")
add("5424-long-msgid", "<13>1 " + TS + " host app - " + "M" * 33 + " - m")
add("5424-max-all", "<13>1 " + TS + " " + H255 + " " + "a" * 48 + " " + "9" * 128
    + " " + "M" * 32 + " - m")
# PRI corners.
add("5424-pri-0", "<0>1 " + TS + " host app - - - emerg kern")
add("5424-pri-191", "<191>1 " + TS + " host app - - - local7 debug")
add("5424-pri-192", "<192>1 " + TS + " host app - - - out of range")
add("5424-pri-leading-zero", "<013>1 " + TS + " host app - - - leading zero")
add("5424-pri-4-digits", "<1000>1 " + TS + " host app - - - four digits")
# Invalid variants.
add("5424-version-2", "<13>2 " + TS + " host app - - - version 2")
add("5424-version-10", "<13>10 " + TS + " host app - - - version 10")
add("5424-no-space-after-version", "<13>1" + TS + " host app - - - glued")
add("5424-double-space", "<13>1  " + TS + " host app - - - two spaces")
add("5424-missing-sd", "<13>1 " + TS + " host app 12 ID1")
add("5424-sd-unterminated", "<13>1 " + TS + ' host app - - [x@1 a="1" m')
add("5424-sd-unquoted", "<13>1 " + TS + " host app - - [x@1 a=1] m")
add("5424-sd-bad-id", "<13>1 " + TS + ' host app - - [x y@1 a="1"] m')
add("5424-sd-space-before", "<13>1 " + TS + ' host app - -  [x@1 a="1"] m')
add("5424-sd-no-space-after", "<13>1 " + TS + ' host app - - [x@1 a="1"]m')
add("5424-sd-eq-in-name", "<13>1 " + TS + ' host app - - [x@1 a=b="1"] m')
add("5424-sd-text", "<13>1 " + TS + " host app - - text where SD goes")
add("5424-truncated-header", "<13>1 " + TS + " host")
add("5424-control-in-host", b"<13>1 " + TS.encode() + b" ho\x01st app - - - ctl")
# Transport leftovers (RFC 5426/6587: a trailing LF or NUL).
add("5424-trailing-lf", "<13>1 " + TS + " host app - - - with LF\n")
add("5424-trailing-crlf", "<13>1 " + TS + " host app - - - with CRLF\r\n")
add("5424-trailing-nul", b"<13>1 " + TS.encode() + b" host app - - - with NUL\x00")
add("5424-embedded-lf", "<13>1 " + TS + " host app - - - line one\nline two")
add("5424-leading-space", " <13>1 " + TS + " host app - - - leading space")
# Real senders.
add("5424-rsyslog-fwd", "<30>1 2024-11-23T10:11:12.123456+01:00 web01 systemd 1 - -  Started Session 5.")
add("5424-logger", "<13>1 2024-11-23T10:11:12.345678+00:00 laptop alice - - "
    '[timeQuality tzKnown="1" isSynced="1" syncAccuracy="89000"] hello from logger')
add("5424-docker", "<30>1 2024-11-23T10:11:12Z dockerhost web 4711 web - GET / 200")
add("5424-docker-micro", "<30>1 2024-11-23T10:11:12.123456Z dockerhost 3f2a9c1b0e7d 4711 3f2a9c1b0e7d - up")
add("5424-syslog-ng", "<38>1 2024-11-23T10:11:12+01:00 gw sshd 912 - [meta sequenceId=\"1\"] "
    "Accepted publickey for bob from 10.1.2.3 port 50022 ssh2")
add("5424-systemd-netlog", "<30>1 2024-11-23T10:11:12.000001Z node1 systemd-logind 640 - - New session 3 of user bob.")
add("5424-app-slash", "<13>1 " + TS + " host postfix/smtpd 1234 - - connect from x")
add("5424-app-dots", "<13>1 " + TS + " host org.gnome.Shell 1234 - - dbus")
add("5424-procid-alnum", "<13>1 " + TS + " host app thread-7 - - worker")
add("5424-ipv6-host", "<13>1 " + TS + " 2001:db8::1 app - - - v6")
add("5424-long-msg", "<13>1 " + TS + " host app - - - " + "x" * 7000)

# --- RFC 3164 -----------------------------------------------------------
# The examples of section 5.4.
add("3164-ex1", "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
add("3164-ex2", "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!")
add("3164-ex3", "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.")
add("3164-ex4", "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!")
add("3164-ex5", "<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!")
# Hostname, PID and tag forms.
B = "Nov 23 10:11:12"
add("3164-host-pid", "<38>" + B + " host sshd[812]: Accepted password for bob")
add("3164-host-nopid", "<38>" + B + " host sudo: bob : TTY=pts/0 ; PWD=/home/bob ; USER=root")
add("3164-nohost-pid", "<38>" + B + " sshd[812]: Accepted password for bob")
add("3164-nohost-nopid", "<38>" + B + " sudo: bob : TTY=pts/0")
add("3164-fqdn-host", "<38>" + B + " web01.example.net sshd[812]: hi")
add("3164-ipv4-host", "<38>" + B + " 192.0.2.7 sshd[812]: hi")
add("3164-ipv6-host", "<38>" + B + " 2001:db8::7 sshd[812]: hi")
add("3164-underscore-host", "<38>" + B + " my_host sshd[812]: hi")
add("3164-upper-host", "<38>" + B + " WEB01 sshd[812]: hi")
add("3164-tag-no-colon", "<38>" + B + " host myapp message without colon")
add("3164-tag-pid-no-colon", "<38>" + B + " host myapp[77] message without colon")
add("3164-tag-colon-nospace", "<38>" + B + " host myapp:message glued")
add("3164-tag-pid-colon-nospace", "<38>" + B + " host myapp[77]:glued")
add("3164-tag-empty-pid", "<38>" + B + " host myapp[]: empty pid")
add("3164-tag-unclosed-pid", "<38>" + B + " host myapp[77: unclosed")
add("3164-tag-alpha-pid", "<38>" + B + " host myapp[abc]: alpha pid")
add("3164-tag-slash", "<22>" + B + " mail postfix/smtpd[1234]: connect from unknown[10.0.0.5]")
add("3164-tag-dots", "<30>" + B + " desk org.gnome.Shell.desktop[2345]: JS WARNING")
add("3164-tag-dash", "<30>" + B + " host systemd-logind[640]: New session 5")
add("3164-tag-paren", "<86>" + B + " host sshd(pam_unix)[4321]: session opened")
add("3164-tag-long", "<13>" + B + " host " + "t" * 40 + "[1]: long tag")
add("3164-tag-only", "<13>" + B + " host app:")
add("3164-tag-space-colon", "<13>" + B + " host app : space before colon")
add("3164-kernel", "<4>" + B + " host kernel: [12345.678901] usb 1-1: new device")
add("3164-kernel-nohost", "<4>" + B + " kernel: [    0.000000] Linux version 6.1.0")
add("3164-cron", "<78>" + B + " host CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)")
add("3164-systemd", "<30>" + B + " host systemd[1]: Started Session 7 of User bob.")
add("3164-sshd-fail", "<38>" + B + " host sshd[9]: Failed password for invalid user admin from 203.0.113.9 port 4711 ssh2")
add("3164-repeated", "<38>" + B + " host sshd[9]: message repeated 3 times: [ Failed password for root from 203.0.113.9 port 22 ssh2]")
add("3164-last-repeated", "<46>" + B + " host last message repeated 5 times")
add("3164-last-repeated-nohost", "<46>" + B + " last message repeated 2 times")
add("3164-syslogd-restart", "<46>" + B + " host syslogd: restart")
add("3164-rsyslogd", "<46>" + B + " host rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\"] start")
# Timestamps.
add("3164-day-double-space", "<13>Nov  3 10:11:12 host app: day 3")
add("3164-day-single-space", "<13>Nov 3 10:11:12 host app: day 3 one space")
add("3164-day-zero-padded", "<13>Nov 03 10:11:12 host app: day 03")
add("3164-ms", "<13>Nov 23 10:11:12.345 host app: millis")
add("3164-us", "<13>Nov 23 10:11:12.345678 host app: micros")
add("3164-year-after-day", "<13>Nov 23 2025 10:11:12 host app: year after day")
add("3164-year-after-time", "<13>Nov 23 10:11:12 2025 host app: year after time")
add("3164-year-first", "<13>2025 Nov 23 10:11:12 host app: year first")
add("3164-lower-month", "<13>nov 23 10:11:12 host app: lower month")
add("3164-upper-month", "<13>NOV 23 10:11:12 host app: upper month")
add("3164-bad-month", "<13>Foo 23 10:11:12 host app: bad month")
add("3164-bad-day", "<13>Nov 32 10:11:12 host app: day 32")
add("3164-bad-hour", "<13>Nov 23 25:11:12 host app: hour 25")
# Feb 29 of a year without one (written: an inferred year would make the
# result depend on the day the test runs).
add("3164-feb-29", "<13>Feb 29 2025 10:11:12 host app: feb 29")
add("3164-no-seconds", "<13>Nov 23 10:11 host app: no seconds")
add("3164-stamp-no-space", "<13>Nov 23 10:11:12host app: glued host")
add("3164-no-timestamp", "<13>host app: no timestamp")
add("3164-no-timestamp-tag", "<13>app[12]: no timestamp, tag only")
add("3164-python", b"<14>myapp: python SysLogHandler\x00")
add("3164-iso-z", "<13>2024-11-23T10:11:12Z host app: iso z")
add("3164-iso-frac", "<13>2024-11-23T10:11:12.123456+01:00 host app[5]: iso frac")
add("3164-iso-offset", "<13>2024-11-23T10:11:12-05:00 host app: iso offset")
add("3164-iso-no-offset", "<13>2024-11-23T10:11:12 host app: iso no offset")
add("3164-iso-ms", "<13>2024-11-23T10:11:12.123Z host app: iso ms")
add("3164-iso-go", "<30>2024-11-23T10:11:12+01:00 gohost goapp[999]: go log/syslog\n")
add("3164-zone-utc", "<13>Nov 23 10:11:12 UTC host app: zone name")
# PRI corners.
add("3164-no-pri", B + " host app: no pri")
add("3164-no-pri-text", "plain text without anything")
add("3164-pri-0", "<0>" + B + " host kernel: pri 0")
add("3164-pri-191", "<191>" + B + " host app: pri 191")
add("3164-pri-192", "<192>" + B + " host app: pri 192")
add("3164-pri-999", "<999>" + B + " host app: pri 999")
add("3164-pri-empty", "<>" + B + " host app: pri empty")
add("3164-pri-alpha", "<1a>" + B + " host app: pri alpha")
add("3164-pri-negative", "<-1>" + B + " host app: pri negative")
add("3164-pri-leading-zero", "<013>" + B + " host app: pri 013")
add("3164-pri-unclosed", "<13" + B + " host app: pri unclosed")
add("3164-pri-only", "<13>")
add("3164-pri-space", "<13> " + B + " host app: space after pri")
add("3164-leading-space", " <13>" + B + " host app: leading space")
add("3164-leading-spaces-host", "<13>" + B + "  host app: two spaces before host")
# Transport leftovers.
add("3164-trailing-lf", "<13>" + B + " host app: trailing LF\n")
add("3164-trailing-crlf", "<13>" + B + " host app: trailing CRLF\r\n")
add("3164-trailing-nul", b"<13>" + B.encode() + b" host app: trailing NUL\x00")
add("3164-trailing-lf-nul", b"<13>" + B.encode() + b" host app: LF NUL\n\x00")
add("3164-embedded-lf", "<13>" + B + " host app: one\ntwo")
add("3164-tab", "<13>" + B + " host app:\tafter tab")
add("3164-trailing-spaces", "<13>" + B + " host app: trailing spaces   ")
# Character sets.
add("3164-utf8-msg", "<13>" + B + " host app: Grüße aus Köln ☃ 日本")
add("3164-utf8-host", "<13>" + B + " hôte app: utf8 host")
add("3164-utf8-tag", "<13>" + B + " host äpp: utf8 tag")
add("3164-invalid-utf8", b"<13>" + B.encode() + b" host app: bad \xff\xfe \xc3 bytes")
add("3164-latin1", b"<13>" + B.encode() + b" host app: caf\xe9 na\xefve")
add("3164-bom", "<13>" + B + " host app: " + BOM + "bom in 3164")
add("3164-control-chars", b"<13>" + B.encode() + b" host app: bell\x07 esc\x1b[0m")
# Long lines.
add("3164-long-4k", "<13>" + B + " host app: " + "A" * 4000)
add("3164-long-8k", "<13>" + B + " host app: " + "B" * 8200)
add("3164-long-20k", "<13>" + B + " host app: " + ("C" * 99 + " ") * 200)
add("3164-long-host", "<13>" + B + " " + "h" * 300 + " app: long host")
# Network devices.
add("cisco-ios-seq", "<189>123: *Mar  1 00:00:12.345: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to up")
add("cisco-ios-host-seq", "<189>45: router1: Nov 23 10:11:12.123 UTC: %SYS-5-CONFIG_I: Configured from console by admin on vty0")
add("cisco-ios-noseq", "<189>Nov 23 10:11:12.123 UTC: %SYS-5-CONFIG_I: Configured from console")
add("cisco-ios-noseq-star", "<189>*Nov 23 10:11:12.123: %SYS-5-RESTART: System restarted")
add("cisco-ios-dot", "<189>.Nov 23 10:11:12.123: %SYS-5-CONFIG_I: unsynced after sync lost")
add("cisco-ios-year", "<189>12: Nov 23 2024 10:11:12.123 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.0.0.1(1234) -> 10.0.0.2(22), 1 packet")
add("cisco-ios-hostname", "<189>Nov 23 10:11:12 router1 %LINK-3-UPDOWN: Interface Gi0/1, changed state to down")
add("cisco-nxos", "<189>2024 Nov 23 10:11:12 nx01 %ETHPORT-5-IF_UP: Interface Ethernet1/1 is up")
add("cisco-asa-bare", "<166>%ASA-6-302013: Built outbound TCP connection 1 for outside:192.0.2.1/443 (192.0.2.1/443) to inside:10.0.0.5/51000 (203.0.113.5/51000)")
add("cisco-asa-ts", "<166>Nov 23 2024 10:11:12: %ASA-6-302014: Teardown TCP connection 1 for outside:192.0.2.1/443 to inside:10.0.0.5/51000 duration 0:00:01 bytes 1024 TCP FINs")
add("cisco-asa-ts-host", "<166>Nov 23 2024 10:11:12 asa01 : %ASA-4-106023: Deny tcp src outside:203.0.113.9/4444 dst inside:10.0.0.5/22 by access-group \"out\"")
add("cisco-asa-host-only", "<166>asa01 : %ASA-6-605005: Login permitted from 10.0.0.9/5555 to inside:10.0.0.1/ssh for user \"admin\"")
add("cisco-ftd", "<166>Nov 23 2024 10:11:12 ftd01 : %FTD-6-430003: Protocol: TCP, SrcIP: 10.0.0.5")
add("juniper-rt-flow", "<14>" + B + " srx01 RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.0.0.1/51234->192.0.2.10/443 junos-https")
add("juniper-mgd", "<190>" + B + " mx01 mgd[4321]: UI_COMMIT: User 'admin' requested 'commit' operation")
add("juniper-year", "<28>" + B + " 2024 ex01 chassisd[1234]: CHASSISD_SNMP_TRAP7: SNMP trap generated")
add("fortigate", '<189>date=2024-11-23 time=10:11:12 devname="FG100" devid="FG100E" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=10.0.0.1')
add("paloalto", "<14>" + B + " PA-VM 1,2024/11/23 10:11:12,007200001056,TRAFFIC,end,2049,2024/11/23 10:11:12,10.0.0.1,192.0.2.1")
add("pfsense-filterlog", "<134>" + B + " filterlog[1234]: 5,,,1000000103,em0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,10.0.0.1,10.0.0.2,51234,22,0,S")
add("pfsense-iso", "<134>1 2024-11-23T10:11:12.123456+00:00 pfsense.local filterlog 1234 - - 5,,,1000000103,em0,match,block,in")
add("mikrotik", "<30>" + B + " MikroTik firewall,info input: in:ether1 out:(unknown 0), src-mac 00:11:22:33:44:55, proto TCP (SYN), 10.0.0.1:5000->10.0.0.2:22, len 60")
add("mikrotik-nohost", "<30>system,info,account user admin logged in from 10.0.0.9 via ssh")
add("esxi", "<166>2024-11-23T10:11:12.123Z esxi01.lab Hostd: info hostd[2099B70] [Originator@6876 sub=Vimsvc.TaskManager] Task Created")
add("esxi-vmkernel", "<166>2024-11-23T10:11:12.456Z esxi01.lab vmkernel: cpu3:2097612)World: 12075: VC opID abc")
add("hp-procurve", "<14>" + B + " 10.0.0.20 00076 ports: port 5 is now on-line")
add("ubiquiti", "<13>" + B + " U6-Lite,e063da001122,v6.5.28 hostapd: ath0: STA 00:11:22:33:44:55 IEEE 802.11: associated")
add("windows-nxlog", "<14>" + B + " WIN-DC01 Microsoft-Windows-Security-Auditing[4]: An account was successfully logged on.")
add("windows-snare", "<14>" + B + " WIN-DC01 MSWinEventLog\t1\tSecurity\t42\tMon Nov 23 10:11:12 2024\t4624\tMicrosoft-Windows-Security-Auditing")
add("java-logback", "<11>" + B + " app01 myservice ERROR c.e.Foo - boom")
add("nginx", "<190>" + B + " web01 nginx: 10.0.0.1 - - [23/Nov/2024:10:11:12 +0000] \"GET / HTTP/1.1\" 200 612")
add("haproxy", "<134>" + B + " haproxy[1234]: 10.0.0.1:51234 [23/Nov/2024:10:11:12.123] fe be/srv1 0/0/1/2/3 200 512 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"")
add("postfix-nohost", "<22>" + B + " postfix/qmgr[812]: 4A1B2C3D: removed")
add("dhcpd", "<30>" + B + " dhcp01 dhcpd[777]: DHCPACK on 10.0.0.50 to 00:11:22:33:44:55 (laptop) via eth0")
add("audit", "<29>" + B + " host audit[1234]: AVC apparmor=\"DENIED\" operation=\"open\" profile=\"/usr/sbin/cupsd\"")
add("logger-default", "<13>" + B + " alice: hello from logger")
add("logger-rfc3164-id", "<13>" + B + " laptop alice[4242]: logger --id")
add("docker-3164", "<30>" + B + " dockerhost docker/3f2a9c1b0e7d[4711]: container line")
add("k8s-fluent", "<14>" + B + " node-1 kubelet[1234]: I1123 10:11:12.123456    1234 kubelet.go:2140] SyncLoop")

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "messages.lp"), "wb") as f:
    for mid, msg in M:
        f.write(b"%s %d\n" % (mid.encode(), len(msg)))
        f.write(msg)
        f.write(b"\n")
print("%d messages" % len(M))

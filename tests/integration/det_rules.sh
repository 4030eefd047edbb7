#!/bin/sh
# det_rules in the running daemon: events that match are annotated with
# rule.id, rule.severity and the extracted fields (the address taken from
# the last "from X port N", not the one the attacker typed as a user name);
# events that match nothing pass unchanged; a broken rule file stops
# `sentineld check` with its file:line:col.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 5

cat >"$TMP/in.log" <<'EOL'
<38>Nov 23 12:00:01 web1 sshd[123]: Failed password for invalid user admin from 1.2.3.4 port 22 from 203.0.113.7 port 4242 ssh2
<38>Nov 23 12:00:02 web1 sshd[123]: Accepted publickey for bob from 198.51.100.9 port 5555 ssh2
<78>Nov 23 12:00:03 web1 CRON[9]: (root) CMD (run-parts /etc/cron.hourly)
EOL
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: auto, keep_position: false }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/tests/data/rules/sshd.yaml ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
"$SENTINELD" run -c "$TMP/c.yaml" --oneshot 2>"$TMP/log"
check "daemon runs det_rules and exits 0" test $? -eq 0
check "the failed login is annotated with the rule and the real address" python3 -c "
import json
r=[json.loads(l) for l in open('$TMP/out.json')]
f=r[0]['fields']
assert f['rule.id']=='ssh-auth-failure' and f['rule.severity']=='low', f
assert f['source.ip']=='203.0.113.7' and f['source.port']==4242, f
assert f['user.name']=='admin from 1.2.3.4 port 22', f"
check "events that match nothing are unchanged" python3 -c "
import json
r=[json.loads(l) for l in open('$TMP/out.json')]
assert len(r)==3 and 'fields' not in r[2], r[2]"
check "rule count is logged" grep -q "rules: 4 rules loaded" "$TMP/log"

sed "s|tests/data/rules/sshd.yaml|tests/data/rules/bad-expr.yaml|" "$TMP/c.yaml" >"$TMP/bad.yaml"
"$SENTINELD" check -c "$TMP/bad.yaml" 2>"$TMP/err"
check "a bad rule file fails check with its position" grep -q "^$SRCDIR/tests/data/rules/bad-expr.yaml:9:38: error: rule \"typo-operator\"" "$TMP/err"
tap_done

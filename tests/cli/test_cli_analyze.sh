#!/usr/bin/env bash
# test_cli_analyze: flotctl metrics push and flotctl analyze against a real
# analyzer. Samples pushed for a canary and its baseline are judged by a
# spec's analysis (a pushed latency judged for non-inferiority, and an
# error ratio a command prints, checked against thresholds):
#  - a canary as fast as its baseline promotes (exit 0);
#  - a canary 50% slower rolls back (exit 1), naming the metric;
#  - a canary with too few samples to tell is inconclusive: pause (exit 4);
#  - bad command lines are usage errors (exit 2), and a spec without an
#    analysis, or a target it does not name, is an error (exit 1). The
#    strategy service reads the spec (Validate, Resolve), as for a deployment.
source "$(dirname "$0")/lib.sh"

# The analyzer's hooks directory allows echo, and nothing else.
HOOKS_DIR=$TMP/hooks-analyze
mkdir -m 0755 "$HOOKS_DIR"
ln -s /bin/echo "$HOOKS_DIR/echo"
start_daemon 21151 21152 strategy,analyzer

cat > "$TMP/judged.yaml" <<'EOF'
apiVersion: flotilla/v1
kind: Deployment
name: judged
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets:
  - {name: fast}
  - {name: slow}
  - {name: few}
strategy: {rolling: {}}
hook: {command: ./hook.sh}
analysis:
  metrics:
    - name: latency
      provider: {pushed: {metric: latency}}
      judge: {mode: noninferiority, direction: increase, margin: 0.10}
    - name: error-ratio
      provider: {command: {command: echo, args: ["0.01"]}}
      successCondition: "result < 0.05"
      failureCondition: "result >= 0.10"
EOF

# samples N CENTRE: N values around CENTRE (+-2%), deterministic.
samples () {
    python3 -c 'import sys
n, c = int (sys.argv[1]), float (sys.argv[2])
print (" ".join ("%.5f" % (c * (0.98 + 0.04 * ((i * 7919) % 101) / 100)) for i in range (n)))' "$@"
}

push () {       # TARGET ROLE N CENTRE
    ctl metrics push latency --role "$2" --target "$1" $(samples "$3" "$4")
    expect_rc 0
    [[ $OUT == "stored $3 samples of latency ($2, target $1), $3 kept" ]] \
        || fail "metrics push said: $OUT"
}

push fast baseline 40 0.100
push fast canary 40 0.100
push slow baseline 40 0.100
push slow canary 40 0.150
push few baseline 3 0.100
push few canary 3 0.100

ctl analyze -f "$TMP/judged.yaml" --target fast
expect_rc 0
expect_out "^latency +judge +successful +pass "
expect_out "^error-ratio +threshold +successful +value 0.01 "
expect_out "^score 100.00$"
expect_out "^promote: "

ctl analyze -f "$TMP/judged.yaml" --target slow
expect_rc 1
expect_out "^latency +judge +failed +high "
expect_out "^rollback: .*latency"

ctl analyze -f "$TMP/judged.yaml" --target few
expect_rc 4
expect_out "^latency +judge +inconclusive +inconclusive "
expect_out "^pause: "

ctl analyze -f "$TMP/judged.yaml" --target fast --json
expect_rc 0
python3 -c 'import json, sys
d = json.loads (sys.argv[1])
assert d["recommendation"] == "promote" and d["passed"] and d["score"] == 100, d
m = {x["name"]: x for x in d["metrics"]}
assert m["latency"]["canary_samples"] == 40 and m["latency"]["baseline_samples"] == 40, m' "$OUT" \
    || fail "analyze --json: $OUT"

# Usage errors, and what the spec lacks.
ctl metrics push latency 0.1
expect_rc 2
expect_err "needs --role canary or --role baseline"
ctl metrics push latency --role canary soon
expect_rc 2
expect_err "value 'soon' is not a finite number"
ctl analyze
expect_rc 2
ctl analyze -f "$TMP/judged.yaml" --target nowhere
expect_rc 1
expect_err "no such target in the spec"
sed '/^analysis:/,$d' "$TMP/judged.yaml" > "$TMP/plain.yaml"
ctl analyze -f "$TMP/plain.yaml"
expect_rc 1
expect_err "the spec has no analysis section"
echo "PASS test_cli_analyze"

#!/usr/bin/env bash
# test_cli_plan_checks_hooks: plan and apply ask the executors whether they
# can run the spec's hook (ValidateStep) before anything runs. With no
# executor live: a warning, and plan goes on. With two executor instances,
# exec-a claiming targets t1 and t2 and exec-b claiming none (it serves the
# others), each with its own hooks directory: a spec of six targets is
# checked once per instance, not per target (the broker's count of the
# requests each answered says so); a hook exec-b lacks makes plan and
# apply fail naming the hook, exec-b and why, and nothing runs; --no-check
# skips the check.
source "$(dirname "$0")/lib.sh"

BROKER=tcp://127.0.0.1:26320
export FLOTILLA_ENDPOINT=$BROKER
export CLI_RECORD=$TMP/record.log

start () {   # start ARGS...: a flotillad, stopped at the end
    ( cd "$TMP" && exec "$FLOTILLAD" "$@" ) 2>>"$TMP/flotillad.log" &
    bg_started "$!"
}
answers () { "$FLOTCTL" call "$1" "$2" --timeout 300 >/dev/null 2>&1; }
executors () {  # executors N: N executor instances are registered
    [[ $("$FLOTCTL" actors --json --timeout 300 2>/dev/null | python3 -c '
import json, sys
print(sum(a["service"] == "executor" for a in json.load(sys.stdin)["actors"]))') == "$1" ]]
}
# handled: "instance=handled ..." for the executor instances.
handled () {
    "$FLOTCTL" actors --json | python3 -c '
import json, sys
print(" ".join("%s=%d" % (a["instance"], a["handled"]) for a in
      sorted(json.load(sys.stdin)["actors"], key=lambda a: a["instance"])
      if a["service"] == "executor"))'
}

spec () {   # spec NAME HOOK: six targets
    cat >"$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets: [{name: t1}, {name: t2}, {name: t3}, {name: t4}, {name: t5}, {name: t6}]
strategy: {rolling: {}}
hook: {command: $2, timeout: 10s}
policy: {maxConcurrency: 6}
EOF
}
spec good record.sh
spec lacking only-a.sh

start -b "$BROKER" -e tcp://127.0.0.1:26321 -a events,strategy,coordinator \
    --store "$TMP/flotilla.db"
wait_until 10 "the coordinator" answers coordinator List

# 1. No executor live: a warning, and the plan.
ctl plan -f "$TMP/good.yaml"
expect_rc 0
expect_err "warning: no executor instance is live: the hook 'record.sh' is not checked"
expect_out "^plan of deployment good"

# 2. Two executor instances, each with its own hooks directory.
mkdir -m 0755 "$TMP/hooks-a" "$TMP/hooks-b"
cp -p "$HOOKS_DIR/record.sh" "$TMP/hooks-a/"
cp -p "$HOOKS_DIR/record.sh" "$TMP/hooks-a/only-a.sh"
cp -p "$HOOKS_DIR/record.sh" "$TMP/hooks-b/"
start --connect "$BROKER" -a executor --instance exec-a --keys t1,t2 --hooks-dir "$TMP/hooks-a"
start --connect "$BROKER" -a executor --instance exec-b --hooks-dir "$TMP/hooks-b"
wait_until 10 "two executor instances" executors 2

before=$(handled)
[[ $before == "exec-a=0 exec-b=0" ]] || fail "executors handled requests already: $before"
ctl plan -f "$TMP/good.yaml"
expect_rc 0
[[ -z $ERR ]] || fail "plan of a good hook said: $ERR"
after=$(handled)
[[ $after == "exec-a=1 exec-b=1" ]] \
    || fail "the hook was not checked once per executor instance: $before, then $after"
ctl plan -f "$TMP/good.yaml" --no-check
expect_rc 0
[[ $(handled) == "exec-a=1 exec-b=1" ]] || fail "--no-check checked the hook: $(handled)"

# 3. A hook exec-b lacks: plan and apply fail naming it, nothing runs.
ctl plan -f "$TMP/lacking.yaml"
expect_rc 1
expect_err "the hook 'only-a.sh' cannot run on executor instance exec-b \(target 't3'\): INVALID \(10\): .*only-a.sh"
expect_err "the hook 'only-a.sh' cannot run on 1 of 2 executor instances: nothing was run"
grep -q "exec-a" <<<"$ERR" && fail "plan blamed exec-a, which has the hook: $ERR"
[[ -z $OUT ]] || fail "plan printed a plan for a hook that cannot run: $OUT"
ctl apply -f "$TMP/lacking.yaml"
expect_rc 1
expect_err "the hook 'only-a.sh' cannot run on executor instance exec-b"
ctl list --json
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(len(d["deployments"]))' "$OUT" \
    || fail "apply of a hook that cannot run started a deployment: $OUT"
[[ ! -e $CLI_RECORD ]] || fail "a hook ran: $(cat "$CLI_RECORD")"

# 4. The good spec runs.
ctl apply -f "$TMP/good.yaml"
expect_rc 0
id=$(started_id)
ctl watch "$id" --timeout 10000
expect_rc 0
echo "PASS test_cli_plan_checks_hooks"

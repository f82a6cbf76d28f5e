#!/usr/bin/env bash
# test_net_security.sh - Flotilla spread across hosts, attacked from another.
#
# Builds a small network of its own: network namespaces joined by veth
# pairs on a bridge, addresses in 10.213.77.0/24 (a private range this test
# sets up and removes). The broker, the coordinator (with strategy and
# rollback), the executor (with health) and the analyzer (with events) each
# run in their own namespace with their own keys; an operator client runs in
# another, and an untrusted peer in one more. Every attack of issue 11 is
# tried from the untrusted peer and must be refused, with the refusal's
# error checked, while a legitimate operator's deployment completes and its
# events say who applied it. Needs root (CI runs as root); exits 77 (skip)
# without it. Always removes what it made.
#
# Usage: test_net_security.sh FLOTILLAD FLOTCTL

set -euo pipefail
# A command that fails outside fail () says where, before the test exits.
trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR

FLOTILLAD=${1:?usage: $0 FLOTILLAD FLOTCTL}
FLOTCTL=${2:?usage: $0 FLOTILLAD FLOTCTL}
[[ $FLOTILLAD == /* ]] || FLOTILLAD=$PWD/$FLOTILLAD
[[ $FLOTCTL == /* ]] || FLOTCTL=$PWD/$FLOTCTL
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

NET=10.213.77
TAG=fs$$
HOSTS=(broker coord exec ana op evil)
declare -A ADDR=([broker]=1 [coord]=2 [exec]=3 [ana]=4 [op]=5 [evil]=6)
BROKER=tcp://$NET.1:5555
EVENTS=tcp://$NET.4:5556
source "$HERE/lib.sh"

# flotctl HOST KEY ARGS...: flotctl in HOST with KEY ("-" for none).
ctl () {
    local host=$1 key=$2
    shift 2
    if [[ $key == - ]]; then
        on "$host" "$FLOTCTL" --endpoint "$BROKER" "$@"
    else
        on "$host" "$FLOTCTL" --endpoint "$BROKER" --cert "$TMP/$key.key" \
            --broker-cert "$TMP/keys/broker.pub" "$@"
    fi
}

# expect_refused WHAT PATTERN CMD...: CMD must fail, its stderr matching PATTERN.
expect_refused () {
    local what=$1 pattern=$2 out
    shift 2
    if out=$("$@" 2>&1); then
        fail "$what: it succeeded: $out"
    fi
    grep -Eq -- "$pattern" <<<"$out" || fail "$what: expected /$pattern/, got: $out"
    echo "refused as expected: $what"
}

# --- the network --------------------------------------------------------
net_build

# --- keys: made on the broker's host; each secret goes to its host -------
"$FLOTCTL" keys init --dir "$TMP/keys" >/dev/null
newkey coord actor --services coordinator,strategy,rollback --targets '*'
newkey exec actor --services executor,health --targets a,b
newkey ana actor --services analyzer,events
newkey alice operator
newkey vic viewer
newkey vic2 viewer
newkey vic3 viewer
newkey healthonly actor --services health
newkey execc actor --services executor --targets c
# A broker elsewhere, with its own keys: mallory is allowed there only.
"$FLOTCTL" keys init --dir "$TMP/other" >/dev/null
"$FLOTCTL" keys new mallory --role operator --dir "$TMP/other" --out "$TMP/mallory.key" >/dev/null
# A key the untrusted peer made itself, allowed nowhere.
"$FLOTCTL" keys create eve --out "$TMP/eve" >/dev/null

# --- the hosts --------------------------------------------------------------
mkdir -m 0755 "$TMP/hooks"
cat > "$TMP/hooks/deploy.sh" <<'EOF'
#!/bin/sh
echo "$FLOTILLA_DEPLOYMENT $FLOTILLA_STEP_ID $FLOTILLA_TARGET ${LD_PRELOAD:-}" >> "$HOOK_LOG"
EOF
chmod +x "$TMP/hooks/deploy.sh"
export HOOK_LOG=$TMP/hooks.out

start () {     # start HOST LOG ARGS...
    local host=$1 log=$2
    shift 2
    on "$host" env HOOK_LOG="$HOOK_LOG" "$FLOTILLAD" "$@" 2>>"$TMP/$log.log" &
    PIDS+=($!)
}
start broker broker --broker-only --bind "$BROKER" --auth-dir "$TMP/keys" --heartbeat 300
actor_args () { echo --connect "$BROKER" --cert "$TMP/$1.key" --broker-cert "$TMP/keys/broker.pub" --heartbeat 300; }
start coord coord $(actor_args coord) --actors strategy,rollback,coordinator --store "$TMP/coord.db"
start exec exec $(actor_args exec) --actors executor,health --keys a,b --hooks-dir "$TMP/hooks"
start ana ana $(actor_args ana) --actors events,analyzer --events-bind "$EVENTS" \
    --store "$TMP/ana.db"

all_registered () {
    local s
    for s in coordinator strategy rollback executor health analyzer events; do
        grep -q "\"service\": *\"$s\"" <<<"$1" || return 1
    done
}
deadline=$(( $(now_ms) + 15000 ))
until out=$(ctl op alice actors --json 2>&1) && all_registered "$out"; do
    (( $(now_ms) < deadline )) || fail "the actors did not all register: $out"
    sleep 0.2
done
echo "all actors registered across the namespaces"

# --- a legitimate deployment -------------------------------------------------
cat > "$TMP/spec.yaml" <<'EOF'
apiVersion: flotilla/v1
kind: Deployment
name: web
workload: {name: web, version: "2"}
targets: [{name: a}, {name: b, dependsOn: [a]}]
strategy: {rolling: {}}
hook: {command: deploy.sh, timeout: 10s}
EOF
on op env -C "$TMP" "$FLOTCTL" --endpoint "$BROKER" --cert "$TMP/alice.key" \
    --broker-cert "$TMP/keys/broker.pub" events --follow --json > "$TMP/alice-events.out" 2>"$TMP/alice-events.err" &
PIDS+=($!)
on op env -C "$TMP" "$FLOTCTL" --endpoint "$BROKER" --cert "$TMP/vic3.key" \
    --broker-cert "$TMP/keys/broker.pub" events --follow --json > "$TMP/vic3-events.out" 2>"$TMP/vic3-events.err" &
PIDS+=($!)
sleep 1
id=$(ctl op alice apply -f "$TMP/spec.yaml" 2>&1 | grep -Eo 'web-[0-9]+' | head -1) \
    || fail "alice could not apply"
[[ -n $id ]] || fail "apply named no deployment"
wait_for () {      # wait_for SECONDS WHAT CMD...: until CMD succeeds
    local seconds=$1 what=$2 deadline=$(( $(now_ms) + $1 * 1000 ))
    shift 2
    until "$@"; do
        (( $(now_ms) < deadline )) || fail "$what did not happen within $seconds s"
        sleep 0.1
    done
}
wait_state () {    # wait_state ID STATE
    local deadline=$(( $(now_ms) + 20000 )) state=
    until state=$(ctl op alice status "$1" --json 2>/dev/null | "$PY" -c \
              'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null) \
          && [[ $state == "$2" ]]; do
        (( $(now_ms) < deadline )) || fail "$1 is '$state', not '$2'"
        sleep 0.2
    done
}
wait_state "$id" completed
echo "alice's deployment $id completed"
# (Read whole first: grep -q leaving a pipe early would SIGPIPE flotctl,
# which pipefail counts as a failure.)
status=$(ctl op vic status "$id")
grep -q "alice" <<<"$status" || fail "status does not say alice applied $id: $status"
grep -q "\"deployment.started\"" "$TMP/alice-events.out" || fail "alice's watch saw no deployment.started"
"$PY" - "$TMP/alice-events.out" "$id" <<'PY' || fail "the events do not say alice applied $id"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
started = [e for e in events if e.get("type") == "deployment.started" and e.get("deployment") == sys.argv[2]]
assert started and all(e["data"]["by"] == "alice" for e in started), started
PY
grep -q "$id" "$TMP/vic3-events.out" || fail "viewer vic3 did not receive the events of $id"

# --- attacks from the untrusted peer ---------------------------------------
# No key at all: nothing answers, not even Ping (CURVE drops the handshake).
for cmd in ping actors list "status $id"; do
    expect_refused "no key: $cmd" "no answer" ctl evil - $cmd --timeout 1500
done
# A key of its own, allowed nowhere; a key allowed only at another broker;
# a client that pins another broker's public key.
expect_refused "own key" "no answer" \
    on evil "$FLOTCTL" --endpoint "$BROKER" --cert "$TMP/eve.key" \
        --broker-cert "$TMP/keys/broker.pub" ping --timeout 1500
expect_refused "key of another broker" "no answer" \
    on evil "$FLOTCTL" --endpoint "$BROKER" --cert "$TMP/mallory.key" \
        --broker-cert "$TMP/keys/broker.pub" ping --timeout 1500
expect_refused "pins another broker's key" "no answer" \
    on evil "$FLOTCTL" --endpoint "$BROKER" --cert "$TMP/vic.key" \
        --broker-cert "$TMP/other/broker.pub" ping --timeout 1500
# A viewer reads, and is refused anything that changes or runs.
ctl evil vic list >/dev/null || fail "viewer vic cannot list"
expect_refused "viewer aborts" "NOT_AUTHORIZED.*needs role operator" ctl evil vic abort "$id"
expect_refused "viewer applies" "NOT_AUTHORIZED.*needs role operator" \
    ctl evil vic apply -f "$TMP/spec.yaml"
expect_refused "client publishes an event" "NOT_AUTHORIZED" \
    ctl evil vic call events Publish '{"type": "deployment.completed", "deployment": "ghost-1", "message": "fake"}'
expect_refused "operator publishes an event" "NOT_AUTHORIZED" \
    ctl evil alice call events Publish '{"type": "step.failed", "deployment": "ghost-1", "message": "fake"}'
# A direct ExecuteStep, even from an operator: only the coordinator and the
# rollback controller may ask for a step.
expect_refused "direct ExecuteStep" "NOT_AUTHORIZED" \
    ctl evil alice call executor ExecuteStep '{"deployment": "x-1", "step_id": "s", "type": "deploy", "target": "a", "version": "1", "hook": {"command": "/bin/sh", "args": ["-c", "touch /tmp/pwned"], "timeout_ms": 1000}}' --key a
# Commands from the wire are not run: a hook by path, an environment that
# changes how programs load, a command probe or provider outside the host's
# hooks directory.
sed 's|command: deploy.sh|command: /bin/sh, args: [-c, "touch '"$TMP"'/pwned"]|' "$TMP/spec.yaml" > "$TMP/bad-hook.yaml"
expect_refused "hook by absolute path" "is an absolute path" ctl evil alice apply -f "$TMP/bad-hook.yaml"
sed 's|command: deploy.sh|command: ../hooks/deploy.sh|' "$TMP/spec.yaml" > "$TMP/up-hook.yaml"
expect_refused "hook outside the hooks directory" "leaves the hooks directory|\.\." ctl evil alice apply -f "$TMP/up-hook.yaml"
sed 's|command: deploy.sh,|command: deploy.sh, env: {LD_PRELOAD: /tmp/evil.so},|' "$TMP/spec.yaml" > "$TMP/preload.yaml"
expect_refused "LD_PRELOAD in a step's environment" "LD_PRELOAD" \
    ctl evil alice apply -f "$TMP/preload.yaml"
expect_refused "health command probe by path" "INVALID" \
    ctl evil alice call health Check '{"check": {"name": "x", "command": {"command": "/bin/sh", "args": ["-c", "touch /tmp/pwned"]}}, "context": {"target": "a"}}' --key a
expect_refused "analyzer command provider by path" "INVALID" \
    ctl evil alice call analyzer Query '{"provider": {"command": {"command": "/bin/sh", "args": ["-c", "touch /tmp/pwned"]}}, "context": {"target": "a"}}'
[[ ! -e $TMP/pwned && ! -e /tmp/pwned ]] || fail "a command from the wire ran"
# Registration: a client key, a health key as executor, an executor key
# claiming another host's target, a rogue strategy and coordinator.
attack () { on evil "$PY" "$HERE/attack.py" "$BROKER" "$TMP/$1.key" "$TMP/keys/broker.pub" "${@:2}"; }
out=$(attack alice ready coordinator)
grep -q "DISCONNECT key 'alice' (operator) may not register a service" <<<"$out" \
    || fail "a client key registered: $out"
out=$(attack healthonly ready executor a)
grep -q "DISCONNECT key 'healthonly' may not serve service 'executor'" <<<"$out" \
    || fail "a health key registered as executor: $out"
out=$(attack execc ready executor a)
grep -q "DISCONNECT key 'execc' may not claim routing key 'a'" <<<"$out" \
    || fail "an executor key claimed another host's target: $out"
out=$(attack execc ready executor)
grep -q "registered" <<<"$out" || fail "execc could not register for its own target's: $out"
out=$(attack exec ready strategy canary)
grep -q "DISCONNECT key 'exec' may not serve service 'strategy'" <<<"$out" \
    || fail "a rogue strategy registered: $out"
out=$(attack exec ready coordinator)
grep -q "DISCONNECT key 'exec' may not serve service 'coordinator'" <<<"$out" \
    || fail "a rogue coordinator registered: $out"
echo "registrations refused as expected"
# The event stream: nothing for a subscriber without a key.
out=$(on evil "$PY" "$HERE/attack.py" "$EVENTS" - - subscribe-plain 3 & 
      sleep 0.5; ctl op alice apply -f "$TMP/spec.yaml" >/dev/null; wait)
[[ $out == "got 0" ]] || fail "a subscriber without a key read events: $out"
echo "refused as expected: events without a key"

# --- revocation -----------------------------------------------------------------
# A key revoked while connected is refused on its next request.
rm -f "$TMP/revoked.flag"
attack vic2 hold-and-call "$TMP/revoked.flag" coordinator List > "$TMP/vic2.out" &
held=$!
wait_for 15 "vic2's first call" grep -q "^first:" "$TMP/vic2.out"
"$FLOTCTL" keys revoke vic2 --dir "$TMP/keys" >/dev/null
touch "$TMP/revoked.flag"
wait $held
grep -q "^first: REPLY" "$TMP/vic2.out" || fail "vic2's first call failed: $(cat "$TMP/vic2.out")"
grep -q "^then: ERROR NOT_AUTHORIZED key 'vic2' was revoked" "$TMP/vic2.out" \
    || fail "a revoked key was served: $(cat "$TMP/vic2.out")"
echo "refused as expected: a key revoked while connected"
# A revoked viewer stops receiving events.
"$FLOTCTL" keys revoke vic3 --dir "$TMP/keys" >/dev/null
wait_for 15 "the events service closing its socket for vic3" \
    grep -Eq "keys? ('[a-z0-9]+', )*'vic3'.* no longer allowed: the event socket binds again" "$TMP/ana.log"
id2=$(ctl op alice apply -f "$TMP/spec.yaml" 2>&1 | grep -Eo 'web-[0-9]+' | head -1)
wait_state "$id2" completed
wait_for 15 "alice's subscriber receiving $id2" grep -q "$id2" "$TMP/alice-events.out"
if grep -q "$id2" "$TMP/vic3-events.out"; then
    fail "revoked viewer vic3 still received events of $id2"
fi
echo "refused as expected: a revoked viewer's events"

# --- all still serving ------------------------------------------------------
for pid in "${PIDS[@]:0:4}"; do
    kill -0 "$pid" 2>/dev/null || fail "a flotillad died during the attacks"
done
ctl op alice ping >/dev/null || fail "alice cannot ping after the attacks"
grep -q "refused" "$TMP/broker.log" || fail "the broker logged no refusal"
grep -q "key 'alice' (operator) calls coordinator.Execute" "$TMP/broker.log" \
    || fail "the broker did not log alice's apply"
echo "PASS"

#!/usr/bin/env bash
# test_cli_events_keys: the event stream with keys (SPEC 11.4). The embedded
# flotillad (its own keys in $FLOTILLA_HOME/local) serves its PUB socket over
# CURVE and Info gives that socket's public key; a viewer key follows the
# events with flotctl; a key the broker does not allow gets nothing; once the
# viewer is revoked it receives no more events, while the admin's follower
# goes on without a loss (what it missed while the socket bound again is
# replayed). The same with the events actor in a process of its own,
# connected to a broker-only flotillad, admitting the broker's keys through
# its own ZAP handler.
source "$(dirname "$0")/lib.sh"

export FLOTILLA_HOME=$TMP/home
unset FLOTILLA_CERT FLOTILLA_BROKER_CERT FLOTILLA_AUTH_DIR
unset FLOTILLA_CONFIG

# key_of FILE: the public key (Z85) in a key file.
key_of () {
    python3 - "$1" <<'PY'
import re, sys
print(re.search(r'public-key\s*=\s*"([^"]{40})"', open(sys.argv[1]).read()).group(1))
PY
}

# info_key: the public_key of the events service's Info ("" if none).
info_key () {
    "$FLOTCTL" "$@" call events Info --json | python3 -c '
import json, sys
print(json.load(sys.stdin).get("public_key", ""))'
}

# follow NAME ARGS...: flotctl ARGS events --follow --json into $TMP/NAME.out
# and .err, in the background; waits until it follows.
follow () {
    local name=$1
    shift
    "$FLOTCTL" "$@" events --follow --json >"$TMP/$name.out" 2>"$TMP/$name.err" &
    bg_started $!
    eval "${name}_pid=$!"
    local deadline=$(( $(now_ms) + 5000 ))
    until grep -q '^flotctl: following events' "$TMP/$name.err"; do
        (( $(now_ms) < deadline )) \
            || fail "follower $name does not follow after 5 s: $(cat "$TMP/$name.err")"
        sleep 0.05
    done
}

# 1. The embedded daemon: its PUB socket serves the broker's key.
start_daemon 21920 21921
LOCAL=$FLOTILLA_HOME/local
[[ -f $LOCAL/broker.key ]] || fail "flotillad made no keys in $LOCAL"
grep -q 'publishing events on tcp://127.0.0.1:21921 (CURVE' "$TMP/flotillad.log" \
    || fail "the event socket is not CURVE: $(grep events: "$TMP/flotillad.log")"
[[ $(info_key) == "$(key_of "$LOCAL/broker.pub")" ]] \
    || fail "Info's public_key '$(info_key)' is not the broker's $(key_of "$LOCAL/broker.pub")"

"$FLOTCTL" keys new v --role viewer --dir "$LOCAL" --out "$TMP/v.key" >/dev/null \
    || fail "keys new v failed"
# The broker takes a new key at its next look at its directory.
wait_until 10 "the broker to admit v" "$FLOTCTL" --cert "$TMP/v.key" \
    --broker-cert "$LOCAL/broker.pub" ping --timeout 300 >/dev/null 2>&1
follow viewer --cert "$TMP/v.key" --broker-cert "$LOCAL/broker.pub"
follow admin
publish d1 test.before 5
wait_until 5 "the viewer's 5 events" lines_at_least "$TMP/viewer.out" 5
wait_until 5 "the admin's 5 events" lines_at_least "$TMP/admin.out" 5

# stop_revoked PID NAME: a revoked key's follower. Once it hears from the
# broker that its key was revoked (a replay refused), it stops by itself
# with an error; until then it listens to a stream that sends it nothing,
# and stops on SIGINT.
stop_revoked () {
    if kill -0 "$1" 2>/dev/null; then
        stop_follower "$1"
        return
    fi
    local rc=0
    wait "$1" || rc=$?
    [[ $rc != 0 ]] || fail "$2's follower stopped with exit 0 when its key was revoked"
    grep -q "NOT_AUTHORIZED.*was revoked" "$TMP/$2.err" \
        || fail "$2's follower stopped without saying why: $(cat "$TMP/$2.err")"
}

# 2. A key the broker does not allow: nothing, and an error.
"$FLOTCTL" keys create x --out "$TMP/x" >/dev/null || fail "keys create x failed"
rc=0
"$FLOTCTL" --cert "$TMP/x.key" --broker-cert "$LOCAL/broker.pub" --timeout 1000 \
    events --follow --json >"$TMP/x.out" 2>"$TMP/x.err" || rc=$?
[[ $rc == 3 && ! -s $TMP/x.out ]] \
    || fail "a key not allowed: exit $rc, expected 3 (no answer) and no events: $(cat "$TMP/x.out" "$TMP/x.err")"

# 3. The viewer is revoked: the socket binds again within a second or so,
#    and the viewer gets back in no more.
"$FLOTCTL" keys revoke v --dir "$LOCAL" >/dev/null || fail "keys revoke v failed"
wait_until 10 "the event socket to bind again" \
    grep -q "key 'v' is no longer allowed: the event socket binds again" "$TMP/flotillad.log"
publish d1 test.after 5
wait_until 5 "the admin's 10 events" lines_at_least "$TMP/admin.out" 10
wait_until 5 "the viewer to be refused" grep -q "key 'v' was revoked" "$TMP/viewer.err"
sleep 1                     # anything the viewer still received would show now
check_seqs "$TMP/viewer.out" 1 5
check_seqs "$TMP/admin.out" 1 10
stop_follower "$admin_pid"
stop_revoked "$viewer_pid" viewer

# 4. The events actor in a process of its own, with its host's key, for a
#    broker-only flotillad: it admits the keys the broker's Keys lists.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
KEYS=$TMP/keys
"$FLOTCTL" keys init --dir "$KEYS" >/dev/null || fail "keys init failed"
"$FLOTCTL" keys new ev --role actor --services events --dir "$KEYS" \
    --out "$TMP/ev.key" >/dev/null || fail "keys new ev failed"
"$FLOTCTL" keys new pub --role actor --services coordinator --dir "$KEYS" \
    --out "$TMP/pub.key" >/dev/null || fail "keys new pub failed"
"$FLOTCTL" keys new op --role operator --dir "$KEYS" --out "$TMP/op.key" >/dev/null \
    || fail "keys new op failed"
"$FLOTCTL" keys new v2 --role viewer --dir "$KEYS" --out "$TMP/v2.key" >/dev/null \
    || fail "keys new v2 failed"
"$FLOTILLAD" --broker-only -b tcp://127.0.0.1:21922 --auth-dir "$KEYS" \
    2>>"$TMP/flotillad.log" &
bg_started $!
"$FLOTILLAD" --connect tcp://127.0.0.1:21922 -a events -e tcp://127.0.0.1:21923 \
    --cert "$TMP/ev.key" --broker-cert "$KEYS/broker.pub" --store "$TMP/own.db" \
    2>"$TMP/events.log" &
bg_started $!
export FLOTILLA_ENDPOINT=tcp://127.0.0.1:21922
OP=(--cert "$TMP/op.key" --broker-cert "$KEYS/broker.pub")
wait_until 5 "the events actor for the broker" info_key "${OP[@]}"
[[ $(info_key "${OP[@]}") == "$(key_of "$TMP/ev.key")" ]] \
    || fail "Info's public_key is not the events host's key $(key_of "$TMP/ev.key")"
follow viewer2 --cert "$TMP/v2.key" --broker-cert "$KEYS/broker.pub"
follow operator "${OP[@]}"
publish_as () {
    local i
    for (( i = 0; i < $1; i++ )); do
        "$FLOTCTL" --cert "$TMP/pub.key" --broker-cert "$KEYS/broker.pub" call events \
            Publish "{\"type\":\"$2\",\"deployment\":\"d2\"}" --json >/dev/null \
            || fail "publish $2 failed"
    done
}
publish_as 3 test.before
wait_until 5 "viewer2's 3 events" lines_at_least "$TMP/viewer2.out" 3
wait_until 5 "the operator's 3 events" lines_at_least "$TMP/operator.out" 3
"$FLOTCTL" keys revoke v2 --dir "$KEYS" >/dev/null || fail "keys revoke v2 failed"
wait_until 10 "the event socket to bind again" \
    grep -q "key 'v2' is no longer allowed: the event socket binds again" "$TMP/events.log"
publish_as 4 test.after
wait_until 5 "the operator's 7 events" lines_at_least "$TMP/operator.out" 7
sleep 1
check_seqs "$TMP/viewer2.out" 1 3
check_seqs "$TMP/operator.out" 1 7
stop_follower "$operator_pid"
stop_revoked "$viewer2_pid" viewer2
echo "PASS test_cli_events_keys"

#!/usr/bin/env bash
# test_cli_call_errors: flotctl call prints replies as JSON, and maps each kind
# of failure to its exit code: 1 for an error reply (with NAME (code) on
# stderr), 2 for a usage error, 3 for no answer in time (a DEADLINE error too).
source "$(dirname "$0")/lib.sh"

start_daemon 21011 21012 events,echo

ctl call echo Echo '{"x":[1,2]}'
expect_rc 0
python3 -c 'import json,sys; assert json.load(sys.stdin) == {"x": [1, 2]}' <<<"$OUT" \
    || fail "Echo did not echo: $OUT"
[[ $(wc -l <<<"$OUT") -gt 1 ]] || fail "call output is not pretty by default: $OUT"

ctl call echo Echo '{"x":[1,2],"s":"caf\u00e9","f":1.5,"n":null,"t":true}' --json
expect_rc 0
[[ $OUT == '{"x":[1,2],"s":"café","f":1.5,"n":null,"t":true}' ]] \
    || fail "call --json is not the compact echo: $OUT"

ctl call echo Echo
expect_rc 0
[[ $OUT == '{}' ]] || fail "call without JSON does not send {}: $OUT"

ctl call nosuch Anything
expect_rc 1
expect_err "^flotctl: UNKNOWN_SERVICE \(4\): .*nosuch"

ctl call echo NoSuchCommand '{}'
expect_rc 1
expect_err "^flotctl: UNKNOWN_COMMAND \(9\): .*NoSuchCommand"

ctl call events Publish '{"type":"Not A Type"}'
expect_rc 1
expect_err "^flotctl: INVALID \(10\): "

for bad in '{"x":' '[1,2]' '42' '{"a":1,"a":2}' 'nonsense'; do
    ctl call echo Echo "$bad"
    expect_rc 2
    expect_err 'JSON body'
    [[ -z $OUT ]] || fail "$LAST printed on stdout: $OUT"
done

ctl frobnicate
expect_rc 2
expect_err "unknown command 'frobnicate'"
ctl
expect_rc 2
ctl ping --no-such-option
expect_rc 2
ctl ping --key k1
expect_rc 2
expect_err -- '--key does not apply'
ctl call echo
expect_rc 2
expect_err 'usage: flotctl call SERVICE COMMAND'
ctl call 'bad service' Echo
expect_rc 2
ctl call echo Echo --timeout 0
expect_rc 2
ctl call echo Echo --key 'has space'
expect_rc 2

# The echo actor sleeps past the deadline: the broker answers DEADLINE, which
# flotctl reports as no answer in time (3), naming the endpoint and timeout.
start=$(now_ms)
ctl call echo Sleep '{"ms":3000}' --timeout 500
elapsed=$(( $(now_ms) - start ))
expect_rc 3
expect_err 'DEADLINE \(6\)'
expect_err '500 ms'
expect_err 'tcp://127\.0\.0\.1:21011'
(( elapsed < 1500 )) || fail "Sleep with --timeout 500 took $elapsed ms"

ctl call echo Sleep '{"ms":10}' --timeout 2000 --json
expect_rc 0
expect_out '"slept_ms":10'

# The broker dies while the call waits: the link drops, and flotctl says so
# at once (3, DEADLINE) instead of waiting out --timeout for an answer that
# went with the broker.
"$FLOTCTL" call echo Sleep '{"ms":15000}' --timeout 30000 >"$TMP/sleep.out" 2>"$TMP/sleep.err" &
caller=$!
bg_started "$caller"
echo_pending () {
    "$FLOTCTL" actors --json --timeout 1000 | python3 -c '
import json, sys
sys.exit(0 if any(a["service"] == "echo" and a["pending"] >= 1
                  for a in json.load(sys.stdin)["actors"]) else 1)'
}
wait_until 10 "the Sleep to reach the echo actor" echo_pending
kill -KILL "$DAEMON_PID"
killed=$(now_ms)
rc=0
wait "$caller" || rc=$?
elapsed=$(( $(now_ms) - killed ))
[[ $rc == 3 ]] || fail "call exited $rc when the broker died under it, expected 3: $(cat "$TMP/sleep.err")"
grep -q "^flotctl: DEADLINE (6): no answer from echo Sleep (broker tcp://127\.0\.0\.1:21011): the link to the broker dropped while waiting for the answer: echo Sleep may or may not have run$" "$TMP/sleep.err" \
    || fail "call did not say that the link dropped: $(cat "$TMP/sleep.err")"
(( elapsed < 15000 )) || fail "call waited $elapsed ms after the broker died, as if for its answer"
echo "PASS test_cli_call_errors"

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
echo "PASS test_cli_call_errors"

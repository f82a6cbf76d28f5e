#!/usr/bin/env bash
# test_cli_dead_broker: with nothing listening, every command exits 3 within
# its timeout plus 1 s, and says which endpoint and timeout it waited for.
source "$(dirname "$0")/lib.sh"

endpoint=tcp://127.0.0.1:21021      # nothing listens here
spec=$(dirname "$0")/specs/rolling-3.yaml
for args in "ping" "actors" "events" "events --follow" "call echo Echo {}" \
            "plan -f $spec" "apply -f $spec --watch" "status d-1" "list" \
            "watch d-1" "pause d-1" "resume d-1" "promote d-1 --full" \
            "abort d-1"; do
    start=$(now_ms)
    ctl $args --endpoint "$endpoint" --timeout 1000
    elapsed=$(( $(now_ms) - start ))
    expect_rc 3
    expect_err "$endpoint"
    expect_err '1000 ms'
    (( elapsed < 2000 )) || fail "$LAST took $elapsed ms, expected < 2000"
done

# The endpoint from the environment is used when --endpoint is absent.
start=$(now_ms)
FLOTILLA_ENDPOINT=$endpoint ctl ping --timeout 300
elapsed=$(( $(now_ms) - start ))
expect_rc 3
expect_err "$endpoint"
(( elapsed < 1300 )) || fail "$LAST took $elapsed ms, expected < 1300"

ctl ping --endpoint not-an-endpoint
expect_rc 2
echo "PASS test_cli_dead_broker"

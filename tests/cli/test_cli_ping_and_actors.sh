#!/usr/bin/env bash
# test_cli_ping_and_actors: flotctl ping and actors against a real flotillad,
# in human and --json output, with the endpoint from the environment or from
# --endpoint, options before or after the command.
source "$(dirname "$0")/lib.sh"

start_daemon 21001 21002 events,echo

ctl ping
expect_rc 0
expect_out '^pong from broker [0-9]+\.[0-9]+\.[0-9]+ \(up [0-9.]+ s\) in [0-9.]+ ms, as local \(admin\)$'

ctl ping --json
expect_rc 0
python3 -c 'import json,sys; d = json.load(sys.stdin); assert d["pong"] is True and d["version"]' \
    <<<"$OUT" || fail "ping --json is not the Ping reply: $OUT"

# --endpoint wins over FLOTILLA_ENDPOINT, and may follow the command.
FLOTILLA_ENDPOINT=tcp://127.0.0.1:21009 ctl ping --endpoint tcp://127.0.0.1:21001 --timeout 2000
expect_rc 0
expect_out '^pong'

ctl actors
expect_rc 0
expect_out '^SERVICE +INSTANCE +HOST +PID +KEYS +UPTIME +LAST-HB +HANDLED +PENDING$'
expect_out "^events +events-$DAEMON_PID +[^ ]+ +$DAEMON_PID +- "
expect_out "^echo +echo-$DAEMON_PID "
[[ $(wc -l <<<"$OUT") == 3 ]] || fail "actors: expected a header and 2 rows: $OUT"

for args in "--json actors" "actors --json"; do
    ctl $args
    expect_rc 0
    python3 -c '
import json, sys
actors = json.load(sys.stdin)["actors"]
services = sorted(a["service"] for a in actors)
assert services == ["echo", "events"], services' <<<"$OUT" \
        || fail "flotctl $args: not JSON with services echo and events: $OUT"
done
echo "PASS test_cli_ping_and_actors"

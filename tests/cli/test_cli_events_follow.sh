#!/usr/bin/env bash
# test_cli_events_follow: flotctl events --follow prints live events in order,
# each once; with --since it replays the old ones first without a gap or a
# duplicate, even while events are being published; it replays a gap in the
# stream from the events service, drops malformed frames with a warning,
# starts again when the event history is reset, and exits 0 on SIGINT.
source "$(dirname "$0")/lib.sh"

start_daemon 21041 21042

# 1. A follower started on an empty history sees the 20 events published
#    after it started.
"$FLOTCTL" events --follow --json >"$TMP/live.out" 2>"$TMP/live.err" &
follower=$!
bg_started "$follower"
wait_until 5 "the follower to listen" grep -q '^flotctl: following events' "$TMP/live.err"
publish d1 test.live 20
wait_until 5 "20 live events" lines_at_least "$TMP/live.out" 20
sleep 0.3                   # anything extra would show up now
stop_follower "$follower"
check_seqs "$TMP/live.out" 1 20

# 2. A follower from --since 1, started while events are being published,
#    prints 1..40 once each, in order.
( publish d2 test.more 20 ) &
publisher=$!
bg_started "$publisher"
sleep 0.05
"$FLOTCTL" events --follow --since 1 --json >"$TMP/since.out" 2>"$TMP/since.err" &
follower=$!
bg_started "$follower"
wait "$publisher" || fail "publishing while a follower starts failed"
wait_until 5 "40 events" lines_at_least "$TMP/since.out" 40
sleep 0.3
stop_follower "$follower"
check_seqs "$TMP/since.out" 1 40

# 3. Without --since the follower starts after the newest event; --deployment
#    and --type filter live events.
"$FLOTCTL" events -f --deployment d3 --type step. >"$TMP/filter.out" 2>"$TMP/filter.err" &
follower=$!
bg_started "$follower"
wait_until 5 "the filtered follower" grep -q '^flotctl: following events' "$TMP/filter.err"
publish d3 step.done 2       # 41, 42
publish d4 step.done 1       # 43: other deployment
publish d3 other.thing 1     # 44: other type
publish d3 step.failed 1     # 45
wait_until 5 "3 filtered events" lines_at_least "$TMP/filter.out" 3
sleep 0.3
stop_follower "$follower"
[[ $(awk '{print $1 $3 $4}' "$TMP/filter.out" | tr '\n' ' ') \
    == "#41step.doned3 #42step.doned3 #45step.failedd3 " ]] \
    || fail "filtered follower printed: $(cat "$TMP/filter.out")"

# 4. Against a hostile publisher (--events-endpoint): malformed frames are
#    dropped with a warning; live seq 1 is printed, then live seq 5 reveals a
#    gap that is replayed from the events service (of a fresh daemon).
[[ -n $HOSTILE_PUB ]] || fail "no cli_hostile_pub given"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
: >"$TMP/flotillad.log"
rm -f "$TMP"/flotilla.db*    # the history is kept in the store: start afresh
# The hostile publisher is plain: this part is about malformed frames, not
# keys, so the daemon runs without them (and flotctl, in a home without the
# keys of the daemons before, connects plain too).
export FLOTILLA_HOME=$TMP/plain-home
DAEMON_ARGS=--insecure start_daemon 21043 21044
mkfifo "$TMP/pub.in"
"$HOSTILE_PUB" tcp://127.0.0.1:21045 <"$TMP/pub.in" &
bg_started $!
exec 7>"$TMP/pub.in"
"$FLOTCTL" events --follow --json --events-endpoint tcp://127.0.0.1:21045 \
    >"$TMP/gap.out" 2>"$TMP/gap.err" &
follower=$!
bg_started "$follower"
wait_until 5 "the follower of the hostile publisher" \
    grep -q '^flotctl: following events on tcp://127.0.0.1:21045' "$TMP/gap.err"
publish d1 test.held 5       # held by the events service as 1..5
echo go >&7                  # the publisher sends live 1 and live 5
wait_until 5 "5 events with a gap replayed" lines_at_least "$TMP/gap.out" 5
wait_until 5 "every kind of malformed frame" \
    grep -q "has topic 'd9/other.type'" "$TMP/gap.err"
exec 7>&-
stop_follower "$follower"
check_seqs "$TMP/gap.out" 1 5
python3 - "$TMP/gap.out" <<'PY' || fail "the gap was not replayed: $(cat "$TMP/gap.out")"
import json, sys
messages = [json.loads(line).get("message") for line in open(sys.argv[1])]
# 1 came live; 2..5 from Replay (the live 5 was then a duplicate).
assert messages == ["live", "event 1", "event 2", "event 3", "event 4"], messages
PY
for why in '2 frames, expected 3' 'frame 1 is not FLOT02' 'body is truncated' \
           'body is not a msgpack map' \
           "field 'type' is required" "has topic 'd9/other.type'" \
           "field 'seq': 18446744073709551615 is not in 1..18446744073709551614"; do
    grep -qF -- "$why" "$TMP/gap.err" || fail "no warning '$why': $(head -c 2000 "$TMP/gap.err")"
done

# 5. flotillad restarts on a new store: the history begins again at 1. The
#    follower (which had seen 5) notices it when quiet, and prints the new
#    history from 1.
"$FLOTCTL" events --follow --json >"$TMP/reset.out" 2>"$TMP/reset.err" &
follower=$!
bg_started "$follower"
wait_until 5 "the follower before the restart" grep -q 'following events.*after #5$' "$TMP/reset.err"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
rm -f "$TMP"/flotilla.db*
DAEMON_ARGS=--insecure start_daemon 21043 21044
publish d1 test.again 2
wait_until 5 "2 events of the new history" lines_at_least "$TMP/reset.out" 2
stop_follower "$follower"
check_seqs "$TMP/reset.out" 1 2
grep -q 'history was reset' "$TMP/reset.err" || fail "no reset warning: $(cat "$TMP/reset.err")"
echo "PASS test_cli_events_follow"

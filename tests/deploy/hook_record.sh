#!/bin/sh
# The hook of the deployment tests (tests/deploy/test_deploy_*.sh). Appends
# what the executor called it with to $HOOK_LOG, one line when it starts and
# one when it ends:
#   start DEPLOYMENT TARGET STEP_ID STEP_TYPE VERSION PREVIOUS WEIGHT ATTEMPT
#   end   DEPLOYMENT TARGET STEP_ID STEP_TYPE VERSION PREVIOUS WEIGHT ATTEMPT STATUS
# and its pid to $HOOK_LOG.pids, so the test can stop it if flotillad could
# not. The spec's hook env steers it:
#   HOOK_SLEEP  seconds every call takes (default 0)
#   HOOK_SLOW   "TARGET/TYPE=SECONDS ...": those calls take that long instead
#   HOOK_FAIL   "TARGET/TYPE ...": those calls exit 1, saying so on stderr
#   HOOK_FAIL_WHILE  a file: the HOOK_FAIL calls fail only while it exists
set -u
log=${HOOK_LOG:?HOOK_LOG is not set}
echo "$$" >> "$log.pids"
call="$FLOTILLA_DEPLOYMENT $FLOTILLA_TARGET $FLOTILLA_STEP_ID $FLOTILLA_STEP_TYPE"
call="$call $FLOTILLA_VERSION $FLOTILLA_PREVIOUS_VERSION $FLOTILLA_WEIGHT $FLOTILLA_ATTEMPT"
echo "start $call" >> "$log"
seconds=${HOOK_SLEEP:-0}
for slow in ${HOOK_SLOW:-}; do
    case $slow in
        "$FLOTILLA_TARGET/$FLOTILLA_STEP_TYPE="*) seconds=${slow#*=} ;;
    esac
done
sleep "$seconds"
status=0
for failing in ${HOOK_FAIL:-}; do
    [ "$failing" = "$FLOTILLA_TARGET/$FLOTILLA_STEP_TYPE" ] && status=1
done
if [ "$status" = 1 ] && [ -n "${HOOK_FAIL_WHILE:-}" ] && [ ! -e "$HOOK_FAIL_WHILE" ]; then
    status=0
fi
[ "$status" = 1 ] && echo "hook: $FLOTILLA_TARGET/$FLOTILLA_STEP_TYPE fails on purpose" >&2
echo "end $call $status" >> "$log"
exit "$status"

#!/bin/sh
# The hook of the rollback actor's tests (actors/rollback/tests/test_rollback.c).
# Appends to $RECORD one line when it starts and one when it ends:
#   start TARGET STEP_ID TYPE VERSION PREVIOUS WEIGHT ATTEMPT
#   end   TARGET STEP_ID TYPE VERSION PREVIOUS WEIGHT ATTEMPT STATUS
# The spec's hook env steers it:
#   HOOK_SLEEP  seconds each call takes (default 0)
#   HOOK_FAIL   "TARGET=N ...": the first N attempts on TARGET exit 1
set -u
record=${RECORD:?RECORD is not set}
call="$FLOTILLA_TARGET $FLOTILLA_STEP_ID $FLOTILLA_STEP_TYPE $FLOTILLA_VERSION"
call="$call $FLOTILLA_PREVIOUS_VERSION $FLOTILLA_WEIGHT $FLOTILLA_ATTEMPT"
echo "start $call" >> "$record"
sleep "${HOOK_SLEEP:-0}"
status=0
for failing in ${HOOK_FAIL:-}; do
    case $failing in
        "$FLOTILLA_TARGET="*) [ "$FLOTILLA_ATTEMPT" -le "${failing#*=}" ] && status=1 ;;
    esac
done
echo "reverting $FLOTILLA_TARGET: status $status"
echo "end $call $status" >> "$record"
exit "$status"

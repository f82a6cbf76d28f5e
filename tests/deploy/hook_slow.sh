#!/bin/sh
# A hook that takes a moment and records its start and its end, so a test
# can tell which steps ran, how often, and which were cut off.
echo "$FLOTILLA_STEP_ID $FLOTILLA_ATTEMPT" >> starts.log
sleep "${HOOK_SECONDS:-0.2}"
echo "$FLOTILLA_STEP_ID $FLOTILLA_ATTEMPT $FLOTILLA_VERSION" >> ends.log

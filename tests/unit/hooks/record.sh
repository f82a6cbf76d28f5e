#!/bin/sh
# A hook for the executor tests: prints what it was called with, and
# misbehaves on request (HOOK_FAIL, HOOK_SLEEP, HOOK_SPAM, HOOK_CHILD).
echo "id=$FLOTILLA_STEP_ID type=$FLOTILLA_STEP_TYPE target=$FLOTILLA_TARGET address=$FLOTILLA_TARGET_ADDRESS"
echo "deployment=$FLOTILLA_DEPLOYMENT version=$FLOTILLA_VERSION previous=$FLOTILLA_PREVIOUS_VERSION weight=$FLOTILLA_WEIGHT attempt=$FLOTILLA_ATTEMPT"
echo "args=$* mode=$MODE cwd=$(pwd)"
if [ -n "$HOOK_SPAM" ]; then i=0; while [ $i -lt 2000 ]; do echo "line $i of spam"; i=$((i+1)); done; fi
if [ -n "$HOOK_CHILD" ]; then sleep 60 & echo "child=$!"; fi
if [ -n "$HOOK_SLEEP" ]; then sleep "$HOOK_SLEEP"; fi
if [ -n "$HOOK_FAIL" ]; then echo "failing on purpose" >&2; exit "$HOOK_FAIL"; fi
exit 0

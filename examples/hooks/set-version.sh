#!/bin/sh
# The hook of the examples: puts a target on a version by writing its VERSION
# file (examples/state/<target>/VERSION), with the traffic weight. Flotilla
# runs it in its hooks directory (flotillad --hooks-dir examples/hooks) with
# the step in the environment.
set -eu
dir="../state/$FLOTILLA_TARGET"
mkdir -p "$dir"
printf '%s weight=%s step=%s\n' "$FLOTILLA_VERSION" "$FLOTILLA_WEIGHT" "$FLOTILLA_STEP_ID" \
    > "$dir/VERSION.tmp"
mv "$dir/VERSION.tmp" "$dir/VERSION"
echo "$FLOTILLA_TARGET: $FLOTILLA_STEP_TYPE to $FLOTILLA_VERSION (weight $FLOTILLA_WEIGHT)"

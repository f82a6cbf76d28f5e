#!/bin/sh
# The hook of the test specs: appends "target step-id version" to the file
# the test names in CLI_RECORD (flotillad's environment, which the executor
# passes on), so a test can tell which steps ran, in which order, once each.
set -eu
echo "$FLOTILLA_TARGET $FLOTILLA_STEP_ID $FLOTILLA_VERSION" >> "${CLI_RECORD:?CLI_RECORD is not set}"

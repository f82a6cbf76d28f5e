#!/usr/bin/env bash
# test_cli_help: --help documents every command, option and exit code;
# --version prints the version flotillad reports.
source "$(dirname "$0")/lib.sh"

for args in "--help" "-h" "ping --help"; do
    ctl $args
    expect_rc 0
    for word in ping actors events call --follow --since --deployment --type \
                --events-endpoint --key --endpoint --timeout --json --version \
                FLOTILLA_ENDPOINT "plan -f FILE" "apply -f FILE" --dry-run \
                --watch "status ID" list "watch ID" "pause ID" "resume ID" \
                "promote ID" --full "abort ID" "--reason TEXT" --file \
                CONFLICT NOT_FOUND "1 MiB"; do
        grep -qF -- "$word" <<<"$OUT" || fail "$LAST does not mention $word"
    done
    for code in 0 1 2 3; do
        expect_out "^  $code  "
    done
done

ctl --version
expect_rc 0
daemon_version=$("$FLOTILLAD" --version | awk '{print $2}')
[[ $OUT == "flotctl $daemon_version" ]] \
    || fail "--version says '$OUT', flotillad says '$daemon_version'"
ctl -V
expect_rc 0
[[ $OUT == "flotctl $daemon_version" ]] || fail "-V says '$OUT'"
echo "PASS test_cli_help"

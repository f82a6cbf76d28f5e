#!/usr/bin/env bash
# test_cli_status_not_found: status of an id the coordinator does not know
# exits 1 with NOT_FOUND (11) on stderr and nothing on stdout; so do watch
# (at once, not waiting for events), pause, resume, promote and abort. An id
# that cannot be a deployment id is a usage error (2), sent nowhere.
source "$(dirname "$0")/lib.sh"

start_flotilla 21120 21121

ctl status nosuch-7
expect_rc 1
expect_err "^flotctl: NOT_FOUND \(11\): .*nosuch-7"
[[ -z $OUT ]] || fail "$LAST printed on stdout: $OUT"
ctl status nosuch-7 --json
expect_rc 1
expect_err "NOT_FOUND \(11\)"
[[ -z $OUT ]] || fail "$LAST printed on stdout: $OUT"

for command in watch pause resume promote abort; do
    start=$(now_ms)
    ctl $command nosuch-7
    elapsed=$(( $(now_ms) - start ))
    expect_rc 1
    expect_err "NOT_FOUND \(11\): .*nosuch-7"
    (( elapsed < 3000 )) || fail "$LAST took $elapsed ms"
done

# An id is at most 95 bytes (a spec name of 64, '-', a number).
ctl status "$(printf 'x%.0s' {1..95})"
expect_rc 1
expect_err "NOT_FOUND \(11\)"
for bad in 'a/b' 'two words' '-' "$(printf 'x%.0s' {1..96})"; do
    ctl status "$bad"
    expect_rc 2
    expect_err "is not a deployment id"
done
ctl status
expect_rc 2
ctl status a b
expect_rc 2
echo "PASS test_cli_status_not_found"

# Shared by the process tests' libraries (tests/cli/lib.sh,
# tests/deploy/lib.sh): run flotctl and check what it did. Needs FLOTCTL,
# TMP and a fail function from the sourcing library.

# capture NAME PROGRAM ARGS...: runs PROGRAM; sets RC, OUT and ERR, and
# LAST ("NAME ARGS...") for messages (never fails itself).
capture () {
    LAST="$1 ${*:3}"
    shift
    set +e
    "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    set -e
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}

# ctl ARGS...: runs flotctl, as capture does.
ctl () { capture flotctl "$FLOTCTL" "$@"; }

expect_rc () {
    [[ $RC == "$1" ]] || fail "$LAST: exit $RC, expected $1
stdout: $OUT
stderr: $ERR"
}

expect_out () {
    grep -qE -- "$1" <<<"$OUT" || fail "$LAST: stdout lacks /$1/
stdout: $OUT
stderr: $ERR"
}

expect_err () {
    grep -qE -- "$1" <<<"$ERR" || fail "$LAST: stderr lacks /$1/
stderr: $ERR"
}

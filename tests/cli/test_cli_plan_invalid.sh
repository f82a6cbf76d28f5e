#!/usr/bin/env bash
# test_cli_plan_invalid: flotctl plan (and apply) of a spec with four
# mistakes prints every one of them as FILE:LINE: field: sentence, with the
# file name as given, and exits 1 without planning or starting anything; a
# spec file that cannot be read (missing, a folder, over 1 MiB, a NUL byte)
# is a usage error (2) that names the file.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_flotilla 21110 21111
cd "$HERE"                  # so that the file name given is specs/invalid.yaml

expected=(
    "specs/invalid.yaml:5: name: "
    "specs/invalid.yaml:11: targets\[0\]: unknown field 'colour'"
    "specs/invalid.yaml:16: strategy\.canary\.steps\[0\]\.setWeight: 140 is not in 0\.\.100"
    "specs/invalid.yaml:19: hook\.timeout: 'soon' is not a duration"
)
for command in plan apply "apply --dry-run"; do
    ctl $command -f specs/invalid.yaml
    expect_rc 1
    for line in "${expected[@]}"; do
        expect_err "^$line"
    done
    expect_err "specs/invalid\.yaml is not a valid deployment spec: 4 errors"
    [[ -z $OUT ]] || fail "$LAST printed on stdout: $OUT"
done

# --json: the strategy's Validate reply, with the same four errors.
ctl plan -f specs/invalid.yaml --json
expect_rc 1
python3 - "$OUT" <<'PY' || fail "plan --json of an invalid spec: $OUT"
import json, sys
reply = json.loads(sys.argv[1])
assert reply["valid"] is False, reply
lines = [e.split(":")[1] for e in reply["errors"]]
assert lines == ["5", "11", "16", "19"], reply["errors"]
assert all(e.startswith("specs/invalid.yaml:") for e in reply["errors"]), reply
PY

# Nothing was started.
ctl list --json
expect_rc 0
[[ $OUT == '{"deployments":[]}' ]] || fail "an invalid spec started something: $OUT"

# Files that cannot be a spec: exit 2, naming the file, before any call.
ctl plan -f "$TMP/no-such.yaml"
expect_rc 2
expect_err "no-such\.yaml.*No such file"
ctl apply -f "$TMP"
expect_rc 2
expect_err "cannot read spec file '$TMP'"
head -c $(( (1 << 20) + 1 )) /dev/zero | tr '\0' '#' >"$TMP/huge.yaml"
ctl plan -f "$TMP/huge.yaml"
expect_rc 2
expect_err "huge\.yaml' is larger than 1048576 bytes"
printf 'name: a\0b\n' >"$TMP/nul.yaml"
ctl plan -f "$TMP/nul.yaml"
expect_rc 2
expect_err "nul\.yaml' holds a NUL byte at offset 7"
ctl plan
expect_rc 2
expect_err "needs the spec file"
ctl plan -f
expect_rc 2
echo "PASS test_cli_plan_invalid"

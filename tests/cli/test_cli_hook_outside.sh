#!/usr/bin/env bash
# test_cli_hook_outside: no command from the wire. A hook names a program in
# the executor's hooks directory (flotillad --hooks-dir, here tests/cli/hooks):
#  - flotctl plan and apply of a spec whose hook is /bin/sh -c ..., leaves
#    the directory with '..', or sets LD_PRELOAD are refused with the
#    sentence, at the line; nothing starts and nothing runs;
#  - a direct `flotctl call executor ExecuteStep` (no deployment at all)
#    with an absolute command, a '..', or a loader variable is INVALID, as
#    is ValidateStep; the step's cwd is ignored; a hook of the directory runs;
#  - a deployment stored with a hook that names a path (its stored spec
#    edited while flotillad is down, as a store of an older version holds
#    one) is refused by the executor at its next step, and flotctl status
#    shows why.
# Ports 21900-21901.
source "$(dirname "$0")/lib.sh"

start_flotilla 21900 21901
PWNED=$TMP/pwned
sentence="a hook names a program in the executor's hooks directory \(--hooks-dir\)"

spec () {       # NAME HOOK: a one-target rolling spec with that hook line
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: web, version: "2.0"}
targets:
  - {name: a}
strategy: {rolling: {}}
$2
EOF
}

spec shell "hook: {command: /bin/sh, args: [-c, \"touch $PWNED\"]}"
spec dotdot "hook: {command: ../../../../../../../bin/sh, args: [-c, \"touch $PWNED\"]}"
spec loader "hook: {command: record.sh, env: {LD_PRELOAD: $TMP/evil.so}}"
for command in plan apply "apply --dry-run"; do
    ctl $command -f "$TMP/shell.yaml"
    expect_rc 1
    expect_err "shell\.yaml:8: hook\.command: '/bin/sh' is an absolute path: $sentence"
    expect_err "shell\.yaml is not a valid deployment spec: 1 error"
    ctl $command -f "$TMP/dotdot.yaml"
    expect_rc 1
    expect_err "dotdot\.yaml:8: hook\.command: '\.\./\.\./\.\./\.\./\.\./\.\./\.\./bin/sh' leaves the hooks directory \('\.\.'\): $sentence"
    ctl $command -f "$TMP/loader.yaml"
    expect_rc 1
    expect_err "loader\.yaml:8: hook\.env: LD_PRELOAD changes how a program is loaded or run \(the dynamic loader reads LD_\*\): a spec may not set it"
done
ctl list --json
expect_rc 0
[[ $OUT == '{"deployments":[]}' ]] || fail "a refused spec started something: $OUT"

# Straight to the executor: no deployment, no plan.
step () {       # HOOK_JSON [CWD]: an ExecuteStep body
    echo "{\"deployment\": \"x-1\", \"step_id\": \"a/1\", \"type\": \"apply\", \"target\": \"a\"," \
         "\"version\": \"2.0\", \"cwd\": \"${2:-/}\", \"hook\": $1}"
}
for command in ExecuteStep ValidateStep; do
    ctl call executor $command "$(step "{\"command\": \"/bin/sh\", \"args\": [\"-c\", \"touch $PWNED\"]}")"
    expect_rc 1
    expect_err "^flotctl: INVALID \(10\): hook '/bin/sh' is an absolute path: $sentence$"
    ctl call executor $command "$(step "{\"command\": \"../../../../../../bin/sh\"}")"
    expect_rc 1
    expect_err "^flotctl: INVALID \(10\): hook '\.\./\.\./\.\./\.\./\.\./\.\./bin/sh' leaves the hooks directory"
    # A bare name is looked up in the hooks directory, never on PATH.
    ctl call executor $command "$(step "{\"command\": \"sh\", \"args\": [\"-c\", \"touch $PWNED\"]}")"
    expect_rc 1
    expect_err "^flotctl: INVALID \(10\): hook 'sh' is not in the executor's hooks directory $HOOKS_DIR \(No such file or directory\)$"
    ctl call executor $command "$(step "{\"command\": \"record.sh\", \"env\": {\"LD_PRELOAD\": \"$TMP/evil.so\"}}")"
    expect_rc 1
    expect_err "^flotctl: INVALID \(10\): field 'hook\.env': LD_PRELOAD changes how a program is loaded or run"
    ctl call executor $command "$(step "{\"command\": \"record.sh\", \"env\": {\"PATH\": \"$TMP\"}}")"
    expect_rc 1
    expect_err "^flotctl: INVALID \(10\): field 'hook\.env': PATH changes how a program is loaded or run"
done
[[ ! -e $PWNED ]] || fail "a refused hook ran"

# A hook of the directory runs, in the directory, whatever cwd says.
ctl call executor ExecuteStep "$(step "{\"command\": \"./record.sh\"}" "$TMP")" --json
expect_rc 0
[[ $(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' <<<"$OUT") == succeeded ]] \
    || fail "record.sh did not succeed: $OUT"
[[ $(cat "$CLI_RECORD") == "a a/1 2.0" ]] || fail "record.sh did not record: $(cat "$CLI_RECORD")"
: > "$CLI_RECORD"

# A stored deployment whose hook names a path. Applied with record.sh, it
# waits for a promote; with flotillad down, its stored RESOLVED deployment
# (and spec) are made to name /bin/true (as long as record.sh: msgpack's
# lengths stay right); after the restart its next step is refused.
cat > "$TMP/stored.yaml" <<'EOF'
apiVersion: flotilla/v1
kind: Deployment
name: stored
workload: {name: web, version: "2.0"}
targets:
  - {name: a}
strategy:
  canary:
    steps: [{setWeight: 50}, {pause: {}}, {setWeight: 100}]
hook: {command: record.sh, timeout: 10s}
EOF
ctl apply -f "$TMP/stored.yaml"
expect_rc 0
id=$(started_id)
wait_until 10 "$id to wait for a promote" status_is "$id" \
    "d['state'] == 'running' and d['targets'][0]['state'] == 'waiting'"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
[[ $(cat "$CLI_RECORD") == "a a/1 2.0" ]] || fail "the first step's hook: $(cat "$CLI_RECORD")"
: > "$CLI_RECORD"
python3 - "$TMP/flotilla.db" <<'PY' || fail "cannot edit the stored spec"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT deployment, spec, resolved FROM specs").fetchall()
assert len(rows) == 1, rows
deployment, spec, resolved = rows[0]
assert resolved and b"record.sh" in resolved, resolved
db.execute("UPDATE specs SET spec = ?, resolved = ? WHERE deployment = ?",
           (spec.replace("record.sh", "/bin/true"),
            resolved.replace(b"record.sh", b"/bin/true"), deployment))
db.commit()
PY
start_flotilla 21900 21901
ctl promote "$id"
expect_rc 0
wait_until 10 "$id to end" status_is "$id" "d['state'] not in ('running', 'paused')"
ctl status "$id"
expect_rc 0
expect_out "hook '/bin/true' is an absolute path: $sentence"
[[ ! -s $CLI_RECORD ]] || fail "a hook ran after the restart: $(cat "$CLI_RECORD")"
echo "PASS test_cli_hook_outside"

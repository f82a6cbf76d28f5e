#!/usr/bin/env bash
# test_deploy_context_matches_analyze: the CONTEXT that fills a check's
# templates (SPEC sections 19, 20) is the same whether a deployment's gate
# or `flotctl analyze` sends it, and a value the spec does not give is left
# out, so that a template needing it fails instead of expanding to nothing.
#  1. A canary of target t1 (an address, a label region, a rollbackVersion)
#     whose health check and analysis metric are commands that record their
#     arguments, the templates {target} {address} {version}
#     {previousVersion} {deployment} {label.region}: the health checks and
#     the analysis of the deployment saw exactly what `flotctl analyze` on
#     the same spec saw, field by field; {deployment} is the spec's name.
#  2. A target without an address in a spec without a rollbackVersion: its
#     HTTP check on http://{address}/healthz is unhealthy with "the target
#     has no address" and sends no request (every HTTP request of flotillad
#     goes to a recording proxy here); a command check of {previousVersion}
#     is unhealthy with "the target has no previous version" and never runs.
source "$(dirname "$0")/lib.sh"

# record.sh LOG ARGS...: appends ARGS to LOG on one line and prints a
# number, for the analysis metric (and exits 0, for the health check).
cat > "$TMP/record.sh" <<'EOF'
#!/bin/sh
log=$1
shift
echo "$*" >> "$log"
echo 0.01
EOF
chmod +x "$TMP/record.sh"

# The recording proxy: it answers 200 to anything and appends each
# request line to requests.log.
cat > "$TMP/proxy.py" <<'EOF'
import http.server, sys
class Handler (http.server.BaseHTTPRequestHandler):
    def log_message (self, fmt, *args):
        pass
    def do_GET (self):
        with open (sys.argv[2], "a") as log:
            log.write (self.requestline + "\n")
        self.send_response (200)
        self.end_headers ()
        self.wfile.write (b"ok")
    do_HEAD = do_GET
http.server.HTTPServer (("127.0.0.1", int (sys.argv[1])), Handler).serve_forever ()
EOF
: > "$TMP/requests.log"
python3 "$TMP/proxy.py" 24168 "$TMP/requests.log" 2>>"$TMP/proxy.log" &
PROXY_PID=$!
trap 'kill $PROXY_PID 2>/dev/null || true; cleanup' EXIT
proxy_up () { curl -sf -o /dev/null "http://127.0.0.1:24168/up"; }
wait_until 5 "the recording proxy" proxy_up
: > "$TMP/requests.log"

unset no_proxy NO_PROXY all_proxy ALL_PROXY
export http_proxy=http://127.0.0.1:24168
start_flotilla 24166

TEMPLATES='"target={target}", "address={address}", "version={version}",
          "previousVersion={previousVersion}", "deployment={deployment}",
          "region={label.region}"'
EXPECTED="target=t1 address=127.0.0.1:24169 version=2.0 previousVersion=1.0 deployment=ctx region=eu-west"

cat > "$TMP/ctx.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: ctx
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets:
  - {name: t1, address: "127.0.0.1:24169", labels: {region: eu-west}}
strategy: {canary: {steps: [{setWeight: 50}, {gate: {name: judged}}]}}
hook:
  command: ./hook.sh
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {progressDeadline: 1m}
healthChecks:
  - name: recorded
    command:
      command: ./record.sh
      args: ["$TMP/health.log", $TEMPLATES]
    period: 200ms
analysis:
  interval: 200ms
  metrics:
    - name: recorded
      provider:
        command:
          command: ./record.sh
          args: ["$TMP/analysis.log", $TEMPLATES]
      successCondition: "result < 0.05"
      count: 2
EOF

# context_of WHO LOG: the one CONTEXT LOG recorded (fails if none, or if
# it recorded different ones).
context_of () {
    local lines
    [[ -s $2 ]] || fail "$1 recorded nothing"
    lines=$(sort -u "$2")
    [[ $lines != *$'\n'* ]] || fail "$1 saw different contexts:
$lines"
    printf '%s\n' "$lines"
}

# same_context WHO ACTUAL WANTED: fails naming each field of ACTUAL (as
# record.sh wrote it: key=value ...) that differs from WANTED.
same_context () {
    local -a actual wanted
    local i diff=""
    read -ra actual <<<"$2"
    read -ra wanted <<<"$3"
    for i in "${!wanted[@]}"; do
        [[ ${actual[$i]-} == "${wanted[$i]}" ]] \
            || diff+=$'\n'"  ${wanted[$i]%%=*}: '${actual[$i]-}', expected '${wanted[$i]}'"
    done
    (( ${#actual[@]} == ${#wanted[@]} )) || diff+=$'\n'"  ${#actual[@]} fields, expected ${#wanted[@]}"
    [[ -z $diff ]] || fail "$1 saw another context:$diff"
}

# 1. The deployment's gate and flotctl analyze send the same CONTEXT.
apply ctx
id=$ID
wait_state 30 "$id" completed
events_until "$id" "deployment.completed "
health=$(context_of "the deployment's health check" "$TMP/health.log")
analysis=$(context_of "the deployment's analysis" "$TMP/analysis.log")
mv "$TMP/analysis.log" "$TMP/deployment-analysis.log"

ctl analyze -f "$TMP/ctx.yaml" --target t1
expect_rc 0
analyze=$(context_of "flotctl analyze" "$TMP/analysis.log")

same_context "the deployment's analysis (against flotctl analyze's)" "$analysis" "$analyze"
same_context "the deployment's health check (against flotctl analyze's)" "$health" "$analyze"
same_context "flotctl analyze" "$analyze" "$EXPECTED"

# 2. No address, no rollbackVersion: the templates needing them fail.
cat > "$TMP/bare.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: bare
workload: {name: web, version: "2.0"}
targets:
  - {name: bare}
strategy: {rolling: {}}
hook:
  command: ./hook.sh
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {progressDeadline: 1m}
healthChecks:
  - name: web
    http: {url: "http://{address}/healthz"}
    period: 200ms
  - name: previous
    command:
      command: ./record.sh
      args: ["$TMP/previous.log", "previousVersion={previousVersion}"]
    period: 200ms
EOF
apply bare
id=$ID

# gate NAME: the message of the health service's gate NAME of target bare,
# the one the coordinator's WaitForReady waits on.
gate () {
    "$FLOTCTL" call health GetReadinessGates '{"target": "bare"}' --json --timeout 2000 \
        | python3 -c '
import json, sys
gates = [g for g in json.load (sys.stdin)["gates"] if g["name"] == sys.argv[1]]
print (gates[0]["message"] if gates else "no such gate")' "$1"
}
probed () { [[ $(gate web) != "no such gate" && $(gate web) != "not probed yet"
               && $(gate previous) != "no such gate" && $(gate previous) != "not probed yet" ]]; }
settled () { probed || ! status_is "$id" "d['state'] == 'running'"; }
wait_until 10 "both gates of bare probed" settled
sleep 1     # a few more probes, each of which might send something
[[ ! -s $TMP/requests.log ]] \
    || fail "a target without an address was sent HTTP requests: $(cat "$TMP/requests.log")"
[[ ! -e $TMP/previous.log ]] \
    || fail "the {previousVersion} check ran without a previous version: $(cat "$TMP/previous.log")"
status_is "$id" "d['state'] == 'running' and d['targets'][0]['health'] != 'healthy'" \
    || fail "bare went on without passing its health checks: $(status_json "$id" d)"
web=$(gate web)
previous=$(gate previous)
[[ $web == "GET http://{address}/healthz: {address}: the target has no address" ]] \
    || fail "the HTTP gate of a target without an address says: $web"
[[ $previous == *"{previousVersion}: the target has no previous version"* ]] \
    || fail "the {previousVersion} gate of a spec without a rollbackVersion says: $previous"
echo "PASS test_deploy_context_matches_analyze"

#!/usr/bin/env bash
# The quick start: installs what is missing, builds, starts flotillad in its
# embedded default (broker and actors in one process, clients on
# tcp://127.0.0.1:5555, events on tcp://127.0.0.1:5556) and rolls out a
# canary of web 2.0 across four local targets, shown live by flotctl watch.
# Each target is a VERSION file under examples/state/, served over HTTP on
# 127.0.0.1:8090 by a small local service (examples/service.py), which also
# answers each target's health check and reports its latency and error
# ratio; a Prometheus on 127.0.0.1:8091 scrapes those, and each target's gate
# judges them. With --keep, flotillad, the service and Prometheus keep
# running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"

FLOTILLAD=$PWD/build/flotillad
FLOTCTL=$PWD/build/flotctl
RUN=$(mktemp -d /tmp/flotilla-quickstart.XXXXXX)
LOG=$RUN/flotillad.log

# Every target starts on version 1.0.
rm -rf examples/state
for target in eu-1 eu-2 us-1 us-2; do
    mkdir -p "examples/state/$target"
    echo "1.0 weight=0" > "examples/state/$target/VERSION"
done
python3 examples/service.py 8090 examples/state >"$RUN/service.log" 2>&1 &
SERVICE=$!
printf '%s\n' "global: {scrape_interval: 1s, evaluation_interval: 1s}" \
    "scrape_configs:" \
    "  - job_name: web" \
    "    static_configs: [{targets: ['127.0.0.1:8090']}]" > "$RUN/prometheus.yml"
prometheus --config.file="$RUN/prometheus.yml" --storage.tsdb.path="$RUN/tsdb" \
    --web.listen-address=127.0.0.1:8091 --log.level=warn >"$RUN/prometheus.log" 2>&1 &
PROMETHEUS=$!
# The hooks directory: the programs a spec's hook may name (set-version.sh).
# flotillad refuses one that others may write, as a clone's may be (umask
# 002): it is this checkout's, so make it this user's alone to write.
chmod go-w examples/hooks
"$FLOTILLAD" --store "$RUN/flotilla.db" --hooks-dir "$PWD/examples/hooks" 2>"$LOG" &
DAEMON=$!
stop () {
    kill -TERM "$DAEMON" "$SERVICE" "$PROMETHEUS" 2>/dev/null || true
    wait "$DAEMON" "$SERVICE" "$PROMETHEUS" 2>/dev/null || true
}
[ "$KEEP" -eq 1 ] || trap stop EXIT

for _ in $(seq 1 50); do
    "$FLOTCTL" --timeout 200 call coordinator List >/dev/null 2>&1 && break
    if ! kill -0 "$DAEMON" 2>/dev/null; then
        echo "flotillad did not start:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    sleep 0.1
done

show_versions () {
    for target in eu-1 eu-2 us-1 us-2; do
        printf '  %-5s %s\n' "$target" \
            "$(curl -s "http://127.0.0.1:8090/$target/VERSION" || echo '(no answer)')"
    done
}

# The samples Prometheus holds of a series over the last 10 s.
held () {
    curl -sf 'http://127.0.0.1:8091/api/v1/query' --data-urlencode \
        'query=count_over_time(web_latency_seconds{target="eu-1",version="1.0"}[10s])' \
        | sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)".*/\1/p'
}

run () { echo; echo "\$ flotctl $*"; "$FLOTCTL" "$@"; }
run ping
run actors
echo; echo "Versions served before:"; show_versions

# The judge compares the versions' latency over 10 s: let Prometheus gather
# that much first.
echo; echo "Waiting for Prometheus to hold 10 s of metrics..."
for _ in $(seq 1 60); do
    [ "$(held)" -ge 9 ] 2>/dev/null && break
    if ! kill -0 "$PROMETHEUS" 2>/dev/null; then
        echo "prometheus did not start:" >&2
        cat "$RUN/prometheus.log" >&2
        exit 1
    fi
    sleep 0.5
done
run plan -f examples/canary.yaml
rc=0
run apply -f examples/canary.yaml --watch || rc=$?
run list
echo; echo "Versions served after:"; show_versions
echo
echo "flotillad log: $LOG"
if [ "$KEEP" -eq 1 ]; then
    echo "flotillad (pid $DAEMON), the service (pid $SERVICE) and Prometheus (pid $PROMETHEUS)"
    echo "are running; stop them with: kill $DAEMON $SERVICE $PROMETHEUS"
fi
exit "$rc"

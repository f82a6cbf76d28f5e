# prometheus.sh - a real Prometheus scraping the fixture server, for the
# process tests in bash (sourced after a lib.sh that defines TMP, fail and
# now_ms). The fixture server (fixture_server.py) serves $STATE/*.prom as
# /metrics and $STATE/health/NAME as /health/NAME; tests change what it
# serves by rewriting those files (set_metrics, set_health). Both are
# stopped by stop_prometheus, which the caller's cleanup must run.

STATE=$TMP/fixture
FIXTURE_PID=
PROMETHEUS_PID=
PROMETHEUS=${PROMETHEUS:-prometheus}
mkdir -p "$STATE/health"

# start_prometheus FIXTURE_PORT PROMETHEUS_PORT: starts both, scraping
# every second, and waits (30 s at most) until Prometheus has scraped the
# fixture once. Sets PROM_URL.
start_prometheus () {
    local fixture_port=$1 prom_port=$2
    python3 "$(dirname "${BASH_SOURCE[0]}")/fixture_server.py" "$fixture_port" "$STATE" \
        2>>"$TMP/fixture.log" &
    FIXTURE_PID=$!
    cat > "$TMP/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: fixture
    static_configs: [{targets: ['127.0.0.1:$fixture_port']}]
EOF
    "$PROMETHEUS" --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
        --web.listen-address="127.0.0.1:$prom_port" --log.level=warn \
        >>"$TMP/prometheus.log" 2>&1 &
    PROMETHEUS_PID=$!
    PROM_URL=http://127.0.0.1:$prom_port
    local deadline=$(( $(now_ms) + 30000 ))
    until curl -sf "$PROM_URL/api/v1/query?query=up%7Bjob%3D%22fixture%22%7D" 2>/dev/null \
            | grep -q '"value":\[[^]]*,"1"\]'; do
        kill -0 "$PROMETHEUS_PID" 2>/dev/null \
            || fail "prometheus exited: $(tail -n 5 "$TMP/prometheus.log")"
        kill -0 "$FIXTURE_PID" 2>/dev/null \
            || fail "the fixture server exited: $(tail -n 5 "$TMP/fixture.log")"
        (( $(now_ms) < deadline )) || fail "prometheus did not scrape the fixture within 30 s"
        sleep 0.2
    done
}

stop_prometheus () {
    local pid
    for pid in $PROMETHEUS_PID $FIXTURE_PID; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PROMETHEUS_PID=
    FIXTURE_PID=
}

# set_metrics NAME TEXT: what the fixture serves as $STATE/NAME.prom.
set_metrics () {
    printf '%s\n' "$2" > "$STATE/.$1.tmp"
    mv "$STATE/.$1.tmp" "$STATE/$1.prom"
}

# set_health NAME STATUS: the HTTP status of /health/NAME.
set_health () {
    echo "$2" > "$STATE/health/.$1.tmp"
    mv "$STATE/health/.$1.tmp" "$STATE/health/$1"
}

# tests/net/lib.sh - what the tests spread over network namespaces share.
# Sourced after the test sets FLOTILLAD, FLOTCTL, HERE, NET (a private /24
# prefix, e.g. 10.213.77), TAG (a prefix for its namespaces, with $$ in it),
# HOSTS (the host names) and ADDR (each host's last address byte). Exits 77
# (skip) without root or iproute2. Gives $TMP (removed at exit), $PY, PIDS
# (the processes cleanup stops), cleanup at exit (it stops them, and kills
# whatever still runs in the test's namespaces, and deletes them), fail,
# now_ms, on HOST CMD..., net_build (the namespaces on a bridge, each host's
# veth addressed NET.ADDR), cable HOST up|down, and newkey NAME ROLE
# [OPTION...] (a key pair made in $TMP/keys, its secret in $TMP/NAME.key).

if [[ $(id -u) != 0 ]] || ! command -v ip >/dev/null; then
    echo "SKIP: network namespaces need root and iproute2"
    exit 77
fi
source "$HERE/../lib/python.sh"
[[ -n $PY ]] || { echo "FAIL: no python3 here imports zmq and msgpack"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-net.XXXXXX")
chmod 755 "$TMP"
PIDS=()

cleanup () {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    local i=0
    while (( i++ < 50 )); do
        local alive=0
        for pid in "${PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        (( alive )) || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    local host
    for host in "${HOSTS[@]}" sw; do
        ip netns pids "$TAG-$host" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
        ip netns delete "$TAG-$host" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

fail () {
    echo "FAIL: $*" >&2
    local log
    for log in "$TMP"/*.log "$TMP"/*.err; do
        if [[ -s $log ]]; then
            echo "--- $(basename "$log"):" >&2
            tail -n 40 "$log" >&2
        fi
    done
    exit 1
}

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

# on HOST CMD...: runs CMD in HOST's namespace, with no key of this machine's
# user to fall back on.
on () {
    local host=$1
    shift
    ip netns exec "$TAG-$host" env -u FLOTILLA_CERT -u FLOTILLA_BROKER_CERT \
        -u FLOTILLA_AUTH_DIR -u FLOTILLA_ENDPOINT FLOTILLA_HOME="$TMP/home-$host" \
        FLOTILLA_CONFIG=/dev/null "$@"
}

# net_build: a namespace per host, each with its veth (eth0, NET.ADDR/24)
# plugged into a bridge in the namespace TAG-sw; waits until packets go.
net_build () {
    ip netns add "$TAG-sw"
    ip -n "$TAG-sw" link add br0 type bridge
    ip -n "$TAG-sw" link set br0 up
    local host
    for host in "${HOSTS[@]}"; do
        ip netns add "$TAG-$host"
        ip link add "$TAG-${ADDR[$host]}a" type veth peer name "$TAG-${ADDR[$host]}b"
        ip link set "$TAG-${ADDR[$host]}a" netns "$TAG-$host"
        ip link set "$TAG-${ADDR[$host]}b" netns "$TAG-sw"
        ip -n "$TAG-$host" link set "$TAG-${ADDR[$host]}a" name eth0
        ip -n "$TAG-$host" addr add "$NET.${ADDR[$host]}/24" dev eth0
        ip -n "$TAG-$host" link set eth0 up
        ip -n "$TAG-$host" link set lo up
        ip -n "$TAG-sw" link set "$TAG-${ADDR[$host]}b" master br0
        ip -n "$TAG-sw" link set "$TAG-${ADDR[$host]}b" up
    done
    local tries=0
    until on "${HOSTS[-1]}" ping -c 1 -W 1 "$NET.${ADDR[${HOSTS[0]}]}" >/dev/null 2>&1; do
        (( ++tries < 10 )) || fail "the test network does not carry packets"
    done
}

# cable HOST up|down: plugs HOST's cable into the bridge, or pulls it out.
cable () { ip -n "$TAG-sw" link set "$TAG-${ADDR[$1]}b" "$2"; }

# newkey NAME ROLE [OPTION...]: a key pair allowed in $TMP/keys (made by
# flotctl keys init), its secret in $TMP/NAME.key.
newkey () {
    local name=$1 role=$2
    shift 2
    "$FLOTCTL" keys new "$name" --role "$role" "$@" --dir "$TMP/keys" \
        --out "$TMP/$name.key" >/dev/null
}

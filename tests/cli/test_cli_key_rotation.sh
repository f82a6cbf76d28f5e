#!/usr/bin/env bash
# test_cli_key_rotation: the broker's key is replaced without a flag day.
# After `flotctl keys rotate`, a broker started with --bind-next serves the
# next key there while its endpoint keeps the current one: a client of the
# old key goes on, a client moved to broker-next.pub is served on the next
# endpoint, and neither key opens the other endpoint. After `keys rotate
# --finish` and a restart, both endpoints serve the new key and the old one
# opens nothing.
source "$(dirname "$0")/lib.sh"

KEYS=$TMP/keys
MAIN=tcp://127.0.0.1:21960
NEXT=tcp://127.0.0.1:21961
"$FLOTCTL" keys init --dir "$KEYS" >/dev/null || fail "keys init failed"
"$FLOTCTL" keys new alice --role viewer --dir "$KEYS" --out "$TMP/alice.key" >/dev/null \
    || fail "keys new alice failed"
cp "$KEYS/broker.pub" "$TMP/old.pub"

start_broker () {
    "$FLOTILLAD" --broker-only --bind "$MAIN" --bind-next "$NEXT" --auth-dir "$KEYS" \
        2>>"$TMP/flotillad.log" &
    DAEMON_PID=$!
    bg_started "$DAEMON_PID"
    local deadline=$(( $(now_ms) + 5000 ))
    until pings "$MAIN" "$1"; do
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited at start"
        (( $(now_ms) < deadline )) || fail "the broker did not answer on $MAIN with $1"
        sleep 0.05
    done
}
stop_broker () {
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" || true
}
# pings ENDPOINT BROKER_PUB: alice's ping is answered there with that key.
pings () {
    "$FLOTCTL" --endpoint "$1" --cert "$TMP/alice.key" --broker-cert "$2" ping \
        --timeout 700 >/dev/null 2>&1
}

# Before any rotation, the next endpoint serves the current key as well.
start_broker "$TMP/old.pub"
pings "$NEXT" "$TMP/old.pub" || fail "without a next key, $NEXT does not serve the current one"
stop_broker

# A rotation begins: the next key is served on the next endpoint only.
"$FLOTCTL" keys rotate --dir "$KEYS" >/dev/null || fail "keys rotate failed"
[[ -f $KEYS/broker-next.pub ]] || fail "keys rotate made no broker-next.pub"
cmp -s "$KEYS/broker.pub" "$TMP/old.pub" || fail "keys rotate changed the current key"
start_broker "$TMP/old.pub"
pings "$NEXT" "$KEYS/broker-next.pub" || fail "the next key is not served on $NEXT"
if pings "$NEXT" "$TMP/old.pub"; then
    fail "the old key still opens $NEXT during the rotation"
fi
if pings "$MAIN" "$KEYS/broker-next.pub"; then
    fail "the next key opens $MAIN before the rotation is finished"
fi
grep -q "listening on $NEXT (CURVE, the rotation's next key)" "$TMP/flotillad.log" \
    || fail "the broker did not say which key $NEXT serves"
cp "$KEYS/broker-next.pub" "$TMP/new.pub"
stop_broker

# The rotation is finished: after a restart, the new key everywhere.
"$FLOTCTL" keys rotate --finish --dir "$KEYS" >/dev/null || fail "keys rotate --finish failed"
cmp -s "$KEYS/broker.pub" "$TMP/new.pub" || fail "--finish did not make the next key the broker's"
[[ ! -e $KEYS/broker-next.pub ]] || fail "--finish left broker-next.pub"
start_broker "$TMP/new.pub"
pings "$NEXT" "$TMP/new.pub" || fail "the new key is not served on $NEXT"
for endpoint in "$MAIN" "$NEXT"; do
    if pings "$endpoint" "$TMP/old.pub"; then
        fail "the old key still opens $endpoint after the rotation"
    fi
done
echo "PASS test_cli_key_rotation"

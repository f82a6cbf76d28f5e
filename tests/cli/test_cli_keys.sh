#!/usr/bin/env bash
# test_cli_keys: flotctl keys end to end (init, new, create, allow, list,
# revoke, rotate) with their outputs, files, modes and exit codes, usage
# errors included; where the key directory comes from (--dir, then
# FLOTILLA_AUTH_DIR, then the config file); and the credentials of the
# commands that talk to a broker (--cert, --broker-cert): a missing half or
# a bad file is a usage error, and a broker that never answers a keyed
# client gets a hint about keys. No daemon: port 21950 has no listener.
source "$(dirname "$0")/lib.sh"

export HOME=$TMP/home FLOTILLA_HOME=$TMP/home/flotilla FLOTILLA_CONFIG=/dev/null
unset FLOTILLA_AUTH_DIR FLOTILLA_CERT FLOTILLA_BROKER_CERT
mkdir -p "$HOME"
cd "$TMP"
K=$TMP/keys

mode () { stat -c %a "$1"; }
expect_mode () { [[ $(mode "$1") == "$2" ]] || fail "$1 has mode $(mode "$1"), expected $2"; }
pubkey () { sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$1"; }

# --- init
ctl keys init
expect_rc 2
expect_err 'no key directory: give --dir DIR, or set FLOTILLA_AUTH_DIR'
ctl keys init --dir "$K"
expect_rc 0
expect_out "$K/broker.pub"
expect_mode "$K" 700
expect_mode "$K/broker.key" 600
expect_mode "$K/allowed" 700
[[ -d $K/revoked ]] || fail "init made no revoked/"
[[ $(pubkey "$K/broker.pub") == "$(pubkey "$K/broker.key")" ]] || fail "broker.pub is not broker.key's"
ctl keys init --dir "$K"
expect_rc 1
expect_err '^flotctl: CONFLICT \(12\): .*already holds a broker key pair'

# The directory from the environment, then from the config file.
export FLOTILLA_AUTH_DIR=$K
ctl keys list
expect_rc 0
unset FLOTILLA_AUTH_DIR
printf '# keys\nauth-dir = %s\n' "$K" >"$TMP/flotilla.conf"
FLOTILLA_CONFIG=$TMP/flotilla.conf ctl keys list
expect_rc 0
printf 'auth-dir = %s\nauthdir = x\n' "$K" >"$TMP/bad.conf"
FLOTILLA_CONFIG=$TMP/bad.conf ctl keys list
expect_rc 1
expect_err "bad.conf:2: unknown setting 'authdir'"

# --- new
ctl keys new alice --role operator --dir "$K"
expect_rc 0
expect_out '^key alice allowed as operator: public key .{40}$'
expect_out 'its secret key: \./alice\.key \(mode 0600'
expect_mode alice.key 600
grep -q 'role = "operator"' "$K/allowed/alice.pub" || fail "allowed/alice.pub has no role"
[[ $(pubkey alice.key) == "$(pubkey "$K/allowed/alice.pub")" ]] || fail "alice's files differ"
grep -q secret-key "$K/allowed/alice.pub" && fail "allowed/alice.pub holds a secret key"
ctl keys new exec-eu --role actor --services executor,health --targets eu-1,eu-2 \
    --out "$TMP/exec.key" --dir "$K"
expect_rc 0
expect_out 'services executor,health; targets eu-1,eu-2'
expect_mode "$TMP/exec.key" 600
ctl keys new alice --role viewer --dir "$K" --out other.key
expect_rc 1
expect_err '^flotctl: CONFLICT \(12\): a key named alice is already allowed'
[[ -e other.key ]] && fail "a refused new left other.key"
ctl keys new carol --role viewer --dir "$K" --out alice.key
expect_rc 1
expect_err 'CONFLICT.*alice.key already exists'
[[ -e $K/allowed/carol.pub ]] && fail "a refused new allowed carol"

long=$(printf 'k%.0s' {1..65})
for name in '../x' '' "$long" 'a b'; do
    ctl keys new "$name" --role viewer --dir "$K"
    expect_rc 2
    expect_err 'is not a key name'
done
ctl keys new dave --dir "$K"
expect_rc 2
expect_err 'keys new needs --role'
ctl keys new dave --role root --dir "$K"
expect_rc 2
expect_err "--role 'root': viewer, operator, actor or admin"
ctl keys new dave --role viewer --services events --dir "$K"
expect_rc 2
expect_err '--services is for role actor only'
ctl keys new dave --role actor --dir "$K"
expect_rc 2
expect_err 'role actor needs --services'
ctl keys new dave --role actor --services 'a,,b' --dir "$K"
expect_rc 2
expect_err 'empty item'
ls "$K/allowed" | grep -q dave && fail "a refused new allowed dave"

# --- create, then allow
ctl keys create bob
expect_rc 0
expect_out 'secret \./bob\.key'
expect_out 'flotctl keys allow \./bob\.pub --name bob --role ROLE'
expect_mode bob.key 600
grep -q secret-key bob.pub && fail "bob.pub holds a secret key"
mkdir hostb
ctl keys create erin --out hostb/erin
expect_rc 0
[[ -f hostb/erin.key && -f hostb/erin.pub ]] || fail "create --out made no hostb/erin.{key,pub}"
ctl keys create bob
expect_rc 1
expect_err 'CONFLICT.*bob.key already exists'
ctl keys create bob --dir "$K"
expect_rc 2
expect_err "\-\-dir does not apply to 'keys create'"

ctl keys allow bob.pub --role viewer --dir "$K"
expect_rc 2
expect_err 'keys allow needs --name NAME'
ctl keys allow bob.pub --name bob --role viewer --dir "$K"
expect_rc 0
expect_out "^key bob allowed as viewer: public key $(pubkey bob.pub | sed 's/[]$*^.[\\/+?(){}|]/\\&/g')\$"
ctl keys allow hostb/erin.key --name erin --role actor --services coordinator --dir "$K"
expect_rc 0
grep -q secret-key "$K/allowed/erin.pub" && fail "allow copied erin's secret key"
ctl keys allow bob.pub --name bob2 --role operator --dir "$K"
expect_rc 1
expect_err 'CONFLICT.*already allowed as bob'
ctl keys allow missing.pub --name frank --role viewer --dir "$K"
expect_rc 1
expect_err '^flotctl: NOT_FOUND \(11\): cannot read missing.pub'
printf 'hello world\n' >junk.pub
head -c 300 /dev/urandom >random.pub
for file in junk.pub random.pub "$TMP"; do
    ctl keys allow "$file" --name frank --role viewer --dir "$K"
    expect_rc 1
    expect_err "^flotctl: INVALID \(10\): $file"
done
[[ -e $K/allowed/frank.pub ]] && fail "a refused allow allowed frank"

# --- list
ctl keys list --dir "$K"
expect_rc 0
expect_out '^NAME +ROLE +SERVICES +TARGETS +KEY +STATE$'
expect_out "^alice +operator +- +- +.{8} +allowed$"
expect_out "^exec-eu +actor +executor,health +eu-1,eu-2 +.{8} +allowed$"
[[ $(wc -l <<<"$OUT") == 5 ]] || fail "keys list: expected 4 keys: $OUT"
ctl keys list --dir "$K" --json
expect_rc 0
python3 - "$OUT" "$(pubkey alice.key)" <<'PY' || fail "keys list --json: $OUT"
import json, sys
keys = {k["name"]: k for k in json.loads(sys.argv[1])}
assert sorted(keys) == ["alice", "bob", "erin", "exec-eu"], keys
assert keys["alice"]["public_key"] == sys.argv[2]
assert keys["alice"]["role"] == "operator" and keys["alice"]["state"] == "allowed"
assert keys["exec-eu"]["services"] == ["executor", "health"]
assert keys["exec-eu"]["targets"] == ["eu-1", "eu-2"]
assert keys["erin"]["targets"] == []
PY
# A garbage file in allowed/ is skipped with a warning naming it.
printf 'junk\n' >"$K/allowed/junk.pub"
ctl keys list --dir "$K"
expect_rc 0
expect_err "warning: .*allowed/junk.pub"
rm "$K/allowed/junk.pub"

# --- revoke
ctl keys revoke alice --dir "$K"
expect_rc 0
expect_out 'key alice revoked'
[[ -e $K/allowed/alice.pub ]] && fail "revoke left allowed/alice.pub"
[[ -e $K/revoked/alice.pub ]] || fail "revoke made no revoked/alice.pub"
ctl keys list --dir "$K"
expect_out "^alice +operator +- +- +.{8} +revoked$"
ctl keys revoke alice --dir "$K"
expect_rc 1
expect_err '^flotctl: NOT_FOUND \(11\): key alice is already revoked'
ctl keys revoke nobody --dir "$K"
expect_rc 1
expect_err 'NOT_FOUND.*no key named nobody'
ctl keys revoke ../alice --dir "$K"
expect_rc 2
ctl keys new alice --role viewer --dir "$K" --out alice2.key
expect_rc 1
expect_err 'CONFLICT.*was revoked'

# --- rotate
old=$(pubkey "$K/broker.pub")
ctl keys rotate --finish --dir "$K"
expect_rc 1
expect_err 'NOT_FOUND.*no rotation to finish'
ctl keys rotate --dir "$K"
expect_rc 0
expect_out "$K/broker-next.pub"
expect_mode "$K/broker-next.key" 600
next=$(pubkey "$K/broker-next.pub")
[[ $next != "$old" ]] || fail "the next key is the old one"
[[ $(pubkey "$K/broker.pub") == "$old" ]] || fail "rotate changed broker.pub before --finish"
ctl keys rotate --dir "$K"
expect_rc 1
expect_err 'CONFLICT.*rotation is already under way'
ctl keys rotate --finish --dir "$K"
expect_rc 0
expect_out 'the next key is now the broker'
[[ $(pubkey "$K/broker.pub") == "$next" ]] || fail "--finish did not put the next key in place"
[[ $(pubkey "$K/broker.key") == "$next" ]] || fail "--finish did not move broker-next.key"
[[ -e $K/broker-next.key || -e $K/broker-next.pub ]] && fail "--finish left the next files"
expect_mode "$K/broker.key" 600

# --- usage
ctl keys list --finish --dir "$K"
expect_rc 2
expect_err "\-\-finish does not apply to 'keys list'"
ctl keys new zed --role viewer --json --dir "$K"
expect_rc 2
expect_err "\-\-json does not apply to 'keys new'"
ctl keys list extra --dir "$K"
expect_rc 2
expect_err "too many arguments for 'keys list'"
ctl keys revoke --dir "$K"
expect_rc 2
expect_err "missing arguments for 'keys revoke'"
ctl keys list --cert alice.key --dir "$K"
expect_rc 2
ctl keys frob
expect_rc 2
expect_err "unknown keys subcommand 'frob'"
ctl ping --services x
expect_rc 2
expect_err "\-\-services does not apply to 'ping'"

# --- help
ctl keys --help
expect_rc 0
for word in "init" "new NAME --role ROLE" "create NAME" "allow FILE --name NAME --role ROLE" \
            "list" "revoke NAME" "rotate --finish" --services --targets --out --dir \
            FLOTILLA_AUTH_DIR viewer operator actor admin 0600; do
    grep -qF -- "$word" <<<"$OUT" || fail "keys --help does not mention $word"
done
ctl --help
expect_rc 0
for word in "keys init" "keys new NAME" "keys allow FILE" "keys revoke NAME" "keys rotate" \
            --cert --broker-cert FLOTILLA_CERT FLOTILLA_BROKER_CERT FLOTILLA_CONFIG \
            FLOTILLA_AUTH_DIR "~/.flotilla/local" "flotilla.conf"; do
    grep -qF -- "$word" <<<"$OUT" || fail "flotctl --help does not mention $word"
done

# --- credentials of the commands that talk to a broker
endpoint=tcp://127.0.0.1:21950             # nothing listens here
ctl ping --endpoint "$endpoint" --cert bob.key
expect_rc 2
expect_err 'a key is given \(--cert: bob.key\) but not the broker.s public key'
FLOTILLA_BROKER_CERT=$K/broker.pub ctl ping --endpoint "$endpoint"
expect_rc 2
expect_err 'FLOTILLA_BROKER_CERT'
expect_err 'give --cert FILE'
ctl ping --endpoint "$endpoint" --cert nowhere.key --broker-cert "$K/broker.pub"
expect_rc 2
expect_err 'cannot read nowhere.key'
ctl ping --endpoint "$endpoint" --cert bob.pub --broker-cert "$K/broker.pub"
expect_rc 2
expect_err 'bob.pub holds a secret key but other users may read it|bob.pub holds no key pair'
ctl ping --endpoint "$endpoint" --cert bob.key --broker-cert junk.pub
expect_rc 2
expect_err 'junk.pub'
start=$(now_ms)
ctl ping --endpoint "$endpoint" --timeout 500 --cert bob.key --broker-cert "$K/broker.pub"
expect_rc 3
expect_err "no answer from $endpoint within 500 ms .*is this key allowed there \(--cert bob.key, --broker-cert $K/broker.pub\)"
(( $(now_ms) - start < 1500 )) || fail "$LAST took too long"
# The config file gives them too.
printf 'endpoint = %s\ncert = bob.key\nbroker-cert = %s\n' "$endpoint" "$K/broker.pub" \
    >"$TMP/client.conf"
FLOTILLA_CONFIG=$TMP/client.conf ctl ping --timeout 300
expect_rc 3
expect_err "no answer from $endpoint .*--cert $TMP/bob.key"
# Without keys, the hint says a broker may want one.
ctl ping --endpoint "$endpoint" --timeout 300
expect_rc 3
expect_err 'does it want a key \(--cert, --broker-cert\)'
echo "PASS test_cli_keys"

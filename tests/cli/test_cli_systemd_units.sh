#!/usr/bin/env bash
# test_cli_systemd_units: the systemd units of dist/systemd start flotillad
# with options it has (each one is in flotillad --help), restart it on
# failure, run it as the flotilla user with the
# hardening the README promises, and pass `systemd-analyze verify` (where
# systemd-analyze is installed) with the built flotillad in place of the
# installed one.
source "$(dirname "$0")/lib.sh"
UNITS=$(cd "$(dirname "$0")/../../dist/systemd" && pwd)

ctl_help=$("$FLOTILLAD" --help)
mkdir "$TMP/units"
for unit in flotillad.service flotilla-broker.service flotilla-actors@.service; do
    file=$UNITS/$unit
    [[ -f $file ]] || fail "no $file"
    for setting in Restart=on-failure User=flotilla NoNewPrivileges=yes \
                   ProtectSystem=strict PrivateTmp=yes ProtectHome=yes; do
        grep -qx -- "$setting" "$file" || fail "$unit lacks $setting"
    done
    # The command line, its continuation lines joined.
    exec_start=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$file" | sed 's/\\$//' | tr '\n' ' ')
    [[ $exec_start == "ExecStart=/usr/local/bin/flotillad "* ]] \
        || fail "$unit does not start /usr/local/bin/flotillad: $exec_start"
    for option in $(grep -oE -- '--[a-z-]+' <<<"$exec_start"); do
        grep -qE -- "^ +(-[a-zA-Z], )?$option( |$)" <<<"$ctl_help" \
            || fail "$unit: flotillad --help does not document $option"
    done
    sed "s#/usr/local/bin/flotillad#$FLOTILLAD#" "$file" >"$TMP/units/$unit"
done
grep -q -- "--supervise" "$UNITS/flotillad.service" || fail "flotillad.service is not supervised"
grep -q -- "--supervise" "$UNITS/flotilla-actors@.service" \
    || fail "flotilla-actors@.service is not supervised"
grep -qx "KillMode=mixed" "$UNITS/flotillad.service" \
    || fail "flotillad.service: systemd would signal the children itself, out of order"

if command -v systemd-analyze >/dev/null; then
    cp "$TMP/units/flotilla-actors@.service" "$TMP/units/flotilla-actors@executor.service"
    ( cd "$TMP/units" && systemd-analyze verify --man=no ./flotillad.service \
        ./flotilla-broker.service ./flotilla-actors@executor.service ) >"$TMP/verify" 2>&1 \
        || fail "systemd-analyze verify: $(cat "$TMP/verify")"
    ! grep -v "Failed to read \$container" "$TMP/verify" | grep -q . \
        || fail "systemd-analyze verify warns: $(cat "$TMP/verify")"
    echo "systemd-analyze verify: the three units pass"
else
    echo "note: no systemd-analyze here; the units' settings and options were checked"
fi
echo "PASS test_cli_systemd_units"

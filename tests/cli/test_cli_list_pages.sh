#!/usr/bin/env bash
# test_cli_list_pages: List answers in pages (SPEC 18.1) when asked for one
# (offset, limit): a page holds at most `limit` deployments, oldest first,
# and says where the next starts and that more follow; the last says none
# does. A request without them (an older client) gets every deployment and
# no page. flotctl list fetches the pages until the end, so it shows every
# deployment with pages smaller than their number (--page), joins them into
# one reply with --json (no page in it when it is every deployment), and
# keeps to --offset and --limit.
source "$(dirname "$0")/lib.sh"

start_flotilla 21134 21135

COUNT=7
all=()
for i in $(seq 1 $COUNT); do
    cat > "$TMP/p$i.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: p$i
workload: {name: w$i, version: "1"}
targets:
  - name: a
strategy: {rolling: {}}
hook: {command: record.sh, timeout: 10s}
EOF
    ctl apply -f "$TMP/p$i.yaml" --no-check
    expect_rc 0
    all+=("$(started_id)")
done
expected="${all[*]}"

# ids: the deployments of the JSON reply in OUT, on one line.
ids () { python3 -c 'import json,sys; print(" ".join(d["id"] for d in json.load(sys.stdin)["deployments"]))' <<<"$OUT"; }
page () { python3 -c 'import json,sys; print(json.load(sys.stdin).get("page"))' <<<"$OUT"; }

# The pages, as the coordinator answers them.
ctl call coordinator List '{"limit": 3}'
expect_rc 0
[[ $(ids) == "${all[*]:0:3}" ]] || fail "the first page held '$(ids)'"
[[ $(page) == "{'offset': 0, 'total': 7, 'more': True, 'next_offset': 3, 'next_after': '${all[2]}', 'cut': False}" ]] \
    || fail "the first page said $(page)"
ctl call coordinator List '{"offset": 6, "limit": 3}'
expect_rc 0
[[ $(ids) == "${all[6]}" ]] || fail "the last page held '$(ids)'"
[[ $(page) == "{'offset': 6, 'total': 7, 'more': False, 'cut': False}" ]] \
    || fail "the last page said $(page)"
ctl call coordinator List '{"offset": 9}'
expect_rc 0
[[ -z $(ids) && $(page) == "{'offset': 9, 'total': 7, 'more': False, 'cut': False}" ]] \
    || fail "a page past the end held '$(ids)', said $(page)"
ctl call coordinator List '{"limit": 0, "name": "p2"}'
expect_rc 0
[[ -z $(ids) && $(page) == *"'total': 1,"* ]] || fail "limit 0 held '$(ids)', said $(page)"
# Without offset and limit: every deployment, no page.
ctl call coordinator List '{}'
expect_rc 0
[[ $(ids) == "$expected" && $(page) == None ]] || fail "List {} gave '$(ids)', $(page)"

# flotctl list fetches every page: 7 deployments in pages of 2.
ctl list --page 2
expect_rc 0
[[ $(awk 'NR > 1 { printf "%s ", $1 }' <<<"$OUT") == "$expected " ]] \
    || fail "list --page 2 showed: $OUT"
ctl list --page 2 --json
expect_rc 0
[[ $(ids) == "$expected" ]] || fail "list --page 2 --json joined '$(ids)'"
# Joined whole, it reads as one call's reply: no page.
[[ $(page) == None ]] || fail "the joined reply's page is $(page)"
ctl list --offset 2 --limit 3 --page 2
expect_rc 0
[[ $(awk 'NR > 1 { printf "%s ", $1 }' <<<"$OUT") == "${all[*]:2:3} " ]] \
    || fail "list --offset 2 --limit 3 showed: $OUT"
ctl list --offset 5 --json --page 1
expect_rc 0
[[ $(ids) == "${all[*]:5:2}" ]] || fail "list --offset 5 --json gave '$(ids)'"
[[ $(page) == "{'offset': 5, 'total': 7, 'more': False, 'cut': False}" ]] \
    || fail "a part joined says $(page)"
ctl list --name p4 --json
expect_rc 0
[[ $(ids) == "${all[3]}" ]] || fail "list --name p4 gave '$(ids)'"
ctl list --page 0
expect_rc 2
expect_err "--page '0' is not a number in 1..10000"
ctl list --target x
expect_rc 2
expect_err "--target does not apply to 'list'"
echo "PASS test_cli_list_pages"

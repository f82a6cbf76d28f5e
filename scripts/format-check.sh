#!/usr/bin/env bash
# Checks that the C lines a change touches are laid out as .clang-format
# says (and include/.clang-format for the public headers). Only changed
# lines are checked: the existing code is never reformatted wholesale.
#
# Usage: scripts/format-check.sh [BASE]
#   BASE   the revision to compare the working tree with (committed, staged
#          and unstaged changes alike). Default: the merge base of HEAD and
#          origin/main when that branch exists, else HEAD~1 (the last commit
#          and anything not yet committed).
#   New files git does not track yet are checked whole.
#
# Exits 0 when clang-format would change nothing, 1 (printing the diff it
# would apply) when it would, 2 on a usage or tool error. To apply its
# layout to your changed lines instead: git clang-format BASE
# Needs clang-format and git-clang-format (Debian: clang-format, which
# scripts/setup.sh installs).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v git-clang-format >/dev/null || ! command -v clang-format >/dev/null; then
    echo "format-check: clang-format and git-clang-format are needed (apt-get install clang-format)" >&2
    exit 2
fi

if [ $# -gt 1 ]; then
    echo "usage: $0 [BASE]" >&2
    exit 2
fi
if [ $# -eq 1 ]; then
    base=$1
elif git rev-parse -q --verify origin/main >/dev/null; then
    base=$(git merge-base origin/main HEAD)
elif git rev-parse -q --verify HEAD~1 >/dev/null; then
    base=HEAD~1
else
    base=""                 #   a repository of one commit: all of it is new
fi
if [ -n "$base" ] && ! git rev-parse -q --verify "$base^{tree}" >/dev/null; then
    echo "format-check: '$base' is not a revision of this repository" >&2
    exit 2
fi

status=0

#   Files every line of which is new: checked whole.
check_whole () {
    local file
    while IFS= read -r -d '' file; do
        [ -f "$file" ] || continue
        if ! clang-format --dry-run -Werror "$file" 2>/dev/null; then
            echo "--- $file (new) would be reformatted:"
            clang-format "$file" | diff -u "$file" - || true
            status=1
        fi
    done
}

if [ -n "$base" ]; then
    #   Tracked files: the lines that differ from BASE. git-clang-format 14
    #   exits 0 whether or not it finds something, so its output decides.
    out=$(GIT_PAGER=cat git clang-format --extensions c,h --diff "$base" 2>&1) || {
        echo "$out" >&2
        exit 2
    }
    if grep -q '^diff --git' <<<"$out"; then
        echo "$out"
        status=1
    fi
else
    check_whole < <(git ls-files -z -- '*.c' '*.h')
fi
#   Untracked C files (not ignored).
check_whole < <(git ls-files -z --others --exclude-standard -- '*.c' '*.h')

since=${base:+ since $(git rev-parse --short "$base")}
if [ "$status" -eq 0 ]; then
    echo "format-check: the changed lines$since follow .clang-format"
else
    echo "format-check: the lines above do not follow .clang-format${base:+ (git clang-format $base applies it)}" >&2
fi
exit "$status"

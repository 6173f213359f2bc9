#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# test-gatefleet-sign.sh - smoke test of the offline signing tool, run by CTest as
# unit.gatefleet_sign: keygen (mode 0600, no overwrite), pubkey, sign and envelope from a
# file and from stdin, and exit status 2 on usage errors. Argument: the gatefleet-sign binary.
set -u
bin=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/gf_sign_XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
fail=0
pass=0
check() { # description, then a command that must succeed
    d=$1
    shift
    if "$@"; then pass=$((pass + 1)); else echo "FAIL: $d"; fail=$((fail + 1)); fi
}

"$bin" keygen "$dir/k" >"$dir/keygen.json"
check "keygen exits 0" test $? -eq 0
check "secret file is 0600" test "$(stat -c %a "$dir/k")" = 600
check "secret file is 128 hex + newline" test "$(wc -c <"$dir/k")" -eq 129
check "secret file is lower hex" grep -Eqx '[0-9a-f]{128}' "$dir/k"
check "keygen prints key id and public key" \
    grep -Eqx '\{"key_id":"[0-9a-f]{32}","public_key":"[0-9a-f]{64}"\}' "$dir/keygen.json"
"$bin" keygen "$dir/k" >/dev/null 2>&1
check "keygen refuses to overwrite" test $? -eq 1
"$bin" pubkey "$dir/k" >"$dir/pubkey.json"
check "pubkey matches keygen" cmp -s "$dir/keygen.json" "$dir/pubkey.json"

printf '{"schema":1,"x":"exact bytes"}\n' >"$dir/m.json"
"$bin" sign "$dir/k" "$dir/m.json" >"$dir/sig.json"
check "sign exits 0" test $? -eq 0
check "sign prints key id and signature" \
    grep -Eqx '\{"key_id":"[0-9a-f]{32}","signature":"[0-9a-f]{128}"\}' "$dir/sig.json"
"$bin" sign "$dir/k" <"$dir/m.json" >"$dir/sig2.json"
check "sign from stdin equals sign from file" cmp -s "$dir/sig.json" "$dir/sig2.json"
kid=$(sed 's/.*"key_id":"\([0-9a-f]*\)".*/\1/' "$dir/pubkey.json")
check "sign uses the key id" grep -q "\"key_id\":\"$kid\"" "$dir/sig.json"

"$bin" envelope "$dir/k" "$dir/m.json" >"$dir/env.json"
check "envelope exits 0" test $? -eq 0
sig=$(sed 's/.*"signature":"\([0-9a-f]*\)".*/\1/' "$dir/sig.json")
check "envelope carries the signature" grep -q "\"key_id\":\"$kid\",\"signature\":\"$sig\"}" \
    "$dir/env.json"
sed 's/^{"signed":"\([^"]*\)".*/\1/' "$dir/env.json" | base64 -d >"$dir/back" 2>/dev/null
check "envelope carries the exact bytes" cmp -s "$dir/m.json" "$dir/back"

printf 'garbage\n' >"$dir/bad"
"$bin" sign "$dir/bad" "$dir/m.json" >/dev/null 2>&1
check "bad secret file fails with 1" test $? -eq 1
"$bin" >/dev/null 2>&1
check "no command exits 2" test $? -eq 2
"$bin" frobnicate "$dir/k" >/dev/null 2>&1
check "unknown command exits 2" test $? -eq 2
"$bin" sign >/dev/null 2>&1
check "sign without SECRET_FILE exits 2" test $? -eq 2
"$bin" keygen "$dir/a" "$dir/b" >/dev/null 2>&1
check "keygen with two files exits 2" test $? -eq 2

echo "gatefleet-sign: $pass passed, $fail failed"
test $fail -eq 0

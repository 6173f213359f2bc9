#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/packaging/check_deb.sh BUILD_DIR - build the Debian package of BUILD_DIR with CPack
# (into a temporary directory) and check it: the server, the systemd unit and the web UI
# are in it, and its postinst creates the system user `gatefleet` the unit runs as, once.
# The postinst runs against stand-ins for getent and useradd on PATH (recording their
# calls), so the test changes no account of the machine it runs on.
set -euo pipefail

build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "check_deb: $*" >&2
    exit 1
}

cpack -G DEB -B "$tmp/out" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$tmp"/out/*.deb)
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/gatefleet-server ./usr/lib/systemd/system/gatefleet-server.service \
    ./usr/share/gatefleet/web/index.html ./usr/share/doc/gatefleet/server.conf.example; do
    grep -qx -- "$f" <<<"$files" || fail "$f missing from the package"
done
grep -q '^User=gatefleet$' <(dpkg-deb --fsys-tarfile "$deb" |
    tar -xO ./usr/lib/systemd/system/gatefleet-server.service) || fail "unit without User=gatefleet"

dpkg-deb -e "$deb" "$tmp/control"
post=$tmp/control/postinst
[[ -x $post ]] || fail "no executable postinst"
sh -n "$post" || fail "postinst is not valid sh"

# Stand-ins: getent answers from $tmp/passwd, useradd appends its arguments to $tmp/calls.
mkdir "$tmp/bin"
cat >"$tmp/bin/getent" <<'SH'
#!/bin/sh
grep -q "^$2:" "$GF_FAKE_PASSWD" 2>/dev/null
SH
cat >"$tmp/bin/useradd" <<'SH'
#!/bin/sh
echo "$*" >>"$GF_FAKE_CALLS"
eval "last=\${$#}"
echo "$last:x:999:999::/nonexistent:/usr/sbin/nologin" >>"$GF_FAKE_PASSWD"
SH
cat >"$tmp/bin/grep" <<SH
#!/bin/sh
exec $(command -v grep) "\$@"
SH
chmod +x "$tmp"/bin/*
run() {
    env -i PATH="$tmp/bin" GF_FAKE_PASSWD="$tmp/passwd" GF_FAKE_CALLS="$tmp/calls" \
        /bin/sh "$post" "$@"
}
: >"$tmp/passwd"
run configure || fail "postinst configure failed"
[[ $(wc -l <"$tmp/calls") -eq 1 ]] || fail "useradd not called once: $(cat "$tmp/calls")"
grep -q -- '--system' "$tmp/calls" && grep -q ' gatefleet$' "$tmp/calls" ||
    fail "unexpected useradd call: $(cat "$tmp/calls")"
run configure || fail "second postinst configure failed"
[[ $(wc -l <"$tmp/calls") -eq 1 ]] || fail "useradd called again for an existing user"
run abort-upgrade || fail "postinst abort-upgrade failed"
[[ $(wc -l <"$tmp/calls") -eq 1 ]] || fail "useradd called outside configure"
echo "check_deb: $(basename "$deb") ok"

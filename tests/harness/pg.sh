#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/harness/pg.sh start DIR | stop DIR - a throwaway PostgreSQL for the integration tests.
#
# start: stops whatever an earlier run left in DIR, then initdb (trust auth, UTF8, no locale)
# into a fresh data directory and starts PostgreSQL on a free 127.0.0.1 port plus a private
# Unix socket directory, tuned for tests (fsync off). It writes DIR/pg.env, KEY=VALUE lines
# read by tests/integration/gf.py (and by `set -a; . DIR/pg.env` in a shell):
#   PGHOST=127.0.0.1 PGPORT=<port> PGUSER=<superuser> GF_TEST_PG_SOCKDIR=<dir>
#   GF_TEST_PG_BINDIR=<newest /usr/lib/postgresql/*/bin> GF_TEST_PG_DATA=<data dir>
#   GF_TEST_PG_LOG=<server log>
# The superuser is named after the OS user PostgreSQL runs as: PostgreSQL refuses to run as
# root, so as root it runs as the system user `gatefleet` (created here if missing, like
# scripts/deps does) and the superuser is `gatefleet`; otherwise it runs as, and is named
# after, the calling user. The data lives in DIR/data and the socket in DIR/sock, unless that
# user cannot reach DIR or the socket path would be too long: then both go to a mktemp
# directory under /tmp (recorded in DIR/base and removed by stop).
# GF_TEST_PG_OPTS, when set, is appended to the server's options (a benchmark's profile:
# GF_TEST_PG_OPTS="-c shared_preload_libraries=pg_stat_statements").
# stop: fast shutdown, removes the data directory; the server log is kept as
# DIR/postgres.log for debugging.
# CTest runs these as the FIXTURES_SETUP / FIXTURES_CLEANUP tests of fixture `pg`.
set -euo pipefail

usage() {
    echo "usage: pg.sh start|stop DIR" >&2
    exit 2
}
[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

bindir=
for d in /usr/lib/postgresql/*/bin; do
    if [[ -x $d/initdb ]]; then
        v=${d#/usr/lib/postgresql/}
        v=${v%/bin}
        if [[ -z $bindir ]] || ((v > best)); then
            bindir=$d
            best=$v
        fi
    fi
done
if [[ -z $bindir ]]; then
    echo "pg.sh: no PostgreSQL under /usr/lib/postgresql (run scripts/deps)" >&2
    exit 1
fi

# as_pg CMD...: run a command as the PostgreSQL OS user.
if [[ $(id -u) -eq 0 ]]; then
    pg_os_user=gatefleet
    if ! id -u "$pg_os_user" >/dev/null 2>&1; then
        useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$pg_os_user"
    fi
    as_pg() { runuser -u "$pg_os_user" -- "$@"; }
else
    pg_os_user=$(id -un)
    as_pg() { "$@"; }
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# base: where data/ and sock/ live (DIR, or a /tmp directory recorded in DIR/base).
current_base() {
    if [[ -f $dir/base ]]; then cat "$dir/base"; else echo "$dir"; fi
}

do_stop() {
    local base
    base=$(current_base)
    if [[ -f $base/data/postmaster.pid ]]; then
        as_pg "$bindir/pg_ctl" -D "$base/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_pg "$bindir/pg_ctl" -D "$base/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
            true
    fi
    rm -rf "$base/data" "$base/sock"
    if [[ $base != "$dir" ]]; then
        cp "$base/postgres.log" "$dir/postgres.log" 2>/dev/null || true
        rm -rf "$base"
        rm -f "$dir/base"
    fi
    rm -f "$dir/pg.env"
}

do_start() {
    do_stop
    local base=$dir
    # 107 = sun_path - 1; ".s.PGSQL.65535" is 14 more bytes after "<sock>/".
    if [[ $(id -u) -eq 0 ]]; then
        chown "$pg_os_user:" "$dir"
    fi
    if ! as_pg test -w "$dir" || ((${#dir} + 20 > 100)); then
        base=$(mktemp -d /tmp/gf-pg.XXXXXX)
        echo "$base" >"$dir/base"
        if [[ $(id -u) -eq 0 ]]; then
            chown "$pg_os_user:" "$base"
        fi
    fi
    as_pg mkdir -p "$base/sock"
    chmod 0700 "$base/sock"
    local log=$base/postgres.log
    : >"$log"
    if [[ $(id -u) -eq 0 ]]; then
        chown "$pg_os_user:" "$log"
    fi
    as_pg "$bindir/initdb" -D "$base/data" -U "$pg_os_user" -A trust -E UTF8 --no-locale \
        --no-instructions >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }

    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_pg "$bindir/pg_ctl" -D "$base/data" -l "$log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $base/sock -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
-c shared_buffers=64MB ${GF_TEST_PG_OPTS:-}" start >/dev/null; then
            cat >"$dir/pg.env" <<ENV
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=$pg_os_user
GF_TEST_PG_SOCKDIR=$base/sock
GF_TEST_PG_BINDIR=$bindir
GF_TEST_PG_DATA=$base/data
GF_TEST_PG_LOG=$log
ENV
            echo "pg.sh: PostgreSQL $best on 127.0.0.1:$port (user $pg_os_user, socket" \
                "$base/sock, log $log)"
            return 0
        fi
        echo "pg.sh: start on port $port failed (attempt $attempt)" >&2
    done
    tail -n 30 "$log" >&2
    exit 1
}

case $cmd in
    start) do_start ;;
    stop)
        do_stop
        echo "pg.sh: stopped"
        ;;
    *) usage ;;
esac

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""http_bench.py - request throughput and latency of gatefleet-server on this machine.

Starts the test harness's PostgreSQL and mosquitto (tests/harness), a server built at
GF_SERVER_BIN (default build/release/server/gatefleet-server), and drives it over loopback
with N keep-alive client threads for D seconds per scenario:

  healthz     GET /healthz                          (no database: the HTTP baseline)
  project     GET /api/v1/projects/{id} with Bearer token (token lookup, scope, read)
  list        GET /api/v1/tenants/{id}/projects?limit=50 (50 rows as JSON)
  create      POST /api/v1/tenants/{id}/projects    (transaction + audit row)
  login       POST /api/v1/auth/login               (argon2id, 64 MiB per hash)

Prints requests/s, p50/p99 latency and the ratio to the healthz baseline measured in the
same run (the machine is shared and noisy: compare ratios, not absolute numbers).
Usage: tests/bench/http_bench.py [--threads 8] [--seconds 5]
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchenv  # noqa: E402  (also puts tests/integration on the path)


def drive(base, method, path_fn, body_fn, headers, threads, seconds):
    u = urllib.parse.urlsplit(base)
    lat = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors = [0]

    def worker(k):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        mine = []
        i = 0
        while time.monotonic() < stop:
            i += 1
            body = body_fn(k, i)
            t0 = time.perf_counter()
            conn.request(method, path_fn(k, i), body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - t0)
            if r.status >= 400:
                errors[0] += 1
        conn.close()
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t0
    lat.sort()
    n = len(lat)
    return {"rps": n / elapsed, "p50_ms": 1000 * lat[n // 2] if n else 0,
            "p99_ms": 1000 * lat[min(n - 1, int(n * 0.99))] if n else 0, "n": n,
            "errors": errors[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    fixtures = benchenv.start("gf-bench-")
    import gf  # noqa: E402  (needs the environment above)
    try:
        with gf.Server(name="bench", extra_args=["--log_level", "warn", "--http_threads",
                                                 "8", "--db_pool_size", "16"]) as srv:
            admin = srv.admin()
            tenant = gf.make_tenant(admin)
            proj = admin.post(f"/tenants/{tenant['id']}/projects", {"name": "bench"}).json
            for i in range(60):
                admin.post(f"/tenants/{tenant['id']}/projects", {"name": f"p{i}"})
            tok = admin.post("/tokens", {"name": "bench", "tenant_id": tenant["id"],
                                         "role": "admin"}).json["secret"]
            auth = {"Authorization": f"Bearer {tok}"}
            jh = dict(auth, **{"Content-Type": "application/json"})
            t, s = args.threads, args.seconds
            res = {}
            res["healthz"] = drive(srv.base_url, "GET", lambda k, i: "/healthz",
                                   lambda k, i: None, {}, t, s)
            res["project"] = drive(srv.base_url, "GET",
                                   lambda k, i: f"/api/v1/projects/{proj['id']}",
                                   lambda k, i: None, auth, t, s)
            res["list"] = drive(srv.base_url, "GET",
                                lambda k, i: f"/api/v1/tenants/{tenant['id']}/projects?limit=50",
                                lambda k, i: None, auth, t, s)
            res["create"] = drive(srv.base_url, "POST",
                                  lambda k, i: f"/api/v1/tenants/{tenant['id']}/projects",
                                  lambda k, i: json.dumps({"name": f"c{k}-{i}"}), jh, t, s)
            body = json.dumps({"email": admin.email, "password": admin.password})
            res["login"] = drive(srv.base_url, "POST", lambda k, i: "/api/v1/auth/login",
                                 lambda k, i: body, {"Content-Type": "application/json"},
                                 2, s)
            base = res["healthz"]["rps"]
            print(f"threads={t} seconds={s}")
            print(f"{'scenario':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x healthz':>9} "
                  f"{'errors':>6}")
            for k, v in res.items():
                print(f"{k:10} {v['rps']:9.0f} {v['p50_ms']:8.2f} {v['p99_ms']:8.2f} "
                      f"{v['rps'] / base:9.3f} {v['errors']:6d}")
    finally:
        benchenv.stop(fixtures)


if __name__ == "__main__":
    main()

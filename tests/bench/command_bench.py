#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""command_bench.py - the command round trip (issue 6): REST request to result stored, for
N online simulated stations.

Starts the harness's PostgreSQL, a private mosquitto with dynamic security and a release
server (default settings but the log level), and brings N stations online through the fleet
simulator (benchenv.online_fleet: nodes inserted in SQL, broker accounts preloaded; each
simulated node answers its `cmd/req` with `running` then `succeeded` {"pong": true}). Then,
per phase, --commands `ping` commands to random nodes from --concurrency client threads, each
a closed loop: POST /nodes/{id}/commands, wait until the command is final, then the next.
How a client waits (--wait): `poll` GETs /commands/{id} every --poll-ms (5 ms: tens of GETs
per command, a load of their own on the server and the database); `sse` watches the
project's event feed (GET /projects/{id}/events?kinds=command.*, one stream for all
clients) for the command's final event, as the web UI would. Reported per phase:
  client_rtt_ms      - POST sent -> the final state seen by the client;
  db_rtt_ms          - created_at -> finished_at from the database: the REST request's
                       transaction to the result's ingest transaction, i.e. "REST request
                       to result stored" without the client's polling granularity;
  db_queue_ms        - created_at -> sent_at (the command outbox transaction that published
                       it: the wake-up of the fleet thread);
  db_delivery_ms     - sent_at -> finished_at (publish, PUBACK, the node's answer, ingest);
each as median, p90, p99, max; throughput (commands per second of the phase), CPU seconds of
the server, PostgreSQL (postmaster and backends), mosquitto and the simulator over the phase,
the server's peak RSS and the load average before and after. A short warm-up runs first.
--sequential N adds a phase of N commands from one client (concurrency 1).

The broker runs with `set_tcp_nodelay true`, as scripts/run configures it; --broker-nagle
leaves mosquitto's default (Nagle's algorithm on), for comparison: then, when several
messages go out to one connection back to back (the PUBACKs of a round of command requests, results on their way to the
server's ingest session) the second waits for the TCP ACK of the first, which the receiving
kernel delays by up to 40 ms: the round trip under concurrency is then mostly that wait.
Usage: tests/bench/command_bench.py [--nodes 1000] [--commands 2000] [--concurrency 16]
                                    [--sequential 300] [--wait poll|sse] [--poll-ms 5]
                                    [--broker-nagle]
Binaries: GF_SERVER_BIN and GF_FLEETSIM_BIN (default: build/release).
"""
import argparse
import http.client
import json
import math
import os
import random
import resource
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchenv  # noqa: E402  (also puts tests/integration on the path)

FINAL = ("succeeded", "failed", "timed_out", "expired", "rejected")


class Caller:
    """One client thread's HTTP/1.1 keep-alive connection with the admin's session."""

    def __init__(self, admin):
        self.host, self.port = admin.host, admin.port
        self.headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in admin.cookies.items()),
                        "X-CSRF-Token": admin.csrf_token or "",
                        "Content-Type": "application/json"}
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, "/api/v1" + path,
                                  body=json.dumps(body) if body is not None else None,
                                  headers=self.headers)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, json.loads(data) if data else None
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return None, None


class SseWaiter:
    """Commands' final states from the project's event feed: one SSE stream read by a
    thread; clients wait for their command's id."""

    def __init__(self, admin, pid):
        self.cv = threading.Condition()
        self.final = {}  # command id -> (monotonic time seen, state)
        h = Caller(admin).headers
        self.conn = http.client.HTTPConnection(admin.host, admin.port, timeout=None)
        self.conn.request("GET", f"/api/v1/projects/{pid}/events?kinds=command.*",
                          headers={"Cookie": h["Cookie"], "Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise SystemExit(f"event feed: HTTP {self.resp.status}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in iter(self.resp.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.startswith("data: "):
                continue
            ev = json.loads(line[6:])
            d = ev.get("data") or {}
            if d.get("state") in FINAL and d.get("command_id"):
                with self.cv:
                    self.final[d["command_id"]] = (time.monotonic(), d["state"])
                    self.cv.notify_all()

    def wait(self, cid, timeout=60):
        with self.cv:
            if not self.cv.wait_for(lambda: cid in self.final, timeout):
                return None
            return self.final.pop(cid)


def pct(values, q):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    return v[max(0, min(len(v) - 1, math.ceil(q * len(v)) - 1))]


def summary(values):
    if not values:
        return None
    return {"median": round(pct(values, 0.5), 2), "p90": round(pct(values, 0.9), 2),
            "p99": round(pct(values, 0.99), 2), "max": round(max(values), 2)}


def run_clients(admin, ids, commands, concurrency, poll_s, rng, sse=None):
    """commands pings to random nodes from concurrency closed-loop clients, each waiting by
    polling (every poll_s) or on sse (an SseWaiter). Returns ([(command id, client rtt s,
    state)], errors, wall seconds)."""
    targets = [rng.choice(ids) for _ in range(commands)]
    lock = threading.Lock()
    done, errors = [], []
    nxt = [0]

    def worker():
        c = Caller(admin)
        while True:
            with lock:
                if nxt[0] >= len(targets):
                    return
                node = targets[nxt[0]]
                nxt[0] += 1
            t0 = time.monotonic()
            st, cmd = c.call("POST", f"/nodes/{node}/commands",
                             {"name": "ping", "args": {}, "timeout_s": 30})
            if st != 202:
                with lock:
                    errors.append(f"POST {st} {cmd}")
                continue
            if sse is not None:
                seen = sse.wait(cmd["id"])
                with lock:
                    if seen is None:
                        errors.append(f"no final event for {cmd['id']}")
                    else:
                        done.append((cmd["id"], seen[0] - t0, seen[1]))
                continue
            while cmd["state"] not in FINAL:
                time.sleep(poll_s)
                st, cmd = c.call("GET", f"/commands/{cmd['id']}")
                if st != 200 or time.monotonic() - t0 > 60:
                    with lock:
                        errors.append(f"GET {st} {cmd}")
                    break
            else:
                with lock:
                    done.append((cmd["id"], time.monotonic() - t0, cmd["state"]))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done, errors, time.monotonic() - t_start


def db_times(srv, cids):
    """created->finished, created->sent, sent->finished in ms for the commands cids."""
    rows = []
    for i in range(0, len(cids), 500):
        part = ",".join(f"'{c}'" for c in cids[i:i + 500])
        rows += srv.sql("SELECT extract(epoch FROM finished_at - created_at) * 1000,"
                        " extract(epoch FROM sent_at - created_at) * 1000,"
                        " extract(epoch FROM finished_at - sent_at) * 1000"
                        f" FROM commands WHERE id IN ({part}) AND finished_at IS NOT NULL")
    return ([float(r[0]) for r in rows], [float(r[1]) for r in rows],
            [float(r[2]) for r in rows])


def phase(name, srv, admin, ids, procs, commands, concurrency, poll_s, rng, sse):
    load0 = os.getloadavg()
    cpu0 = {k: benchenv.tree_cpu_seconds(v) for k, v in procs.items()}
    done, errors, wall = run_clients(admin, ids, commands, concurrency, poll_s, rng, sse)
    cpu = {k: round(benchenv.tree_cpu_seconds(v) - cpu0[k], 2) for k, v in procs.items()}
    load1 = os.getloadavg()
    rtt, queue, delivery = db_times(srv, [d[0] for d in done])
    states = {}
    for d in done:
        states[d[2]] = states.get(d[2], 0) + 1
    return {
        "phase": name, "commands": commands, "concurrency": concurrency,
        "wait": "sse" if sse else f"poll {round(poll_s * 1000, 1)} ms",
        "completed": len(done), "errors": errors[:5],
        "error_count": len(errors), "states": states,
        "wall_s": round(wall, 2), "throughput_per_s": round(len(done) / wall, 1),
        "client_rtt_ms": summary([d[1] * 1000 for d in done]),
        "db_rtt_ms": summary(rtt), "db_queue_ms": summary(queue),
        "db_delivery_ms": summary(delivery),
        "cpu_s": cpu,
        "server_cpu_ms_per_command": round(cpu["server"] * 1000 / max(1, len(done)), 2),
        "server_peak_rss_mb": round(benchenv.proc_status(srv.proc.pid, "VmHWM") / 2**20, 1),
        "loadavg_before": [round(x, 2) for x in load0],
        "loadavg_after": [round(x, 2) for x in load1],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--commands", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--sequential", type=int, default=0,
                    help="commands of an extra phase with one client (0: none)")
    ap.add_argument("--wait", choices=("poll", "sse"), default="poll")
    ap.add_argument("--poll-ms", type=float, default=5.0)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--broker-nagle", action="store_true",
                    help="set_tcp_nodelay false in the broker (Nagle's algorithm on)")
    args = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rng = random.Random(args.seed)
    fixtures = benchenv.start("gf-command-bench-")
    import gf  # noqa: E402  (reads the fixtures directory benchenv.start made)
    broker = gf.Broker(name="command-bench", nodelay=not args.broker_nagle)
    benchenv.preload_broker_accounts(broker, benchenv.bench_ids(args.nodes))
    broker.start()
    sim = None
    try:
        with gf.Server(name="command-bench", extra_args=[
                "--log_level", os.environ.get("GF_BENCH_LOG", "warn")]) as srv:
            admin, pid, ids, sim = benchenv.online_fleet(srv, broker, fixtures, args.nodes)
            sse = SseWaiter(admin, pid) if args.wait == "sse" else None
            print(f"# {args.nodes} stations online", flush=True)
            procs = {"server": srv.proc.pid, "postgres": benchenv.pg_postmaster_pid(fixtures),
                     "mosquitto": broker.proc.pid, "fleetsim": sim.pid}
            poll = args.poll_ms / 1000.0
            results = []
            if args.warmup:
                run_clients(admin, ids, args.warmup, min(args.concurrency, 4), poll, rng, sse)
            results.append(phase(f"concurrency {args.concurrency}", srv, admin, ids, procs,
                                 args.commands, args.concurrency, poll, rng, sse))
            if args.sequential:
                results.append(phase("sequential", srv, admin, ids, procs, args.sequential, 1,
                                     poll, rng, sse))
            stats = benchenv.fleetsim_stats(sim)
            out = {"nodes": args.nodes, "broker_nagle": args.broker_nagle, "phases": results,
                   "fleetsim": {k: stats.get(k) for k in (
                       "connected", "commands_received", "commands_answered",
                       "commands_duplicates", "commands_dropped", "write_drops", "lost")}}
            print(json.dumps(out, indent=2), flush=True)
            benchenv.keep_server_log(srv, "command_bench")
    finally:
        benchenv.stop(fixtures, sim, broker)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""rollout_bench.py - one signed bundle rolled out to N simulated online stations (issue 5).

Starts the harness's PostgreSQL (fsync off), a private mosquitto with dynamic security
and a release server; inserts N accepted nodes of one project in SQL and their broker
accounts (per-node ACL) into the broker's dynamic-security file, as enrollment and
provisioning would leave them (made one by one over $CONTROL, ten thousand accounts take
far longer than the run itself); connects them all with
the fleet simulator (fleetsim --mode fleet --final-only: each answers its desired message
with `applied` at once), uploads one bundle and POSTs a rollout in waves 1 % -> 10 % -> 100 %
without a rate limit. It prints, from the POST:
  notified_s  - until the last station received its desired message (simulator's clock);
  committed_s - until the last target's `applied` was committed (its finished_at: the
                start of the ingest transaction that committed it, milliseconds earlier);
  succeeded_s - until the rollout itself was marked succeeded;
and the CPU seconds of each process and the WAL PostgreSQL wrote (wal_mb) meanwhile.
It follows the rollout on the project's event feed (SSE), as a script would, rather than
polling GET /rollouts, whose counts over every target would load the database measured.
GF_BENCH_PG_STATEMENTS=1 (with GF_TEST_PG_OPTS="-c shared_preload_libraries=
pg_stat_statements") also prints PostgreSQL's statements by total time.
With --templated the bundle is templated (${site} from each station's label): every
station gets its own rendered, signed instance, and the engine's log gives the time spent
rendering + signing and storing + notifying the instances.
Usage: tests/bench/rollout_bench.py [--nodes 10000] [--templated] [--server-arg=--key
                                    --server-arg=value ...]
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchenv  # noqa: E402  (also puts tests/integration on the path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--templated", action="store_true",
                    help="a templated bundle: every station its own rendered, signed instance")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="one more server option (repeat: --server-arg=--mqtt_publishers"
                    " --server-arg=4)")
    args = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fixtures = benchenv.start("gf-rollout-bench-")
    import gf  # noqa: E402
    ids = benchenv.bench_ids(args.nodes)
    broker = gf.Broker(name="rollout-bench")
    benchenv.preload_broker_accounts(broker, ids)
    broker.start()
    sim = None
    try:
        with gf.Server(name="rollout-bench", extra_args=[
                "--log_level", os.environ.get("GF_BENCH_LOG", "info" if args.templated else "warn"),
                "--fleet_interval_ms", "100",
                "--db_pool_size", "8"] + args.server_arg) as srv:
            admin, pid, _, sim = benchenv.online_fleet(srv, broker, fixtures, args.nodes,
                                                       ["--final-only"])
            print(f"# {args.nodes} stations online", flush=True)
            bundle = gf.upload_bundle(admin, pid, {"name": "bench", "actions": []},
                                      [("etc/bench.conf", b"v1\n")]).expect(201).json
            if args.templated:  # ${site} differs per station: 10,000 distinct rendered files
                bundle = gf.upload_bundle(admin, pid, {
                    "name": "bench", "actions": [], "files": {"etc/site.conf": {"template": True}},
                    "parameters": {"default": {"port": "502"}}},
                    [("etc/bench.conf", b"v1\n"),
                     ("etc/site.conf", b"site=${site}\nport=${port}\n" * 8)]).expect(201).json
            time.sleep(2)
            procs = {"server": srv.proc.pid, "mosquitto": broker.proc.pid, "fleetsim": sim.pid,
                     "postgres": benchenv.pg_postmaster_pid(fixtures)}
            profile = bool(os.environ.get("GF_BENCH_PG_STATEMENTS"))
            if profile:  # needs GF_TEST_PG_OPTS=-cshared_preload_libraries=pg_stat_statements
                srv.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                srv.sql("SELECT pg_stat_statements_reset()")
            # Followed on the project's event feed, as a script would: polling GET /rollouts
            # (counts over 10,000 targets) would load the database this measures.
            feed = gf.Stream(srv.base_url, f"/projects/{pid}/events", client=admin,
                             query={"kinds": "rollout.*"})
            assert feed.status == 200, feed.status
            cpu0 = {k: benchenv.tree_cpu_seconds(v) for k, v in procs.items()}
            wal0 = srv.scalar("SELECT pg_current_wal_lsn()")
            t0 = time.time()
            r = admin.post(f"/projects/{pid}/rollouts", {
                "bundle_id": bundle["id"], "target": {"selector": "fleet=bench"},
                "waves": [{"percent": 1}, {"percent": 10}, {"percent": 100}]}).expect(201).json
            t_post = time.time() - t0
            feed.wait(lambda evs: any(e.get("event") == "rollout.succeeded"
                                      and e["data"]["data"]["rollout_id"] == r["id"]
                                      for e in evs), timeout=120, what="rollout.succeeded")
            feed.close()
            cpu = {k: round(benchenv.tree_cpu_seconds(v) - cpu0[k], 2) for k, v in procs.items()}
            wal = int(srv.scalar(f"SELECT pg_current_wal_lsn() - '{wal0}'::pg_lsn"))
            done = float(srv.scalar(f"SELECT extract(epoch FROM finished_at) FROM rollouts"
                                    f" WHERE id = '{r['id']}'"))
            committed = float(srv.scalar(
                f"SELECT extract(epoch FROM max(finished_at)) FROM rollout_targets"
                f" WHERE rollout_id = '{r['id']}' AND state = 'applied'")) - t0
            sim.stdin.write("stats\n")
            sim.stdin.flush()
            stats = None
            for line in sim.stdout:
                ev = json.loads(line)
                if ev.get("ev") == "stats":
                    stats = ev
                    break
            # Per wave, from the POST: first and last notification (the notifying step's
            # transaction start) and the last `applied` committed.
            waves = []
            for row in srv.sql(
                    f"SELECT wave, count(*), extract(epoch FROM min(notified_at)),"
                    f" extract(epoch FROM max(notified_at)), extract(epoch FROM max(finished_at))"
                    f" FROM rollout_targets WHERE rollout_id = '{r['id']}'"
                    f" GROUP BY wave ORDER BY wave"):
                waves.append({"wave": int(row[0]) + 1, "targets": int(row[1]),
                              "notified_s": [round(float(row[2]) - t0, 3),
                                             round(float(row[3]) - t0, 3)],
                              "committed_s": round(float(row[4]) - t0, 3)})
            result = {
                "nodes": args.nodes,
                "waves": "1% -> 10% -> 100%, no rate limit",
                "post_s": round(t_post, 3),
                "first_notified_s": round(stats["first_desired_ms"] / 1000.0 - t0, 3),
                "notified_s": round(stats["last_desired_ms"] / 1000.0 - t0, 3),
                "committed_s": round(committed, 3) if committed else None,
                "succeeded_s": round(float(done) - t0, 3),
                "desired_received": stats["desired_received"],
                "desired_duplicates": stats["desired_duplicates"],
                "server_rss_mb": round(benchenv.proc_status(srv.proc.pid, "VmHWM") / 2**20, 1),
                # how long the ingest writers gave way to the desired outbox (ingest.h)
                "ingest_held_s": srv.metric("gf_ingest_held_seconds_total"),
                "templated": args.templated,
                "cpu_s": cpu,
                "wal_mb": round(wal / 2**20, 1),  # PostgreSQL's WAL from the POST to `succeeded`
                "per_wave": waves,
            }
            if args.templated:  # the engine's own account of its instance batches
                made = [ln for ln in open(srv.log_path) if "rollout instances made" in ln]
                field = lambda ln, k: float(ln.split(f" {k}=")[1].split()[0])  # noqa: E731
                result["instances"] = {
                    "steps": len(made), "made": int(sum(field(ln, "made") for ln in made)),
                    "render_sign_ms": round(sum(field(ln, "render_ms") for ln in made), 1),
                    "notify_ms": round(sum(field(ln, "notify_ms") for ln in made), 1),
                    "store_ms": round(sum(field(ln, "store_ms") for ln in made), 1)}
            print(json.dumps(result, indent=2))
            if profile:  # where PostgreSQL spent its time during the rollout
                for row in srv.sql("SELECT round(total_exec_time::numeric, 1), calls, rows,"
                                   " left(regexp_replace(query, '\\s+', ' ', 'g'), 160)"
                                   " FROM pg_stat_statements ORDER BY total_exec_time DESC"
                                   " LIMIT 25"):
                    print("# pg %9s ms %6s calls %7s rows  %s" % tuple(row))
            benchenv.keep_server_log(srv, "rollout_bench")
    finally:
        benchenv.stop(fixtures, sim, broker)


if __name__ == "__main__":
    main()

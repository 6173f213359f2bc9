#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ingest_bench.py - the server's health ingest against the broker-only ceiling, one run.

Starts the test harness's PostgreSQL, a private mosquitto with dynamic security, and a
release gatefleet-server (GF_SERVER_BIN, default build/release/server/gatefleet-server);
enrolls N virtual nodes over REST (each gets its own broker account), then runs the fleet
simulator (tests/sim/fleetsim, GF_FLEETSIM_BIN) twice over the same connections count:

  (a) echo:   the server is stopped; a sink subscriber (fleetsim --mode sink, a process of
              its own) acknowledges each batch at once and does nothing else: the
              broker-only ceiling, samples/s;
  (b) ingest: the server is running again (same database, keys and state); it commits each
              batch to PostgreSQL before its ack: samples/s acknowledged;

with the same nodes, the same offered rate and the same agent protocol (batches of up to
100 samples, one in flight per node, resend after 10 s),

and prints (b)/(a), the server's CPU (cores used during (b)) and RSS (peak), and checks
zero loss: every acknowledged sample is in PostgreSQL, none twice.
Usage: tests/bench/ingest_bench.py [--nodes 2000] [--seconds 20] [--interval-ms 50]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchenv  # noqa: E402  (also puts tests/integration on the path)
from benchenv import REPO, proc_cpu_seconds, proc_status  # noqa: E402


def enroll(srv, token, n, threads=8):
    import gf
    out = [None] * n

    def work(k):
        anon = srv.client(csrf=None)
        for i in range(k, n, threads):
            key = gf.NodeKey()
            a = key.enroll(anon, {"token": token, "public_key": key.public_text,
                                  "inventory": {"hostname": f"bench-{i}"}}).expect(200).json
            out[i] = (a["node_id"], a["mqtt"]["password"])
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--interval-ms", type=int, default=50,
                    help="sample interval per node in (b); offered rate = nodes*1000/interval")
    args = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sim = os.environ.get("GF_FLEETSIM_BIN",
                         os.path.join(REPO, "build", "release", "tests", "sim", "fleetsim"))
    fixtures = benchenv.start("gf-bench-")
    import gf  # noqa: E402  (needs the environment above)
    broker = gf.Broker(name="bench").start()
    broker.make_client("sink", "sink-password")
    state = os.path.join(fixtures, "server-state")
    server_args = ["--log_level", os.environ.get("GF_BENCH_LOG", "warn"), "--fleet_interval_ms", "100", "--ingest_writers", "2",
                   "--ingest_batch", "2000", "--db_pool_size", "8", "--state_dir", state,
                   "--master_key_file", os.path.join(fixtures, "master.key")]
    try:
        # No broker session survives the set-up server: the ceiling run must not queue
        # messages for it (they would be a backlog in front of run (b)).
        srv = gf.Server(name="bench-setup",
                        extra_args=server_args + ["--mqtt_session_expiry", "0"]).start()
        admin = srv.admin()
        tenant = gf.make_tenant(admin)
        pid_ = gf.make_project(admin, tenant["id"])["id"]
        admin.post(f"/projects/{pid_}/clusters", broker.cluster_body()).expect(201)
        token = admin.post(f"/projects/{pid_}/enrollment-tokens",
                           {"auto_accept": True}).expect(201).json["secret"]
        t0 = time.monotonic()
        nodes = enroll(srv, token, args.nodes)
        while srv.scalar("SELECT count(*) FROM nodes WHERE provisioned") != str(args.nodes):
            if time.monotonic() - t0 > 900:
                raise SystemExit("provisioning did not finish")
            time.sleep(0.5)
        print(f"# enrolled and provisioned {args.nodes} nodes in "
              f"{time.monotonic() - t0:.1f} s", flush=True)
        srv.stop()
        db = srv.db
        creds = os.path.join(fixtures, "creds.txt")
        with open(creds, "w") as f:
            for node_id, pw in nodes:
                f.write(f"{node_id} {pw}\n")
        common = [sim, "--creds", creds, "--broker", f"127.0.0.1:{broker.port}",
                  "--duration", str(args.seconds), "--warmup", "5",
                  "--interval-ms", str(args.interval_ms)]
        # The sink gets its own process (and so a core of its own, as the server has).
        sink = subprocess.Popen([sim, "--mode", "sink", "--sink", "sink:sink-password",
                                 "--broker", f"127.0.0.1:{broker.port}", "--duration",
                                 str(args.seconds + 12), "--warmup", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        echo = json.loads(subprocess.run(
            common + ["--mode", "ingest"],
            capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        echo["mode"] = "echo"
        sink_out, sink_err = sink.communicate(timeout=60)
        print("# sink:", sink.returncode, sink_out.strip(), sink_err.strip()[-2000:], flush=True)
        print("# (a) broker-only:", json.dumps(echo), flush=True)
        with gf.Server(name="bench", db=db, extra_args=server_args) as srv:
            time.sleep(3)  # the ingest session connects and subscribes
            spid = srv.proc.pid
            cpu0 = proc_cpu_seconds(spid)
            w0 = time.monotonic()
            ingest = json.loads(subprocess.run(
                common + ["--mode", "ingest"],
                capture_output=True, text=True, check=True).stdout.splitlines()[-1])
            wall = time.monotonic() - w0
            cpu = proc_cpu_seconds(spid) - cpu0
            print("# (b) ingest:", json.dumps(ingest), flush=True)
            time.sleep(2)
            boot = ingest["boot_id"]
            counts = srv.sql(f"SELECT count(*), count(DISTINCT (node_id, seq)) "
                             f"FROM health_samples WHERE boot_id = '{boot}'")[0]
            stored, distinct = int(counts[0]), int(counts[1])
            result = {
                "nodes": args.nodes,
                "offered_samples_per_s": ingest["made_per_s"],
                "broker_only_samples_per_s": echo["acked_per_s"],
                "ingest_samples_per_s": ingest["acked_per_s"],
                "ratio": round(ingest["acked_per_s"] / echo["acked_per_s"], 3)
                if echo["acked_per_s"] else None,
                "zero_loss": stored >= ingest["samples_acked"] and stored == distinct,
                "stored": stored, "acked": ingest["samples_acked"],
                "duplicates": stored - distinct,
                "server_cpu_cores": round(cpu / wall, 2),
                "server_rss_mb": round(proc_status(spid, "VmRSS") / 2**20, 1),
                "server_peak_rss_mb": round(proc_status(spid, "VmHWM") / 2**20, 1),
            }
            metrics = srv.client().request("GET", "/metrics").text
            result["server_counters"] = {
                line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
                if line.startswith(("gf_ingest_", "gf_mqtt_")) and not line.startswith("#")}
            print(json.dumps(result, indent=2))
    finally:
        broker.stop()
        benchenv.stop(fixtures)


if __name__ == "__main__":
    main()

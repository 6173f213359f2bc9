#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""agent_footprint.py - memory and CPU of one gatefleet-agent at a 10 s health interval with
TLS to the broker, on this machine's real /proc and /sys.

Makes a throwaway CA and a certificate for 127.0.0.1 (openssl), starts the harness's
PostgreSQL, a private mosquitto with dynamic security and a TLS listener, a release server
(which talks to the plain listener) and a release agent (GF_AGENT_BIN, default
build/release/agent/gatefleet-agent) that enrolls and then talks MQTT over TLS only. After
the agent is online it waits --seconds and prints the agent's RSS, peak RSS, PSS
(/proc/<pid>/smaps_rollup), private memory and CPU seconds, extrapolated to CPU-seconds per hour.
GF_FOOTPRINT_SMAPS=1 adds the resident KB of the biggest mappings (per file, [heap], [anon]);
GF_FOOTPRINT_SMAPS=2 also per file and permissions (text r-xp, relro r--p, data rw-p) as
"resident/private dirty" KB. GF_AGENT_BIN measures another build of the agent (a variant).
Usage: tests/bench/agent_footprint.py [--seconds 120] [--interval 10]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchenv  # noqa: E402  (also puts tests/integration on the path)
from benchenv import REPO, proc_cpu_seconds, proc_status  # noqa: E402



def rollup(pid, key):
    """A field of /proc/<pid>/smaps_rollup in bytes (Pss, Private_Dirty, ...)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def smaps_top(pid, n=12, by_segment=False):
    """The n mappings with the most resident memory, summed per file (or [heap], anon), in KB.
    by_segment: per file and permissions ("libc.so.6 r-xp"), as "rss/private_dirty"."""
    per, dirty, name = {}, {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
                if by_segment:
                    name = f"{name} {parts[1]}"
            elif parts[0] == "Rss:":
                per[name] = per.get(name, 0) + int(parts[1])
            elif parts[0] == "Private_Dirty:":
                dirty[name] = dirty.get(name, 0) + int(parts[1])
    top = sorted(per.items(), key=lambda kv: -kv[1])[:n]
    if by_segment:
        return {k: f"{v}/{dirty.get(k, 0)}" for k, v in top}
    return dict(top)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--interval", type=int, default=10)
    args = ap.parse_args()
    agent_bin = os.environ.get("GF_AGENT_BIN",
                               os.path.join(REPO, "build", "release", "agent", "gatefleet-agent"))
    fixtures = benchenv.start("gf-footprint-")
    import gf  # noqa: E402
    certs = gf.make_test_certs(fixtures)
    broker = gf.Broker(name="footprint", tls=certs).start()
    agent = None
    try:
        with gf.Server(name="footprint", extra_args=["--log_level", "warn"]) as srv:
            admin = srv.admin()
            t = gf.make_tenant(admin)
            p = gf.make_project(admin, t["id"])["id"]
            admin.post(f"/projects/{p}/clusters", broker.cluster_body(tls=True)).expect(201)
            token = admin.post(f"/projects/{p}/enrollment-tokens",
                               {"auto_accept": True}).expect(201).json["secret"]
            state = os.path.join(fixtures, "agent")
            log = open(os.path.join(fixtures, "agent.log"), "wb")
            env = dict(os.environ, GATEFLEET_AGENT_ENROLLMENT_TOKEN=token)
            agent = subprocess.Popen([agent_bin, "--server_url", srv.base_url, "--state_dir", state,
                                      "--broker_ca_file", certs[0], "--health_interval",
                                      str(args.interval), "--log_level", "warn"],
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
            deadline = time.monotonic() + 60
            node = None
            while time.monotonic() < deadline and node is None:
                items = admin.get(f"/projects/{p}/nodes", query={"online": "true"}).json["items"]
                node = items[0] if items else None
                time.sleep(0.5)
            if node is None:
                raise SystemExit("the agent did not come online over TLS")
            time.sleep(5)
            cpu0, w0 = proc_cpu_seconds(agent.pid), time.monotonic()
            time.sleep(args.seconds)
            cpu, wall = proc_cpu_seconds(agent.pid) - cpu0, time.monotonic() - w0
            samples = int(srv.scalar(
                f"SELECT count(*) FROM health_samples WHERE node_id = '{node['id']}'"))
            result = {
                "tls": True, "health_interval_s": args.interval, "window_s": round(wall),
                "samples_stored": samples,
                "agent_rss_mb": round(proc_status(agent.pid, "VmRSS") / 2**20, 2),
                "agent_peak_rss_mb": round(proc_status(agent.pid, "VmHWM") / 2**20, 2),
                "agent_pss_mb": round(rollup(agent.pid, "Pss") / 2**20, 2),
                "agent_private_mb": round((rollup(agent.pid, "Private_Dirty") +
                                           rollup(agent.pid, "Private_Clean")) / 2**20, 2),
                "agent_cpu_seconds_per_hour": round(cpu / wall * 3600, 1),
            }
            smaps = os.environ.get("GF_FOOTPRINT_SMAPS")
            if smaps:
                result["rss_kb_by_mapping"] = smaps_top(agent.pid)
            if smaps == "2":
                result["rss_kb_by_segment"] = smaps_top(agent.pid, 16, by_segment=True)
            agent.terminate()
            agent.wait(15)
            print(json.dumps(result, indent=2))
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
        broker.stop()
        benchenv.stop(fixtures)


if __name__ == "__main__":
    main()

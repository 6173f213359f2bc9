#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""log_bench.py - issue 6: agent log shipping. Lines per second one real gatefleet-agent,
capped to a quarter of one core, ships from a fast-growing file to the server, and lines
lost across a broker outage (targets: >= 20,000 lines/s, 0 lost).

Starts the harness's PostgreSQL, a private mosquitto with dynamic security and persistence
(gf.Broker(persistence=True): sessions and queued messages survive a restart, on the same
port), a release gatefleet-server and a release agent (real /proc and /sys, health every
10 s) enrolled with an auto-accept token, allowed to read <tmp>/logs/*.log with its rate
limits lifted to the maxima (10,000,000 lines/s, 1 GiB/s). The agent runs in a cgroup of
its own capped to --cap of one core (cgroup v1 cpu.cfs_quota_us / cfs_period_us, else
cgroup v2 cpu.max; it joins before exec, so all its threads are capped); when no cgroup
can be made it says so and runs uncapped, and lines per agent CPU-second are the number
to read. Each phase gets its own file and a followed log stream (POST
/nodes/{id}/log-streams, lines 0), watched by an SSE viewer that reads and discards (a
stream nobody watches is stopped by the server after 60 s). A writer process (this
script with --writer) appends numbered 100-byte log lines in batches of up to 1000 per
write():

  throughput  for --seconds, at --rate lines/s, or with --rate 0 as fast as the agent
              takes them (the writer stays 300,000 lines ahead of what the server stored,
              so the agent never waits for input and never falls behind_max behind).
              Reports the shipped rate (lines stored per second at the server, after 3 s
              of warm-up), the writer's rate, the backlog, the agent's CPU (cores, cgroup
              throttling) and lines per agent CPU-second, the server's and PostgreSQL's CPU.
  outage      the writer runs at --outage-rate; after 10 s mosquitto gets SIGTERM, stays
              down --outage seconds, starts again; the writer goes on for --after seconds,
              then stops. Reports when the first chunk after the restart was stored and
              when the backlog was under one second of lines again.

After each phase, once the server has every line (or nothing arrived for 90 s), every
stored chunk of the stream is read from PostgreSQL and every sequence number 0..N-1 must
appear exactly once and in order: lines written, stored, lost, duplicated, reordered,
malformed, dropped as the agent reported them (chunk `dropped` fields), chunk numbers
missing. Prints a summary table (and --json FILE); exits non-zero when the run itself
failed (no agent, a stream that never started, the agent died), not when a target is
missed.

Usage: tests/bench/log_bench.py [--build build/release] [--phases throughput,outage]
       [--rate 0[,25000]] [--seconds 30] [--outage 60] [--outage-rate 20000] [--after 20]
       [--cap 0.25] [--repeat 1] [--json FILE]
"""
import argparse
import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchenv  # noqa: E402  (also puts tests/integration on the path)
from benchenv import REPO, proc_cpu_seconds, proc_status  # noqa: E402

LINE_BYTES = 100         # every line, newline included: lines written = file size / 100
BATCH = 1000             # lines per write()
LEAD = 300000            # --rate 0: lines the writer stays ahead of the server
WARMUP_S = 3.0           # not counted in the throughput window
STALL_S = 90.0           # no new line stored for this long: give up waiting
TARGET_RATE = 20000
FMT = "%s gw07 modbusd[213]: INFO poll unit=%02d reg=4%04d val=%05d ok seq=%010d\n"


# ------------------------------------------------------------------ the writer process

def batch(first, count):
    """count numbered lines from first, LINE_BYTES each, as one bytes object."""
    t = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (t % 1 * 1000)
    return "".join([FMT % (stamp, n % 32, n % 10000, n * 7 % 100000, n)
                    for n in range(first, first + count)]).encode()


def writer_main(path, rate):
    """Append numbered lines to path at rate lines/s, or (rate 0) up to the allowance read
    from stdin ("allow N"), until "stop" or end of stdin. Prints {"written": N}."""
    assert len(batch(0, 1)) == LINE_BYTES
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    n, allow, pending, stop = 0, 0, b"", False
    t0 = time.monotonic()
    while not stop:
        due = int(rate * (time.monotonic() - t0)) if rate > 0 else allow
        if n < due:
            k = min(BATCH, due - n)
            os.write(fd, batch(n, k))
            n += k
            timeout = 0
        else:
            timeout = 0.02
        if select.select([0], [], [], timeout)[0]:
            data = os.read(0, 4096)
            stop = not data
            pending += data
            while b"\n" in pending:
                cmd, pending = pending.split(b"\n", 1)
                if cmd.startswith(b"allow "):
                    allow = max(allow, int(cmd[6:]))
                elif cmd == b"stop":
                    stop = True
    os.close(fd)
    print(json.dumps({"written": n, "seconds": round(time.monotonic() - t0, 2)}), flush=True)


class Writer:
    """The writer process seen from the bench."""

    def __init__(self, path, rate):
        self.path, self.rate = path, rate
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--writer",
                                      path, "--rate", str(rate)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def allow(self, n):
        self.proc.stdin.write(f"allow {n}\n")
        self.proc.stdin.flush()

    def stop(self):
        self.proc.stdin.write("stop\n")
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait(30)
        if self.proc.returncode != 0:
            raise SystemExit(f"the writer failed ({self.proc.returncode})")
        return json.loads(out)["written"]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------ an SSE viewer

class Viewer(threading.Thread):
    """GET /log-streams/{id}/events, read and thrown away: keeps the stream watched."""

    def __init__(self, base_url, token, sid):
        super().__init__(daemon=True)
        u = urllib.parse.urlsplit(base_url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.conn.request("GET", f"/api/v1/log-streams/{sid}/events",
                          headers={"Accept": "text/event-stream",
                                   "Authorization": f"Bearer {token}"})
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise SystemExit(f"SSE viewer: {self.resp.status} {self.resp.read()[:300]!r}")
        self.conn.sock.settimeout(None)
        self.bytes = 0
        self.start()

    def run(self):
        try:
            while True:
                data = self.resp.read1(65536)
                if not data:
                    break
                self.bytes += len(data)
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by close()

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


# ------------------------------------------------------------------ the environment

class Bench:
    """Server, persistent broker, one enrolled agent (capped), and per-phase streams."""

    def __init__(self, args, fixtures, srv, broker, cap):
        import gf
        self.args, self.fixtures, self.srv, self.broker, self.cap = args, fixtures, srv, \
            broker, cap
        self.admin = srv.admin()
        t = gf.make_tenant(self.admin)
        self.project = gf.make_project(self.admin, t["id"])["id"]
        self.token = gf.make_token(self.admin, t["id"], "operator")["secret"]
        self.admin.post(f"/projects/{self.project}/clusters", broker.cluster_body()).expect(201)
        enroll = self.admin.post(f"/projects/{self.project}/enrollment-tokens",
                                 {"auto_accept": True}).expect(201).json["secret"]
        self.logdir = os.path.join(fixtures, "logs")
        os.makedirs(self.logdir)
        self.agent_log = os.path.join(fixtures, "agent.log")
        self.pg_pid = benchenv.pg_postmaster_pid(fixtures)
        log = open(self.agent_log, "wb")
        self.agent = subprocess.Popen(
            [args.agent_bin, "--server_url", srv.base_url, "--state_dir",
             os.path.join(fixtures, "agent"), "--health_interval", "10", "--log_level", "warn",
             "--log_files", os.path.join(self.logdir, "*.log"), "--log_rate_lines", "10000000",
             "--log_rate_bytes", "1g"], stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, GATEFLEET_AGENT_ENROLLMENT_TOKEN=enroll),
            preexec_fn=cap.join if cap is not None and cap.ok else None)
        log.close()
        self.node = gf.wait_for(self._online, timeout=90, step=0.5, what="the agent online")
        self.capped = cap is not None and cap.ok and cap.holds(self.agent.pid)

    def _online(self):
        self.alive()
        items = self.admin.get(f"/projects/{self.project}/nodes",
                               query={"online": "true"}).json["items"]
        return items[0]["id"] if items else None

    def alive(self):
        if self.agent.poll() is not None:
            with open(self.agent_log, "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
            raise SystemExit(f"the agent exited ({self.agent.returncode}):\n{tail}")

    def start_stream(self, path):
        import gf
        open(path, "wb").close()
        sid = self.admin.post(f"/nodes/{self.node}/log-streams", {
            "path": path, "lines": 0, "follow": True, "max_duration_s": 3600}).expect(201).json["id"]
        row = gf.wait_for(lambda: self.srv.sql(f"SELECT state, coalesce(reason, '') FROM"
                                               f" log_streams WHERE id = '{sid}'")[0]
                          if self.srv.scalar(f"SELECT state FROM log_streams WHERE id ="
                                             f" '{sid}'") != "requested" else None,
                          timeout=60, what="the stream started")
        if row[0] != "streaming":
            raise SystemExit(f"log stream {sid} did not start: {row}")
        return sid, Viewer(self.srv.base_url, self.token, sid)

    def stop_stream(self, sid, viewer):
        self.admin.delete(f"/log-streams/{sid}").expect(204)
        viewer.close()

    def sample(self, sid, path):
        self.alive()
        lines, dropped, last_seq = self.srv.sql(
            f"SELECT lines, dropped, last_seq FROM log_streams WHERE id = '{sid}'")[0]
        s = {"t": time.monotonic(), "written": os.path.getsize(path) // LINE_BYTES,
             "stored": int(lines), "dropped": int(dropped), "last_seq": int(last_seq),
             "agent_cpu": proc_cpu_seconds(self.agent.pid),
             "agent_read": proc_io(self.agent.pid, "rchar") // LINE_BYTES,
             "server_cpu": proc_cpu_seconds(self.srv.proc.pid),
             "pg_cpu": benchenv.tree_cpu_seconds(self.pg_pid), "throttled": 0}
        if self.capped:
            st = self.cap.stat()
            s["throttled"], s["periods"] = st.get("nr_throttled", 0), st.get("nr_periods", 0)
        return s

    def drain(self, sid, path, written, samples):
        """Wait until the server stored (or the agent reported as dropped) every line, or
        nothing new arrived for STALL_S; samples taken meanwhile go to samples. Returns the
        seconds waited."""
        t0 = last_change = time.monotonic()
        s = self.sample(sid, path)
        samples.append(s)
        while s["stored"] + s["dropped"] < written and time.monotonic() - last_change < STALL_S:
            time.sleep(0.5)
            s = self.sample(sid, path)
            if s["stored"] != samples[-1]["stored"]:
                last_change = time.monotonic()
            samples.append(s)
        return round(s["t"] - t0, 1)

    def verify(self, sid, written):
        """Every stored line of the stream against 0..written-1."""
        seen = bytearray(written)
        out = {"chunks": 0, "chunk_gaps": 0, "lines_stored": 0, "duplicated": 0,
               "reordered": 0, "malformed": 0, "dropped_reported": 0}
        last_seq, top = 0, -1
        while True:
            rows = self.srv.sql(f"SELECT seq, chunk FROM log_chunks WHERE stream_id = '{sid}'"
                                f" AND seq > {last_seq} ORDER BY seq LIMIT 2000")
            if not rows:
                break
            for seq, text in rows:
                seq = int(seq)
                out["chunks"] += 1
                out["chunk_gaps"] += seq - last_seq - 1
                last_seq = seq
                c = json.loads(text)
                out["dropped_reported"] += c.get("dropped", 0)
                for line in c.get("lines", []):
                    out["lines_stored"] += 1
                    try:
                        n = int(line[-10:])
                    except ValueError:
                        n = -1
                    if len(line) != LINE_BYTES - 1 or line[-14:-10] != "seq=" or \
                            not 0 <= n < written:
                        out["malformed"] += 1
                    elif seen[n]:
                        out["duplicated"] += 1
                    else:
                        seen[n] = 1
                        out["reordered"] += n < top
                        top = max(top, n)
        out["lost"] = seen.count(0)
        return out


def proc_io(pid, key):
    """A counter of /proc/<pid>/io (rchar: bytes the process read through syscalls)."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def window(samples, t_from, t_to):
    """Rates and CPU between the first sample at or after t_from and the last at or before
    t_to."""
    w = [s for s in samples if t_from <= s["t"] <= t_to]
    a, b = w[0], w[-1]
    dt = b["t"] - a["t"]
    cpu = b["agent_cpu"] - a["agent_cpu"]
    shipped = b["stored"] - a["stored"]
    return {"window_s": round(dt, 1), "shipped_per_s": round(shipped / dt),
            "written_per_s": round((b["written"] - a["written"]) / dt),
            "agent_read_per_s": round((b["agent_read"] - a["agent_read"]) / dt),
            "agent_cores": round(cpu / dt, 3),
            "lines_per_agent_cpu_s": round(shipped / cpu) if cpu > 0 else None,
            "server_cores": round((b["server_cpu"] - a["server_cpu"]) / dt, 3),
            "pg_cores": round((b["pg_cpu"] - a["pg_cpu"]) / dt, 3),
            "throttled_periods": b["throttled"] - a["throttled"],
            "max_backlog": max(s["written"] - s["stored"] - s["dropped"] for s in w),
            "end_backlog": b["written"] - b["stored"] - b["dropped"]}


# ------------------------------------------------------------------ the phases

def phase_throughput(b, rate, seconds, k):
    path = os.path.join(b.logdir, f"throughput-{k}.log")
    sid, viewer = b.start_stream(path)
    w = Writer(path, rate)
    samples = [b.sample(sid, path)]
    t0 = samples[0]["t"]
    try:
        while time.monotonic() < t0 + seconds:
            if rate == 0:
                w.allow(samples[-1]["stored"] + LEAD)
            time.sleep(0.5)
            samples.append(b.sample(sid, path))
        written = w.stop()
    finally:
        w.kill()
    t_end = samples[-1]["t"]
    res = {"phase": "throughput", "rate": rate or "max", "seconds": seconds}
    res.update(window(samples, t0 + WARMUP_S, t_end))
    res["drain_s"] = b.drain(sid, path, written, samples)
    res["agent_rss_mb"] = round(proc_status(b.agent.pid, "VmHWM") / 2**20, 1)
    res["sse_mb"] = round(viewer.bytes / 2**20, 1)
    res["written"] = written
    res.update(b.verify(sid, written))
    b.stop_stream(sid, viewer)
    os.unlink(path)
    res["keeps_up"] = rate > 0 and res["end_backlog"] <= rate * 2
    return res


def phase_outage(b, rate, outage, after, k):
    path = os.path.join(b.logdir, f"outage-{k}.log")
    sid, viewer = b.start_stream(path)
    w = Writer(path, rate)
    samples = [b.sample(sid, path)]
    t0 = samples[0]["t"]
    res = {"phase": "outage", "rate": rate, "outage_s": outage}

    def run_until(t):
        while time.monotonic() < t:
            time.sleep(0.5)
            samples.append(b.sample(sid, path))

    try:
        run_until(t0 + 10)
        t_down = time.monotonic()
        b.broker.stop()
        db = os.path.join(b.broker.dir, "mosquitto.db")
        res["broker_db_bytes"] = os.path.getsize(db) if os.path.exists(db) else 0
        stored_down = samples[-1]["stored"]
        run_until(t_down + outage)
        res["stored_while_down"] = samples[-1]["stored"] - stored_down
        b.broker.start()
        t_up = time.monotonic()
        up = b.sample(sid, path)
        samples.append(up)
        run_until(t_up + after)
        written = w.stop()
    finally:
        w.kill()
    res["backlog_at_restart"] = up["written"] - up["stored"] - up["dropped"]
    res["drain_s"] = b.drain(sid, path, written, samples)
    last = samples[-1]
    first = [s for s in samples if s["t"] > t_up and s["stored"] > up["stored"]]
    res["first_chunk_after_restart_s"] = round(first[0]["t"] - t_up, 1) if first else None
    caught = [s for s in samples if s["t"] > t_up and
              s["written"] - s["stored"] - s["dropped"] <= rate]
    res["caught_up_after_restart_s"] = round(caught[0]["t"] - t_up, 1) if caught else None
    res["agent_cpu_s"] = round(last["agent_cpu"] - samples[0]["agent_cpu"], 1)
    res["agent_rss_mb"] = round(proc_status(b.agent.pid, "VmHWM") / 2**20, 1)
    res["written"] = written
    res.update(b.verify(sid, written))
    b.stop_stream(sid, viewer)
    os.unlink(path)
    return res


# ------------------------------------------------------------------ report

def summary(results, cap_text):
    rows = [("agent CPU cap", cap_text)]
    for r in results:
        if r["phase"] == "throughput":
            tag = f"throughput, writer {r['rate']}{'' if r['rate'] == 'max' else '/s'}"
            rows += [
                (f"{tag}: shipped lines/s", f"{r['shipped_per_s']:,} (agent read"
                 f" {r['agent_read_per_s']:,}/s, writer {r['written_per_s']:,}/s,"
                 f" {r['window_s']} s)"),
                (f"{tag}: agent cores / throttled periods",
                 f"{r['agent_cores']} / {r['throttled_periods']}"),
                (f"{tag}: lines per agent CPU-second", f"{r['lines_per_agent_cpu_s']:,}"),
                (f"{tag}: server / PostgreSQL cores", f"{r['server_cores']} / {r['pg_cores']}"),
                (f"{tag}: backlog max / at end (lines)",
                 f"{r['max_backlog']:,} / {r['end_backlog']:,}, drained in {r['drain_s']:.1f} s"),
            ]
            if r["rate"] != "max":
                rows.append((f"{tag}: keeps up", "yes" if r["keeps_up"] else "NO"))
        else:
            tag = f"outage {r['outage_s']} s at {r['rate']:,}/s"
            rows += [
                (f"{tag}: first chunk / caught up after restart",
                 f"{r['first_chunk_after_restart_s']} s / {r['caught_up_after_restart_s']} s"
                 f" (backlog {r['backlog_at_restart']:,} lines)"),
                (f"{tag}: stored while the broker was down", f"{r['stored_while_down']}"),
            ]
        rows += [
            (f"{tag}: written / stored / lost", f"{r['written']:,} / {r['lines_stored']:,} /"
             f" {r['lost']:,}"),
            (f"{tag}: duplicated / reordered / malformed / dropped (agent) / chunk gaps",
             f"{r['duplicated']} / {r['reordered']} / {r['malformed']} /"
             f" {r['dropped_reported']} / {r['chunk_gaps']}"),
        ]
    ship = [r["shipped_per_s"] for r in results if r["phase"] == "throughput" and
            r["rate"] == "max"]
    if ship:
        rows.append((f">= {TARGET_RATE:,} lines/s shipped (capacity)",
                     "met" if min(ship) >= TARGET_RATE else "NOT met"))
    lost = [r["lost"] + r["duplicated"] + r["reordered"] for r in results
            if r["phase"] == "outage"]
    if lost:
        rows.append(("0 lost across the outage", "met" if sum(lost) == 0 else "NOT met"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writer", metavar="PATH", help=argparse.SUPPRESS)
    ap.add_argument("--build", help="build directory (default: GF_SERVER_BIN / GF_AGENT_BIN,"
                    " else build/release)")
    ap.add_argument("--phases", default="throughput,outage")
    ap.add_argument("--rate", default="0", help="throughput writer lines/s, comma-separated"
                    " for several runs; 0 = as fast as the agent takes them")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--outage", type=float, default=60)
    ap.add_argument("--outage-rate", type=int, default=20000)
    ap.add_argument("--after", type=float, default=20)
    ap.add_argument("--cap", type=float, default=0.25, help="agent CPU cap in cores; 0: none")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if args.writer:
        return args
    build = os.path.join(REPO, args.build) if args.build else os.path.join(REPO, "build",
                                                                              "release")
    if args.build:
        os.environ["GF_SERVER_BIN"] = os.path.join(build, "server", "gatefleet-server")
    os.environ.setdefault("GF_SERVER_BIN", os.path.join(build, "server", "gatefleet-server"))
    args.agent_bin = os.environ.get("GF_AGENT_BIN") if not args.build else None
    args.agent_bin = args.agent_bin or os.path.join(build, "agent", "gatefleet-agent")
    for exe in (os.environ["GF_SERVER_BIN"], args.agent_bin):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"{exe} is missing: build it first")
    return args


def main():
    args = parse_args()
    if args.writer:
        return writer_main(args.writer, int(args.rate))
    cap = None
    if args.cap > 0:
        cap = benchenv.CpuCap(f"gf-logbench-{os.getpid()}", args.cap)
        if not cap.ok:
            print(f"WARNING: {cap.why}; the agent runs UNCAPPED: read lines per agent"
                  " CPU-second, not lines/s", file=sys.stderr)
    fixtures = benchenv.start("gf-logbench-")
    import gf  # noqa: E402
    broker = gf.Broker(name="logbench", persistence=True).start()
    results, b = [], None
    try:
        with gf.Server(name="logbench", extra_args=["--log_level", "warn"]) as srv:
            b = Bench(args, fixtures, srv, broker, cap)
            cap_text = (f"{args.cap} core ({cap.kind} cgroup {cap.dir})" if b.capped
                        else "NONE (uncapped)")
            print(f"agent online, node {b.node}; CPU cap: {cap_text}", file=sys.stderr)
            k = 0
            for _ in range(args.repeat):
                for phase in args.phases.split(","):
                    rates = [int(r) for r in args.rate.split(",")] if phase == "throughput" \
                        else [args.outage_rate]
                    for rate in rates:
                        k += 1
                        print(f"phase {phase} rate {rate or 'max'} ...", file=sys.stderr)
                        r = (phase_throughput(b, rate, args.seconds, k)
                             if phase == "throughput"
                             else phase_outage(b, rate, args.outage, args.after, k))
                        print(json.dumps(r), file=sys.stderr)
                        results.append(r)
            b.agent.send_signal(signal.SIGTERM)
            b.agent.wait(20)
            if b.agent.returncode != 0:
                raise SystemExit(f"the agent exited with {b.agent.returncode} on SIGTERM")
    finally:
        if b is not None and b.agent.poll() is None:
            b.agent.kill()
            b.agent.wait()
        broker.stop()
        benchenv.stop(fixtures)
        if cap is not None:
            cap.remove()
        shutil.rmtree(os.path.join(fixtures, "logs"), ignore_errors=True)
    summary(results, cap_text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cap": cap_text, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()

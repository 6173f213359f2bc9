# SPDX-License-Identifier: Apache-2.0
"""benchenv.py - what every benchmark under tests/bench/ sets up the same way: a fixtures
directory with the test harness's PostgreSQL and mosquitto (tests/harness), the environment
tests/integration/gf.py reads, and /proc readings of a process's CPU and memory."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
HARNESS = os.path.join(REPO, "tests", "harness")
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))


def start(prefix):
    """Make a fixtures directory, point gf.py at it and start PostgreSQL and mosquitto.
    GF_SERVER_BIN defaults to the release build. Returns the directory (give it to stop)."""
    os.environ.setdefault("GF_SERVER_BIN",
                          os.path.join(REPO, "build", "release", "server", "gatefleet-server"))
    fixtures = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(fixtures, 0o755)
    os.environ["GF_FIXTURES"] = fixtures
    os.environ["GF_REPO"] = REPO
    for svc in ("pg", "mqtt"):
        subprocess.run(["bash", os.path.join(HARNESS, svc + ".sh"), "start",
                        os.path.join(fixtures, svc)], check=True, stdout=subprocess.DEVNULL)
    return fixtures


def stop(fixtures, sim=None, broker=None):
    """End what start() and a benchmark started: the simulator (killed if still running), the
    benchmark's own broker, then the harness's mosquitto and PostgreSQL."""
    if sim is not None and sim.poll() is None:
        sim.kill()
    if broker is not None:
        broker.stop()
    for svc in ("mqtt", "pg"):
        subprocess.run(["bash", os.path.join(HARNESS, svc + ".sh"), "stop",
                        os.path.join(fixtures, svc)], stdout=subprocess.DEVNULL)


def proc_cpu_seconds(pid):
    """User + system CPU seconds of pid so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid):
    """User + system CPU seconds of pid and its living children (a postmaster and its
    backends): children that already exited are not counted."""
    total = proc_cpu_seconds(pid)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def pg_postmaster_pid(fixtures):
    """The pid of the harness PostgreSQL started by start(fixtures)."""
    env = {}
    with open(os.path.join(fixtures, "pg", "pg.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v
    with open(os.path.join(env["GF_TEST_PG_DATA"], "postmaster.pid")) as f:
        return int(f.readline())


def proc_status(pid, key):
    """A size field of /proc/<pid>/status (VmRSS, VmHWM) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


# ------------------------------------------------------------------ a CPU cap (cgroups)

def _cgroup2_cpu_root():
    """A cgroup v2 mount whose controllers include cpu, or None."""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                try:
                    with open(os.path.join(parts[1], "cgroup.controllers")) as c:
                        if "cpu" in c.read().split():
                            return parts[1]
                except OSError:
                    pass
    return None


class CpuCap:
    """A cgroup that caps its processes to `cores` of one CPU: cgroup v1's cpu controller
    (cpu.cfs_quota_us per cpu.cfs_period_us = 100 ms) when mounted, else cgroup v2
    (cpu.max). ok is False and why says why when neither can be set up here (not root, no
    writable controller); processes then run uncapped. join is a Popen preexec_fn: the
    child joins before exec, so every thread it starts later is capped too."""

    PERIOD_US = 100000

    def __init__(self, name, cores):
        self.dir, self.kind, self.why = None, None, ""
        quota = str(max(1000, int(cores * self.PERIOD_US)))
        v1 = "/sys/fs/cgroup/cpu"
        try:
            if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
                d = os.path.join(v1, name)
                os.makedirs(d, exist_ok=True)
                self.dir, self.kind = d, "v1"
                self._put("cpu.cfs_period_us", str(self.PERIOD_US))
                self._put("cpu.cfs_quota_us", quota)
            else:
                root = _cgroup2_cpu_root()
                if root is None:
                    raise OSError("no cgroup v1 cpu controller and no cgroup v2 with cpu")
                self._put_at(os.path.join(root, "cgroup.subtree_control"), "+cpu")
                d = os.path.join(root, name)
                os.makedirs(d, exist_ok=True)
                self.dir, self.kind = d, "v2"
                self._put("cpu.max", f"{quota} {self.PERIOD_US}")
        except OSError as e:
            self.why = f"cannot set up a CPU cap: {e}"
            self.remove()

    @property
    def ok(self):
        return self.dir is not None

    @staticmethod
    def _put_at(path, text):
        with open(path, "w") as f:
            f.write(text)

    def _put(self, leaf, text):
        self._put_at(os.path.join(self.dir, leaf), text)

    def join(self):
        """Move the calling process into the cgroup (as a preexec_fn: the child)."""
        if self.ok:
            self._put("cgroup.procs", str(os.getpid()))

    def holds(self, pid):
        """True when every thread of pid is in the cgroup now."""
        members = "tasks" if self.kind == "v1" else "cgroup.threads"
        with open(os.path.join(self.dir, members)) as f:
            tids = set(f.read().split())
        return bool(tids) and set(os.listdir(f"/proc/{pid}/task")) <= tids

    def stat(self):
        """cpu.stat as a dict of ints: nr_periods, nr_throttled, throttled_time (v1, ns) or
        throttled_usec (v2)."""
        out = {}
        with open(os.path.join(self.dir, "cpu.stat")) as f:
            for line in f:
                k, _, v = line.partition(" ")
                out[k] = int(v)
        return out

    def remove(self):
        """Remove the cgroup (once its processes have exited)."""
        if self.dir is not None:
            try:
                os.rmdir(self.dir)
            except OSError:
                pass
        self.dir = None


# ------------------------------------------------------------------ an online simulated fleet

def fleetsim_bin():
    """The fleet simulator: GF_FLEETSIM_BIN, default the release build."""
    return os.environ.get("GF_FLEETSIM_BIN",
                          os.path.join(REPO, "build", "release", "tests", "sim", "fleetsim"))


def preload_broker_accounts(broker, ids):
    """Write a broker account per node into the stopped broker's dynamic-security file, with
    the per-node ACL the server provisions (its own topic root), password "bench": thousands
    of accounts made one by one over $CONTROL take far longer than the runs being measured."""
    import base64
    import hashlib
    import json
    path = os.path.join(broker.dir, "dynsec.json")
    with open(path) as f:
        d = json.load(f)
    salt = os.urandom(12)
    pw = base64.b64encode(hashlib.pbkdf2_hmac("sha512", b"bench", salt, 101)).decode()
    for i in ids:
        root = f"gf/v1/n/{i}/#"
        d["roles"].append({"rolename": f"bench-{i}", "acls": [
            {"acltype": t, "topic": root, "priority": 0, "allow": True}
            for t in ("publishClientSend", "publishClientReceive", "subscribePattern")]})
        d["clients"].append({"username": i, "roles": [{"rolename": f"bench-{i}"}],
                             "password": pw, "salt": base64.b64encode(salt).decode(),
                             "iterations": 101})
    with open(path, "w") as f:
        json.dump(d, f)


def bench_ids(n):
    """The ids of n bench stations: md5 of "bench-<g>", g = 1..n, as online_fleet inserts them,
    so their broker accounts can be preloaded (preload_broker_accounts) before the broker
    first starts (restarting it under a running server would drop and reconnect every
    session of the server in the middle of the setup)."""
    import hashlib
    import uuid
    return [str(uuid.UUID(hashlib.md5(f"bench-{g}".encode()).hexdigest()))
            for g in range(1, n + 1)]


def online_fleet(srv, broker, fixtures, n, sim_args=(), timeout=300):
    """n simulated stations online on srv: a tenant, a project with broker as its cluster,
    n accepted nodes bench_ids(n) (labels fleet=bench, site=s<g>) inserted in SQL, whose
    broker accounts the caller preloaded before starting broker, and the fleet simulator
    (fleetsim --mode fleet, plus sim_args) connecting them all; returns once the server shows
    every node online. Returns (admin client, project id, node ids, simulator Popen:
    stdin/stdout text pipes)."""
    import gf
    import time
    admin = srv.admin()
    t = gf.make_tenant(admin)
    pid = gf.make_project(admin, t["id"])["id"]
    cluster = admin.post(f"/projects/{pid}/clusters", broker.cluster_body()).expect(201).json
    gf.wait_for(lambda: srv.scalar("SELECT count(*) FROM broker_accounts WHERE NOT done")
                == "0", timeout=60, what="the server's own broker account")
    gf.insert_nodes(srv, pid, cluster["id"], n, "bench",
                    "jsonb_build_object('fleet', 'bench', 'site', 's' || g)")
    ids = bench_ids(n)
    creds = os.path.join(fixtures, f"creds-{pid}.txt")
    with open(creds, "w") as f:
        for i in ids:
            f.write(f"{i} bench\n")
    sim = subprocess.Popen([fleetsim_bin(), "--mode", "fleet", "--creds", creds, "--broker",
                            f"127.0.0.1:{broker.port}"] + list(sim_args),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    deadline = time.monotonic() + timeout
    while srv.scalar(f"SELECT count(*) FROM nodes WHERE online AND project_id = '{pid}'") \
            != str(n):
        if time.monotonic() > deadline or sim.poll() is not None:
            sim.kill()
            raise SystemExit("the simulated stations did not all come online")
        time.sleep(0.5)
    return admin, pid, ids, sim


def keep_server_log(srv, name):
    """With GF_BENCH_KEEP set, copy the server's log to /tmp/<name>_server.log."""
    if os.environ.get("GF_BENCH_KEEP"):
        import shutil
        shutil.copy(srv.log_path, f"/tmp/{name}_server.log")


def fleetsim_stats(sim):
    """Ask a running fleet simulator (without --events) for its stats line."""
    import json
    sim.stdin.write("stats\n")
    sim.stdin.flush()
    for line in sim.stdout:
        ev = json.loads(line)
        if ev.get("ev") == "stats":
            return ev
    return None

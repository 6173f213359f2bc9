# SPDX-License-Identifier: Apache-2.0
"""gf_fleet.py - shared by the tests that drive many nodes through the fleet simulator
(tests/sim/fleetsim --mode fleet): enrolling nodes over REST, a running simulator with its
stdin commands and its stdout JSON lines, a simulator started with every node online, and
a test case base that ends the simulator and the broker after its tests.
"""

import json
import os
import subprocess
import threading
import time

import gf


def enroll_many(srv, token, n):
    anon = srv.client(csrf=None)
    out = []
    for _ in range(n):
        key = gf.NodeKey()
        a = key.enroll(anon, {"token": token, "public_key": key.public_text,
                              "inventory": {"hostname": gf.uniq("sim")}}).expect(200).json
        out.append((a["node_id"], a["mqtt"]["password"]))
    return out


class Sim:
    """A running fleetsim --mode fleet: stdin commands, stdout JSON lines collected."""

    def __init__(self, args):
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines = []
        self.cv = threading.Condition()
        self.err = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines),
                         daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err),
                         daemon=True).start()

    def _read(self, stream, into):
        for line in stream:
            with self.cv:
                into.append(json.loads(line) if into is self.lines else line)
                self.cv.notify_all()

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, pred, timeout=30, what="event", start=0):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for ev in self.lines[start:]:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no {what}; stderr: {''.join(self.err)[-2000:]}")
                self.cv.wait(min(left, 0.5))

    def stats(self):
        with self.cv:
            n = len(self.lines)
        self.send("stats")
        return self.wait(lambda ev: ev.get("ev") == "stats", what="stats line", start=n)

    def events(self, kind, node=None):
        with self.cv:
            return [e for e in self.lines
                    if e.get("ev") == kind and (node is None or e.get("node") == node)]

    def quit(self, timeout=20):
        self.send("quit")
        self.proc.wait(timeout)
        return self.wait(lambda ev: ev.get("ev") == "summary", timeout=5, what="summary")


def fleet_project(srv, broker, n, timeout=90):
    """A tenant and project on srv with broker as its cluster, and n nodes enrolled through an
    auto-accept token whose broker accounts exist. Returns (admin, tenant_id, project_id,
    [(node_id, password)])."""
    admin = srv.admin()
    tenant, project, token = gf.broker_project(admin, broker)
    nodes = enroll_many(srv, token, n)
    gf.wait_for(lambda: srv.scalar("SELECT count(*) FROM nodes WHERE provisioned") == str(n),
                timeout=timeout, what="broker accounts")
    return admin, tenant, project, nodes


def write_creds(path, nodes, behaviours=None):
    """The simulator's creds file: "<node_id> <password> [behaviour]" per node."""
    with open(path, "w") as f:
        for i, (node_id, pw) in enumerate(nodes):
            b = (behaviours or {}).get(i)
            f.write(f"{node_id} {pw} {b}\n" if b else f"{node_id} {pw}\n")
    return path


def online_sim(srv, broker, nodes, args=("--events", "--step-ms", "20"), behaviours=None,
               timeout=60):
    """A Sim (GF_FLEETSIM_BIN) playing nodes [(node_id, password)] on broker with args,
    once the server sees every one of them online."""
    creds = write_creds(os.path.join(broker.dir, "creds.txt"), nodes, behaviours)
    sim = Sim([os.environ["GF_FLEETSIM_BIN"], "--mode", "fleet", "--creds", creds, "--broker",
               f"127.0.0.1:{broker.port}", *args])
    gf.wait_for(lambda: srv.scalar("SELECT count(*) FROM nodes WHERE online") == str(len(nodes)),
                timeout=timeout, what="simulated nodes online")
    return sim


class FleetCase(gf.GfTestCase):
    """A test case whose setUpClass starts cls.broker and cls.sim (and its own server):
    tearDownClass ends the simulator (check_summary(summary) may assert on its last line),
    then the servers and the broker."""
    start_server = False
    broker = None
    sim = None

    @classmethod
    def check_summary(cls, summary):
        pass

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.sim is not None and cls.sim.proc.poll() is None:
                try:
                    summary = cls.sim.quit()
                except Exception:  # noqa: BLE001  (a hung simulator must not hide the rest)
                    cls.sim.proc.kill()
                    cls.sim.proc.wait(10)
                else:
                    cls.check_summary(summary)
        finally:
            super().tearDownClass()
            if cls.broker is not None:
                cls.broker.stop()

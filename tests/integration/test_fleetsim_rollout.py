# SPDX-License-Identifier: Apache-2.0
"""test_fleetsim_rollout.py - the fleet simulator's bundle-protocol mode (fleetsim --mode
fleet) against a real server, PostgreSQL and mosquitto with dynamic security.

A handful of enrolled nodes, each with a scripted behaviour from the creds file's third
column (one line has two columns: the --behaviour default), connect with the agent's Will,
state and birth, so the server shows them online. One bundle is assigned to every node and
the server's GET /nodes/{id}/bundle must show what each behaviour reports: ok -> applied
(after downloading, verifying, applying), fail -> failed (health_check), rollback ->
rolled_back, hang -> downloading, ignore -> still pending, fail-once -> failed, then applied
when the assignment is made again (a higher gen). A node taken offline on stdin before the
assignment, and a node whose behaviour drops the connection when its desired arrives, both
show offline on the server (the broker's Will), then come back with `online` and report
applied for the retained desired. No desired message arrives twice. Like the agent, a
simulated node keeps its final status until the server acknowledges it after its COMMIT:
a server killed in between loses nothing (last test: it replaces the class's server).
"""

import os
import subprocess
import time

import gf
from gf_fleet import Sim, fleet_project

BEHAVIOURS = ["", "fail", "rollback", "hang", "ignore", "fail-once", "ok", "offline"]
# index 0: the two-column line (default ok); index 6: taken offline on stdin


class FleetSimRolloutTest(gf.GfTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim_bin = os.environ.get("GF_FLEETSIM_BIN")
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="rollout").start()
        cls.admin, _, cls.pid, nodes = fleet_project(cls.srv, cls.broker, len(BEHAVIOURS),
                                                     timeout=60)
        cls.nodes = nodes
        cls.ids = [n for n, _ in nodes]
        cls.by = {b or "default": nid for b, (nid, _) in zip(BEHAVIOURS, nodes)}
        cls.by["control"] = cls.ids[6]
        cls.creds = os.path.join(cls.broker.dir, "creds.txt")
        with open(cls.creds, "w") as f:
            f.write("# node password [behaviour]\n")
            for b, (nid, pw) in zip(BEHAVIOURS, nodes):
                f.write(f"{nid} {pw} {b}\n".replace(" \n", "\n"))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.broker.stop()

    def node(self, nid):
        return self.admin.get(f"/nodes/{nid}").expect(200).json

    def bundle_state(self, nid):
        r = self.admin.get(f"/nodes/{nid}/bundle")
        return r.json if r.status == 200 else {}

    def wait_state(self, nid, state, timeout=20):
        return gf.wait_for(lambda: self.bundle_state(nid).get("state") == state
                           and self.bundle_state(nid), timeout=timeout,
                           what=f"{nid} in {state}")

    def test_rollout_behaviours(self):
        self.assertTrue(self.sim_bin and os.path.exists(self.sim_bin), "GF_FLEETSIM_BIN")
        sim = Sim([self.sim_bin, "--mode", "fleet", "--creds", self.creds, "--broker",
                   f"127.0.0.1:{self.broker.port}", "--events", "--step-ms", "50"])
        try:
            self.rollout(sim)
        finally:
            if sim.proc.poll() is None:
                sim.proc.kill()
                sim.proc.wait(10)

    def rollout(self, sim):
        by = self.by
        # Every node connects with its own account; the server marks it online (birth).
        for nid in self.ids:
            sim.wait(lambda ev, n=nid: ev.get("ev") == "online" and ev["node"] == n,
                     what=f"{nid} online")
        gf.wait_for(lambda: all(self.node(n)["online"] for n in self.ids), timeout=20,
                    what="all nodes online on the server")
        # Taken offline on stdin: dropped without DISCONNECT, so the broker's Will
        # (retained state, reason will, this session) marks it offline.
        sim.send(f"offline {by['control']}")
        sim.wait(lambda ev: ev.get("ev") == "offline" and ev["node"] == by["control"],
                 what="offline event")
        gf.wait_for(lambda: not self.node(by["control"])["online"], timeout=20,
                    what="control node offline on the server")
        self.assertEqual(self.srv.scalar(
            f"SELECT reason FROM node_presence WHERE node_id = '{by['control']}'"
            f" ORDER BY id DESC LIMIT 1"), "will")

        b = gf.upload_bundle(self.admin, self.pid, {"name": "simcfg", "actions": []},
                             [("etc/sim.conf", b"sim=1\n")]).expect(201).json
        t_assign = time.time()
        for nid in self.ids:
            self.admin.put(f"/nodes/{nid}/bundle", {"bundle_id": b["id"]}).expect(200)

        for name, state, reason in (("default", "applied", None), ("fail", "failed", "health_check"),
                                    ("rollback", "rolled_back", "health_check"),
                                    ("hang", "downloading", None),
                                    ("fail-once", "failed", "health_check")):
            with self.subTest(behaviour=name):
                st = self.wait_state(by[name], state)
                self.assertEqual(st["reason"], reason)
                self.assertEqual(st["manifest_sha256"], b["manifest_sha256"])
        st = self.bundle_state(by["default"])
        self.assertFalse(st["drift"])
        self.assertEqual(st["applied_sha256"], b["manifest_sha256"])
        steps = [e["state"] for e in sim.events("status", by["default"])]
        self.assertEqual(steps, ["downloading", "verifying", "applying", "applied"])
        self.assertEqual([e["state"] for e in sim.events("status", by["rollback"])],
                         ["downloading", "applying", "rolled_back"])
        # ignore: received, never answered.
        sim.wait(lambda ev: ev.get("ev") == "desired" and ev["node"] == by["ignore"])
        self.assertEqual(sim.events("status", by["ignore"]), [])
        self.assertEqual(self.bundle_state(by["ignore"])["state"], "pending")
        # The desired event carries the server's gen and a wall-clock time.
        d = sim.events("desired", by["default"])[0]
        self.assertEqual((d["bundle_id"], d["retained"], d["dup"]), (b["id"], 0, 0))
        self.assertGreaterEqual(d["t_ms"], int(t_assign * 1000) - 1000)
        gen1 = d["gen"]

        # offline behaviour: the desired drops the connection (Will), the node stays down.
        sim.wait(lambda ev: ev.get("ev") == "offline" and ev["node"] == by["offline"]
                 and ev["reason"] == "behaviour", what="offline behaviour")
        gf.wait_for(lambda: not self.node(by["offline"])["online"], timeout=20,
                    what="offline-behaviour node offline on the server")
        self.assertEqual(self.bundle_state(by["offline"])["state"], "pending")
        self.assertEqual(self.bundle_state(by["control"])["state"], "pending")

        # fail-once: the same bundle assigned again (higher gen) succeeds.
        self.admin.put(f"/nodes/{by['fail-once']}/bundle", {"bundle_id": b["id"]}).expect(200)
        self.wait_state(by["fail-once"], "applied")
        fo = sim.events("desired", by["fail-once"])
        self.assertEqual(len(fo), 2, fo)
        self.assertGreater(fo[1]["gen"], fo[0]["gen"])

        # Both held nodes come back: new session, birth, the retained desired -> applied.
        sim.send(f"online {by['control']}")
        sim.send(f"online {by['offline']}")
        for name in ("control", "offline"):
            with self.subTest(back=name):
                self.wait_state(by[name], "applied")
                gf.wait_for(lambda n=by[name]: self.node(n)["online"], timeout=20,
                            what=f"{name} online again")
                ds = sim.events("desired", by[name])
                self.assertEqual(ds[-1]["retained"], 1, ds)
        ons = sim.events("online", by["control"])
        self.assertEqual(len(ons), 2)
        self.assertGreater(ons[1]["session"], ons[0]["session"])

        st = sim.stats()
        self.assertEqual(st["desired_duplicates"], 0, st)
        self.assertEqual(st["nodes"], len(self.ids))
        self.assertEqual(st["connected"], len(self.ids), st)
        self.assertEqual(st["down"], 0, st)
        # ok, fail-once (2nd), control, offline (after return)
        self.assertEqual(st["statuses_sent"]["applied"], 4, st)
        self.assertEqual(st["statuses_sent"]["failed"], 2, st)
        self.assertEqual(st["statuses_sent"]["rolled_back"], 1, st)
        self.assertGreaterEqual(st["last_desired_ms"], st["first_desired_ms"])
        self.assertGreaterEqual(st["last_applied_ms"], st["first_desired_ms"])
        self.assertEqual(st["installed"], 4, st)
        self.assertGreaterEqual(gen1, 1)

        summary = sim.quit()
        self.assertEqual(sim.proc.returncode, 0, "".join(sim.err))
        self.assertEqual(summary["desired_duplicates"], 0)
        self.assertEqual(summary["mode"], "fleet")
        # A clean end: every node said offline (shutdown) before disconnecting.
        gf.wait_for(lambda: not any(self.node(n)["online"] for n in self.ids), timeout=20,
                    what="all offline after quit")
        self.assertEqual(self.srv.scalar(
            f"SELECT reason FROM node_presence WHERE node_id = '{by['default']}'"
            f" ORDER BY id DESC LIMIT 1"), "shutdown")

    def test_z_final_status_survives_a_server_crash(self):
        """The server's MQTT client acknowledges a status to the broker when it reads it,
        before its COMMIT: one killed in between has lost it for good. As the agent does
        (test_bundles test_8), the simulated node keeps its final status until the server's
        `ack` {status_gen, state} and sends it again (--resend-ms). The restarted server
        resumes its broker session, so it does not publish the desired message again, which
        would have made the node report again anyway."""
        nid, pw = self.nodes[0]
        creds = os.path.join(self.broker.dir, "creds-crash.txt")
        with open(creds, "w") as f:
            f.write(f"{nid} {pw}\n")
        sim = Sim([self.sim_bin, "--mode", "fleet", "--creds", creds, "--broker",
                   f"127.0.0.1:{self.broker.port}", "--events", "--step-ms", "2000",
                   "--resend-ms", "1000"])
        try:
            gf.wait_for(lambda: self.node(nid)["online"], timeout=20, what="node online")
            b = gf.upload_bundle(self.admin, self.pid, {"name": "simcrash", "actions": []},
                                 [("etc/sim.conf", b"crash=1\n")]).expect(201).json
            self.admin.put(f"/nodes/{nid}/bundle", {"bundle_id": b["id"]}).expect(200)
            self.wait_state(nid, "downloading")
            gen = sim.events("desired", nid)[-1]["gen"]
            db, state = self.srv.db, self.srv.state_dir
            self.srv.kill_with_uncommitted(
                nid, lambda: any(e["state"] == "applied" and e["gen"] == gen
                                 for e in sim.events("status", nid)), "the node's applied")
            self.assertIn(self.srv.scalar(
                f"SELECT state FROM node_bundles WHERE node_id = '{nid}'"),
                ("downloading", "verifying"))
            type(self).srv = gf.Server(db=db, name="rollout-2", extra_args=(
                "--fleet_interval_ms", "100", "--state_dir", state)).start()
            type(self).admin = self.srv.admin()
            gf.wait_for(lambda: "broker kept our session" in open(self.srv.log_path).read(),
                        what="the session resumed")
            st = self.wait_state(nid, "applied", timeout=30)
            self.assertEqual(st["applied_sha256"], b["manifest_sha256"])
            stats = sim.stats()
            self.assertGreaterEqual(stats["statuses_resent"], 1, stats)
            gf.wait_for(lambda: sim.stats()["status_acks"] >= 1, what="the server's ack")
            self.assertEqual(stats["desired_duplicates"], 0, stats)
            # nothing republished: one desired message with this gen
            self.assertEqual([e["gen"] for e in sim.events("desired", nid)].count(gen), 1)
            self.assertNotIn("desired messages republished", open(self.srv.log_path).read())
            # Acknowledged: no more resends.
            n = sim.stats()["statuses_resent"]
            time.sleep(2.5)
            self.assertEqual(sim.stats()["statuses_resent"], n)
        finally:
            if sim.proc.poll() is None:
                sim.proc.kill()
                sim.proc.wait(10)

    def test_bad_invocations(self):
        """A behaviour that does not exist, in the creds file or on the command line."""
        bad = os.path.join(self.broker.dir, "bad-creds.txt")
        with open(bad, "w") as f:
            f.write(f"{self.ids[0]} pw explode\n")
        base = [self.sim_bin, "--mode", "fleet", "--broker", f"127.0.0.1:{self.broker.port}"]
        p = subprocess.run(base + ["--creds", bad], capture_output=True, text=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("bad-creds.txt:1: unknown behaviour", p.stderr)
        p = subprocess.run(base + ["--creds", self.creds, "--behaviour", "explode"],
                           capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 2, p.stderr)


if __name__ == "__main__":
    gf.main()

# SPDX-License-Identifier: Apache-2.0
"""test_takeover.py - a server replica that is gone for good (SIGKILL, and it never comes
back: a new replica would have a new state_dir) leaves its persistent ingest session in the
broker, which keeps taking its share of the shared subscriptions. The live replica notices
the silence (server_replicas heartbeat, replica_stale_s), resumes that session, ingests what
the broker queued for it, and ends it (server/mqtt/takeover.c).

With the real server (two replicas on one database), PostgreSQL, mosquitto (dynamic
security) and the fleet simulator: after the kill every simulated station drops its
connection, so the broker publishes each one's Will (state offline, QoS 1); about half are
routed to the dead replica's session. The test checks that some were stuck there at first
(else it would prove nothing), that all are ingested after the takeover with their real
reason (`will`, not the overdue detector's), that the session is ended (a second round of
Wills all reach the live replica at once) and that the dead replica's row is gone.
"""

import os
import signal
import time

import gf
import gf_fleet

NODES = 24
STALE_S = 10  # the smallest replica_stale_s


class TakeoverTest(gf_fleet.FleetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        keep = os.path.join(gf.run_root(), gf.uniq("takeover-keys"))
        os.makedirs(keep)
        cls.key_args = ("--fleet_interval_ms", "100", "--replica_stale_s", str(STALE_S),
                        "--master_key_file", os.path.join(keep, "master.key"))
        cls.srv = gf.Server(extra_args=cls.key_args, name="live").start()
        cls.other = gf.Server(db=cls.srv.db, extra_args=cls.key_args, name="gone").start()
        nodes = gf_fleet.fleet_project(cls.srv, cls.broker, NODES)[3]
        cls.sim = gf_fleet.online_sim(cls.srv, cls.broker, nodes)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.other.stop()
        finally:
            super().tearDownClass()

    def offline(self, reason, what="DISTINCT node_id"):
        """Nodes with an offline presence row of this reason (what="*": the rows)."""
        return int(self.srv.scalar(
            f"SELECT count({what}) FROM node_presence WHERE NOT online AND reason = '{reason}'"))

    def online(self):
        return int(self.srv.scalar("SELECT count(*) FROM nodes WHERE online"))

    def test_sessions_of_a_gone_replica_are_drained(self):
        gone = self.other
        # Both replicas take their share: the gone one's ingest session is subscribed.
        gf.wait_for(lambda: "msg=subscribed conn=ingest" in open(gone.log_path).read(),
                    timeout=30, what="the second replica's ingest subscriptions")
        replica = open(os.path.join(gone.state_dir, "replica.id")).read().strip()[:8]
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT count(*) FROM server_replicas WHERE id = '{replica}'") == "1",
            what="the second replica's heartbeat")
        self.assertEqual(self.online(), NODES)
        gone.stop(sig=signal.SIGKILL)
        t_kill = time.monotonic()
        self.sim.send("offline *")
        # Half the Wills wait in the dead replica's session, until the live one takes it
        # over (not before STALE_S s of silence).
        gf.wait_for(lambda: self.offline("will") > 0, what="Wills through the live replica")
        time.sleep(2)  # the live replica's share all committed
        stuck = self.online()
        self.assertLess(time.monotonic() - t_kill, STALE_S - 2,
                        "too slow to see the Wills before a takeover could start")
        self.assertGreater(stuck, 0, "no Will was routed to the dead replica's session")
        self.assertLess(stuck, NODES)
        # The takeover: every Will ingested, with its own reason.
        gf.wait_for(lambda: self.online() == 0, timeout=40, what="every node offline")
        self.assertEqual(self.offline("will"), NODES)
        self.assertEqual(self.offline("overdue"), 0)
        self.assertGreaterEqual(self.srv.metric("gf_takeover_messages_total"), stuck)
        gf.wait_for(lambda: self.srv.metric("gf_takeover_sessions_total") == 1,
                    what="the session drained and ended")
        self.assertEqual(self.srv.metric("gf_takeover_failures_total"), 0)
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT count(*) FROM server_replicas WHERE id = '{replica}'") == "0",
            what="the gone replica's row deleted")
        # The session is gone from the broker, with its share: the next round of Wills all
        # reach the live replica at once.
        self.sim.send("online *")
        gf.wait_for(lambda: self.online() == NODES, timeout=60, what="every node back online")
        before = self.offline("will", "*")
        self.sim.send("offline *")
        gf.wait_for(lambda: self.online() == 0, timeout=STALE_S,
                    what="every node offline again, without a takeover")
        self.assertEqual(self.offline("will", "*") - before, NODES)


if __name__ == "__main__":
    gf.main()

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

And a replica that comes back while the live one drains its session (the live one is
stopped with SIGSTOP just after it resumed the session, the other restarted with the same
state_dir, then the live one continued): the broker hands the session to the returning
replica, the drain counts as failed and gives its claim back, no Will is lost, and the
returning replica keeps its share of the next round.

And the draining replica stopped (SIGTERM) in the middle of its drain, with the Wills it took
waiting uncommitted behind a lock on the node rows: it commits them before it exits (none
lost), leaves the session and the gone replica's row for later, and, started again with the
same state_dir, gives back the claim of its earlier run, claims the gone replica again and
drains and ends its session.

And the replicas' shared broker account: a replica starting up leaves the others' sessions
alone (dynamic security drops every client of an account it changes, so rewriting the
unchanged service account at each start dropped every other replica's sessions), and a
session the broker does drop with a DISCONNECT (an operator changed the account) is seen as
down at once and reconnected.
"""

import os
import signal
import time

import gf
import gf_fleet

NODES = 24
STALE_S = 10  # the smallest replica_stale_s


class TakeoverCase(gf_fleet.FleetCase):
    """Two replicas on one database ("live" and "gone"), NODES simulated stations online."""

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

    def replica_row(self, replica, what="count(*)"):
        return self.srv.scalar(f"SELECT {what} FROM server_replicas WHERE id = '{replica}'")

    def kill_gone_and_drop_stations(self):
        """SIGKILL "gone" and drop every station; returns gone's replica id and how many
        Wills are stuck in its session (checked to be some, not all)."""
        gone = self.other
        # Both replicas take their share: the gone one's ingest session is subscribed.
        gf.wait_for(lambda: "msg=subscribed conn=ingest" in open(gone.log_path).read(),
                    timeout=30, what="the second replica's ingest subscriptions")
        replica = open(os.path.join(gone.state_dir, "replica.id")).read().strip()[:8]
        gf.wait_for(lambda: self.replica_row(replica) == "1", what="the second replica's heartbeat")
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
        return replica, stuck

    def next_round_of_wills(self, timeout):
        """Every station back online, then dropped again: every Will ingested within timeout
        (no takeover needed)."""
        self.sim.send("online *")
        gf.wait_for(lambda: self.online() == NODES, timeout=60, what="every node back online")
        before = self.offline("will", "*")
        self.sim.send("offline *")
        gf.wait_for(lambda: self.online() == 0, timeout=timeout,
                    what="every node offline again, without a takeover")
        self.assertEqual(self.offline("will", "*") - before, NODES)


class TakeoverTest(TakeoverCase):

    def test_sessions_of_a_gone_replica_are_drained(self):
        replica, stuck = self.kill_gone_and_drop_stations()
        # The takeover: every Will ingested, with its own reason.
        gf.wait_for(lambda: self.online() == 0, timeout=40, what="every node offline")
        self.assertEqual(self.offline("will"), NODES)
        self.assertEqual(self.offline("overdue"), 0)
        self.assertGreaterEqual(self.srv.metric("gf_takeover_messages_total"), stuck)
        gf.wait_for(lambda: self.srv.metric("gf_takeover_sessions_total") == 1,
                    what="the session drained and ended")
        self.assertEqual(self.srv.metric("gf_takeover_failures_total"), 0)
        gf.wait_for(lambda: self.replica_row(replica) == "0", what="the gone replica's row deleted")
        # The session is gone from the broker, with its share: the next round of Wills all
        # reach the live replica at once.
        self.next_round_of_wills(STALE_S)


class ComebackTest(TakeoverCase):

    def test_a_replica_back_mid_drain_keeps_its_session(self):
        replica, stuck = self.kill_gone_and_drop_stations()
        # The live replica claims the silent one and resumes its session: stopped right
        # there (SIGSTOP), the drain is caught in the middle (it lasts >= 2 s: quiet, then
        # settling).
        live = self.srv
        gf.wait_for(lambda: 'msg="draining a session"' in open(live.log_path).read(),
                    timeout=STALE_S + 30, step=0.02, what="the takeover's drain")
        live.proc.send_signal(signal.SIGSTOP)
        try:
            # The gone replica comes back (same state_dir: same replica id, same sessions);
            # the broker hands its ingest session over to it, away from the drain.
            type(self).other = gf.Server(
                db=live.db, name="back",
                extra_args=list(self.key_args) + ["--state_dir", self.other.state_dir]).start()
            gf.wait_for(lambda: "msg=subscribed conn=ingest" in open(self.other.log_path).read(),
                        timeout=30, what="the returning replica's ingest session")
        finally:
            live.proc.send_signal(signal.SIGCONT)
        # The drain sees its connection taken: not drained, the claim given back (the
        # returning replica's heartbeat had cleared it anyway), and the row kept.
        gf.wait_for(lambda: live.metric("gf_takeover_failures_total") == 1,
                    what="the drain counted as failed")
        self.assertEqual(live.metric("gf_takeover_sessions_total"), 0)
        gf.wait_for(lambda: self.replica_row(replica, "count(*) FILTER (WHERE taken_by IS NULL"
                                             " AND seen_at > now() - interval '5 seconds')")
                    == "1", what="the returning replica's row, unclaimed and beating")
        # Nothing lost: each Will ingested by the drain before the stop or, unacknowledged,
        # sent again by the broker to the returning replica.
        gf.wait_for(lambda: self.online() == 0, timeout=30, what="every node offline")
        self.assertEqual(self.offline("will"), NODES)
        self.assertEqual(self.offline("overdue"), 0)
        # The returning replica kept its session with its subscriptions: it takes its share of
        # the next round (the live one claims nothing for 30 s after a failed drain, so a
        # share stuck in a broken session would not arrive within STALE_S).
        received = self.other.metric("gf_mqtt_received_total")
        self.next_round_of_wills(STALE_S)
        self.assertGreater(self.other.metric("gf_mqtt_received_total") - received, 0)
        self.assertEqual(live.metric("gf_takeover_sessions_total"), 0)


class StopMidDrainTest(TakeoverCase):

    def test_a_replica_stopped_mid_drain(self):
        replica, stuck = self.kill_gone_and_drop_stations()
        live = self.srv
        # Every node row locked: the Wills the drain takes (acknowledged to the broker when
        # read) wait uncommitted behind the lock when the draining replica is told to stop.
        lock = live.hold_lock("SELECT count(*) FROM (SELECT id FROM nodes FOR UPDATE) n")
        try:
            gf.wait_for(lambda: (live.metric("gf_takeover_messages_total") or 0) >= stuck,
                        timeout=STALE_S + 30, step=0.02, what="the stuck Wills taken by the drain")
            gf.wait_for(lambda: live.lock_waiters() > 0, step=0.02,
                        what="their transaction waiting for the lock")
            self.assertEqual(self.online(), stuck)  # taken, not committed
            live.proc.send_signal(signal.SIGTERM)
            time.sleep(1)
            self.assertIsNone(live.proc.poll(), "stopped without the Wills it holds")
        finally:
            lock.stdin.close()
            lock.wait(10)
        self.assertEqual(live.stop(), 0)
        live.check_clean_exit()
        # It was stopped while draining (the session neither ended nor its row deleted), and
        # committed what it held before exiting: no Will lost, none left to the overdue
        # detector.
        self.assertNotIn("session drained and ended", live.log())
        self.assertEqual(self.replica_row(replica), "1")
        self.assertEqual(self.online(), 0)
        self.assertEqual(self.offline("will"), NODES)
        self.assertEqual(self.offline("overdue"), 0)
        # Back with the same state_dir (same replica id): it gives back the claim of its
        # earlier run (else nobody would claim the gone replica again while it beats), claims
        # it again, and this time drains and ends the session.
        type(self).other = back = gf.Server(
            db=live.db, name="live-again",
            extra_args=list(self.key_args) + ["--state_dir", live.state_dir]).start()
        gf.wait_for(lambda: self.replica_row(replica) == "0", timeout=STALE_S + 30,
                    what="the gone replica's row deleted after a second drain")
        self.assertEqual(back.metric("gf_takeover_sessions_total"), 1)
        self.assertEqual(back.metric("gf_takeover_failures_total"), 0)
        self.next_round_of_wills(STALE_S)


class SharedAccountTest(gf_fleet.FleetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="first").start()
        gf_fleet.fleet_project(cls.srv, cls.broker, 2)

    def count(self, text):
        return open(self.srv.log_path).read().count(text)

    def test_a_starting_replica_and_a_broker_kick(self):
        gf.wait_for(lambda: self.count("msg=subscribed conn=ingest") == 1,
                    what="the first replica's ingest session")
        before = self.count("msg=connected conn=")  # ingest, desired (x2), dynsec admin
        second = gf.Server(db=self.srv.db, name="second", extra_args=(
            "--master_key_file", os.path.join(self.srv.state_dir, "master.key"))).start()
        try:
            gf.wait_for(lambda: "msg=subscribed conn=ingest" in open(second.log_path).read(),
                        timeout=30, what="the second replica's ingest session")
            time.sleep(1)
        finally:
            second.stop()
        self.assertEqual(self.count("msg=connected conn="), before)
        self.assertEqual(self.count("disconnected by the broker"), 0)
        self.assertNotIn("administrative action", self.broker.log())
        # An operator changes the service account: the broker sends every one of its
        # clients a DISCONNECT (administrative action, 152) and closes the connection.
        self.broker.ctrl("setClientId", "gf-server")
        gf.wait_for(lambda: self.count('msg="disconnected by the broker" conn=ingest'
                                       ' reason=152') == 1, what="the kick seen")
        gf.wait_for(lambda: self.count("msg=subscribed conn=ingest") == 2, timeout=60,
                    what="the ingest session back")
        # The broker kept the session (its expiry): conn.c's own reconnect reads that from
        # the CONNACK (paho's automatic one does not report it), so the server does not
        # publish every desired message again, as it did at its first connect.
        gf.wait_for(lambda: self.count("broker kept our session") == 1,
                    what="the kept session noticed")
        self.assertEqual(self.count("new broker session: desired messages republished"), 1)
        self.assertIn("session_present=1", open(self.srv.log_path).read())


if __name__ == "__main__":
    gf.main()

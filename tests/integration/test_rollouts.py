# SPDX-License-Identifier: Apache-2.0
"""test_rollouts.py - bulk rollouts (issue 5) with the real server, PostgreSQL, mosquitto
(dynamic security) and the fleet simulator playing the agents' bundle protocol.

The class enrolls NODES nodes; every test takes its own group of them (label group=<name>,
set in SQL) and tells the simulator on stdin how each node behaves (ok, fail, hang, ignore,
offline ...). Covered: a canary then waves to completion, in order; automatic abort past
the failure threshold but not before its minimum sample; the rate limit; per-node timeouts
with retries, and offline nodes skipped at their deadline; pause, resume and cancel (the
previous desired state comes back on nodes not started); a second rollout over a held node
refused with 409; bad requests refused with the field named and nothing stored; a
maintenance window that opens later; a draft started later and a start time; a
continuous rollout picking up a node that matches later; desired messages sent in
outbox batches of 3, each once; two server replicas running one rollout without a
double notification; a server killed (SIGKILL) mid-rollout that continues where it
stood after a restart; and a rollout resumed into a database that drops every connection
and into a broker that hangs, dies and restarts without persistence, still applied
everywhere at the first attempt.
"""

import datetime
import os
import signal
import time

import gf
import gf_fleet

NODES = 84
META = {"name": "neuronex", "actions": [], "health_timeout_s": 30}


class RolloutTest(gf_fleet.FleetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        keep = os.path.join(gf.run_root(), gf.uniq("rollout-keys"))
        os.makedirs(keep)
        # Outbox batches of 3 desired messages: every wave of more than 3 nodes goes out in
        # several batches, as a large rollout's do.
        cls.key_args = ("--fleet_interval_ms", "100", "--rollout_interval_ms", "200",
                        "--desired_batch", "3",
                        "--master_key_file", os.path.join(keep, "master.key"))
        cls.args = cls.key_args + ("--listen", f"127.0.0.1:{gf.free_port()}", "--state_dir",
                                   os.path.join(keep, "state"))
        cls.srv = gf.Server(extra_args=cls.args, name="rollouts").start()
        admin, _, cls.pid, nodes = gf_fleet.fleet_project(cls.srv, cls.broker, NODES)
        cls.admin = admin
        cls.free = [n for n, _ in nodes]
        cls.sim = gf_fleet.online_sim(cls.srv, cls.broker, nodes)
        cls.bundle = gf.upload_bundle(admin, cls.pid, META,
                                      [("etc/x.conf", b"v1\n")]).expect(201).json

    # ------------------------------------------------------------------ helpers

    def group(self, name, n, behaviour="ok"):
        """Take n free nodes, label them group=name, give them a behaviour."""
        ids, type(self).free = self.free[:n], self.free[n:]
        self.assertEqual(len(ids), n, "out of test nodes: raise NODES")
        lit = ",".join(f"'{i}'" for i in ids)
        self.srv.sql(f"UPDATE nodes SET labels = '{{\"group\": \"{name}\"}}' WHERE id IN ({lit})")
        for i in ids:
            self.sim.send(f"set {i} {behaviour}")
        return ids

    def create(self, body, status=201, **kw):
        b = {"bundle_id": self.bundle["id"]}
        b.update(body)
        return self.admin.post(f"/projects/{self.pid}/rollouts", b, **kw).expect(status).json

    def get(self, rid):
        return self.admin.get(f"/rollouts/{rid}").expect(200).json

    def wait_rollout(self, rid, pred, what, timeout=30):
        return gf.wait_for(lambda: (lambda r: r if pred(r) else None)(self.get(rid)),
                           timeout=timeout, what=what)

    def targets(self, rid, **query):
        return self.admin.get(f"/rollouts/{rid}/targets",
                              query=dict({"limit": "200"}, **query)).expect(200).json["items"]

    def event_kinds(self, rid):
        """The kinds of the rollout's events on the project feed, oldest first."""
        return [row[0] for row in self.srv.sql(
            f"SELECT kind FROM project_events WHERE data->>'rollout_id' = '{rid}' ORDER BY id")]

    def first_desired(self, node):
        evs = [e for e in self.sim.events("desired", node) if not e.get("retained")]
        return evs[0]["t_ms"] if evs else None

    # ------------------------------------------------------------------ tests

    def test_canary_then_waves_to_completion(self):
        ids = self.group("waves", 10)
        r = self.create({"name": "canary", "target": {"selector": "group=waves"},
                         "waves": [{"nodes": 1}, {"percent": 50}, {"percent": 100}]})
        self.assertEqual(r["state"], "running")
        self.assertEqual(r["targets"], 10, self.srv.scalar(f"SELECT spec FROM rollouts WHERE id = '{r['id']}'"))
        self.assertEqual([w["targets"] for w in r["waves"]], [1, 4, 5])
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded", "succeeded")
        self.assertEqual(done["counts"], {"applied": 10})
        self.assertEqual(done["eta_s"], None)
        by_wave = {}
        for t in self.targets(r["id"]):
            self.assertEqual((t["state"], t["attempts"]), ("applied", 1), t)
            by_wave.setdefault(t["wave"], []).append(self.first_desired(t["node_id"]))
        # Each wave was notified only after the previous one had applied.
        self.assertLess(max(by_wave[1]), min(by_wave[2]))
        self.assertLess(max(by_wave[2]), min(by_wave[3]))
        kinds = self.event_kinds(r["id"])
        self.assertEqual(kinds, ["rollout.started", "rollout.wave_started",
                                 "rollout.wave_started", "rollout.succeeded"])
        for i in ids:
            self.assertEqual(self.admin.get(f"/nodes/{i}/bundle").json["state"], "applied")
        self.assertEqual(self.srv.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'rollout.succeeded'"
            f" AND object_id = '{r['id']}' AND actor_type = 'system'"), "1")

    def test_outbox_batches_without_double_notification(self):
        ids = self.group("batches", 20)
        batches = self.srv.metric("gf_desired_batches_total")
        published = self.srv.metric("gf_desired_published_total")
        held = self.srv.metric("gf_ingest_held_seconds_total")
        r = self.create({"target": {"selector": "group=batches"}, "waves": [{"percent": 100}]})
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded", "succeeded")
        self.assertEqual(done["counts"], {"applied": 20})
        # 20 messages in batches of 3: at least 7 batches (other tests' rollouts may add
        # theirs); each node's message published and received once.
        self.assertGreaterEqual(self.srv.metric("gf_desired_batches_total") - batches, 7)
        self.assertGreaterEqual(self.srv.metric("gf_desired_published_total") - published, 20)
        # The statuses came back while the outbox still had full batches to send: the ingest
        # gave way to it for a while (ingest.h) and committed every one of them all the same.
        self.assertGreater(self.srv.metric("gf_ingest_held_seconds_total"), held)
        for i in ids:
            live = [e for e in self.sim.events("desired", i) if not e.get("retained")]
            self.assertEqual(len(live), 1, (i, live))
        lit = ",".join(f"'{i}'" for i in ids)
        self.assertEqual(self.srv.scalar(
            "SELECT count(*) FROM node_bundles WHERE published_gen = gen AND gen = 1"
            f" AND publish_error IS NULL AND node_id IN ({lit})"), "20")

    def test_abort_after_minimum_sample(self):
        ids = self.group("abort", 10)
        for i in ids[:2] + ids[4:7]:
            self.sim.send(f"set {i} fail")
        # Wave 1 (2 nodes) fails entirely: 2 finished < min_finished 5, so no abort yet and,
        # with success_percent 0, wave 2 starts; there failures pass 30 % of >= 5 finished.
        r = self.create({"target": {"selector": "group=abort"},
                         "waves": [{"nodes": 2, "success_percent": 0},
                                   {"percent": 100, "success_percent": 0}],
                         "abort": {"failure_percent": 30, "min_finished": 5}})
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "failed", "aborted")
        self.assertIn("aborted", done["reason"])
        kinds = self.event_kinds(r["id"])
        self.assertIn("rollout.wave_started", kinds)  # not aborted by wave 1's two failures
        self.assertEqual(kinds[-1], "rollout.failed")
        failed = [t for t in self.targets(r["id"]) if t["state"] == "failed"]
        self.assertGreaterEqual(len(failed), 2)
        self.assertEqual(failed[0]["error"], "health_check")
        # The nodes are free again: a new rollout may take them.
        self.create({"target": {"node_ids": ids[:1]}})

    def test_rate_limit_pause_resume_cancel(self):
        ids = self.group("rate", 6)
        for i in ids:
            self.sim.send(f"set {i} ignore")  # notified, never starts
        before = self.admin.get(f"/nodes/{ids[0]}/bundle")
        self.assertEqual(before.status, 404)  # no desired bundle before the rollout
        r = self.create({"target": {"selector": "group=rate"}, "rate": {"per_minute": 2}})
        self.wait_rollout(r["id"], lambda x: x["counts"].get("notified") == 2, "2 notified")
        time.sleep(1.5)
        self.assertEqual(self.get(r["id"])["counts"], {"notified": 2, "pending": 4})
        p = self.admin.post(f"/rollouts/{r['id']}/pause").expect(200).json
        self.assertEqual((p["state"], p["pause_reason"]), ("paused", "operator"))
        self.assertProblem(self.admin.post(f"/rollouts/{r['id']}/pause"), 409, "conflict")
        q = self.admin.post(f"/rollouts/{r['id']}/resume").expect(200).json
        self.assertEqual(q["state"], "running")
        c = self.admin.post(f"/rollouts/{r['id']}/cancel").expect(200).json
        self.assertEqual(c["state"], "cancelled")
        self.assertEqual(c["counts"], {"cancelled": 6})
        self.assertProblem(self.admin.post(f"/rollouts/{r['id']}/resume"), 409, "conflict")
        # The two notified nodes had no desired bundle: theirs is cleared again (an empty
        # retained desired), and the agent-facing manifest is gone.
        notified = [t["node_id"] for t in self.targets(r["id"]) if t["attempts"] == 1]
        self.assertEqual(len(notified), 2)
        for n in notified:
            gf.wait_for(lambda: self.srv.scalar(
                f"SELECT cleared AND published_gen = gen FROM node_bundles WHERE node_id = '{n}'")
                == "t", what="cleared desired published")
        for action in ("rollout.pause", "rollout.resume", "rollout.cancel"):
            self.assertEqual(self.srv.scalar(
                f"SELECT count(*) FROM audit_events WHERE action = '{action}'"
                f" AND object_id = '{r['id']}' AND actor_type = 'user'"), "1", action)

    def test_timeouts_retries_and_offline_skipped(self):
        hang, gone = self.group("slow", 2, "hang")
        self.sim.send(f"set {gone} offline")
        r = self.create({"target": {"selector": "group=slow"}, "node_timeout_s": 10,
                         "retries": {"timed_out": 1, "backoff_s": 0}, "offline": "skipped"})
        done = self.wait_rollout(r["id"], lambda x: x["state"] in ("succeeded", "paused"),
                                 "the end of the only wave", timeout=60)
        self.assertEqual((done["state"], done["pause_reason"]), ("paused", "threshold"))
        t = {x["node_id"]: x for x in self.targets(r["id"])}
        self.assertEqual((t[hang]["state"], t[hang]["attempts"]), ("timed_out", 2))
        self.assertEqual(t[gone]["state"], "skipped")
        self.assertEqual(t[gone]["error"], "offline past its deadline")
        # Two notifications for the hanging node: the retry was a new generation.
        gens = [e["gen"] for e in self.sim.events("desired", hang) if not e.get("retained")]
        self.assertEqual(len(set(gens)), 2, gens)
        self.sim.send(f"set {gone} ok")
        self.sim.send(f"online {gone}")
        # Resuming past the last wave is refused; cancelling ends it.
        self.assertProblem(self.admin.post(f"/rollouts/{r['id']}/resume"), 409, "conflict")
        self.admin.post(f"/rollouts/{r['id']}/cancel").expect(200)

    def test_bundle_expiring_mid_rollout_fails_it(self):
        ids = self.group("expiry", 3)
        b = gf.upload_bundle(self.admin, self.pid, dict(META, name="expiring"),
                             [("etc/x.conf", b"expiring\n")]).expect(201).json
        r = self.create({"bundle_id": b["id"], "target": {"selector": "group=expiry"},
                         "waves": [{"nodes": 1, "then": "pause"}, {"percent": 100}]})
        self.wait_rollout(r["id"], lambda x: x["state"] == "paused", "wave 1 applied")
        self.srv.sql(f"UPDATE bundles SET expires_at = now() WHERE id = '{b['id']}'")
        self.admin.post(f"/rollouts/{r['id']}/resume").expect(200)
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "failed", "failed")
        self.assertEqual(done["reason"], "the bundle has expired")
        # Nothing left pending in a finished rollout; the wave-1 node keeps what it applied.
        self.assertEqual(done["counts"], {"applied": 1, "cancelled": 2})
        self.assertEqual(len(ids), 3)

    def test_conflict_and_bad_input(self):
        ids = self.group("conflict", 2, "ignore")
        r = self.create({"target": {"selector": "group=conflict"}})
        n = self.srv.scalar("SELECT count(*) FROM rollouts")
        p = self.assertProblem(self.admin.post(f"/projects/{self.pid}/rollouts", {
            "bundle_id": self.bundle["id"], "target": {"node_ids": ids[1:]}}), 409, "conflict",
            "/target")
        self.assertIn(ids[1], p["detail"])
        # Refused whole: no rollout row, no target taken (the transaction is rolled back).
        self.assertEqual(self.srv.scalar("SELECT count(*) FROM rollouts"), n)
        self.assertEqual(self.srv.scalar(
            f"SELECT count(*) FROM rollout_targets WHERE node_id = '{ids[1]}'"), "1")
        bad = [
            ({"target": {}}, "/target"),
            ({"target": {"selector": "a in (b"}}, "/target/selector"),
            ({"target": {"selector": "x=y"}, "waves": [{"percent": 50}, {"percent": 20}]},
             "/waves/1/percent"),
            ({"target": {"selector": "x=y"}, "waves": [{"nodes": 1, "percent": 5}]}, "/waves/0"),
            ({"target": {"selector": "x=y"}, "waves": [{"percent": 10, "then": "stop"}]},
             "/waves/0/then"),
            ({"target": {"selector": "x=y"}, "abort": {"min_finished": 3}},
             "/abort/failure_percent"),
            ({"target": {"selector": "x=y"}, "rate": {"per_minute": 0}}, "/rate/per_minute"),
            ({"target": {"selector": "x=y"}, "node_timeout_s": 1}, "/node_timeout_s"),
            ({"target": {"selector": "x=y"}, "retries": {"failed": 99}}, "/retries/failed"),
            ({"target": {"selector": "x=y"}, "retries": {"flaky": 1}}, "/retries"),
            ({"target": {"selector": "x=y"}, "windows": [{"cron": "61 * * * *",
                                                          "duration_minutes": 5}]},
             "/windows/0/cron"),
            ({"target": {"node_ids": ["not-a-uuid"]}}, "/target/node_ids"),
            ({"target": {"node_ids": [gf.random_uuid()]}}, "/target/node_ids"),
            ({"target": {"selector": "group=conflict"}, "windows": [
                {"cron": "0 2 * * *", "duration_minutes": 60, "timezone": "Mars/Olympus"}]},
             "/windows/0/timezone"),
            ({"target": {"selector": "group=nothing-matches"}}, "/target"),
            ({"target": {"selector": "x=y"}, "bundle_id": gf.random_uuid()}, "/bundle_id"),
            ({"target": {"selector": "x=y"}, "surprise": 1}, "/surprise"),
        ]
        for body, where in bad:
            b = {"bundle_id": self.bundle["id"]}
            b.update(body)
            res = self.admin.post(f"/projects/{self.pid}/rollouts", b)
            self.assertIn(res.status, (400, 422), (body, res.status, res.text))
            self.assertProblem(res, res.status, None, where)
        self.assertEqual(self.srv.scalar("SELECT count(*) FROM rollouts"), n)
        self.admin.post(f"/rollouts/{r['id']}/cancel").expect(200)

    def test_maintenance_window_opens_later(self):
        ids = self.group("window", 2)
        # A window that opens at the next minute (UTC) and lasts one minute.
        nxt = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1))
        r = self.create({"target": {"selector": "group=window"},
                         "windows": [{"cron": f"{nxt.minute} {nxt.hour} * * *",
                                      "duration_minutes": 1, "timezone": "UTC"}]})
        p = self.wait_rollout(r["id"], lambda x: x["state"] == "paused", "paused by the window")
        self.assertEqual(p["pause_reason"], "window")
        self.assertEqual(p["counts"], {"pending": 2})
        self.assertProblem(self.admin.post(f"/rollouts/{r['id']}/resume"), 409, "conflict")
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded",
                                 "succeeded once the window opened", timeout=100)
        for i in ids:
            self.assertGreaterEqual(self.first_desired(i) / 1000.0,
                                    nxt.replace(second=0, microsecond=0).timestamp())
        self.assertEqual(done["counts"], {"applied": 2})

    def test_draft_and_start_time(self):
        ids = self.group("later", 2)
        d = self.create({"target": {"node_ids": ids[:1]}, "draft": True})
        self.assertEqual((d["state"], d["targets"]), ("draft", 0))  # nothing taken yet
        self.assertProblem(self.admin.post(f"/rollouts/{d['id']}/pause"), 409, "conflict")
        s = self.admin.post(f"/rollouts/{d['id']}/start").expect(200).json
        self.assertEqual((s["state"], s["targets"]), ("running", 1))
        self.assertProblem(self.admin.post(f"/rollouts/{d['id']}/start"), 409, "conflict")
        self.wait_rollout(d["id"], lambda x: x["state"] == "succeeded", "draft started")
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=4)
        r = self.create({"target": {"node_ids": ids[1:]},
                         "start_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
        self.assertEqual((r["state"], r["targets"]), ("scheduled", 1))
        self.assertEqual(r["counts"], {"pending": 1})  # held, not notified
        time.sleep(1)
        self.assertEqual(self.get(r["id"])["state"], "scheduled")
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded",
                                 "scheduled start", timeout=20)
        self.assertGreaterEqual(self.first_desired(ids[1]) / 1000.0, int(at.timestamp()))
        self.assertEqual(done["counts"], {"applied": 1})

    def test_continuous_rollout_takes_a_new_node(self):
        self.group("cont", 1)
        r = self.create({"target": {"selector": "group=cont", "continuous": True}})
        self.wait_rollout(r["id"], lambda x: x["counts"].get("applied") == 1, "first node")
        late = self.group("cont", 1)[0]
        self.wait_rollout(r["id"], lambda x: x["counts"].get("applied") == 2, "late node joined",
                          timeout=30)
        t = {x["node_id"]: x for x in self.targets(r["id"])}
        self.assertEqual(t[late]["state"], "applied")
        self.assertEqual(self.get(r["id"])["state"], "running")  # continuous: never ends alone
        self.admin.post(f"/rollouts/{r['id']}/cancel").expect(200)

    def test_two_replicas_and_a_kill_mid_rollout(self):
        ids = self.group("replicas", 12)
        # A second replica on the same database and master key (its own replica id).
        other = gf.Server(db=self.srv.db, name="replica-2", extra_args=self.key_args).start()
        try:
            r = self.create({"target": {"selector": "group=replicas"},
                             "waves": [{"nodes": 2}, {"percent": 100}],
                             "rate": {"per_minute": 6}})
            self.wait_rollout(r["id"], lambda x: x["counts"].get("applied", 0) >= 3, "3 applied")
            db = self.srv.db
            self.srv.stop(sig=signal.SIGKILL)
            time.sleep(1)
            type(self).srv = gf.Server(db=db, extra_args=self.args, name="rollouts-2").start()
            type(self).admin = self.srv.admin()
            done = self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded",
                                     "succeeded after the kill", timeout=150)
        finally:
            other.stop()
        self.assertEqual(done["counts"], {"applied": 12})
        for t in self.targets(r["id"]):
            self.assertEqual(t["attempts"], 1, t)
        # Each node got one assignment generation. (A server that opens a new broker session
        # publishes every desired message again, in case the broker lost its retained
        # messages: the same generation again, which agents answer from what they installed.)
        for i in ids:
            gens = {e["gen"] for e in self.sim.events("desired", i)}
            self.assertEqual(len(gens), 1, (i, gens))

    def test_z_database_and_broker_restart_mid_rollout(self):
        """Last (the broker restart reaches every node of the class): a rollout in three
        waves that pauses after each of the first two. As it is resumed after the first,
        PostgreSQL drops every connection of the server (as a database restart does); as it
        is resumed after the second, the broker hangs with the last wave's desired messages
        unacknowledged, then is killed and restarted without persistence, so its retained
        messages and every session, with what they queued, are gone. The rollout still ends
        succeeded, every target applied at its first attempt, each transition recorded
        once."""
        ids = self.group("faults", 12)
        r = self.create({"target": {"selector": "group=faults"},
                         "waves": [{"nodes": 4, "then": "pause"}, {"nodes": 8, "then": "pause"},
                                   {"percent": 100}]})

        def reached(state, applied):
            # Polled through the faults: an answer other than 200 (the server reconnecting
            # to the database) counts as not yet.
            def check():
                g = self.admin.get(f"/rollouts/{r['id']}")
                return (g.status == 200 and g.json["state"] == state and
                        g.json["counts"].get("applied", 0) == applied)
            return check

        gf.wait_for(reached("paused", 4), timeout=60, what="wave 1 applied, paused")
        self.admin.post(f"/rollouts/{r['id']}/resume").expect(200)
        killed = self.srv.scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE datname = '{self.srv.db}' AND pid <> pg_backend_pid()")
        self.assertGreater(int(killed), 0)
        gf.wait_for(reached("paused", 8), timeout=60, what="wave 2 applied after the database")
        # The broker stops answering (SIGSTOP) as the last wave is resumed, so that wave's
        # desired messages are in flight, unacknowledged, when it is killed and started
        # again: the outbox must send them again (test_mconn covers the session's count of
        # publishes in flight through the same faults).
        self.broker.proc.send_signal(signal.SIGSTOP)
        try:
            self.admin.post(f"/rollouts/{r['id']}/resume").expect(200)
            gf.wait_for(lambda: self.get(r["id"])["counts"].get("notified") == 4,
                        what="the last wave notified")
            time.sleep(1)  # the outbox has sent them and waits for the PUBACKs
        finally:
            self.broker.stop(sig=signal.SIGKILL)
        self.broker.start()
        gf.wait_for(reached("succeeded", 12), timeout=120, what="succeeded after the broker")
        done = self.get(r["id"])
        self.assertEqual(done["counts"], {"applied": 12})
        for t in self.targets(r["id"]):
            self.assertEqual((t["state"], t["attempts"]), ("applied", 1), t)
        kinds = self.event_kinds(r["id"])
        self.assertEqual({k: kinds.count(k) for k in kinds},
                         {"rollout.started": 1, "rollout.paused": 2, "rollout.resumed": 2,
                          "rollout.succeeded": 1}, kinds)
        # Resuming after a wave's pause opens the next wave (the event says which).
        self.assertEqual(self.srv.sql(
            "SELECT data->>'wave' FROM project_events WHERE kind = 'rollout.resumed'"
            f" AND data->>'rollout_id' = '{r['id']}' ORDER BY seq"), [["2"], ["3"]])
        self.assertEqual(self.srv.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'rollout.succeeded'"
            f" AND object_id = '{r['id']}'"), "1")
        for i in ids:
            self.assertEqual(len({e["gen"] for e in self.sim.events("desired", i)}), 1, i)
            self.assertEqual(self.admin.get(f"/nodes/{i}/bundle").json["state"], "applied")


if __name__ == "__main__":
    gf.main()

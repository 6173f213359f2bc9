# SPDX-License-Identifier: Apache-2.0
"""test_ingest.py - the server's MQTT side against a real mosquitto with dynamic security.

Speaks the agent's MQTT contract with mosquitto_pub/mosquitto_sub so each rule can be
provoked on its own: accepted nodes get a broker account and may publish only under their
own root (the broker refuses another node's root and the server stores nothing); health
batches are stored once and acknowledged only after the commit (a resend is acknowledged
again and not stored twice); state/Will transitions follow the session-number rule (a late
Will of an old session does not mark the new one offline); malformed, oversize and
unknown-node messages are counted and dropped while the ingest keeps going; rejecting and
deleting a node removes its account; the overdue detector marks a silent node offline.
"""

import json
import time

import gf




def record(seq, sample=None, at=None):
    return {"seq": seq, "at": at or gf.rfc3339(time.time()),
            "sample": sample or {"cpu": {"usage_pct": 12.5}, "power": {"on_battery": False}}}


class IngestBase(gf.GfTestCase):
    """A private broker, a server whose fleet loop runs every 100 ms, one project with the
    broker registered as its cluster and an auto-accept enrollment token."""

    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="ingest").start()
        cls.admin = cls.srv.admin()
        t = gf.make_tenant(cls.admin)
        cls.pid = gf.make_project(cls.admin, t["id"])["id"]
        cls.cluster = cls.admin.post(f"/projects/{cls.pid}/clusters",
                                     cls.broker.cluster_body()).expect(201).json
        cls.token = cls.admin.post(f"/projects/{cls.pid}/enrollment-tokens",
                                   {"auto_accept": True}).expect(201).json["secret"]
        cls.anon = cls.srv.client(csrf=None)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.broker.stop()

    def node(self):
        """Enroll a node; wait until the broker account exists. Returns (id, password)."""
        key = gf.NodeKey()
        a = key.enroll(self.anon, {"token": self.token, "public_key": key.public_text,
                                   "inventory": {"hostname": gf.uniq("st")}}).expect(200).json
        node_id, pw = a["node_id"], a["mqtt"]["password"]
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT provisioned FROM nodes WHERE id = '{node_id}'") == "t",
            what="broker account provisioned")
        # The server subscribes asynchronously: probe until a birth gets through.
        def probe():
            self.pub(node_id, pw, "birth", {"boot_id": "probe", "session": 0})
            return self.srv.scalar(f"SELECT boot_id FROM nodes WHERE id = '{node_id}'") == "probe"
        gf.wait_for(probe, step=0.3, what="ingest subscribed")
        return node_id, pw

    def pub(self, node_id, pw, kind, body, topic_node=None, **kw):
        topic = f"gf/v1/n/{topic_node or node_id}/{kind}"
        payload = body if isinstance(body, str) else json.dumps(body)
        return self.broker.pub(topic, payload, node_id, pw, client_id=node_id, **kw)

    def samples(self, node_id):
        return int(self.srv.scalar(f"SELECT count(*) FROM health_samples WHERE node_id = '{node_id}'"))

    def metric(self, name):
        text = self.admin.request("GET", "/metrics").text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def node_json(self, node_id):
        return self.admin.get(f"/nodes/{node_id}").expect(200).json


class IngestTest(IngestBase):
    def test_health_stored_once_and_acked_after_commit(self):
        node_id, pw = self.node()
        # The broker admin (dynsec admin role may read everything) watches the acks.
        sub = self.broker.sub_start(f"gf/v1/n/{node_id}/ack", self.broker.admin_user,
                                    self.broker.admin_password)
        time.sleep(0.3)
        boot = gf.random_uuid()
        body = {"boot_id": boot, "session": 1, "records": [record(1), record(2), record(3)],
                "dropped": 0}
        self.assertEqual(self.pub(node_id, pw, "health", body).returncode, 0)
        gf.wait_for(lambda: self.samples(node_id) == 3, what="3 samples stored")
        self.assertEqual(self.srv.scalar(
            f"SELECT seq FROM telemetry_cursors WHERE node_id = '{node_id}'"), "3")
        # Resend (agent did not see the ack): stored once, acknowledged again.
        self.assertEqual(self.pub(node_id, pw, "health", body).returncode, 0)
        body2 = {"boot_id": boot, "session": 1, "records": [record(3), record(4)]}
        self.assertEqual(self.pub(node_id, pw, "health", body2).returncode, 0)
        gf.wait_for(lambda: self.samples(node_id) == 4, what="4 samples")
        time.sleep(0.5)
        self.assertEqual(self.samples(node_id), 4)
        node = self.admin.get(f"/nodes/{node_id}").expect(200).json
        self.assertEqual(node["health"]["cpu"]["usage_pct"], 12.5)
        self.assertTrue(node["online"])
        self.assertIsNotNone(node["last_seen_at"])
        sub.terminate()
        out, _ = sub.communicate(timeout=5)
        acks = [json.loads(line.split(" ", 1)[1]) for line in out.splitlines()]
        # One ack per (node, boot) per transaction: messages that share a batch share it.
        seqs = [a["seq"] for a in acks]
        self.assertGreaterEqual(len(seqs), 2, out)
        self.assertEqual(seqs, sorted(seqs), out)
        self.assertEqual(seqs[0], 3, out)
        self.assertEqual(seqs[-1], 4, out)
        self.assertTrue(all(a["boot_id"] == boot for a in acks))

    def test_broker_refuses_another_nodes_root(self):
        a_id, a_pw = self.node()
        b_id, b_pw = self.node()
        watch = self.broker.sub_start(f"gf/v1/n/{b_id}/#", self.broker.admin_user,
                                      self.broker.admin_password)
        time.sleep(0.3)
        forged = {"boot_id": gf.random_uuid(), "session": 99, "records": [record(1)]}
        p = self.pub(a_id, a_pw, "health", forged, topic_node=b_id)
        self.assertIn("not authorized", (p.stderr + p.stdout).lower())
        p = self.pub(a_id, a_pw, "state", {"state": "offline", "boot_id": "x", "session": 99},
                     topic_node=b_id, retain=True)
        self.assertIn("not authorized", (p.stderr + p.stdout).lower())
        # Subscribing to another node's root is refused too (SUBACK reason 0x87).
        rc, lines, err = self.broker.sub(f"gf/v1/n/{b_id}/#", a_id, a_pw, count=1, timeout=2,
                                         client_id=a_id)
        self.assertEqual(lines, [])
        self.assertTrue("not authorized" in err.lower() or "denied" in err.lower(), err)
        # Another node's client id is refused even with valid credentials.
        p = self.broker.pub(f"gf/v1/n/{a_id}/health", json.dumps(forged), a_id, a_pw,
                            client_id=b_id)
        self.assertNotEqual(p.returncode, 0)
        time.sleep(1)
        watch.terminate()
        out, _ = watch.communicate(timeout=5)
        self.assertEqual(out.strip(), "", "the broker delivered a forged message")
        self.assertEqual(self.samples(b_id), 0)
        self.assertEqual(self.samples(a_id), 0)

    def test_session_rule_and_late_will(self):
        node_id, pw = self.node()
        boot = gf.random_uuid()
        self.pub(node_id, pw, "state", {"state": "online", "boot_id": boot, "session": 5},
                 retain=True)
        # The probe's birth (session 0) already made the node online: wait for session 5.
        gf.wait_for(lambda: self.node_json(node_id)["session"] == 5, what="session 5")
        self.assertTrue(self.node_json(node_id)["online"])
        # A Will of session 4 delivered late: stale, ignored.
        self.pub(node_id, pw, "state", {"state": "offline", "boot_id": boot, "session": 4,
                                        "reason": "will"})
        time.sleep(1)
        n = self.node_json(node_id)
        self.assertTrue(n["online"], n)
        self.assertEqual(n["session"], 5)
        # The Will of session 5 is final for session 5: health of session 5 arriving after
        # it (reordered) does not bring the node back.
        self.pub(node_id, pw, "state", {"state": "offline", "boot_id": boot, "session": 5,
                                        "reason": "will"})
        gf.wait_for(lambda: not self.node_json(node_id)["online"], what="offline")
        self.assertEqual(self.node_json(node_id)["offline_reason"], "will")
        self.pub(node_id, pw, "health", {"boot_id": boot, "session": 5, "records": [record(1)]})
        gf.wait_for(lambda: self.samples(node_id) == 1, what="late sample stored")
        self.assertFalse(self.node_json(node_id)["online"])
        # A new session (birth) is online again; the history has every transition.
        self.pub(node_id, pw, "birth", {"boot_id": boot, "session": 6, "agent_version": "t",
                                        "inventory": {"hostname": "h"}, "health_interval": 1,
                                        "keepalive": 4, "clock": gf.rfc3339(time.time() - 120)})
        gf.wait_for(lambda: self.node_json(node_id)["online"], what="online after birth")
        n = self.node_json(node_id)
        self.assertEqual(n["agent_version"], "t")
        self.assertTrue(110000 <= n["clock_offset_ms"] <= 130000, n["clock_offset_ms"])
        hist = self.admin.get(f"/nodes/{node_id}/presence").expect(200).json
        self.assertEqual([(h["online"], h["reason"], h["session"]) for h in hist][:3],
                         [(True, "birth", 6), (False, "will", 5), (True, "birth", 0)])

    def test_real_will_after_kill(self):
        node_id, pw = self.node()
        boot = gf.random_uuid()
        keepalive = 5  # mosquitto_sub's minimum
        will = json.dumps({"state": "offline", "boot_id": boot, "session": 7, "reason": "will"})
        # The node's connection: subscribed to its ack topic, with its Will.
        conn = self.broker.sub_start(f"gf/v1/n/{node_id}/ack", node_id, pw, client_id=node_id,
                                     extra=["-k", str(keepalive), "--will-topic",
                                            f"gf/v1/n/{node_id}/state", "--will-payload", will,
                                            "--will-qos", "1", "--will-retain"])
        time.sleep(0.5)
        self.assertTrue(conn.poll() is None, conn.stderr.read() if conn.poll() else "")
        import signal as _signal
        conn.send_signal(_signal.SIGKILL)
        t0 = time.monotonic()
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT offline_reason FROM nodes WHERE id = '{node_id}'") == "will",
            timeout=keepalive * 3, step=0.05, what="Will processed")
        took = time.monotonic() - t0
        self.assertLess(took, keepalive * 1.5 + 1.5, f"offline after {took:.1f}s")

    def test_overdue_detector(self):
        node_id, pw = self.node()
        boot = gf.random_uuid()
        self.pub(node_id, pw, "birth", {"boot_id": boot, "session": 1, "health_interval": 1,
                                        "keepalive": 2})
        gf.wait_for(lambda: self.node_json(node_id)["online"], what="online")
        t0 = time.monotonic()
        gf.wait_for(lambda: self.node_json(node_id)["offline_reason"] == "overdue", timeout=10,
                 what="overdue")
        took = time.monotonic() - t0
        self.assertLess(took, 2 * 1.5 + 1.5, f"overdue after {took:.1f}s")
        # Telemetry of the same session brings it back (overdue is not final).
        self.pub(node_id, pw, "health", {"boot_id": boot, "session": 1, "records": [record(1)]})
        gf.wait_for(lambda: self.node_json(node_id)["online"], what="online again")

    def test_bad_messages_counted_and_ingest_goes_on(self):
        node_id, pw = self.node()
        before = self.metric('gf_mqtt_dropped_total{reason="malformed"}')
        big_before = self.metric('gf_mqtt_dropped_total{reason="oversize"}')
        boot = gf.random_uuid()
        bad = ["{not json", "[]", json.dumps({"boot_id": boot, "session": 1, "records": []}),
               json.dumps({"boot_id": boot, "session": "1", "records": [record(1)]}),
               json.dumps({"boot_id": boot, "session": 1, "records": [{"seq": 0, "at": "x",
                                                                       "sample": {}}]}),
               json.dumps({"boot_id": boot, "session": 1,
                           "records": [record(i) for i in range(1, 1003)]}),
               json.dumps({"boot_id": boot, "session": 1, "records": [
                   {"seq": 1, "at": gf.rfc3339(time.time()), "sample": [1, 2]}]})]
        # Samples pass to PostgreSQL as the agent's text: what jsonb refuses (which would
        # fail every retry of the batch) is refused here, and a field given twice too.
        now = gf.rfc3339(time.time())
        for sample in ('{"x":"\\u0000"}', '{"x":"\\ud800"}', '{"x":1e400}',
                       '{"x":"a\tb"}', '{"x":' + '[' * 40 + ']' * 40 + '}'):
            bad.append('{"boot_id":"%s","session":1,"records":[{"seq":1,"at":"%s","sample":%s}]}'
                       % (boot, now, sample))
        bad.append('{"boot_id":"%s","session":1,"records":[{"seq":1,"seq":2,"at":"%s",'
                   '"sample":{}}]}' % (boot, now))
        for b in bad:
            self.assertEqual(self.pub(node_id, pw, "health", b).returncode, 0)
        self.pub(node_id, pw, "state", {"state": "sleeping", "boot_id": boot, "session": 1})
        big = json.dumps({"boot_id": boot, "session": 1,
                          "records": [record(1, {"pad": "x" * 300000})]})
        self.assertEqual(self.pub(node_id, pw, "health", big).returncode, 0)
        # Then a good one, with a station clock 3 days ahead: stored at the receive time.
        future = gf.rfc3339(time.time() + 3 * 86400)
        self.pub(node_id, pw, "health", {"boot_id": boot, "session": 1,
                                         "records": [record(7, at=future)]})
        gf.wait_for(lambda: self.samples(node_id) == 1, what="good sample after bad ones")
        self.assertGreaterEqual(self.metric('gf_mqtt_dropped_total{reason="malformed"}') - before, 14)
        self.assertGreaterEqual(self.metric('gf_mqtt_dropped_total{reason="oversize"}') - big_before, 1)
        skew = float(self.srv.scalar(
            f"SELECT abs(extract(epoch FROM at - now())) FROM health_samples WHERE node_id = '{node_id}'"))
        self.assertLess(skew, 60)

    def test_reject_and_delete_remove_broker_account(self):
        node_id, pw = self.node()
        self.assertEqual(self.pub(node_id, pw, "health", {"boot_id": "b", "session": 1,
                                                           "records": [record(1)]}).returncode, 0)
        gf.wait_for(lambda: self.samples(node_id) == 1, what="sample stored")
        self.admin.post(f"/nodes/{node_id}/reject").expect(200)
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT count(*) FROM broker_accounts WHERE node_id = '{node_id}'") == "0",
            what="account removed")
        p = self.pub(node_id, pw, "health", {"boot_id": "b", "session": 1, "records": [record(2)]})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not authorised", (p.stderr + p.stdout).lower().replace("authorized", "authorised"))
        # Accept again: a new password works, the old one does not.
        self.admin.post(f"/nodes/{node_id}/accept").expect(200)
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT done FROM broker_accounts WHERE node_id = '{node_id}'") == "t",
            what="account back")
        self.assertNotEqual(self.pub(node_id, pw, "health", {"boot_id": "b", "session": 1,
                                                              "records": [record(3)]}).returncode, 0)
        self.admin.delete(f"/nodes/{node_id}").expect(204)
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT count(*) FROM broker_accounts WHERE node_id = '{node_id}'") == "0",
            what="account removed after delete")
        # Its samples go with it (trigger nodes_gone: health_samples has no foreign key), also
        # when a project deletion cascades to its nodes.
        self.assertEqual(self.samples(node_id), 0)
        tenant = self.admin.get("/tenants").json["items"][0]["id"]
        project = gf.make_project(self.admin, tenant)["id"]
        other = self.srv.scalar(
            f"INSERT INTO nodes (project_id, name, status, public_key) VALUES ('{project}',"
            " 'doomed', 'accepted', decode(repeat('ab', 32), 'hex')) RETURNING id")
        self.srv.sql(f"INSERT INTO health_samples (node_id, boot_id, seq, at, sample)"
                     f" VALUES ('{other}', 'b', 1, now(), '{{}}')")
        self.assertEqual(self.samples(other), 1)
        self.admin.delete(f"/projects/{project}").expect(204)
        self.assertEqual(self.samples(other), 0)

    def test_broker_restart(self):
        node_id, pw = self.node()
        boot = gf.random_uuid()
        self.pub(node_id, pw, "health", {"boot_id": boot, "session": 1, "records": [record(1)]})
        gf.wait_for(lambda: self.samples(node_id) == 1, what="before restart")
        self.broker.stop()
        time.sleep(1)
        self.broker.start()
        # The server reconnects and resubscribes by itself.
        def stored():
            self.pub(node_id, pw, "health", {"boot_id": boot, "session": 1,
                                             "records": [record(2)]})
            return self.samples(node_id) == 2
        gf.wait_for(stored, timeout=40, step=1, what="stored after the broker restart")


class IngestDatabaseTest(IngestBase):
    """The database drops the server's connections mid-stream (a PostgreSQL restart as the
    server sees it): batches are retried and nothing is lost or stored twice. Own server,
    because the overdue detector pauses after database errors."""

    def test_database_connections_killed_mid_stream(self):
        node_id, pw = self.node()
        boot = gf.random_uuid()
        for i in range(1, 6):
            self.pub(node_id, pw, "health", {"boot_id": boot, "session": 1, "records": [record(i)]})
        try:
            gf.wait_for(lambda: self.samples(node_id) == 5, what="first 5")
        except AssertionError:
            m = [l for l in self.admin.request("GET", "/metrics").text.splitlines()
                 if l.startswith(("gf_mqtt", "gf_ingest"))]
            raise AssertionError(f"first 5 not stored: {self.samples(node_id)} {m} "
                                 f"{self.srv.sql('SELECT node_id, boot_id, seq FROM telemetry_cursors')}")
        self.srv.pg.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         f"WHERE datname = '{self.srv.db}' AND pid <> pg_backend_pid()",
                         check=False)
        for i in range(6, 11):
            self.pub(node_id, pw, "health", {"boot_id": boot, "session": 1, "records": [record(i)]})
        gf.wait_for(lambda: self.samples(node_id) == 10, timeout=40,
                 what="all 10 after the database dropped us")
        self.assertEqual(self.srv.scalar(
            f"SELECT count(DISTINCT seq) FROM health_samples WHERE node_id = '{node_id}'"), "10")



class HealthReadTest(IngestBase):
    """What operators read: the downsampled series, the project summary, retention."""

    def test_series_is_bucketed_in_the_database(self):
        node_id, pw = self.node()
        boot = gf.random_uuid()
        t0 = int(time.time()) // 60 * 60 - 600  # a minute boundary ten minutes ago
        recs = []
        for i in range(60):  # one sample every 10 s for 10 minutes
            cpu = 10.0 if i < 30 else 95.0
            recs.append(record(i + 1, {"cpu": {"usage_pct": cpu, "load1": 1.0},
                                       "memory": {"used_pct": 50},
                                       "disk": {"mounts": [{"used_pct": 40}, {"used_pct": 70}]},
                                       "thermal": {"zones": [{"temp_c": 41.5}, {"temp_c": "hot"}]},
                                       "power": {"on_battery": i >= 50,
                                                 "supplies": [{"capacity_pct": 100 - i}]},
                                       "link": {"default_route": True}},
                               at=gf.rfc3339(t0 + 10 * i)))
        self.pub(node_id, pw, "health", {"boot_id": boot, "session": 1, "records": recs})
        gf.wait_for(lambda: self.samples(node_id) == 60, what="60 samples")
        r = self.admin.get(f"/nodes/{node_id}/health", query={
            "from": gf.rfc3339(t0), "to": gf.rfc3339(t0 + 600), "step": "300"}).expect(200).json
        self.assertEqual(r["step"], 300)
        pts = r["points"]
        self.assertEqual([p["samples"] for p in pts], [30, 30])
        self.assertEqual([p["cpu_pct"] for p in pts], [10, 95])
        self.assertEqual(pts[0]["disk_pct_max"], 70)
        self.assertEqual(pts[0]["temp_c_max"], 41.5)  # "hot" is not a number: ignored
        self.assertEqual(pts[1]["battery_pct_min"], 41)
        self.assertEqual([p["on_battery"] for p in pts], [False, True])
        self.assertEqual(pts[0]["link_down"], False)
        # 30 days at the default step stays within 1000 points.
        r = self.admin.get(f"/nodes/{node_id}/health", query={
            "from": gf.rfc3339(time.time() - 30 * 86400)}).expect(200).json
        self.assertGreaterEqual(r["step"], 30 * 86400 // 1000)
        self.assertLessEqual(len(r["points"]), 1000)
        for q, field in (({"from": "yesterday"}, "from"), ({"step": "0"}, "step"),
                         ({"from": gf.rfc3339(time.time() - 30 * 86400), "step": "60"}, "step"),
                         ({"from": gf.rfc3339(time.time()), "to": gf.rfc3339(time.time() - 60)},
                          "from")):
            self.assertProblem(self.admin.get(f"/nodes/{node_id}/health", query=q), 400,
                               field=field)

    def test_summary_counts(self):
        p = gf.make_project(self.admin, self.admin.get("/tenants").json["items"][0]["id"])
        self.admin.post(f"/projects/{p['id']}/clusters", self.broker.cluster_body()).expect(201)
        tok = self.admin.post(f"/projects/{p['id']}/enrollment-tokens",
                              {"auto_accept": True}).expect(201).json["secret"]
        pending_tok = self.admin.post(f"/projects/{p['id']}/enrollment-tokens",
                                      {}).expect(201).json["secret"]
        saved = self.token
        self.token = tok
        try:
            nodes = [self.node() for _ in range(3)]
        finally:
            self.token = saved
        k = gf.NodeKey()
        k.enroll(self.anon, {"token": pending_tok, "public_key": k.public_text}).expect(202)
        samples = [{"cpu": {"usage_pct": 97.0}, "power": {"on_battery": True},
                    "link": {"default_route": True}},
                   {"cpu": {"usage_pct": 5.0}, "power": {"on_battery": False},
                    "link": {"default_route": False}},
                   {"cpu": {"usage_pct": 5.0}, "power": {"on_battery": False},
                    "link": {"default_route": True}}]
        for (nid, pw), smp in zip(nodes, samples):
            self.pub(nid, pw, "health", {"boot_id": "b", "session": 1, "records": [record(1, smp)],
                                         "dropped": 4})
        gf.wait_for(lambda: all(self.samples(n) == 1 for n, _ in nodes), what="samples")
        # The third goes offline (Will).
        self.pub(nodes[2][0], nodes[2][1], "state", {"state": "offline", "boot_id": "b",
                                                     "session": 1, "reason": "will"})
        gf.wait_for(lambda: self.admin.get(f"/projects/{p['id']}/health/summary").json["offline"] == 1,
                 what="one offline")
        sm = self.admin.get(f"/projects/{p['id']}/health/summary").expect(200).json
        self.assertEqual((sm["nodes"], sm["pending"], sm["accepted"], sm["online"], sm["offline"]),
                         (4, 1, 3, 2, 1))
        self.assertEqual((sm["on_battery"], sm["link_down"], sm["cpu_high"]), (1, 1, 1))
        self.assertEqual(sm["spool_dropped"], 12)
        online = self.admin.list_all(f"/projects/{p['id']}/nodes", query={"online": "true"})
        self.assertEqual(sorted(n["id"] for n in online), sorted(n for n, _ in nodes[:2]))

    def test_retention(self):
        node_id, pw = self.node()
        too_old = self.metric('gf_mqtt_dropped_total{reason="too_old"}')
        old = gf.rfc3339(time.time() - 40 * 86400)
        self.pub(node_id, pw, "health", {"boot_id": "r", "session": 1,
                                         "records": [record(1, at=old), record(2)]})
        gf.wait_for(lambda: self.samples(node_id) == 1, what="the recent sample")
        # The old one is acknowledged (high-water mark 2) but not stored.
        self.assertEqual(self.srv.scalar(
            f"SELECT seq FROM telemetry_cursors WHERE node_id = '{node_id}'"), "2")
        self.assertEqual(self.metric('gf_mqtt_dropped_total{reason="too_old"}') - too_old, 1)
        # Daily partitions: created ahead at start, expired ones dropped.
        self.assertIn("health partitions maintained", self.srv.log())
        self.srv.sql("SELECT gf_health_partitions(45, 0)")
        dropped = int(self.srv.scalar("SELECT gf_health_retention(30)"))
        self.assertGreaterEqual(dropped, 14)
        left = self.srv.scalar(
            "SELECT min(to_date(substr(c.relname, 16), 'YYYYMMDD')) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'health_samples'::regclass "
            "AND c.relname ~ '^health_samples_[0-9]{8}$'")
        self.assertEqual(left, self.srv.scalar("SELECT (current_date - 30)::text"))


if __name__ == "__main__":
    gf.main()

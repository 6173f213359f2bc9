# SPDX-License-Identifier: Apache-2.0
"""test_fleetsim_commands.py - remote commands against the fleet simulator (fleetsim --mode
fleet: every node answers its `cmd/req`), the real server, PostgreSQL and mosquitto with
dynamic security: the path the command benchmark (tests/bench/command_bench.py) measures.

Twenty enrolled nodes connect through the simulator. A `ping` to each over REST ends
`succeeded` with result.pong, its timestamps in order, and the simulator saw the server's
MQTT 5 request as docs/mqtt.md has it (Response Topic = the node's cmd/res, Correlation
Data = the command id, a Message Expiry no longer than the timeout). A batch of `sleep`
(300 ms) over a label selector with concurrency 5 runs on exactly the labelled nodes, all
succeed, and never more than 5 are sent or running at once (the batch's counts sampled
while it runs, and the sent/finished intervals), yet 5 do run together. An unknown name
and a sleep without a valid args.ms end `rejected` with the simulator's reason. Requests
published straight to a node by another MQTT 5 client are answered on their own Response
Topic with their Correlation Data echoed (or on cmd/res when they name none), and an id
delivered twice is answered once. Last, commands sent while the broker hangs, which is then
killed and restarted empty, still end succeeded, each answered once.
"""

import json
import signal
import subprocess
import time
import uuid

import gf
from gf_fleet import FleetCase, fleet_project, online_sim

NODES = 20
SLEEP_MS = 300
BATCH_NODES = 10
CONCURRENCY = 5


class FleetSimCommandsTest(FleetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="fleetcmd").start()
        cls.admin, _, cls.pid, nodes = fleet_project(cls.srv, cls.broker, NODES, timeout=60)
        cls.ids = [n for n, _ in nodes]
        cls.sim = online_sim(cls.srv, cls.broker, nodes, args=("--events",), timeout=30)

    @classmethod
    def check_summary(cls, summary):
        assert summary["commands_malformed"] == 0, summary
        assert summary["malformed"] == 0, summary

    def command(self, node, name, args=None, timeout_s=30):
        body = {"name": name, "timeout_s": timeout_s}
        if args is not None:
            body["args"] = args
        return self.admin.post(f"/nodes/{node}/commands", body).expect(202).json

    def wait_done(self, cid, timeout=30):
        def done():
            c = self.admin.get(f"/commands/{cid}").expect(200).json
            return c if c["state"] not in ("queued", "sent", "running") else None
        return gf.wait_for(done, timeout=timeout, step=0.05, what=f"command {cid} finished")

    # ------------------------------------------------------------------ single commands

    def test_ping_every_node(self):
        sent = {node: self.command(node, "ping")["id"] for node in self.ids}
        for node, cid in sent.items():
            with self.subTest(node=node):
                c = self.wait_done(cid)
                self.assertEqual(c["state"], "succeeded", c)
                self.assertEqual(c["node_id"], node)
                self.assertIs(c["result"]["pong"], True, c)
                self.assertEqual(c["exit_code"], 0, c)
                t = [gf.parse_time(c[k]) for k in ("created_at", "sent_at", "started_at",
                                                   "finished_at")]
                self.assertEqual(t, sorted(t), c)
                # The request as the node received it: MQTT 5 request properties.
                ev = self.sim.wait(lambda e, i=cid: e.get("ev") == "command" and e["id"] == i,
                                   what=f"command event {cid}")
                self.assertEqual((ev["node"], ev["name"], ev["corr"], ev["dup"]),
                                 (node, "ping", 1, 0), ev)
                self.assertEqual(ev["response_topic"], f"gf/v1/n/{node}/cmd/res", ev)
                self.assertIsNotNone(ev["expiry_s"], ev)
                self.assertTrue(1 <= ev["expiry_s"] <= 30, ev)
                self.assertEqual([e["status"] for e in self.sim.events("result")
                                  if e["id"] == cid], ["running", "succeeded"])
        st = self.sim.stats()
        self.assertGreaterEqual(st["commands_received"], NODES, st)
        self.assertGreaterEqual(st["commands_answered"], NODES, st)

    def test_results_on_the_project_event_feed(self):
        feed = gf.Stream(self.srv.base_url, f"/projects/{self.pid}/events", client=self.admin,
                         query={"kinds": "command.*"})
        self.assertEqual(feed.status, 200)
        self.addCleanup(feed.close)
        node = self.ids[5]
        ok = self.wait_done(self.command(node, "ping")["id"])
        bad = self.wait_done(self.command(node, "frobnicate")["id"])

        def final(evs):
            got = {e["data"]["data"]["command_id"]: e for e in evs
                   if e["event"] != "command.running"}
            return got if {ok["id"], bad["id"]} <= set(got) else None
        evs = final(feed.wait(final, what="both commands' final events"))
        self.assertEqual(evs[bad["id"]]["event"], "command.rejected")
        d = evs[bad["id"]]["data"]["data"]
        self.assertEqual((d["node_id"], d["name"], d["state"], d["error"]),
                         (node, "frobnicate", "rejected", "unknown command"), d)
        # The ping: succeeded once, after running (which is skipped when both answers are
        # stored in one ingest transaction).
        self.assertIn([e["event"] for e in feed.events
                       if e["data"]["data"]["command_id"] == ok["id"]],
                      (["command.running", "command.succeeded"], ["command.succeeded"]))
        # The rejected one never ran.
        self.assertEqual([e["event"] for e in feed.events
                          if e["data"]["data"]["command_id"] == bad["id"]],
                         ["command.rejected"])

    def test_unknown_name_and_bad_args_are_rejected(self):
        node = self.ids[1]
        c = self.wait_done(self.command(node, "frobnicate")["id"])
        self.assertEqual(c["state"], "rejected", c)
        self.assertEqual(c["error"], "unknown command", c)
        self.assertIsNone(c["result"], c)
        # Refused before it starts: no `running` from the node.
        self.assertEqual([e["status"] for e in self.sim.events("result") if e["id"] == c["id"]],
                         ["rejected"])
        c = self.wait_done(self.command(node, "sleep", {"ms": "soon"})["id"])
        self.assertEqual(c["state"], "rejected", c)
        self.assertIn("args.ms", c["error"], c)

    def test_sleep_longer_than_its_timeout_times_out(self):
        c = self.command(self.ids[2], "sleep", {"ms": 5000}, timeout_s=1)
        c = self.wait_done(c["id"], timeout=20)
        self.assertEqual(c["state"], "timed_out", c)
        self.assertGreaterEqual(c["duration_ms"], 1000, c)

    # ------------------------------------------------------------------ a batch

    def test_batch_of_sleeps_keeps_its_concurrency(self):
        tag = gf.uniq("grp")
        chosen = self.ids[NODES - BATCH_NODES:]
        for node in chosen:
            n = self.admin.get(f"/nodes/{node}").expect(200)
            self.admin.patch(f"/nodes/{node}", {"labels": {"grp": tag}},
                             headers={"If-Match": n.header("ETag")}).expect(200)
        b = self.admin.post(f"/projects/{self.pid}/commands", {
            "name": "sleep", "args": {"ms": SLEEP_MS}, "selector": f"grp={tag}",
            "concurrency": CONCURRENCY, "timeout_s": 20}).expect(202).json
        self.assertEqual(b["total"], BATCH_NODES)
        samples = []
        deadline = time.monotonic() + 60
        while True:
            cur = self.admin.get(f"/command-batches/{b['id']}").expect(200).json
            samples.append(cur["counts"].get("sent", 0) + cur["counts"].get("running", 0))
            if cur["done"] == BATCH_NODES:
                break
            self.assertLess(time.monotonic(), deadline, cur)
            time.sleep(0.03)
        self.assertEqual(cur["counts"], {"succeeded": BATCH_NODES}, cur)
        self.assertLessEqual(max(samples), CONCURRENCY, samples)
        self.assertEqual(max(samples), CONCURRENCY, samples)  # the cap was used, not 1 by 1
        items = self.admin.list_all(f"/command-batches/{b['id']}/commands")
        self.assertEqual(sorted(i["node_id"] for i in items), sorted(chosen))
        for i in items:
            self.assertEqual(i["result"], {"slept_ms": SLEEP_MS}, i)
            self.assertGreaterEqual(i["duration_ms"], SLEEP_MS, i)
        # Never more than CONCURRENCY between sent and finished. sent_at and finished_at are
        # the starts of two different transactions, so one that replaced a finished command
        # may look a few ms early; a command sent past the cap would overlap by ~SLEEP_MS.
        edges = []
        for i in items:
            edges.append((gf.parse_time(i["sent_at"]), 1))
            edges.append((gf.parse_time(i["finished_at"]) - 0.05, -1))
        level = peak = 0
        for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
            level += step
            peak = max(peak, level)
        self.assertLessEqual(peak, CONCURRENCY, items)
        # Two waves at least: the cap held the second half back.
        span = (max(gf.parse_time(i["finished_at"]) for i in items)
                - min(gf.parse_time(i["sent_at"]) for i in items))
        self.assertGreaterEqual(span, 2 * SLEEP_MS / 1000.0, items)

    # ------------------------------------------------------------------ on the wire

    def test_request_properties_echoed_and_duplicates_answered_once(self):
        node = self.ids[3]
        self.broker.make_client("cmdpeer", "cmdpeer-pass")
        watch = self.broker.sub_start(f"gf/v1/n/{node}/#", "cmdpeer", "cmdpeer-pass",
                                      extra=("-F", "%t|%D|%p"))
        try:
            time.sleep(0.5)  # subscribed before anything is published
            custom, plain = str(uuid.uuid4()), str(uuid.uuid4())
            reply_to = f"gf/v1/n/{node}/peer/reply"
            req = json.dumps({"id": custom, "name": "ping", "args": {}, "timeout_ms": 5000})
            for _ in range(2):  # the same id twice: answered once
                self.pub(f"gf/v1/n/{node}/cmd/req", req, "-D", "publish", "response-topic",
                         reply_to, "-D", "publish", "correlation-data", f"corr-{custom}",
                         "-D", "publish", "message-expiry-interval", "60")
            self.pub(f"gf/v1/n/{node}/cmd/req",
                     json.dumps({"id": plain, "name": "ping", "timeout_ms": 5000}))
            evs = [self.sim.wait(lambda e, i=i, d=d: e.get("ev") == "command" and e["id"] == i
                                 and e["dup"] == d, what=f"request {i} dup={d}")
                   for i, d in ((custom, 0), (custom, 1), (plain, 0))]
            self.sim.stats()  # a barrier: everything above has been answered or skipped
            time.sleep(0.5)  # and the broker has passed the answers on
        finally:
            watch.kill()
            out, _ = watch.communicate(timeout=10)
        self.assertEqual(evs[0]["response_topic"], reply_to)
        self.assertEqual(evs[0]["expiry_s"], 60)
        self.assertEqual(evs[0]["corr"], 0)  # not the id itself: echoed all the same
        self.assertIsNone(evs[2]["response_topic"])
        self.assertIsNone(evs[2]["expiry_s"])
        answers = [x.split("|", 2) for x in out.splitlines() if x]
        answers = [(t, c, json.loads(p)) for t, c, p in answers
                   if t in (reply_to, f"gf/v1/n/{node}/cmd/res")]
        mine = [(t, c, p["status"]) for t, c, p in answers if p["id"] == custom]
        self.assertEqual(mine, [(reply_to, f"corr-{custom}", "running"),
                                (reply_to, f"corr-{custom}", "succeeded")], answers)
        self.assertEqual([p["result"] for _, _, p in answers
                          if p["id"] == custom and p["status"] == "succeeded"], [{"pong": True}])
        other = [(t, c, p["status"]) for t, c, p in answers if p["id"] == plain]
        self.assertEqual(other, [(f"gf/v1/n/{node}/cmd/res", "", "running"),
                                 (f"gf/v1/n/{node}/cmd/res", "", "succeeded")], answers)
        self.assertGreaterEqual(self.sim.stats()["commands_duplicates"], 1)

    def pub(self, topic, payload, *props):
        p = subprocess.run(["mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p",
                            str(self.broker.port), "-u", "cmdpeer", "-P", "cmdpeer-pass",
                            "-q", "1", "-t", topic, "-s"] + list(props),
                           input=payload, capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)

    # ------------------------------------------------------------------ faults (last)

    def test_z_commands_through_a_broker_that_hangs_dies_and_restarts(self):
        """Commands sent while the broker hangs (SIGSTOP: published, never acknowledged),
        then the broker killed and started again without persistence: each is sent again on
        the server's new session and ends succeeded, and the relay keeps working."""
        nodes = self.ids[:5]
        self.broker.proc.send_signal(signal.SIGSTOP)
        try:
            cids = [self.command(n, "ping")["id"] for n in nodes]
            time.sleep(1.5)  # published by the relay, unacknowledged
            for cid in cids:
                self.assertEqual(self.admin.get(f"/commands/{cid}").json["state"], "queued")
        finally:
            self.broker.stop(sig=signal.SIGKILL)
        self.broker.start()
        for cid in cids:
            c = self.wait_done(cid, timeout=45)
            self.assertEqual(c["state"], "succeeded", c)
        # Answered once each, though a request may have reached the node twice.
        for cid in cids:
            self.assertEqual([e["status"] for e in self.sim.events("result") if e["id"] == cid],
                             ["running", "succeeded"], cid)
        c = self.wait_done(self.command(nodes[0], "ping")["id"], timeout=10)
        self.assertEqual(c["state"], "succeeded", c)


if __name__ == "__main__":
    gf.main()

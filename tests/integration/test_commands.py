# SPDX-License-Identifier: Apache-2.0
"""test_commands.py - remote commands end to end: the real server, PostgreSQL, mosquitto with
dynamic security and real gatefleet-agents.

Each built-in (ping, health.now, inventory.refresh, bundle.status, agent.restart) and an
allowlisted service restart succeed with their results stored and audited; an unknown
name and bad arguments end `rejected` with the agent's reason; a command past its timeout
is killed with its whole process group (`timed_out`); a command to an offline node runs
once when the node returns before the deadline, and never when it returns after it
(`expired`); a request delivered twice runs once; a batch over a label selector runs on
every matching node with at most `concurrency` at a time; bad requests are refused with a
precise error and store nothing. CrashTest: a final result the server read but had not
committed when it was killed is sent again by the agent and stored.
"""

import json
import os
import signal
import subprocess
import time

import gf


def script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def count_lines(path):
    try:
        with open(path) as f:
            return len(f.read().splitlines())
    except FileNotFoundError:
        return 0


class CommandsTest(gf.GfTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="commands").start()
        cls.admin = cls.srv.admin()
        cls.tid, cls.pid, cls.token = gf.broker_project(cls.admin, cls.broker,
                                                        default_labels={"site": "test"})
        cls.work = os.path.join(cls.srv.tmp, gf.uniq("cmdwork"))
        os.makedirs(cls.work)
        cls.marker = os.path.join(cls.work, "restarts")
        cls.grandchild = os.path.join(cls.work, "grandchild.pid")
        restart = script(os.path.join(cls.work, "restart.sh"),
                         f"echo \"restarted $1\" >> {cls.marker}\necho \"neuronex restarted\"\n")
        hang = script(os.path.join(cls.work, "hang.sh"),
                      f"sleep 300 &\necho $! > {cls.grandchild}\nsleep 300\n")
        cls.commands_file = os.path.join(cls.work, "commands.conf")
        with open(cls.commands_file, "w") as f:
            f.write(f"# test allowlist\n"
                    f"service.restart:neuronex = {restart} neuronex\n"
                    f"service.hang = {hang}\n"
                    f"echo.word = /bin/echo {{word:^[a-z]{{1,16}}$}}\n")
        cls.agents = []
        cls.a = cls.agent_start()
        cls.node = cls.a.node_id()

    @classmethod
    def agent_start(cls, labels=None):
        a = gf.Agent(cls.srv, cls.token, extra=("--commands_file", cls.commands_file))
        cls.agents.append(a)
        a.start()
        node = gf.wait_for(lambda: os.path.exists(os.path.join(a.dir, "state", "node.json"))
                           and a.node_id(), what="node.json")
        gf.wait_for(lambda: cls.admin.get(f"/nodes/{node}").json["online"], what="online")
        if labels:
            n = cls.admin.get(f"/nodes/{node}").expect(200)
            cls.admin.patch(f"/nodes/{node}", {"labels": labels},
                            headers={"If-Match": n.header("ETag")}).expect(200)
        return a

    @classmethod
    def tearDownClass(cls):
        for a in cls.agents:
            if a.proc and a.proc.poll() is None:
                a.proc.kill()
        super().tearDownClass()
        cls.broker.stop()

    def run_cmd(self, name, args=None, timeout_s=20, node=None, expect=202):
        body = {"name": name, "timeout_s": timeout_s}
        if args is not None:
            body["args"] = args
        r = self.admin.post(f"/nodes/{node or self.node}/commands", body).expect(expect)
        return r.json

    def wait_done(self, cid, timeout=40):
        def done():
            c = self.admin.get(f"/commands/{cid}").expect(200).json
            return c if c["state"] not in ("queued", "sent", "running") else None
        return gf.wait_for(done, timeout=timeout, what=f"command {cid} finished")

    # ------------------------------------------------------------------ built-ins

    def test_builtin_commands(self):
        c = self.wait_done(self.run_cmd("ping")["id"])
        self.assertEqual(c["state"], "succeeded", c)
        self.assertTrue(c["result"]["pong"], c)
        self.assertIsNotNone(c["sent_at"])
        self.assertIsNotNone(c["started_at"])
        self.assertEqual(c["requested_label"], self.admin.email)

        c = self.wait_done(self.run_cmd("health.now")["id"])
        self.assertEqual(c["state"], "succeeded", c)
        self.assertIn("cpu", c["result"]["sample"])
        self.assertTrue(c["result"]["sample"]["power"]["on_battery"])

        c = self.wait_done(self.run_cmd("inventory.refresh")["id"])
        self.assertEqual(c["state"], "succeeded", c)
        self.assertTrue(c["result"]["inventory"].get("hostname"), c)
        self.assertTrue(c["result"]["birth_sent"])

        c = self.wait_done(self.run_cmd("bundle.status")["id"])
        self.assertEqual(c["state"], "succeeded", c)
        self.assertIn("applied", c["result"])

        # The outcome is audited with who asked and where it ran.
        rows = self.srv.sql(f"SELECT actor_type, outcome, detail FROM audit_events WHERE "
                            f"action = 'command.finished' AND object_id = '{c['id']}'")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], "node")
        detail = json.loads(rows[0][2])
        self.assertEqual(detail["node_id"], self.node)
        self.assertEqual(detail["state"], "succeeded")
        self.assertEqual(detail["requested_label"], self.admin.email)
        created = self.srv.scalar(f"SELECT count(*) FROM audit_events WHERE action = "
                                  f"'command.create' AND object_id = '{c['id']}'")
        self.assertEqual(created, "1")

    def test_agent_restart_runs_once(self):
        a = self.agent_start()
        node = a.node_id()
        before = self.admin.get(f"/nodes/{node}").json["session"]
        pid = a.proc.pid
        c = self.wait_done(self.run_cmd("agent.restart", node=node)["id"])
        self.assertEqual(c["state"], "succeeded", c)
        # The same process re-executed itself: a new session, same pid, still running.
        gf.wait_for(lambda: self.admin.get(f"/nodes/{node}").json["session"] > before
                    and self.admin.get(f"/nodes/{node}").json["online"], what="new session")
        self.assertIsNone(a.proc.poll())
        self.assertEqual(a.proc.pid, pid)
        time.sleep(3)  # a redelivered request would restart it again
        self.assertEqual(a.text().count("restarting (agent.restart)"), 1, a.text()[-3000:])
        a.stop()

    # ------------------------------------------------------------------ allowlist

    def test_allowlisted_restart_and_rejections(self):
        n0 = count_lines(self.marker)
        c = self.wait_done(self.run_cmd("service.restart:neuronex")["id"])
        self.assertEqual(c["state"], "succeeded", c)
        self.assertEqual(c["exit_code"], 0)
        self.assertIn("neuronex restarted", c["output"])
        self.assertEqual(count_lines(self.marker), n0 + 1)

        c = self.wait_done(self.run_cmd("echo.word", {"word": "hello"})["id"])
        self.assertEqual((c["state"], c["output"].strip()), ("succeeded", "hello"), c)

        # Not on the station's allowlist, arguments that fail validation, an undeclared
        # argument, the shell (off by default): rejected by the agent, nothing ran.
        for name, args, needle in (("service.restart:sshd", None, "unknown"),
                                   ("echo.word", {"word": "a;rm -rf /"}, "word does not match"),
                                   ("echo.word", {"word": "ok", "x": "1"}, "x"),
                                   ("shell", {"cmdline": "id"}, "unknown")):
            c = self.wait_done(self.run_cmd(name, args)["id"])
            self.assertEqual(c["state"], "rejected", c)
            self.assertIn(needle, c["error"] or "", c)
        self.assertEqual(count_lines(self.marker), n0 + 1)

    def test_timeout_kills_the_process_group(self):
        c = self.wait_done(self.run_cmd("service.hang", timeout_s=2)["id"])
        self.assertEqual(c["state"], "timed_out", c)
        with open(self.grandchild) as f:
            gpid = int(f.read().strip())
        gf.wait_for(lambda: not os.path.exists(f"/proc/{gpid}")
                    or open(f"/proc/{gpid}/stat").read().split()[2] == "Z",
                    timeout=10, what="the grandchild killed")

    # ------------------------------------------------------------------ delivery

    def test_offline_node_before_and_after_expiry(self):
        a = self.agent_start()
        node = a.node_id()
        self.assertEqual(a.stop(), 0)
        gf.wait_for(lambda: not self.admin.get(f"/nodes/{node}").json["online"], what="offline")
        n0 = count_lines(self.marker)
        # Returns before the deadline: delivered from the broker's session, runs once.
        ok = self.run_cmd("service.restart:neuronex", timeout_s=60, node=node)
        gf.wait_for(lambda: self.admin.get(f"/commands/{ok['id']}").json["state"] == "sent",
                    what="sent to the broker")
        # Returns after the deadline: the broker drops it, it never runs.
        late = self.run_cmd("service.restart:neuronex", timeout_s=1, node=node)
        gf.wait_for(lambda: self.admin.get(f"/commands/{late['id']}").json["state"] == "sent",
                    what="sent to the broker")
        time.sleep(2.5)
        a.start()
        c = self.wait_done(ok["id"])
        self.assertEqual(c["state"], "succeeded", c)
        c = self.wait_done(late["id"], timeout=30)
        self.assertEqual(c["state"], "expired", c)
        time.sleep(2)
        self.assertEqual(count_lines(self.marker), n0 + 1)
        a.stop()

    def test_duplicate_delivery_runs_once(self):
        n0 = count_lines(self.marker)
        c = self.wait_done(self.run_cmd("service.restart:neuronex")["id"])
        self.assertEqual(c["state"], "succeeded")
        # The same request again on the node's cmd/req (a broker redelivery).
        self.broker.make_client("dup", "dup-pass")
        payload = json.dumps({"id": c["id"], "name": "service.restart:neuronex", "args": {},
                              "timeout_ms": 20000})
        for _ in range(2):
            p = self.broker.pub(f"gf/v1/n/{self.node}/cmd/req", payload, "dup", "dup-pass")
            self.assertEqual(p.returncode, 0, p.stderr)
        time.sleep(3)
        self.assertEqual(count_lines(self.marker), n0 + 1)
        self.assertEqual(self.admin.get(f"/commands/{c['id']}").json["state"], "succeeded")

    # ------------------------------------------------------------------ batches

    def test_batch_over_selector_with_concurrency(self):
        tag = gf.uniq("grp")
        nodes = [self.agent_start(labels={"site": "test", "grp": tag}).node_id()
                 for _ in range(3)]
        r = self.admin.post(f"/projects/{self.pid}/commands", {
            "name": "echo.word", "args": {"word": "batch"}, "selector": f"grp={tag}",
            "concurrency": 1, "timeout_s": 20}).expect(202).json
        self.assertEqual(r["total"], 3)
        bid = r["id"]

        def finished():
            b = self.admin.get(f"/command-batches/{bid}").expect(200).json
            return b if b["done"] == 3 else None
        b = gf.wait_for(finished, timeout=60, what="batch done")
        self.assertEqual(b["counts"], {"succeeded": 3}, b)
        items = self.admin.list_all(f"/command-batches/{bid}/commands")
        self.assertEqual(sorted(i["node_id"] for i in items), sorted(nodes))
        # Never two at once: each was sent after the previous one finished.
        items.sort(key=lambda i: i["sent_at"])
        for prev, cur in zip(items, items[1:]):
            self.assertLessEqual(gf.parse_time(prev["finished_at"]),
                                 gf.parse_time(cur["sent_at"]), items)
        for a in self.agents[-3:]:
            a.stop()

    # ------------------------------------------------------------------ bad input

    def test_bad_requests_change_nothing(self):
        before = self.srv.scalar("SELECT count(*) FROM commands")
        cases = [
            ({"name": ""}, "/name"),
            ({"name": "Bad Name"}, "/name"),
            ({"name": "x" * 65}, "/name"),
            ({"name": "logs.stream.start"}, "/name"),
            ({"name": "ping", "timeout_s": 0}, "/timeout_s"),
            ({"name": "ping", "timeout_s": 3601}, "/timeout_s"),
            ({"name": "ping", "args": [1]}, "/args"),
            ({"name": "ping", "args": {"big": "x" * 20000}}, "/args"),
            ({"name": "ping", "selector": "a=b"}, "selector"),
            ({}, "/name"),
        ]
        for body, where in cases:
            r = self.admin.post(f"/nodes/{self.node}/commands", body)
            self.assertEqual(r.status, 400, (body, r.text))
            self.assertIn(where, r.text, body)
        r = self.admin.post(f"/nodes/{gf.uuid.uuid4()}/commands", {"name": "ping"})
        self.assertEqual(r.status, 404, r.text)
        for body, where in (({"name": "ping"}, "/selector"),
                            ({"name": "ping", "selector": "a in ("}, "/selector"),
                            ({"name": "ping", "selector": "nosuchlabel=1"}, "/selector"),
                            ({"name": "ping", "selector": "site=test", "concurrency": 0},
                             "/concurrency")):
            r = self.admin.post(f"/projects/{self.pid}/commands", body)
            self.assertEqual(r.status, 400, (body, r.text))
            self.assertIn(where, r.text, body)
        self.assertEqual(self.srv.scalar("SELECT count(*) FROM commands"), before)
        r = self.admin.get(f"/nodes/{self.node}/commands?state=bogus")
        self.assertEqual(r.status, 400, r.text)

    def test_rejected_node_gets_no_command(self):
        a = self.agent_start()
        node = a.node_id()
        self.admin.post(f"/nodes/{node}/reject").expect(200)
        r = self.admin.post(f"/nodes/{node}/commands", {"name": "ping"})
        self.assertEqual(r.status, 409, r.text)
        self.assertIn("rejected", r.text)
        self.assertEqual(self.srv.scalar(f"SELECT count(*) FROM commands WHERE node_id = "
                                         f"'{node}'"), "0")
        a.stop()

    def test_idempotency_key_makes_one_command(self):
        key = gf.uniq("idem")
        r1 = self.admin.post(f"/nodes/{self.node}/commands", {"name": "ping"},
                             headers={"Idempotency-Key": key}).expect(202).json
        r2 = self.admin.post(f"/nodes/{self.node}/commands", {"name": "ping"},
                             headers={"Idempotency-Key": key}).expect(202).json
        self.assertEqual(r1["id"], r2["id"])
        self.wait_done(r1["id"])


class CrashTest(gf.GfTestCase):
    """The server's MQTT client acknowledges a message to the broker when it reads it, before
    the COMMIT, so a server killed in between loses a result the broker counts as delivered.
    The agent keeps a final result until the server acknowledges it after the COMMIT."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="cmdcrash").start()
        admin = cls.srv.admin()
        token = gf.broker_project(admin, cls.broker)[2]
        work = os.path.join(cls.srv.tmp, gf.uniq("cmdwork"))
        os.makedirs(work)
        slow = script(os.path.join(work, "slow.sh"), "sleep 2\necho slow done\n")
        commands = os.path.join(work, "commands.conf")
        with open(commands, "w") as f:
            f.write(f"service.slow = {slow}\n")
        cls.agent = gf.Agent(cls.srv, token, extra=("--commands_file", commands)).start()
        cls.node = gf.wait_for(lambda: os.path.exists(os.path.join(cls.agent.dir, "state",
                                                                   "node.json"))
                               and cls.agent.node_id(), what="node.json")
        gf.wait_for(lambda: admin.get(f"/nodes/{cls.node}").json["online"], what="online")

    @classmethod
    def tearDownClass(cls):
        if cls.agent.proc and cls.agent.proc.poll() is None:
            cls.agent.proc.kill()
        super().tearDownClass()
        cls.broker.stop()

    def state(self, cid):
        return self.srv.scalar(f"SELECT state FROM commands WHERE id = '{cid}'")

    def test_final_result_survives_a_server_crash(self):
        admin = self.srv.admin()
        cid = admin.post(f"/nodes/{self.node}/commands",
                         {"name": "service.slow", "timeout_s": 120}).expect(202).json["id"]
        gf.wait_for(lambda: self.state(cid) == "running", what="the command running")
        db, state = self.srv.db, self.srv.state_dir
        self.srv.kill_with_uncommitted(
            self.node, lambda: f"msg=\"command finished\" id={cid}" in self.agent.text(),
            "the agent's result")
        self.assertEqual(self.state(cid), "running")
        type(self).srv = gf.Server(db=db, name="cmdcrash-2", extra_args=(
            "--fleet_interval_ms", "100", "--state_dir", state)).start()
        gf.wait_for(lambda: self.state(cid) == "succeeded", timeout=60,
                    what="the result stored after the resend")
        c = self.srv.admin().get(f"/commands/{cid}").expect(200).json
        self.assertIn("slow done", c["output"])
        self.assertIn(f"command result not acknowledged; sent it again\" id={cid}",
                      self.agent.text())


if __name__ == "__main__":
    gf.main()

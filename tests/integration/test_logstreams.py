# SPDX-License-Identifier: Apache-2.0
"""test_logstreams.py - live log streams end to end: a real gatefleet-agent tailing real
files, two server replicas on one database, mosquitto with dynamic security, and SSE
clients.

Past lines then followed lines, across a rotation by rename and one by truncation, arrive
in order, numbered, none lost or doubled, on a viewer connected to the *other* replica; a
viewer that reconnects with Last-Event-ID gets exactly what it missed; several viewers
share one stream; DELETE ends it with an `end` event; a stream ends by itself at its
maximum duration; binary content arrives as valid JSON; paths outside the station's
allowlist (directly, or through a symlink) fail with the agent's reason, and paths that
can never be right are refused by the server before anything is sent; arguments of the
wrong type, out of bounds or unknown are refused by the agent too, naming the field.
"""

import json
import os
import time

import gf
from gf import Stream


def append(path, lines):
    with open(path, "a") as f:
        for line in lines:
            f.write(line + "\n")


def chunk_lines(events):
    out = []
    for e in events:
        if e.get("event") == "chunk":
            out.extend(e["data"].get("lines", []))
    return out


class LogStreamsTest(gf.GfTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        keep = os.path.join(gf.run_root(), gf.uniq("logs-keep"))
        os.makedirs(keep)
        args = ("--fleet_interval_ms", "100", "--master_key_file",
                os.path.join(keep, "master.key"))
        cls.srv = gf.Server(extra_args=args, name="logs").start()
        cls.other = gf.Server(db=cls.srv.db, extra_args=args, name="logs-replica").start()
        cls.admin = cls.srv.admin()
        t = gf.make_tenant(cls.admin)
        cls.pid = gf.make_project(cls.admin, t["id"])["id"]
        cls.tok = gf.make_token(cls.admin, t["id"], "operator")["secret"]
        cls.admin.post(f"/projects/{cls.pid}/clusters", cls.broker.cluster_body()).expect(201)
        token = cls.admin.post(f"/projects/{cls.pid}/enrollment-tokens", {
            "auto_accept": True}).expect(201).json["secret"]
        cls.logdir = os.path.join(cls.srv.tmp, gf.uniq("logs"))
        os.makedirs(cls.logdir)
        cls.outside = os.path.join(cls.srv.tmp, gf.uniq("secret"))
        with open(cls.outside, "w") as f:
            f.write("do not ship me\n")
        cls.a = gf.Agent(cls.srv, token, extra=("--log_files", os.path.join(cls.logdir, "*.log")))
        cls.a.start()
        cls.node = gf.wait_for(lambda: os.path.exists(os.path.join(cls.a.dir, "state",
                                                                   "node.json"))
                               and cls.a.node_id(), what="node.json")
        gf.wait_for(lambda: cls.admin.get(f"/nodes/{cls.node}").json["online"], what="online")

    @classmethod
    def tearDownClass(cls):
        if cls.a.proc and cls.a.proc.poll() is None:
            cls.a.proc.kill()
        cls.other.stop()
        super().tearDownClass()
        cls.broker.stop()

    def start(self, body, srv=None):
        c = gf.Client((srv or self.srv).base_url, token=self.tok)
        return c.post(f"/nodes/{self.node}/log-streams", body)

    def view(self, sid, srv=None, **kw):
        s = Stream((srv or self.srv).base_url, f"/log-streams/{sid}/events", token=self.tok, **kw)
        self.assertEqual(s.status, 200, getattr(s, "body", b""))
        self.addCleanup(s.close)
        return s

    def stream_row(self, sid):
        return gf.Client(self.srv.base_url, token=self.tok).get(f"/log-streams/{sid}").expect(
            200).json

    def test_tail_follow_rotation_on_the_other_replica(self):
        log = os.path.join(self.logdir, "gateway.log")
        append(log, [f"old {i}" for i in range(50)])
        r = self.start({"path": log, "lines": 10, "follow": True, "max_duration_s": 120})
        self.assertEqual(r.status, 201, r.text)
        sid = r.json["id"]
        v = self.view(sid, srv=self.other)
        v.wait(lambda ev: len(chunk_lines(ev)) >= 10, what="the past lines")
        append(log, [f"new {i}" for i in range(20)])
        # Rotation by rename: a line written to the old file just before, then a new file.
        append(log, ["before rename"])
        os.rename(log, log + ".1")
        append(log, [f"after rename {i}" for i in range(5)])
        v.wait(lambda ev: "after rename 4" in chunk_lines(ev), what="lines after the rename")
        # Rotation by truncation (copytruncate).
        os.truncate(log, 0)
        time.sleep(0.5)
        append(log, [f"after truncate {i}" for i in range(3)])
        v.wait(lambda ev: "after truncate 2" in chunk_lines(ev), what="lines after truncate")
        got = chunk_lines(v.events)
        want = ([f"old {i}" for i in range(40, 50)] + [f"new {i}" for i in range(20)]
                + ["before rename"] + [f"after rename {i}" for i in range(5)]
                + [f"after truncate {i}" for i in range(3)])
        self.assertEqual(got, want)
        seqs = [int(e["id"]) for e in v.events if e.get("event") == "chunk"]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        self.assertEqual(self.stream_row(sid)["state"], "streaming")

        # A second viewer (replica 1) resuming after the first chunk gets the rest, exactly.
        w = self.view(sid, last_event_id=1)
        w.wait(lambda ev: "after truncate 2" in chunk_lines(ev), what="resumed lines")
        self.assertEqual([int(e["id"]) for e in w.events if e.get("event") == "chunk"],
                         seqs[1:])
        v.close()
        append(log, ["while away"])
        gf.wait_for(lambda: self.stream_row(sid)["last_seq"] > seqs[-1], what="the next chunk")
        x = self.view(sid, srv=self.other, last_event_id=seqs[-1])
        x.wait(lambda ev: "while away" in chunk_lines(ev), what="the missed line")
        self.assertEqual(chunk_lines(x.events), ["while away"])

        # DELETE: the stream ends, viewers get `end` and the response ends.
        gf.Client(self.srv.base_url, token=self.tok).delete(f"/log-streams/{sid}").expect(204)
        ev = x.wait(lambda ev: any(e.get("event") == "end" for e in ev), what="end")
        self.assertEqual(ev[-1]["data"]["state"], "ended")
        gf.wait_for(lambda: x.ended, what="response ended")
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT count(*) FROM commands WHERE name = 'logs.stream.stop' AND args->>"
            f"'stream_id' = '{sid}' AND state = 'succeeded'") == "1", what="stop acknowledged")

    def test_max_duration_and_binary_content(self):
        log = os.path.join(self.logdir, "binary.log")
        with open(log, "wb") as f:
            f.write(b"plain\n\x00\xff\xfe bin\x01ary\n" + b"x" * 20000 + b"\nlast\n")
        r = self.start({"path": log, "lines": 10, "follow": True, "max_duration_s": 2})
        self.assertEqual(r.status, 201, r.text)
        v = self.view(r.json["id"])
        ev = v.wait(lambda ev: any(e.get("event") == "end" for e in ev), timeout=40,
                    what="the end at max duration")
        lines = chunk_lines(ev)
        self.assertEqual(lines[0], "plain")
        self.assertIn("\ufffd", lines[1])
        self.assertEqual(lines[-1], "last")
        self.assertTrue(all(isinstance(e["data"], dict) for e in ev), ev)
        row = self.stream_row(r.json["id"])
        self.assertEqual(row["state"], "ended", row)
        self.assertIn("max_duration", row["reason"] or "", row)

    def test_chunk_larger_than_a_viewers_buffer_is_skipped_not_stuck(self):
        log = os.path.join(self.logdir, "quiet.log")
        append(log, [])
        r = self.start({"path": log, "lines": 0, "follow": True})
        self.assertEqual(r.status, 201, r.text)
        sid = r.json["id"]
        v = self.view(sid, last_event_id=1000)
        # A chunk over sse_client_buffer (64 KiB), then a small one, as if the agent sent them.
        big = json.dumps({"stream": sid, "seq": 1001, "lines": ["x" * 100000]})
        small = json.dumps({"stream": sid, "seq": 1002, "lines": ["after"]})
        self.srv.sql(f"INSERT INTO log_chunks (stream_id, seq, chunk) VALUES"
                     f" ('{sid}', 1001, '{big}'), ('{sid}', 1002, '{small}');"
                     f" SELECT pg_notify('gf_log', '{sid}:1002')")
        ev = v.wait(lambda ev: any(e.get("id") == "1002" for e in ev), what="the chunk after")
        chunks = [e for e in ev if e.get("event") == "chunk"]
        self.assertEqual([e["id"] for e in chunks], ["1001", "1002"])
        self.assertEqual(chunks[0]["data"], {"seq": 1001, "lines": [],
                                             "omitted_bytes": len(big)})
        self.assertEqual(chunks[1]["data"]["lines"], ["after"])

    def raw_command(self, name, args):
        """A command as the server would publish it, args as given (not checked by the API):
        returns its id."""
        return self.srv.scalar(
            f"INSERT INTO commands (project_id, node_id, name, args, timeout_ms, deadline_at)"
            f" SELECT project_id, id, '{name}', '{json.dumps(args)}'::jsonb, 30000,"
            f" now() + interval '30 seconds' FROM nodes WHERE id = '{self.node}' RETURNING id")

    def final(self, cid):
        return gf.wait_for(lambda: (lambda c: c if c["state"] not in (
            "queued", "sent", "running") else None)(
            gf.Client(self.srv.base_url, token=self.tok).get(f"/commands/{cid}")
            .expect(200).json), what=f"command {cid}")

    def test_repeated_start_and_reserved_ids(self):
        log = os.path.join(self.logdir, "again.log")
        append(log, ["a"])
        r = self.start({"path": log, "lines": 1, "follow": True})
        self.assertEqual(r.status, 201, r.text)
        sid = r.json["id"]
        gf.wait_for(lambda: self.stream_row(sid)["state"] == "streaming", what="streaming")

        def request(stream_id):
            """A logs.stream.start as the server would publish it again (a redelivery)."""
            return self.raw_command("logs.stream.start", {
                "stream_id": stream_id, "path": log, "lines": 0, "follow": True,
                "max_duration_ms": 60000})
        again = self.final(request(sid))
        self.assertEqual((again["state"], again["result"]), ("succeeded", {"stream_id": sid}),
                         again)
        self.assertEqual(self.stream_row(sid)["state"], "streaming")
        tail = self.final(request("tail-0123456789abcdef"))
        self.assertEqual(tail["state"], "rejected", tail)
        self.assertIn("reserved", tail["error"], tail)

    def test_agent_checks_stream_arguments_strictly(self):
        log = os.path.join(self.logdir, "strict.log")
        append(log, ["a"])
        good = {"stream_id": "strict-1", "path": log, "lines": 0, "follow": False,
                "max_duration_ms": 60000}
        for change, where in (({"lines": "5"}, "/args/lines"),
                              ({"follow": "yes"}, "/args/follow"),
                              ({"lines": -1}, "/args/lines"),
                              ({"max_duration_ms": 10}, "/args/max_duration_ms"),
                              ({"surprise": 1}, "/args/surprise"),
                              ({"stream_id": 7}, "/args/stream_id")):
            c = self.final(self.raw_command("logs.stream.start", dict(good, **change)))
            self.assertEqual(c["state"], "rejected", (change, c))
            self.assertIn(where, c["error"], (change, c))
        c = self.final(self.raw_command("logs.stream.stop", {"stream_id": "x", "path": log}))
        self.assertEqual(c["state"], "rejected", c)
        self.assertIn("/args/path", c["error"], c)
        # The same request, well formed, runs.
        c = self.final(self.raw_command("logs.stream.start", good))
        self.assertEqual(c["state"], "succeeded", c)

    def test_stream_nobody_watches_is_stopped(self):
        log = os.path.join(self.logdir, "unwatched.log")
        append(log, ["one", "two"])
        r = self.start({"path": log, "lines": 2, "follow": True})
        self.assertEqual(r.status, 201, r.text)
        sid = r.json["id"]
        gf.wait_for(lambda: self.stream_row(sid)["lines"] == 2, what="the first lines stored")
        # Nobody has watched it for over a minute (the idle limit), as if that much time went.
        self.srv.sql(f"UPDATE log_streams SET viewed_at = now() - interval '2 minutes'"
                     f" WHERE id = '{sid}'")
        row = gf.wait_for(lambda: (lambda x: x if x["state"] == "ended" else None)(
            self.stream_row(sid)), what="the unwatched stream ended")
        self.assertEqual(row["reason"], "no viewer", row)
        # The agent is told to stop and does: no more lines arrive.
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT state FROM commands WHERE name = 'logs.stream.stop' AND"
            f" args->>'stream_id' = '{sid}'") == "succeeded", what="the stop command ran")
        append(log, ["three"])
        time.sleep(1.5)
        self.assertEqual(self.stream_row(sid)["lines"], 2)

    def test_outside_the_allowlist_fails_with_the_agents_reason(self):
        link = os.path.join(self.logdir, "escape.log")
        os.symlink(self.outside, link)
        for path in (self.outside, link, os.path.join(self.logdir, "missing.log")):
            r = self.start({"path": path, "lines": 5})
            self.assertEqual(r.status, 201, r.text)
            sid = r.json["id"]
            row = gf.wait_for(lambda: self.stream_row(sid)["state"] == "failed"
                              and self.stream_row(sid), what=f"{path} refused")
            self.assertTrue(row["reason"], row)
            v = self.view(sid)
            ev = v.wait(lambda ev: any(e.get("event") == "end" for e in ev), what="end")
            self.assertEqual(chunk_lines(ev), [])
            self.assertEqual(ev[-1]["data"]["state"], "failed")
        self.assertEqual(self.srv.scalar(
            f"SELECT count(*) FROM log_chunks c JOIN log_streams s ON s.id = c.stream_id "
            f"WHERE s.node_id = '{self.node}' AND c.chunk LIKE '%do not ship me%'"), "0")

    def test_logs_tail_command(self):
        log = os.path.join(self.logdir, "tail.log")
        append(log, [f"line {i}" for i in range(30)])
        c = gf.Client(self.srv.base_url, token=self.tok)

        def run(args):
            cid = c.post(f"/nodes/{self.node}/commands", {"name": "logs.tail", "args": args,
                                                          "timeout_s": 20}).expect(202).json["id"]
            return gf.wait_for(lambda: c.get(f"/commands/{cid}").json["state"] not in
                               ("queued", "sent", "running") and c.get(f"/commands/{cid}").json,
                               what="logs.tail done")
        r = run({"path": log, "lines": 5})
        self.assertEqual(r["state"], "succeeded", r)
        self.assertEqual(r["result"]["lines"], [f"line {i}" for i in range(25, 30)])
        r = run({"path": self.outside, "lines": 5})
        self.assertEqual(r["state"], "failed", r)
        self.assertNotIn("do not ship me", str(r))

    def test_bad_requests_are_refused_by_the_server(self):
        before = self.srv.scalar("SELECT count(*) FROM log_streams")
        for body, where in (({"path": "relative.log"}, "/path"),
                            ({"path": "/var/log/../../etc/shadow"}, "/path"),
                            ({"path": "/var/log/./x.log"}, "/path"),
                            ({"path": "/var/log//x.log"}, "/path"),
                            ({"path": "/var/log/x\n.log"}, "/path"),
                            ({"path": "/var/log/x.log", "unit": "x.service"}, "/path"),
                            ({}, "/path"),
                            ({"unit": "bad unit;rm"}, "/unit"),
                            ({"unit": "--since=1970-01-01"}, "/unit"),  # reads as an option
                            ({"unit": "u" * 129}, "/unit"),
                            ({"path": "/var/log/x.log", "lines": 10001}, "/lines"),
                            ({"path": "/var/log/x.log", "max_duration_s": 0}, "/max_duration_s"),
                            ({"path": "/var/log/x.log", "filter": ""}, "/filter")):
            r = self.start(body)
            self.assertEqual(r.status, 400, (body, r.text))
            self.assertIn(where, r.text, body)
        self.assertEqual(self.srv.scalar("SELECT count(*) FROM log_streams"), before)
        r = gf.Client(self.srv.base_url, token=self.tok).get(
            f"/log-streams/{gf.uuid.uuid4()}/events")
        self.assertEqual(r.status, 404, r.text)


if __name__ == "__main__":
    gf.main()

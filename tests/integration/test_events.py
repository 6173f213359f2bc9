# SPDX-License-Identifier: Apache-2.0
"""test_events.py - the project event feed, GET /projects/{id}/events (Server-Sent Events),
with the real server, PostgreSQL, mosquitto and the fleet simulator.

FleetEvents (simulated nodes on a private broker): a rollout's transitions on the stream in
order (and the same order as the table), an operator's pause / resume / cancel; a node going
offline (its Will) and online again; an enrollment request and its acceptance; tenant B gets
404 on A's stream (session and token) and bad parameters 400.
Resume (a server without a fleet, events written in SQL through the real triggers):
Last-Event-ID served from the ring (exactly the missed events, no duplicate); after a
restart from the table; a `reset` when too much was missed; ?recent= and ?kinds=; a second
replica on the same database streams the same events with the same ids; the LISTEN
connection killed while events commit (caught up from the table); heartbeats keep an idle
stream past the stall timeout.
Load (own server, sse_max_clients 1000): 1000 concurrent streams all get an event, the
1001st is refused with 503 and Retry-After while the server still answers; 200 clients that
never read (tiny receive buffers) are dropped after the stall timeout while 20 readers get
every event, and the server's resident memory stays bounded.
"""

import json
import os
import selectors
import socket
import time
import urllib.parse

import gf
import gf_fleet
from gf import Stream

NODES = 4
RESUMED_RING = 'gf_events_resumed_total{from="ring"}'
RESUMED_TABLE = 'gf_events_resumed_total{from="table"}'
META = {"name": "feedtest", "actions": [], "health_timeout_s": 30}


# ------------------------------------------------------------------ an SSE client

def raw_stream(base_url, path, token, rcvbuf=None):
    """A socket that asked for a stream and reads nothing yet (rcvbuf: its receive buffer)."""
    u = urllib.parse.urlsplit(base_url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((u.hostname, u.port))
    s.sendall((f"GET {gf.API}{path} HTTP/1.1\r\nHost: {u.hostname}\r\n"
               f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
    return s


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def insert_events(srv, project, n, kind="test.tick", pad=0):
    """n events of project in one transaction, through the real triggers."""
    data = f"jsonb_build_object('n', i, 'pad', repeat('x', {pad}))" if pad else \
        "jsonb_build_object('n', i)"
    srv.sql(f"INSERT INTO project_events (project_id, kind, data) SELECT '{project}', "
            f"'{kind}', {data} FROM generate_series(1, {n}) i")


def table_ids(srv, project, after=0, kind=None):
    k = f" AND kind = '{kind}'" if kind else ""
    return [int(r[0]) for r in srv.sql(f"SELECT seq FROM project_events WHERE project_id = "
                                      f"'{project}' AND seq > {after}{k} ORDER BY seq")]


# ------------------------------------------------------------------ a fleet of nodes

class FleetEvents(gf_fleet.FleetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        keep = os.path.join(gf.run_root(), gf.uniq("events-keys"))
        os.makedirs(keep)
        cls.srv = gf.Server(name="events-fleet", extra_args=(
            "--fleet_interval_ms", "100", "--rollout_interval_ms", "200", "--sse_heartbeat", "1",
            "--master_key_file", os.path.join(keep, "master.key"))).start()
        admin, cls.tid, cls.pid, nodes = gf_fleet.fleet_project(cls.srv, cls.broker, NODES)
        cls.admin = admin
        cls.nodes = [n for n, _ in nodes]
        cls.tok = gf.make_token(admin, cls.tid, "viewer")["secret"]
        cls.sim = gf_fleet.online_sim(cls.srv, cls.broker, nodes)
        cls.bundle = gf.upload_bundle(admin, cls.pid, META,
                                      [("etc/x.conf", b"v1\n")]).expect(201).json

    def stream(self, **kw):
        s = Stream(self.srv.base_url, f"/projects/{self.pid}/events", token=self.tok, **kw)
        self.assertEqual(s.status, 200, getattr(s, "body", b""))
        self.addCleanup(s.close)
        return s

    def rollout_kinds_in_table(self, rid):
        return [r[0] for r in self.srv.sql(
            f"SELECT kind FROM project_events WHERE data->>'rollout_id' = '{rid}' ORDER BY seq")]

    def test_rollout_transitions_in_order(self):
        s = self.stream(query={"kinds": "rollout.*"})
        self.assertEqual(s.headers.get("content-type"), "text/event-stream")
        self.assertEqual(s.headers.get("cache-control"), "no-store")
        self.assertEqual(s.headers.get("x-accel-buffering"), "no")
        a, b = self.nodes[0], self.nodes[1]
        r = self.admin.post(f"/projects/{self.pid}/rollouts", {
            "bundle_id": self.bundle["id"], "target": {"node_ids": [a, b]},
            "waves": [{"nodes": 1}, {"percent": 100}]}).expect(201).json
        gf.wait_for(lambda: self.admin.get(f"/rollouts/{r['id']}").json["state"] == "succeeded",
                    timeout=60, what="rollout succeeded")

        def mine(evs):
            return [e for e in evs if e["data"]["data"].get("rollout_id") == r["id"]]
        evs = mine(s.wait(lambda ev: any(e["event"] == "rollout.succeeded" for e in mine(ev)),
                          what="rollout.succeeded"))
        kinds = [e["event"] for e in evs]
        self.assertEqual(kinds, ["rollout.started", "rollout.wave_started", "rollout.succeeded"])
        self.assertEqual(kinds, self.rollout_kinds_in_table(r["id"]))
        ids = [int(e["id"]) for e in evs]
        self.assertEqual(ids, sorted(set(ids)))
        for e in evs:
            self.assertEqual(e["data"]["id"], int(e["id"]))
            self.assertEqual(e["data"]["kind"], e["event"])
            self.assertEqual(e["data"]["project_id"], self.pid)
        self.assertEqual(evs[-1]["data"]["data"]["state"], "succeeded")
        self.assertTrue(all(e["event"].startswith("rollout.") for e in s.events), s.events)

        # An operator's changes: every one is an event, in the order they were made.
        c, d = self.nodes[2], self.nodes[3]
        for n in (c, d):
            self.sim.send(f"set {n} ignore")
        r2 = self.admin.post(f"/projects/{self.pid}/rollouts", {
            "bundle_id": self.bundle["id"], "target": {"node_ids": [c, d]},
            "rate": {"per_minute": 1}}).expect(201).json
        for verb in ("pause", "resume", "cancel"):
            self.admin.post(f"/rollouts/{r2['id']}/{verb}").expect(200)
        evs = s.wait(lambda ev: any(e["event"] == "rollout.cancelled" for e in ev),
                     what="rollout.cancelled")
        kinds = [e["event"] for e in evs if e["data"]["data"].get("rollout_id") == r2["id"]]
        self.assertEqual(kinds, ["rollout.started", "rollout.paused", "rollout.resumed",
                                 "rollout.cancelled"])
        self.assertEqual(kinds, self.rollout_kinds_in_table(r2["id"]))
        for n in (c, d):
            self.sim.send(f"set {n} ok")

    def test_node_offline_and_online(self):
        n = self.nodes[3]
        s = self.stream(query={"kinds": "node.*"})
        self.sim.send(f"offline {n}")
        off = s.wait(lambda ev: any(e["event"] == "node.offline" and
                                    e["data"]["data"]["node_id"] == n for e in ev),
                     what="node.offline")
        e = [x for x in off if x["event"] == "node.offline"][-1]
        self.assertEqual(e["data"]["data"]["reason"], "will")
        self.assertFalse(self.admin.get(f"/nodes/{n}").json["online"])
        self.sim.send(f"online {n}")
        on = s.wait(lambda ev: any(x["event"] == "node.online" and
                                   x["data"]["data"]["node_id"] == n for x in ev),
                    what="node.online")
        self.assertLess(on.index(e), [i for i, x in enumerate(on) if x["event"] == "node.online"][0])
        gf.wait_for(lambda: self.admin.get(f"/nodes/{n}").json["online"], what="online")

    def test_enrollment_request_then_accepted(self):
        s = self.stream(query={"kinds": "node.enrollment_requested,node.accepted"})
        token = self.admin.post(f"/projects/{self.pid}/enrollment-tokens",
                                {"auto_accept": False}).expect(201).json["secret"]
        key = gf.NodeKey()
        host = gf.uniq("pending-host")
        a = key.enroll(self.srv.client(csrf=None), {"token": token, "public_key": key.public_text,
                                                    "inventory": {"hostname": host}})
        self.assertIn(a.status, (200, 202), a)
        node = a.json["node_id"]
        evs = s.wait(lambda ev: any(e["data"]["data"]["node_id"] == node for e in ev),
                     what="enrollment request")
        req = [e for e in evs if e["data"]["data"]["node_id"] == node][0]
        self.assertEqual(req["event"], "node.enrollment_requested")
        self.assertEqual((req["data"]["data"]["status"], req["data"]["data"]["hostname"]),
                         ("pending", host))
        self.admin.post(f"/nodes/{node}/accept").expect(200)
        evs = s.wait(lambda ev: any(e["event"] == "node.accepted" and
                                    e["data"]["data"]["node_id"] == node for e in ev),
                     what="node.accepted")
        acc = [e for e in evs if e["event"] == "node.accepted" and
               e["data"]["data"]["node_id"] == node][0]
        self.assertEqual(acc["data"]["data"]["previous"], "pending")
        self.assertGreater(int(acc["id"]), int(req["id"]))

    def test_other_tenant_and_bad_parameters(self):
        b_user = self.srv.user()
        b = gf.make_tenant(self.admin)
        gf.add_member(self.admin, b["id"], "owner", user_id=b_user.user["id"])
        pb = gf.make_project(b_user, b["id"])["id"]
        b_tok = gf.make_token(b_user, b["id"], "owner")["secret"]
        for kw in ({"client": b_user}, {"token": b_tok}):
            mine = Stream(self.srv.base_url, f"/projects/{pb}/events", **kw)
            theirs = Stream(self.srv.base_url, f"/projects/{self.pid}/events", **kw)
            ghost = Stream(self.srv.base_url, f"/projects/{gf.random_uuid()}/events", **kw)
            self.addCleanup(mine.close)
            self.assertEqual(mine.status, 200)
            self.assertEqual((theirs.status, ghost.status), (404, 404))
            self.assertEqual(json.loads(theirs.body)["type"], json.loads(ghost.body)["type"])
            self.assertNotIn(self.pid, theirs.body.decode())
            # A's events never reach B's stream of B's project.
            insert_events(self.srv, self.pid, 2, kind="test.secret")
            insert_events(self.srv, pb, 1, kind="test.b")
            evs = mine.wait(lambda ev: any(e["event"] == "test.b" for e in ev), what="B's event")
            self.assertEqual({e["data"]["project_id"] for e in evs}, {pb})
        anon = Stream(self.srv.base_url, f"/projects/{self.pid}/events")
        self.assertEqual(anon.status, 401)
        for hdr, query, field in ((("Last-Event-ID", "12x"), None, "Last-Event-ID"),
                                  (None, {"last_event_id": "-1"}, "last_event_id"),
                                  (None, {"recent": "5000"}, "recent"),
                                  (None, {"kinds": "Node.*"}, "kinds"),
                                  (None, {"kinds": "a,,b"}, "kinds")):
            r = self.srv.client(token=self.tok).get(
                f"/projects/{self.pid}/events", headers=dict([hdr]) if hdr else None,
                query=query)
            self.assertProblem(r, 400, "validation", field)


# ------------------------------------------------------------------ resuming, replicas

class ResumeEvents(gf.GfTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        keep = os.path.join(gf.run_root(), gf.uniq("events-resume"))
        os.makedirs(keep)
        cls.args = ("--sse_heartbeat", "1", "--sse_stall_timeout", "3",
                    "--master_key_file", os.path.join(keep, "master.key"))
        cls.srv = gf.Server(name="events-resume", extra_args=cls.args).start()
        cls.setup_project()

    @classmethod
    def setup_project(cls):
        admin = cls.srv.admin()
        cls.tid = gf.make_tenant(admin)["id"]
        cls.pid = gf.make_project(admin, cls.tid)["id"]
        cls.tok = gf.make_token(admin, cls.tid, "viewer")["secret"]

    def stream(self, srv=None, **kw):
        s = Stream((srv or self.srv).base_url, f"/projects/{self.pid}/events", token=self.tok,
                   **kw)
        self.assertEqual(s.status, 200, getattr(s, "body", b""))
        self.addCleanup(s.close)
        return s

    def test_resume_from_the_ring(self):
        s = self.stream()
        insert_events(self.srv, self.pid, 3)
        first = [int(e["id"]) for e in s.wait(lambda ev: len(ev) >= 3)]
        # The retry field comes first on the stream: read by now (the reader is a thread, so
        # not necessarily when the stream was opened).
        self.assertEqual(s.retry, 3000)
        self.assertEqual(first, table_ids(self.srv, self.pid)[-3:])
        s.close()
        insert_events(self.srv, self.pid, 4)
        missed = table_ids(self.srv, self.pid, first[-1])
        self.assertEqual(len(missed), 4)
        ring = self.srv.metric(RESUMED_RING)
        table = self.srv.metric(RESUMED_TABLE)
        r = self.stream(last_event_id=first[-1])
        self.assertEqual([int(e["id"]) for e in r.wait(lambda ev: len(ev) >= 4)], missed)
        insert_events(self.srv, self.pid, 1, kind="test.live")
        evs = r.wait(lambda ev: len(ev) >= 5)
        self.assertEqual([int(e["id"]) for e in evs], table_ids(self.srv, self.pid, first[-1]))
        self.assertEqual(evs[-1]["event"], "test.live")
        time.sleep(1.5)
        self.assertEqual(len(r.events), 5, "a duplicate or an extra event")
        self.assertEqual(self.srv.metric(RESUMED_RING), ring + 1)  # from the ring
        self.assertEqual(self.srv.metric(RESUMED_TABLE), table)
        # The same through ?last_event_id= (no header) and a kinds filter.
        q = self.stream(query={"last_event_id": str(first[-1]), "kinds": "test.live"})
        self.assertEqual([int(e["id"]) for e in q.wait(lambda ev: len(ev) >= 1)],
                         table_ids(self.srv, self.pid, first[-1], kind="test.live"))
        # An id this database never gave (a restore, a forged id): a reset, then live.
        f = self.stream(last_event_id=10**15)
        evs = f.wait(lambda ev: len(ev) >= 1)
        self.assertEqual((evs[0]["event"], int(evs[0]["id"])),
                         ("reset", table_ids(self.srv, self.pid)[-1]))
        insert_events(self.srv, self.pid, 1, kind="test.after_future")
        self.assertEqual(f.wait(lambda ev: len(ev) >= 2)[1]["event"], "test.after_future")
        # ?recent=2: the two latest, then live.
        rec = self.stream(query={"recent": "2"})
        self.assertEqual([int(e["id"]) for e in rec.wait(lambda ev: len(ev) >= 2)],
                         table_ids(self.srv, self.pid)[-2:])

    def test_resume_from_the_table_after_a_restart_and_reset(self):
        s = self.stream()
        insert_events(self.srv, self.pid, 2)
        last = int(s.wait(lambda ev: len(ev) >= 2)[-1]["id"])
        s.close()
        db = self.srv.db
        self.srv.stop()
        self.srv.check_clean_exit()
        insert_events(self.srv, self.pid, 5, kind="test.while_down")
        type(self).srv = gf.Server(db=db, name="events-resume-2", extra_args=self.args).start()
        r = self.stream(last_event_id=last)
        self.assertEqual(self.srv.metric(RESUMED_TABLE), 1)  # a fresh ring: from the table
        missed = table_ids(self.srv, self.pid, last)
        self.assertEqual(len(missed), 5)
        self.assertEqual([int(e["id"]) for e in r.wait(lambda ev: len(ev) >= 5)], missed)
        insert_events(self.srv, self.pid, 1, kind="test.after")
        evs = r.wait(lambda ev: len(ev) >= 6)
        self.assertEqual([int(e["id"]) for e in evs], table_ids(self.srv, self.pid, last))
        # Too much missed: one reset (its id is where the stream goes on), then live.
        last = int(evs[-1]["id"])
        r.close()
        self.srv.stop()
        self.srv.check_clean_exit()
        insert_events(self.srv, self.pid, 1005, kind="test.flood")
        type(self).srv = gf.Server(db=db, name="events-resume-3", extra_args=self.args).start()
        top = table_ids(self.srv, self.pid)[-1]
        z = self.stream(last_event_id=last)
        evs = z.wait(lambda ev: len(ev) >= 1)
        self.assertEqual((evs[0]["event"], int(evs[0]["id"])), ("reset", top))
        self.assertEqual(evs[0]["data"]["after"], last)
        self.assertEqual(self.srv.metric("gf_events_resets_total"), 1)
        insert_events(self.srv, self.pid, 1, kind="test.after_reset")
        evs = z.wait(lambda ev: len(ev) >= 2)
        self.assertEqual([e["event"] for e in evs], ["reset", "test.after_reset"])
        self.assertEqual(int(evs[1]["id"]), table_ids(self.srv, self.pid)[-1])

    def test_second_replica_sees_the_same_events(self):
        other = gf.Server(db=self.srv.db, name="events-replica", extra_args=self.args).start()
        try:
            here, there = self.stream(), self.stream(srv=other)
            # A change through replica 1's API (a pre-authorised node) and one in SQL.
            node = self.srv.admin().post(f"/projects/{self.pid}/nodes", {
                "public_key": gf.random_public_key(), "name": gf.uniq("pre")}).expect(201).json
            insert_events(self.srv, self.pid, 3)
            want = table_ids(self.srv, self.pid)[-4:]
            a = there.wait(lambda ev: len(ev) >= 4, what="events on replica 2")
            b = here.wait(lambda ev: len(ev) >= 4, what="events on replica 1")
            self.assertEqual([int(e["id"]) for e in a], want)
            self.assertEqual([(e["id"], e["event"], e["data"]) for e in a],
                             [(e["id"], e["event"], e["data"]) for e in b])
            self.assertEqual((a[0]["event"], a[0]["data"]["data"]["node_id"]),
                             ("node.accepted", node["id"]))
        finally:
            other.stop()
        other.check_clean_exit()
        other.cleanup()

    def test_listen_connection_lost_while_events_commit(self):
        s = self.stream()
        before = self.srv.metric("gf_events_listen_connects_total")
        caught = self.srv.metric("gf_events_catchup_total")
        start = table_ids(self.srv, self.pid)
        # Kill the listener's backend, then commit three events before it can be back (it
        # waits at least 250 ms): their notifications go nowhere.
        self.srv.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
            f"'gatefleet-listen' AND datname = '{self.srv.db}'; "
            f"INSERT INTO project_events (project_id, kind) SELECT '{self.pid}', 'test.gap' "
            "FROM generate_series(1, 3)")
        evs = s.wait(lambda ev: len(ev) >= 3, what="the events committed meanwhile")
        self.assertEqual([int(e["id"]) for e in evs], table_ids(self.srv, self.pid,
                                                                start[-1] if start else 0))
        gf.wait_for(lambda: self.srv.metric("gf_events_listen_connects_total") > before,
                    what="a new LISTEN connection")
        self.assertGreaterEqual(self.srv.metric("gf_events_catchup_total") - caught, 3)
        insert_events(self.srv, self.pid, 1, kind="test.after_gap")
        evs = s.wait(lambda ev: len(ev) >= 4)
        self.assertEqual(evs[-1]["event"], "test.after_gap")
        time.sleep(1)
        self.assertEqual(len(s.events), 4, "duplicates after the catch-up")

    def test_heartbeats_keep_an_idle_stream(self):
        s = self.stream()
        t0 = time.monotonic()
        time.sleep(5)  # > sse_stall_timeout (3 s): suspended and woken, never dropped
        beats = [t for t, c in s.comments if c == "keepalive"]
        self.assertGreaterEqual(len(beats), 3, s.comments)
        self.assertTrue(all(b > t0 for b in beats))
        insert_events(self.srv, self.pid, 1, kind="test.late")
        self.assertEqual(s.wait(lambda ev: len(ev) >= 1)[0]["event"], "test.late")
        self.assertFalse(s.ended)


# ------------------------------------------------------------------ many clients

class LoadEvents(gf.GfTestCase):
    start_server = False
    LIMIT = 1000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A small ASan quarantine, so freed memory is not counted as resident.
        os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                      ":quarantine_size_mb=8").lstrip(":")
        cls.srv = gf.Server(name="events-load", extra_args=(
            "--sse_max_clients", str(cls.LIMIT), "--sse_stall_timeout", "3",
            "--sse_heartbeat", "2")).start()
        admin = cls.srv.admin()
        cls.tid = gf.make_tenant(admin)["id"]
        cls.pid = gf.make_project(admin, cls.tid)["id"]
        cls.tok = gf.make_token(admin, cls.tid, "viewer")["secret"]

    def path(self):
        return f"/projects/{self.pid}/events"

    def wait_streams(self, n, timeout=30):
        return gf.wait_for(lambda: self.srv.metric("gf_sse_streams") == n, timeout=timeout,
                           what=f"{n} open streams (now {self.srv.metric('gf_sse_streams')})")

    def test_a_thousand_streams_and_the_limit(self):
        sel = selectors.DefaultSelector()
        socks, got = [], {}
        try:
            for _ in range(self.LIMIT):
                s = raw_stream(self.srv.base_url, self.path(), self.tok)
                socks.append(s)
                got[s] = b""
            # Every one answered 200 (the header block arrives before anything else).
            for s in socks:
                while b"\r\n\r\n" not in got[s]:
                    got[s] += s.recv(4096)
                self.assertTrue(got[s].startswith(b"HTTP/1.1 200"), got[s][:200])
            self.wait_streams(self.LIMIT)
            # One more: 503 problem+json with Retry-After, the server answering meanwhile.
            t0 = time.monotonic()
            r = self.srv.client(token=self.tok).get(self.path())
            self.assertProblem(r, 503, "unavailable")
            self.assertEqual(r.header("Retry-After"), "5")
            self.assertEqual(self.srv.client().request("GET", "/healthz").status, 200)
            self.assertEqual(self.srv.client(token=self.tok).get(f"/projects/{self.pid}").status,
                             200)
            self.assertLess(time.monotonic() - t0, 10)
            # One event reaches all of them.
            insert_events(self.srv, self.pid, 1, kind="test.broadcast")
            seq = table_ids(self.srv, self.pid)[-1]
            want = f"id: {seq}\nevent: test.broadcast\n".encode()
            for s in socks:
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ)
            pending = set(socks)
            deadline = time.monotonic() + 60
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    s = key.fileobj
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        continue
                    got[s] += data
                    if want in got[s]:
                        pending.discard(s)
                        sel.unregister(s)
            self.assertEqual(len(pending), 0, f"{len(pending)} streams without the event")
        finally:
            sel.close()
            for s in socks:
                s.close()
        # Closed clients free their slots (noticed at the next heartbeat at the latest).
        self.wait_streams(0, timeout=20)
        ok = Stream(self.srv.base_url, self.path(), token=self.tok)
        self.assertEqual(ok.status, 200)
        ok.close()

    def test_clients_that_never_read_are_dropped_with_bounded_memory(self):
        readers = [Stream(self.srv.base_url, self.path(), token=self.tok) for _ in range(20)]
        for r in readers:
            self.assertEqual(r.status, 200)
        stalled = [raw_stream(self.srv.base_url, self.path(), self.tok, rcvbuf=4096)
                   for _ in range(200)]
        try:
            self.wait_streams(220)
            pid = self.srv.proc.pid
            rss0 = rss_kib(pid)
            # 400 events of 16 KiB: 6.4 MB for every client, 1.3 GB for the stalled ones if
            # anything buffered it all.
            for _ in range(4):
                insert_events(self.srv, self.pid, 100, kind="test.bulk", pad=16000)
            want = table_ids(self.srv, self.pid, kind="test.bulk")
            self.assertEqual(len(want), 400)
            for r in readers:
                evs = r.wait(lambda ev: sum(e["event"] == "test.bulk" for e in ev) >= 400,
                             timeout=120, what="all 400 events")
                self.assertEqual([int(e["id"]) for e in evs if e["event"] == "test.bulk"], want)
            # The stalled ones are dropped (stall timeout 3 s), the readers stay.
            self.wait_streams(20, timeout=30)
            grown = rss_kib(pid) - rss0
            print(f"\nresident memory: {rss0} KiB with 220 streams, +{grown} KiB after 6.4 MB "
                  "of events to each (200 of them never reading)")
            self.assertLess(grown, 64 * 1024, f"resident memory grew by {grown} KiB")
            for s in stalled:
                s.settimeout(10)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass  # reset: dropped as well
            insert_events(self.srv, self.pid, 1, kind="test.after")
            for r in readers:
                r.wait(lambda ev: ev[-1]["event"] == "test.after", what="the next event")
                self.assertFalse(r.ended)
        finally:
            for s in stalled:
                s.close()
            for r in readers:
                r.close()


if __name__ == "__main__":
    gf.main()

# SPDX-License-Identifier: Apache-2.0
"""test_agent.py - the real gatefleet-agent against a real server, PostgreSQL and mosquitto
with dynamic security.

Enrollment with an auto-accept token (health from the fixture /proc and /sys of a box on
UPS battery visible over REST and in the summary), restart and re-enrollment give the same
node; a pending token waits until an operator accepts; a rejected node makes the agent
stop with exit status 3 and says why; a bad token is exit status 2; kill -9 shows the node
offline within 1.5 x keep-alive; the broker stopped for a while and restarted: every
sample taken during the outage arrives exactly once, in order. Enrollment over HTTPS (the
agent's own HTTP client on OpenSSL): trusted through ca_file, refused without the CA or under
a name the certificate does not carry, and through an https_proxy (CONNECT tunnel).
"""

import glob
import os
import select
import signal
import socket
import subprocess
import threading
import time

import gf

FIXTURES = gf.AGENT_FIXTURES
KEEPALIVE = gf.AGENT_KEEPALIVE




class AgentTest(gf.GfTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="agent").start()
        cls.admin = cls.srv.admin()
        _, cls.pid, cls.token = gf.broker_project(cls.admin, cls.broker,
                                                  default_labels={"site": "test"})
        cls.agents = []

    @classmethod
    def tearDownClass(cls):
        for a in cls.agents:
            if a.proc and a.proc.poll() is None:
                a.proc.kill()
        super().tearDownClass()
        cls.broker.stop()

    def agent(self, token=None, **kw):
        a = gf.Agent(self.srv, self.token if token is None else token, **kw)
        self.agents.append(a)
        return a

    def node(self, node_id):
        return self.admin.get(f"/nodes/{node_id}").expect(200).json

    def samples(self, node_id):
        return self.srv.sql(f"SELECT seq FROM health_samples WHERE node_id = '{node_id}' "
                            f"ORDER BY seq")

    def test_enroll_health_restart_same_node(self):
        a = self.agent().start()
        node_id = gf.wait_for(lambda: os.path.exists(os.path.join(a.dir, "state", "node.json"))
                           and a.node_id(), what="node.json")
        gf.wait_for(lambda: self.node(node_id)["online"] and self.node(node_id)["health"],
                 what="online with health")
        n = self.node(node_id)
        self.assertEqual(n["labels"], {"site": "test"})
        self.assertTrue(n["health"]["power"]["on_battery"], n["health"])
        self.assertIn("cpu", n["health"])
        self.assertGreaterEqual(n["session"], 1)
        self.assertTrue(n["inventory"].get("hostname"))
        st = os.stat(os.path.join(a.dir, "state", "identity.key"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        sm = self.admin.get(f"/projects/{self.pid}/health/summary").json
        self.assertGreaterEqual(sm["on_battery"], 1)
        gf.wait_for(lambda: len(self.samples(node_id)) >= 3, what="3 samples")
        # Clean stop: offline with reason shutdown; restart: the same node, a new session.
        self.assertEqual(a.stop(), 0)
        gf.wait_for(lambda: self.node(node_id)["offline_reason"] == "shutdown", what="shutdown")
        before = self.node(node_id)["session"]
        a.start()
        gf.wait_for(lambda: self.node(node_id)["online"] and self.node(node_id)["session"] > before,
                 what="back online with a newer session")
        self.assertEqual(self.srv.scalar(f"SELECT count(*) FROM nodes WHERE project_id = "
                                         f"'{self.pid}' AND public_key = (SELECT public_key FROM "
                                         f"nodes WHERE id = '{node_id}')"), "1")
        self.assertNotIn(self.token, a.text())
        a.stop()
        seqs = [int(r[0]) for r in self.samples(node_id)]
        self.assertEqual(seqs, sorted(set(seqs)), "duplicate samples")

    def test_clock_skew_corrected_from_the_server(self):
        """A station whose clock is ten minutes behind (no RTC battery, no NTP): its signed
        requests would fall outside the server's +-300 s window; the agent learns the
        server's time from the Date header, enrolls anyway and keeps signing correctly."""
        lib = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
        self.assertTrue(lib, "libfaketime (Debian package faketime, scripts/deps) is missing")
        a = self.agent(name="skewed")
        asan = os.environ.get("ASAN_OPTIONS", "")
        a.env = {"LD_PRELOAD": lib[0], "FAKETIME": "-600s", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                 "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
        a.start()
        node_id = gf.wait_for(lambda: os.path.exists(os.path.join(a.dir, "state", "node.json"))
                              and a.node_id(), what="node.json")
        gf.wait_for(lambda: self.node(node_id)["online"] and self.node(node_id)["health"],
                    what="online with health")
        self.assertIn("local clock differs from the server's", a.text())
        offset = self.node(node_id)["clock_offset_ms"]
        self.assertTrue(500000 < offset < 700000, offset)
        self.assertEqual(a.stop(), 0)

    def test_pending_then_accept_and_reject(self):
        pending = self.admin.post(f"/projects/{self.pid}/enrollment-tokens",
                                  {"auto_accept": False}).expect(201).json["secret"]
        a = self.agent(token=pending).start()
        node_id = gf.wait_for(lambda: os.path.exists(os.path.join(a.dir, "state", "node.json"))
                           and a.node_id(), what="pending node")
        self.assertEqual(self.node(node_id)["status"], "pending")
        self.admin.post(f"/nodes/{node_id}/accept").expect(200)
        gf.wait_for(lambda: self.node(node_id)["online"], timeout=45, what="online after accept")
        # Reject: the broker account goes, the agent re-asks the server and stops, loudly.
        self.admin.post(f"/nodes/{node_id}/reject").expect(200)
        rc = a.wait_exit(60)
        self.assertEqual(rc, 3, a.text()[-2000:])
        self.assertIn("rejected", a.text())

    def test_bad_token_is_a_configuration_error(self):
        a = self.agent(token="gfe_" + "x" * 40).start()
        self.assertEqual(a.wait_exit(30), 2, a.text()[-2000:])
        self.assertIn("enrollment token refused", a.text())

    def test_kill_9_shows_offline_within_1_5_keepalive(self):
        a = self.agent().start()
        node_id = gf.wait_for(lambda: os.path.exists(os.path.join(a.dir, "state", "node.json"))
                           and a.node_id(), what="node.json")
        gf.wait_for(lambda: self.node(node_id)["online"], what="online")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
        t0 = time.monotonic()
        gf.wait_for(lambda: not self.node(node_id)["online"], timeout=KEEPALIVE * 3, step=0.1,
                 what="offline")
        took = time.monotonic() - t0
        self.assertLessEqual(took, KEEPALIVE * 1.5, f"offline after {took:.1f} s")
        self.assertIn(self.node(node_id)["offline_reason"], ("will", "overdue"))
        a.log.close()

    def test_broker_outage_every_sample_once(self):
        a = self.agent().start()
        node_id = gf.wait_for(lambda: os.path.exists(os.path.join(a.dir, "state", "node.json"))
                           and a.node_id(), what="node.json")
        gf.wait_for(lambda: len(self.samples(node_id)) >= 2, what="samples before the outage")
        self.broker.stop()
        outage = time.monotonic()
        time.sleep(8)  # the agent keeps sampling into its spool
        self.broker.start()
        gf.wait_for(lambda: self.node(node_id)["online"] and
                 self.srv.scalar(f"SELECT max(seq) FROM health_samples WHERE node_id = "
                                 f"'{node_id}' AND at > now() - interval '2 seconds'"),
                 timeout=90, what="samples after the outage")
        a.stop()
        time.sleep(1)
        seqs = [int(r[0]) for r in self.samples(node_id)]
        self.assertEqual(len(seqs), len(set(seqs)), "a sample was stored twice")
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                         f"a hole in the sequence: {seqs}")
        during = self.srv.scalar(
            f"SELECT count(*) FROM health_samples WHERE node_id = '{node_id}' AND at BETWEEN "
            f"now() - make_interval(secs => {time.monotonic() - outage}) AND "
            f"now() - make_interval(secs => {time.monotonic() - outage - 7})")
        self.assertGreaterEqual(int(during), 5, "samples taken during the outage are missing")


class AgentTlsTest(gf.GfTestCase):
    """The agent talks MQTT over TLS only (the server uses the broker's plain listener, as a
    data-centre server would): it verifies the broker against broker_ca_file, and without
    that CA (system store) it refuses the broker and never comes online."""

    start_server = False

    def test_tls_to_the_broker(self):
        d = os.path.join(gf.run_root(), gf.uniq("tls"))
        os.makedirs(d)
        os.chmod(d, 0o755)
        certs = gf.make_test_certs(d)
        broker = gf.Broker(name="tls", tls=certs).start()
        srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="tls").start()
        agents = []
        try:
            admin = srv.admin()
            t = gf.make_tenant(admin)
            pid = gf.make_project(admin, t["id"])["id"]
            admin.post(f"/projects/{pid}/clusters", broker.cluster_body(tls=True)).expect(201)
            token = admin.post(f"/projects/{pid}/enrollment-tokens",
                               {"auto_accept": True}).expect(201).json["secret"]
            good = gf.Agent(srv, token, name="tls-ok", extra=("--broker_ca_file", certs[0])).start()
            bad = gf.Agent(srv, token, name="tls-bad").start()
            agents += [good, bad]
            ids = [gf.wait_for(lambda a=a: os.path.exists(os.path.join(a.dir, "state", "node.json"))
                            and a.node_id(), what="node.json") for a in (good, bad)]
            gf.wait_for(lambda: admin.get(f"/nodes/{ids[0]}").json["online"],
                     what="online over TLS")
            gf.wait_for(lambda: srv.scalar(f"SELECT count(*) FROM health_samples WHERE "
                                        f"node_id = '{ids[0]}'") != "0", what="samples over TLS")
            time.sleep(3)
            self.assertFalse(admin.get(f"/nodes/{ids[1]}").json["online"])
            self.assertEqual(srv.scalar(f"SELECT count(*) FROM health_samples WHERE "
                                        f"node_id = '{ids[1]}'"), "0")
            self.assertIn("connect failed", bad.text())
        finally:
            for a in agents:
                if a.proc.poll() is None:
                    a.stop()
            srv.stop()
            srv.check_clean_exit()
            broker.stop()


class ConnectProxy:
    """A tiny HTTP CONNECT proxy on 127.0.0.1 (one thread per tunnel): remembers the targets
    it was asked for and pipes bytes both ways."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.targets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(c,), daemon=True).start()

    def _tunnel(self, c):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            data = c.recv(1024)
            if not data:
                c.close()
                return
            head += data
        method, target = head.split(b" ")[:2]
        self.targets.append(target.decode())
        host, port = target.decode().rsplit(":", 1)
        if method != b"CONNECT":
            c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            c.close()
            return
        up = socket.create_connection((host, int(port)), timeout=10)
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        socks = [c, up]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [], 30)
                if not readable:
                    break
                for r in readable:
                    data = r.recv(65536)
                    if not data:
                        return
                    (up if r is c else c).sendall(data)
        except OSError:
            pass
        finally:
            c.close()
            up.close()

    def close(self):
        self.sock.close()


class AgentHttpsTest(gf.GfTestCase):
    """Enrollment over HTTPS: gatefleet-server with tls_cert/tls_key (a throwaway CA's
    certificate for IP 127.0.0.1). The agent that trusts the CA (ca_file) enrolls and comes
    online; one without it (system store) and one that calls the server "localhost" (not in
    the certificate) refuse the server and never enroll; one behind an https_proxy enrolls
    through the proxy's CONNECT tunnel. The admin API is set up on a plain-HTTP server first
    (the test client speaks plain HTTP), then the same database, state and keys are served
    over HTTPS."""

    start_server = False

    def test_enroll_over_https(self):
        d = os.path.join(gf.run_root(), gf.uniq("https"))
        os.makedirs(d)
        os.chmod(d, 0o755)
        ca, cert, key = gf.make_test_certs(d)
        broker = gf.Broker(name="https").start()
        args = ("--fleet_interval_ms", "100", "--state_dir", os.path.join(d, "state"),
                "--master_key_file", os.path.join(d, "master.key"))
        setup = gf.Server(extra_args=args, name="https-setup").start()
        srv, proxy, agents = None, None, []
        try:
            admin = setup.admin()
            t = gf.make_tenant(admin)
            pid = gf.make_project(admin, t["id"])["id"]
            admin.post(f"/projects/{pid}/clusters", broker.cluster_body()).expect(201)
            token = admin.post(f"/projects/{pid}/enrollment-tokens",
                               {"auto_accept": True}).expect(201).json["secret"]
            setup.stop()
            setup.check_clean_exit()
            srv = gf.Server(db=setup.db, name="https",
                            extra_args=args + ("--tls_cert", cert, "--tls_key", key)).start()
            self.assertTrue(srv.base_url.startswith("https://127.0.0.1:"), srv.base_url)
            proxy = ConnectProxy()
            no_proxy = {"no_proxy": "", "NO_PROXY": "", "https_proxy": "", "HTTPS_PROXY": "",
                        "all_proxy": "", "ALL_PROXY": ""}
            good = gf.Agent(srv, token, name="https-ok", extra=("--ca_file", ca), env=no_proxy)
            untrusted = gf.Agent(srv, token, name="https-untrusted", env=no_proxy)
            named = gf.Agent(srv, token, name="https-name", env=no_proxy, extra=(
                "--ca_file", ca, "--server_url", srv.base_url.replace("127.0.0.1", "localhost")))
            proxied = gf.Agent(srv, token, name="https-proxy", extra=("--ca_file", ca),
                               env=dict(no_proxy, https_proxy=f"http://127.0.0.1:{proxy.port}"))
            agents = [good, untrusted, named, proxied]
            for a in agents:
                a.start()

            def node_id(a):
                return os.path.exists(os.path.join(a.dir, "state", "node.json")) and a.node_id()
            ids = [gf.wait_for(lambda a=a: node_id(a), what="node.json") for a in (good, proxied)]
            for i in ids:
                gf.wait_for(lambda i=i: srv.scalar(f"SELECT online FROM nodes WHERE id = '{i}'")
                            == "t", what="online after enrolling over HTTPS")
            self.assertIn(f"127.0.0.1:{srv.base_url.rsplit(':', 1)[1]}", proxy.targets)
            gf.wait_for(lambda: "certificate verify failed" in untrusted.text() and
                        "certificate verify failed" in named.text(), what="refusals")
            self.assertIn("enrollment failed", untrusted.text())
            self.assertIn("hostname mismatch", named.text())
            self.assertFalse(node_id(untrusted) or node_id(named))
            self.assertEqual(srv.scalar(f"SELECT count(*) FROM nodes WHERE project_id = "
                                        f"'{pid}'"), "2")
        finally:
            for a in agents:
                if a.proc and a.proc.poll() is None:
                    a.stop()
            if proxy is not None:
                proxy.close()
            if srv is not None:
                srv.stop()
                srv.check_clean_exit()
            setup.stop()
            setup.cleanup()
            broker.stop()


class ServerCrashTest(gf.GfTestCase):
    """The server is killed (SIGKILL, mid-batch as far as it knows) while an agent streams,
    and started again on the same database, keys and port: the agent's spool covers the gap;
    every sample arrives once, in order, without holes."""

    start_server = False

    def test_server_killed_mid_stream(self):
        broker = gf.Broker(name="crash").start()
        port = gf.free_port()
        keep = os.path.join(gf.run_root(), gf.uniq("crash-state"))
        os.makedirs(keep)
        args = ("--fleet_interval_ms", "100", "--listen", f"127.0.0.1:{port}", "--state_dir",
                os.path.join(keep, "state"), "--master_key_file", os.path.join(keep, "master.key"))
        srv = gf.Server(extra_args=args, name="crash1").start()
        agent = None
        try:
            admin = srv.admin()
            t = gf.make_tenant(admin)
            pid = gf.make_project(admin, t["id"])["id"]
            admin.post(f"/projects/{pid}/clusters", broker.cluster_body()).expect(201)
            token = admin.post(f"/projects/{pid}/enrollment-tokens",
                               {"auto_accept": True}).expect(201).json["secret"]
            agent = gf.Agent(srv, token, name="crash-agent").start()
            node_id = gf.wait_for(lambda: os.path.exists(os.path.join(agent.dir, "state",
                                                                   "node.json"))
                               and agent.node_id(), what="node.json")

            def count():
                return int(srv.scalar(f"SELECT count(*) FROM health_samples "
                                      f"WHERE node_id = '{node_id}'"))
            gf.wait_for(lambda: count() >= 3, what="samples before the crash")
            db = srv.db
            srv.stop(signal.SIGKILL)
            time.sleep(4)  # the agent keeps sampling; nothing is acknowledged
            srv = gf.Server(db=db, extra_args=args, name="crash2").start()
            restarted = time.time()
            gf.wait_for(lambda: srv.scalar(
                f"SELECT count(*) FROM health_samples WHERE node_id = '{node_id}' AND "
                f"at > to_timestamp({restarted + 2})") != "0", timeout=90,
                what="samples after the restart")
            agent.stop()
            time.sleep(1)
            seqs = [int(r[0]) for r in srv.sql(
                f"SELECT seq FROM health_samples WHERE node_id = '{node_id}' ORDER BY seq")]
            self.assertEqual(len(seqs), len(set(seqs)), "a sample was stored twice")
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                             f"a hole in the sequence: {seqs}")
            self.assertGreaterEqual(len(seqs), 8)
        finally:
            if agent is not None and agent.proc.poll() is None:
                agent.proc.kill()
            srv.stop()
            broker.stop()


if __name__ == "__main__":
    gf.main()

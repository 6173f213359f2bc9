# SPDX-License-Identifier: Apache-2.0
"""test_ops.py - the operational surface of gatefleet-server.

/healthz, /readyz, /metrics (request counter, a latency histogram, database pool gauges),
the OpenAPI document (parses, documents every route that `gatefleet-server routes`
lists), the static web root (index.html at /, assets, no escape from the root), unknown
routes (404 problem+json), the body cap (413, with Content-Length and chunked), the ready
file and a clean exit 0 on SIGTERM.
"""

import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import urllib.parse

import gf


class OpsTest(gf.GfTestCase):
    server_args = ("--max_body_bytes", "4096")

    @classmethod
    def setUpClass(cls):
        # A private web root so the static-file checks do not depend on web/'s contents.
        cls.web = tempfile.mkdtemp(prefix="gf-web-")
        with open(os.path.join(cls.web, "index.html"), "w", encoding="utf-8") as f:
            f.write("<!doctype html><title>gatefleet test</title><p>hello-index</p>\n")
        os.makedirs(os.path.join(cls.web, "assets"))
        with open(os.path.join(cls.web, "assets", "app.js"), "w", encoding="utf-8") as f:
            f.write("console.log('hello-asset');\n")
        cls.srv = gf.Server(extra_args=cls.server_args, web_root=cls.web, name="ops")
        cls.srv.start()
        cls.c = cls.srv.client()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.web, ignore_errors=True)

    def test_ready_file_holds_base_url(self):
        u = urllib.parse.urlsplit(self.srv.base_url)
        self.assertEqual(u.scheme, "http")
        self.assertEqual(u.hostname, "127.0.0.1")
        self.assertGreater(u.port, 0)

    def test_healthz(self):
        r = self.c.request("GET", "/healthz")
        self.assertStatus(r, 200)
        self.assertEqual(r.text.strip(), "ok")

    def test_readyz(self):
        r = self.c.request("GET", "/readyz")
        self.assertStatus(r, 200)

    def test_metrics(self):
        # Make sure at least one request was counted before scraping.
        self.c.request("GET", "/healthz")
        r = self.c.request("GET", "/metrics")
        self.assertStatus(r, 200)
        self.assertTrue(r.content_type.startswith("text/plain"), r.content_type)
        text = r.text
        self.assertRegex(text, r"(?m)^# TYPE gf_http_requests_total counter$")
        self.assertRegex(text, r"(?m)^gf_http_requests_total(\{[^}]*\})? \d+(\.\d+)?$")
        hist = re.findall(r"(?m)^# TYPE (\w+) histogram$", text)
        self.assertTrue(hist, "no histogram in /metrics")
        h = hist[0]
        self.assertRegex(text, rf'(?m)^{h}_bucket\{{[^}}]*le="\+Inf"[^}}]*\}} \d+')
        self.assertRegex(text, rf"(?m)^{h}_sum(\{{[^}}]*\}})? ")
        self.assertRegex(text, rf"(?m)^{h}_count(\{{[^}}]*\}})? \d+")
        gauges = re.findall(r"(?m)^# TYPE (gf_db_pool\w*) gauge$", text)
        self.assertTrue(gauges, "no gf_db_pool_* gauge in /metrics")
        for g in gauges:
            self.assertRegex(text, rf"(?m)^{g}(\{{[^}}]*\}})? \d+(\.\d+)?$")

    def test_openapi_lists_every_route(self):
        r = self.c.get("/openapi.json")
        self.assertStatus(r, 200)
        self.assertIn(r.content_type, ("application/json", "application/vnd.oai.openapi+json"))
        doc = json.loads(r.body)
        self.assertTrue(str(doc.get("openapi", "")).startswith("3.1"), doc.get("openapi"))
        paths = doc.get("paths")
        self.assertIsInstance(paths, dict)
        routes = gf.routes()
        self.assertTrue(routes)
        missing = []
        for rt in routes:
            for k in ("method", "path", "role"):
                self.assertIn(k, rt, rt)
            p = rt["path"]
            if not p.startswith(gf.API + "/") or p == gf.API + "/openapi.json":
                continue
            short = p[len(gf.API):]
            entry = paths.get(p) or paths.get(short)
            if not isinstance(entry, dict) or rt["method"].lower() not in entry:
                missing.append(f"{rt['method']} {p}")
        self.assertEqual(missing, [], "routes missing from openapi.json")

    def test_routes_cover_the_documented_api(self):
        have = {(rt["method"], rt["path"]) for rt in gf.routes()}
        for method, path in [
            ("POST", "/auth/login"), ("POST", "/auth/logout"), ("GET", "/auth/me"),
            ("GET", "/users"), ("POST", "/users"), ("GET", "/users/{user_id}"),
            ("PATCH", "/users/{user_id}"), ("DELETE", "/users/{user_id}"),
            ("GET", "/tokens"), ("POST", "/tokens"), ("DELETE", "/tokens/{token_id}"),
            ("GET", "/tenants"), ("POST", "/tenants"), ("GET", "/tenants/{tenant_id}"),
            ("PATCH", "/tenants/{tenant_id}"), ("DELETE", "/tenants/{tenant_id}"),
            ("GET", "/tenants/{tenant_id}/members"), ("POST", "/tenants/{tenant_id}/members"),
            ("PATCH", "/tenants/{tenant_id}/members/{user_id}"),
            ("DELETE", "/tenants/{tenant_id}/members/{user_id}"),
            ("GET", "/tenants/{tenant_id}/projects"), ("POST", "/tenants/{tenant_id}/projects"),
            ("GET", "/projects/{project_id}"), ("PATCH", "/projects/{project_id}"),
            ("DELETE", "/projects/{project_id}"), ("GET", "/tenants/{tenant_id}/audit"),
        ]:
            self.assertIn((method, gf.API + path), have)

    def test_static_index_and_asset(self):
        r = self.c.request("GET", "/")
        self.assertStatus(r, 200)
        self.assertEqual(r.content_type, "text/html")
        self.assertIn("hello-index", r.text)
        r = self.c.request("GET", "/index.html")
        self.assertStatus(r, 200)
        self.assertIn("hello-index", r.text)
        r = self.c.request("GET", "/assets/app.js")
        self.assertStatus(r, 200)
        self.assertIn(r.content_type, ("text/javascript", "application/javascript"))
        self.assertIn("hello-asset", r.text)

    def test_static_cannot_escape_web_root(self):
        secret_dir = os.path.dirname(self.web)
        name = os.path.basename(self.web) + "-outside.txt"
        path = os.path.join(secret_dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write("outside-secret")
        try:
            for p in [f"/../{name}", f"/%2e%2e/{name}", f"/assets/..%2f..%2f{name}",
                      f"/assets/%2e%2e/%2e%2e/{name}", "/../../../../etc/passwd",
                      "/%2e%2e/%2e%2e/%2e%2e/etc/passwd"]:
                st, _, body = gf.raw_http(
                    self.srv.base_url,
                    f"GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                self.assertNotIn(b"outside-secret", body, p)
                self.assertNotIn(b"root:x:0:0", body, p)
                if st == 200:
                    # An SPA fallback may answer index.html; anything else is a leak.
                    self.assertIn(b"hello-index", body, p)
        finally:
            os.unlink(path)

    def test_unknown_route_is_problem_404(self):
        for method, path in [("GET", gf.API + "/no-such-thing"),
                             ("POST", gf.API + "/no-such-thing"),
                             ("GET", gf.API + "/tenants/" + gf.random_uuid() + "/nothing")]:
            r = self.c.request(method, path, {} if method == "POST" else None)
            self.assertProblem(r, 404)

    def test_wrong_method_is_problem(self):
        r = self.c.request("PUT", gf.API + "/tenants", {})
        self.assertIn(r.status, (404, 405), repr(r))
        self.assertEqual(r.content_type, "application/problem+json", repr(r))

    def test_body_over_cap_is_413(self):
        body = b'{"email":"' + b"a" * 8000 + b'","password":"x"}'
        st, hdrs, resp = gf.raw_http(
            self.srv.base_url,
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n", chunks=[body])
        self.assertEqual(st, 413, resp[:300])
        ct = dict((k.lower(), v) for k, v in hdrs).get("content-type", "")
        self.assertTrue(ct.startswith("application/problem+json"), ct)

    def test_chunked_body_over_cap_is_413(self):
        chunk = b"a" * 1000
        chunks = [b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(10)]
        chunks.append(b"0\r\n\r\n")
        st, _, resp = gf.raw_http(
            self.srv.base_url,
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            chunks=chunks)
        self.assertEqual(st, 413, resp[:300])

    def test_body_at_cap_is_not_413(self):
        # Just under the cap: parsed normally (bad credentials), not rejected for size.
        pad = 4096 - len(b'{"email":"","password":"x"}') - 20
        r = self.c.post("/auth/login", {"email": "a" * pad, "password": "x"})
        self.assertNotEqual(r.status, 413, repr(r))
        self.assertIn(r.status, (400, 401), repr(r))

    def test_requests_keep_working_after_errors(self):
        for _ in range(3):
            gf.raw_http(self.srv.base_url, b"GARBAGE\r\n\r\n")
        r = self.c.request("GET", "/healthz")
        self.assertStatus(r, 200)


class ShutdownTest(gf.GfTestCase):
    start_server = False

    def test_sigterm_exits_zero_and_closes_port(self):
        s = gf.Server(name="sigterm")
        s.start()
        try:
            c = s.client()
            self.assertStatus(c.request("GET", "/readyz"), 200)
            port = urllib.parse.urlsplit(s.base_url).port
        finally:
            t0 = time.monotonic()
            rc = s.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, s.log_tail())
        self.assertLess(time.monotonic() - t0, gf.STOP_TIMEOUT)
        s.check_clean_exit()
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        s.cleanup()

    def test_bad_config_fails_fast(self):
        p = gf.cli(["--no_such_key", "1"], timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no_such_key", p.stdout + p.stderr)


if __name__ == "__main__":
    gf.main()

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test_lifecycle.py - the server process outside the happy path of gf.Server:

- embedded database: no database_url -> the server runs its own PostgreSQL under state_dir
  (as user gatefleet when root), serves, stops it on SIGTERM, and a restart reuses the data;
- HTTPS with tls_cert/tls_key (self-signed cert made with openssl), Secure cookie flag;
- graceful SIGTERM: a request in flight when the signal arrives is still answered, and the
  server then exits 0;
- configuration errors stop start-up with exit code 2 and a message naming the key.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import gf


def start(args, tmp, name="srv"):
    ready = os.path.join(tmp, name + ".ready")
    log = open(os.path.join(tmp, name + ".log"), "wb")
    proc = subprocess.Popen([gf.SERVER_BIN, "--listen", "127.0.0.1:0", "--ready_file", ready,
                             "--web_root", os.path.join(gf.REPO, "web"),
                             "--log_level", "debug"] + args,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + gf.READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            raise AssertionError(f"exited {proc.returncode}: " + read(tmp, name))
        url = slurp(ready).strip()
        if url:
            return proc, url, log
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("not ready: " + read(tmp, name))


def slurp(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def read(tmp, name="srv"):
    with open(os.path.join(tmp, name + ".log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def stop(proc, log):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(gf.STOP_TIMEOUT)
    log.close()
    return rc


def short_tmp():
    # Unix socket paths are short: keep the embedded database's directory near /tmp.
    d = tempfile.mkdtemp(prefix="gfl-", dir="/tmp")
    os.chmod(d, 0o755)
    return d


class EmbeddedDatabaseTest(unittest.TestCase):
    def test_embedded_database_lifecycle(self):
        tmp = short_tmp()
        self.addCleanup(shutil.rmtree, tmp, True)
        state = os.path.join(tmp, "state")
        proc, url, log = start(["--state_dir", state], tmp)
        try:
            c = gf.Client(url)
            self.assertEqual(c.request("GET", "/readyz").status, 200)
            # admin create beside the running server uses the running instance
            pw = gf.new_password()
            out = subprocess.run([gf.SERVER_BIN, "--state_dir", state, "admin", "create",
                                  "--email", "boss@example.com", "--password-stdin"],
                                 input=pw + "\n", capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertNotIn(pw, out.stdout + out.stderr)
            r = c.post("/api/v1/auth/login", {"email": "boss@example.com", "password": pw})
            self.assertEqual(r.status, 200, r)
            sock = os.path.join(state, "pg", ".s.PGSQL.5432")
            self.assertTrue(os.path.exists(sock), "embedded PostgreSQL socket missing")
            self.assertEqual(os.stat(os.path.join(state, "pg")).st_mode & 0o777, 0o700)
            if os.geteuid() == 0:
                import pwd
                self.assertEqual(pwd.getpwuid(os.stat(os.path.join(state, "pg", "data"))
                                              .st_uid).pw_name, "gatefleet")
        finally:
            rc = stop(proc, log)
        self.assertEqual(rc, 0, read(tmp))
        self.assertIn("embedded database stopped", read(tmp))
        self.assertFalse(os.path.exists(os.path.join(state, "pg", "data", "postmaster.pid")))
        # Restart: same data, no initdb, the account is still there.
        proc, url, log = start(["--state_dir", state], tmp, "srv2")
        try:
            r = gf.Client(url).post("/api/v1/auth/login",
                                    {"email": "boss@example.com", "password": pw})
            self.assertEqual(r.status, 200, r)
            self.assertNotIn("initialising embedded database", read(tmp, "srv2"))
        finally:
            self.assertEqual(stop(proc, log), 0, read(tmp, "srv2"))


class TlsTest(unittest.TestCase):
    def test_https_and_secure_cookie(self):
        tmp = short_tmp()
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        with gf.Server(name="tls-admin") as plain:
            email, pw = plain.admin().email, plain.admin().password
            db = plain.db
            proc, url, log = start(["--database_url", plain.database_url, "--state_dir",
                                    os.path.join(tmp, "st"), "--tls_cert", cert,
                                    "--tls_key", key], tmp)
            try:
                self.assertTrue(url.startswith("https://"), url)
                u = urllib.parse.urlsplit(url)
                ctx = ssl.create_default_context(cafile=cert)
                ctx.check_hostname = False
                import http.client
                conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
                conn.request("POST", "/api/v1/auth/login",
                             body=json.dumps({"email": email, "password": pw}),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                self.assertEqual(resp.status, 200, body)
                cookie = resp.getheader("Set-Cookie")
                self.assertIn("Secure", cookie)
                self.assertIn("HttpOnly", cookie)
                self.assertIsNotNone(resp.getheader("Strict-Transport-Security"))
                # plain HTTP to the TLS port does not get an API answer
                s = socket.create_connection((u.hostname, u.port), timeout=5)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    data = s.recv(100)
                except OSError:
                    data = b""
                self.assertNotIn(b"200 OK", data)
                s.close()
            finally:
                self.assertEqual(stop(proc, log), 0, read(tmp))
            self.assertIsNotNone(db)

    def test_bad_tls_files_fail_startup(self):
        tmp = short_tmp()
        self.addCleanup(shutil.rmtree, tmp, True)
        out = subprocess.run([gf.SERVER_BIN, "--tls_cert", "/nonexistent.pem", "--tls_key",
                              "/nonexistent.key", "--state_dir", tmp, "--database_url",
                              "host=/nonexistent dbname=x"], capture_output=True, text=True,
                             timeout=60)
        self.assertNotEqual(out.returncode, 0)


class ShutdownTest(unittest.TestCase):
    def test_in_flight_request_finishes_after_sigterm(self):
        with gf.Server(name="drain") as srv:
            u = urllib.parse.urlsplit(srv.base_url)
            body = json.dumps({"email": "nobody@example.com", "password": "x" * 20}).encode()
            s = socket.create_connection((u.hostname, u.port), timeout=30)
            s.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: " +
                      str(len(body)).encode() + b"\r\n\r\n" + body[:10])
            time.sleep(0.3)
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(srv.proc.poll(), "server exited with a request in flight")
            # a new connection is refused while draining
            with self.assertRaises(OSError):
                socket.create_connection((u.hostname, u.port), timeout=2).recv(1)
            s.sendall(body[10:])
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            self.assertIn(b"HTTP/1.1 401", data)
            rc = srv.proc.wait(gf.STOP_TIMEOUT)
            self.assertEqual(rc, 0, srv.log_tail())


class ConfigErrorTest(unittest.TestCase):
    def run_server(self, args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([gf.SERVER_BIN] + args, capture_output=True, text=True,
                              timeout=30, env=e)

    def test_errors_name_the_key(self):
        cases = [
            (["--listen", "nowhere"], None, "listen"),
            (["--http_threads", "0"], None, "http_threads"),
            (["--bogus_key", "1"], None, "bogus_key"),
            (["--max_body_bytes", "12q"], None, "max_body_bytes"),
            ([], {"GATEFLEET_LOG_LEVEL": "chatty"}, "log_level"),
            ([], {"GATEFLEET_NOT_A_KEY": "1"}, "GATEFLEET_NOT_A_KEY"),
        ]
        for args, env, key in cases:
            with self.subTest(key=key):
                out = self.run_server(args, env)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn(key, out.stderr)

    def test_config_file_line_numbers(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# ok\nlisten = 127.0.0.1:0\nhttp_threads = many\n")
        self.addCleanup(os.unlink, f.name)
        out = self.run_server(["--config", f.name])
        self.assertEqual(out.returncode, 2)
        self.assertIn(f"{f.name}:3", out.stderr)
        self.assertIn("http_threads", out.stderr)

    def test_print_config_masks_nothing_secret_and_lists_keys(self):
        out = self.run_server(["--print-config", "--listen", "127.0.0.1:9"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("listen = 127.0.0.1:9", out.stdout)
        for key in ("database_url", "state_dir", "web_root", "mqtt_url", "master_key_file",
                    "log_level", "tls_cert", "tls_key", "ready_file"):
            self.assertIn(f"\n{key} = ", out.stdout)

    def test_configuration_docs_match_the_table(self):
        out = self.run_server(["config-docs"])
        with open(os.path.join(gf.REPO, "docs", "configuration.md"), encoding="utf-8") as f:
            doc = f.read()
        for line in out.stdout.splitlines():
            self.assertIn(line, doc, "docs/configuration.md is stale: run "
                                     "gatefleet-server config-docs")


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: Apache-2.0
"""gf.py - the integration tests' library (Python stdlib only).

Talks to the CTest fixtures started by tests/harness (a PostgreSQL, described by
$GF_FIXTURES/pg/pg.env, and a mosquitto, $GF_FIXTURES/mqtt/mqtt.env), runs the server binary
($GF_SERVER_BIN) and speaks HTTP to it:

- Server: context manager; creates a fresh database gf_<random> on the fixture PostgreSQL,
  starts `gatefleet-server --listen 127.0.0.1:0 --ready_file ... --database_url ...`, waits
  for the ready file (it holds the base URL), logs stderr to a file, and on exit sends SIGTERM
  and requires exit status 0 within 20 s (which also catches sanitizer reports).
- Client: one HTTP caller with a cookie jar, the CSRF token from login (sent on mutations,
  or omitted/forged on request), or a Bearer token; answers are Response objects that also
  unpack as (status, headers, json-or-text).
- cli()/routes()/migrate(): run the binary's sub-commands; make_*(): create tenants,
  projects, users and members through the API; GfTestCase: unittest base with assertions
  for statuses and problem+json bodies; main(): unittest.main that prints the server logs
  when something failed.

Run one file by hand through CTest so the fixtures exist:
    ctest --test-dir build/asan -R integration.auth --output-on-failure
"""

import base64
import ctypes
import ctypes.util
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("GF_REPO") or os.path.abspath(os.path.join(HERE, "..", ".."))
SERVER_BIN = os.environ.get("GF_SERVER_BIN", "")
FIXTURES = os.environ.get("GF_FIXTURES", "")
API = "/api/v1"
STOP_TIMEOUT = 20.0
READY_TIMEOUT = 90.0
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer", "ThreadSanitizer")

_servers = []  # every Server started by this process, for the failure report


# ------------------------------------------------------------------ environment, fixtures

def _need(value, what):
    if not value:
        raise RuntimeError(f"{what} is not set: run the integration tests through ctest "
                           "(e.g. ctest --test-dir build/asan -R integration)")
    return value


def read_env_file(path):
    """KEY=VALUE lines (as written by tests/harness) into a dict."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
    return out


def uniq(prefix="x"):
    """A unique lower-case name (valid as a tenant slug too)."""
    return f"{prefix}-{secrets.token_hex(5)}"


def new_password():
    return "pw-" + secrets.token_urlsafe(18)


def rfc3339(t):
    """Epoch seconds to RFC 3339 UTC with microseconds."""
    whole = int(t)
    micro = int(round((t - whole) * 1e6))
    if micro >= 1000000:
        whole, micro = whole + 1, micro - 1000000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micro:06d}Z"


def parse_time(s):
    """RFC 3339 UTC ('...Z' or '+00:00') to epoch seconds."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", s)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {s!r}")
    import calendar
    base = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)) + (0, 0, 0))
    frac = float(m.group(7)) if m.group(7) else 0.0
    tz = m.group(8)
    off = 0
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        off = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return base + frac - off


class Pg:
    """The fixture PostgreSQL: psql access and per-test databases."""

    def __init__(self):
        env = read_env_file(os.path.join(_need(FIXTURES, "GF_FIXTURES"), "pg", "pg.env"))
        self.host = env["PGHOST"]
        self.port = env["PGPORT"]
        self.user = env["PGUSER"]
        self.sockdir = env.get("GF_TEST_PG_SOCKDIR", "")
        self.bindir = env.get("GF_TEST_PG_BINDIR", "")

    def url(self, db):
        return f"host={self.host} port={self.port} user={self.user} dbname={db}"

    def psql(self, sql, db="postgres", check=True):
        """Run SQL with psql; returns the rows as lists of strings (unaligned, '|' split)."""
        psql = os.path.join(self.bindir, "psql") if self.bindir else "psql"
        p = subprocess.run(
            [psql, "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", db, "-c", sql],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"psql failed ({p.returncode}) for {sql!r}: {p.stderr}")
        return [line.split("\x1f") for line in p.stdout.splitlines() if line != ""]

    def scalar(self, sql, db="postgres"):
        rows = self.psql(sql, db)
        return rows[0][0] if rows else None

    def create_db(self):
        name = "gf_" + secrets.token_hex(6)
        self.psql(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
        return name

    def drop_db(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


_pg = None


def pg():
    global _pg
    if _pg is None:
        _pg = Pg()
    return _pg


def mqtt_url():
    env = read_env_file(os.path.join(_need(FIXTURES, "GF_FIXTURES"), "mqtt", "mqtt.env"))
    return env["GF_TEST_MQTT_URL"]


def migrations_count():
    """Number of numbered migration files in the repository."""
    d = os.path.join(REPO, "migrations")
    return len([f for f in os.listdir(d) if re.match(r"^\d+_.*\.sql$", f)])


# ------------------------------------------------------------------ command line

def cli(args, stdin=None, timeout=120, env=None):
    """Run gatefleet-server with args; returns CompletedProcess (text, captured)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([_need(SERVER_BIN, "GF_SERVER_BIN")] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=e,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def routes():
    """`gatefleet-server routes`: [{"method", "path", "role"}, ...]."""
    p = cli(["routes"])
    if p.returncode != 0:
        raise AssertionError(f"routes exited {p.returncode}: {p.stderr}")
    data = json.loads(p.stdout)
    if not isinstance(data, list):
        raise AssertionError(f"routes printed {type(data).__name__}, expected a list")
    return data


def migrate(database_url, extra=()):
    """`gatefleet-server --database_url URL [extra options] migrate` (configuration options
    come before the command)."""
    return cli(["--database_url", database_url] + list(extra) + ["migrate"])


# ------------------------------------------------------------------ private brokers

def run_root():
    root = os.path.join(_need(FIXTURES, "GF_FIXTURES"), "run")
    os.makedirs(root, exist_ok=True)
    return root


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class Broker:
    """A private mosquitto with the dynamic-security plugin on a free loopback port, for
    tests that stop, kill or inspect their broker. Anonymous access is off; the dynsec admin
    (admin_user / admin_password) is what a cluster registration hands the server. The same
    port and dynsec file survive stop()/start(). persistence keeps retained messages and
    sessions across restarts (mosquitto.db in the broker's directory). nodelay: Nagle's
    algorithm off (set_tcp_nodelay, as scripts/run configures it; see docs/operations.md)."""

    PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"

    def __init__(self, name="broker", persistence=False, tls=None, nodelay=True):
        tag = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        self.dir = tempfile.mkdtemp(prefix=f"{tag}-{name}-", dir=run_root())
        self.admin_user = "admin"
        self.admin_password = new_password()
        self.persistence = persistence
        self.nodelay = nodelay
        self.port = free_port()
        self.tls = tls  # (cafile, certfile, keyfile): a second, TLS listener on tls_port
        self.tls_port = free_port() if tls else None
        self.proc = None
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        plugin = self.PLUGIN
        if not os.path.exists(plugin):
            found = [os.path.join(d, f) for d in ("/usr/lib", "/usr/lib64")
                     for root, _, files in os.walk(d) for f in files
                     if f == "mosquitto_dynamic_security.so"]
            plugin = found[0] if found else plugin
        self.plugin = plugin
        subprocess.run(["mosquitto_ctrl", "dynsec", "init", os.path.join(self.dir, "dynsec.json"),
                        self.admin_user, self.admin_password], check=True,
                       stdout=subprocess.DEVNULL)
        if os.geteuid() == 0:
            # mosquitto drops to its own user and the plugin rewrites dynsec.json.
            subprocess.run(["chown", "-R", "mosquitto", self.dir], check=True)
            os.chmod(self.dir, 0o755)
        _brokers.append(self)

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self):
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"""listener {self.port} 127.0.0.1
allow_anonymous false
per_listener_settings false
plugin {self.plugin}
plugin_opt_config_file {self.dir}/dynsec.json
persistence {"true" if self.persistence else "false"}
persistence_location {self.dir}/
max_inflight_messages 1000
max_queued_messages 100000
set_tcp_nodelay {"true" if self.nodelay else "false"}
{self._tls_listener()}
log_dest stderr
log_type error
log_type warning
log_type notice
""")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _port_open(self.port):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"mosquitto did not start: {self.log()}")

    def _tls_listener(self):
        if not self.tls:
            return ""
        ca, cert, key = self.tls
        return (f"listener {self.tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\n"
                f"keyfile {key}\n")

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def ctrl(self, *args):
        """mosquitto_ctrl dynsec ARGS as the broker admin."""
        p = subprocess.run(["mosquitto_ctrl", "-h", "127.0.0.1", "-p", str(self.port), "-u",
                            self.admin_user, "-P", self.admin_password, "dynsec"] + list(args),
                           capture_output=True, text=True, timeout=20)
        if p.returncode != 0:
            raise AssertionError(f"mosquitto_ctrl {args}: {p.stdout} {p.stderr}")
        return p.stdout

    def make_client(self, user, password, topic="gf/v1/n/#"):
        """A broker account that may publish and subscribe under topic (and its shares)."""
        role = f"role-{user}"
        self.ctrl("createRole", role)
        for acl in ("publishClientSend", "publishClientReceive", "subscribePattern"):
            self.ctrl("addRoleACL", role, acl, topic, "allow")
        self.ctrl("addRoleACL", role, "subscribePattern", "$share/+/" + topic, "allow")
        self.ctrl("createClient", user, "-p", password)
        self.ctrl("addClientRole", user, role)

    def cluster_body(self, name=None, tls=False):
        """POST /clusters body for this broker. tls: agents use the TLS listener, the server
        the plain one (as a server inside the data centre would)."""
        body = {"name": name or uniq("cluster"), "kind": "mosquitto", "agent_url": self.url,
                "admin_username": self.admin_user, "admin_password": self.admin_password}
        if tls:
            body["agent_url"] = f"mqtts://127.0.0.1:{self.tls_port}"
            body["server_url"] = self.url
        return body

    def pub(self, topic, payload, user, password, client_id=None, qos=1, retain=False,
            timeout=10):
        """mosquitto_pub (MQTT 5). Returns the CompletedProcess (check returncode/stderr)."""
        args = ["mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(self.port),
                "-u", user, "-P", password, "-q", str(qos), "-t", topic, "-s"]
        if client_id:
            args += ["-i", client_id]
        if retain:
            args.append("-r")
        return subprocess.run(args, input=payload, capture_output=True, text=True,
                              timeout=timeout)

    def sub(self, topic, user, password, count=1, timeout=10, client_id=None, extra=()):
        """mosquitto_sub for count messages (or timeout). Returns (returncode, lines)."""
        args = ["mosquitto_sub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(self.port),
                "-u", user, "-P", password, "-t", topic, "-C", str(count), "-W", str(timeout),
                "-v"] + list(extra)
        if client_id:
            args += ["-i", client_id]
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 5)
        return p.returncode, p.stdout.splitlines(), p.stderr

    def sub_start(self, topic, user, password, client_id=None, extra=()):
        """A running mosquitto_sub (Popen, stdout lines) for tests that collect."""
        args = ["mosquitto_sub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(self.port),
                "-u", user, "-P", password, "-t", topic, "-v"] + list(extra)
        if client_id:
            args += ["-i", client_id]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)


_brokers = []


def make_test_certs(d):
    """A throwaway CA and a broker certificate for 127.0.0.1 (openssl CLI) in directory d.
    Returns (ca.pem, broker.pem, broker.key), readable by mosquitto's user."""
    def ossl(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=gf-test-ca",
         "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", f"{d}/broker.key", "-out", f"{d}/broker.csr")
    with open(f"{d}/ext.cnf", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", f"{d}/broker.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", f"{d}/ext.cnf", "-out", f"{d}/broker.pem")
    for f in ("ca.pem", "broker.pem", "broker.key"):
        os.chmod(f"{d}/{f}", 0o644)
    return f"{d}/ca.pem", f"{d}/broker.pem", f"{d}/broker.key"


def stop_all_brokers():
    for b in list(_brokers):
        b.stop(signal.SIGKILL)


# ------------------------------------------------------------------ server process

class Server:
    """A gatefleet-server on its own database (context manager).

    db: an existing database name (default: create a fresh one). extra_args: more
    --key value options. web_root: default <repo>/web.
    """

    def __init__(self, db=None, extra_args=(), web_root=None, name="server", wait=True):
        self.pg = pg()
        self.db = db
        self.own_db = db is None
        self.extra_args = list(extra_args)
        self.web_root = web_root or os.path.join(REPO, "web")
        self.name = name
        self.wait = wait
        self.proc = None
        self.base_url = None
        self.returncode = None
        self.tmp = None
        self.log_path = None
        self._log = None
        self._admin = None

    # -- lifecycle
    @property
    def database_url(self):
        return self.pg.url(self.db)

    def start(self):
        if self.db is None:
            self.db = self.pg.create_db()
        root = os.path.join(_need(FIXTURES, "GF_FIXTURES"), "run")
        os.makedirs(root, exist_ok=True)
        tag = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        self.tmp = tempfile.mkdtemp(prefix=f"{tag}-{self.name}-", dir=root)
        self.ready_file = os.path.join(self.tmp, "ready")
        self.state_dir = os.path.join(self.tmp, "state")
        self.log_path = os.path.join(self.tmp, "server.log")
        self._log = open(self.log_path, "wb")
        args = [_need(SERVER_BIN, "GF_SERVER_BIN"),
                "--listen", "127.0.0.1:0",
                "--ready_file", self.ready_file,
                "--database_url", self.database_url,
                "--state_dir", self.state_dir,
                "--web_root", self.web_root,
                "--mqtt_url", mqtt_url(),
                "--log_level", "debug"] + self.extra_args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        _servers.append(self)
        if self.wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before "
                                     f"it was ready:\n{self.log_tail()}")
            try:
                with open(self.ready_file, encoding="utf-8") as f:
                    text = f.read().strip()
                if re.fullmatch(r"https?://[^/\s]+", text):
                    self.base_url = text
                    return self.base_url
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not ready after {timeout} s:\n{self.log_tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the server and wait; returns its exit status (-N: killed by signal N)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = "timeout"
        if self.returncode != "timeout":
            self.returncode = self.proc.returncode
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        return self.returncode

    def check_clean_exit(self):
        """Raise AssertionError unless the server exited 0 with no sanitizer report."""
        log = self.log()
        if self.returncode == "timeout":
            raise AssertionError(f"{self.name} did not exit within {STOP_TIMEOUT} s of "
                                 f"SIGTERM:\n{self.log_tail()}")
        if self.returncode != 0:
            raise AssertionError(f"{self.name} exited with {self.returncode} after "
                                 f"SIGTERM:\n{self.log_tail()}")
        for mark in SANITIZER_MARKS:
            if mark in log:
                raise AssertionError(f"{self.name}: sanitizer report in log:\n"
                                     f"{self.log_tail()}")

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is None:
            self.check_clean_exit()
            self.cleanup()
        else:
            sys.stderr.write(f"--- {self.name} log ({self.log_path}) ---\n{self.log_tail()}\n")
        return False

    def cleanup(self):
        if self.own_db and self.db:
            self.pg.drop_db(self.db)
        if self.tmp:
            shutil.rmtree(os.path.join(self.tmp, "state"), ignore_errors=True)

    # -- logs
    def log(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=150):
        return "\n".join(self.log().splitlines()[-lines:])

    # -- database and API helpers
    def sql(self, query):
        return self.pg.psql(query, self.db)

    def scalar(self, query):
        return self.pg.scalar(query, self.db)

    def hold_lock(self, query):
        """A psql session that runs query (a SELECT ... FOR UPDATE returning one row) in a
        transaction it keeps open: the server's statements on those rows wait behind it.
        Close the returned process's stdin to end it."""
        pg = self.pg
        p = subprocess.Popen(
            [os.path.join(pg.bindir, "psql") if pg.bindir else "psql", "-X", "-q", "-A", "-t",
             "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", self.db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        p.stdin.write(f"BEGIN;\n{query};\n")
        p.stdin.flush()
        line = p.stdout.readline()
        if not line.strip():
            raise AssertionError(f"lock not taken: {query!r}: {line!r}")
        return p

    def lock_waiters(self):
        """How many of this database's sessions wait for a lock right now."""
        return int(self.scalar("SELECT count(*) FROM pg_stat_activity"
                               " WHERE wait_event_type = 'Lock' AND datname = current_database()"))

    def kill_with_uncommitted(self, node_id, sent, what):
        """SIGKILL this server while a message from node_id is read (so acknowledged to the
        broker) but not committed: the node's row is locked so the ingest's transaction
        waits, sent() says the agent published the message, then a second for it to arrive;
        the kill, then the lock released (that transaction never commits)."""
        lock = self.hold_lock(f"SELECT id FROM nodes WHERE id = '{node_id}' FOR UPDATE")
        try:
            wait_for(sent, what=what)
            wait_for(lambda: self.lock_waiters() > 0, what="the ingest waiting for the lock")
            time.sleep(1)
            self.stop(sig=signal.SIGKILL)
        finally:
            lock.stdin.close()
            lock.wait(10)

    def metric(self, name):
        """The value of an unlabelled counter or gauge on GET /metrics: an int, a float when
        it has a fraction (seconds), None if absent."""
        text = self.client().request("GET", "/metrics").text
        m = re.search(rf"^{re.escape(name)} (\d+)(\.\d+)?$", text, re.M)
        if m is None:
            return None
        return float(m.group(1) + m.group(2)) if m.group(2) else int(m.group(1))

    def client(self, **kw):
        return Client(self.base_url, **kw)

    def cli(self, args, stdin=None, timeout=120):
        """A command (args: command and its own options) against this server's database
        and state_dir."""
        return cli(["--database_url", self.database_url, "--state_dir", self.state_dir]
                   + list(args), stdin=stdin, timeout=timeout)

    def create_admin(self, email=None, password=None):
        """`admin create --email E --password-stdin`; returns (email, password)."""
        email = email or f"{uniq('admin')}@example.test"
        password = password or new_password()
        p = self.cli(["admin", "create", "--email", email, "--password-stdin"],
                     stdin=password + "\n")
        if p.returncode != 0:
            raise AssertionError(f"admin create exited {p.returncode}:\n{p.stdout}{p.stderr}")
        return email, password

    def admin(self):
        """A Client logged in as a server admin (created on first use)."""
        if self._admin is None:
            email, password = self.create_admin()
            c = self.client()
            r = c.login(email, password)
            if r.status != 200:
                raise AssertionError(f"admin login failed: {r}")
            c.email, c.password = email, password
            self._admin = c
        return self._admin

    def user(self, is_admin=False, name=None):
        """Create a user through POST /users (as admin) and return a logged-in Client;
        .user holds the user object, .email/.password the credentials."""
        email = f"{uniq('user')}@example.test"
        password = new_password()
        body = {"email": email, "name": name or email.split("@")[0], "password": password}
        if is_admin:
            body["is_admin"] = True
        r = self.admin().post("/users", body)
        if r.status != 201:
            raise AssertionError(f"POST /users failed: {r}")
        c = self.client()
        r2 = c.login(email, password)
        if r2.status != 200:
            raise AssertionError(f"login of new user failed: {r2}")
        c.user, c.email, c.password = r.json, email, password
        return c


def stop_all_servers():
    stop_all_brokers()
    for s in _servers:
        if s.proc is not None:
            s.stop()


# ------------------------------------------------------------------ HTTP

MUTATING = ("POST", "PUT", "PATCH", "DELETE")


class Response:
    """One HTTP answer. Unpacks as (status, headers, json-or-text)."""

    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers  # list of (name, value) in received order
        self.body = body
        self._json = None
        self._json_done = False

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def content_type(self):
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        if not self._json_done:
            self._json_done = True
            try:
                self._json = json.loads(self.body.decode("utf-8")) if self.body else None
            except ValueError:
                self._json = None
        return self._json

    @property
    def data(self):
        j = self.json
        return j if j is not None else self.text

    def __iter__(self):
        return iter((self.status, dict((k.lower(), v) for k, v in self.headers), self.data))

    def expect(self, *statuses):
        """Self when the status is one of statuses, else AssertionError with the answer."""
        if self.status not in statuses:
            raise AssertionError(f"expected {statuses}: {self!r}")
        return self

    def __repr__(self):
        body = self.text
        if len(body) > 600:
            body = body[:600] + "..."
        return f"<{self.method} {self.path} -> {self.status} {body}>"


def parse_set_cookie(value):
    """'n=v; Path=/; HttpOnly' -> (name, value, {attr-lower: value-or-True})."""
    parts = [p.strip() for p in value.split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), val.strip(), attrs


def _cookie_expired(attrs):
    if "max-age" in attrs:
        try:
            return int(attrs["max-age"]) <= 0
        except (TypeError, ValueError):
            return False
    if "expires" in attrs:
        import email.utils
        try:
            t = email.utils.parsedate_to_datetime(attrs["expires"]).timestamp()
            return t <= time.time()
        except (TypeError, ValueError):
            return False
    return False


_AUTO = object()


class Client:
    """An HTTP caller. Session mode: cookie jar + CSRF token from login. Token mode:
    Authorization: Bearer <token>. csrf: "auto" sends the remembered token on mutations,
    None omits it, any other string is sent instead (forged)."""

    def __init__(self, base_url, token=None, csrf="auto", timeout=60):
        u = urllib.parse.urlsplit(base_url)
        self.base_url = base_url
        self.host = u.hostname
        self.port = u.port or 80
        self.token = token
        self.csrf = csrf
        self.csrf_token = None
        self.cookies = {}
        self.set_cookies = {}  # name -> (value, attrs) of the last Set-Cookie
        self.timeout = timeout
        self.user = None
        self.email = None
        self.password = None

    # -- core
    def request(self, method, path, body=None, *, raw=None, headers=None,
                content_type="application/json", csrf=_AUTO, idempotency_key=None,
                if_match=None, query=None, cookies=True, token=_AUTO):
        """Send one request to path verbatim (no /api/v1 prefix added)."""
        if query:
            path = path + ("&" if "?" in path else "?") + urllib.parse.urlencode(query)
        data = None
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
        h = {}
        if data is not None and content_type is not None:
            h["Content-Type"] = content_type
        tok = self.token if token is _AUTO else token
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        if cookies and self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        mode = self.csrf if csrf is _AUTO else csrf
        if method in MUTATING and mode is not None:
            value = self.csrf_token if mode == "auto" else mode
            if value:
                h["X-CSRF-Token"] = value
        if idempotency_key is not None:
            h["Idempotency-Key"] = idempotency_key
        if if_match is not None:
            h["If-Match"] = if_match
        if headers:
            h.update(headers)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            body_bytes = resp.read()
            hdrs = resp.getheaders()
            status = resp.status
        finally:
            conn.close()
        r = Response(method, path, status, hdrs, body_bytes)
        self._remember_cookies(r)
        return r

    def _remember_cookies(self, r):
        for v in r.header_all("Set-Cookie"):
            name, val, attrs = parse_set_cookie(v)
            self.set_cookies[name] = (val, attrs)
            if val == "" or _cookie_expired(attrs):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = val

    @staticmethod
    def _api(path):
        return path if path.startswith("/api/") else API + path

    # -- API shortcuts (paths relative to /api/v1 unless they start with /api/)
    def get(self, path, **kw):
        return self.request("GET", self._api(path), **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", self._api(path), body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", self._api(path), body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", self._api(path), body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", self._api(path), **kw)

    # -- auth
    def login(self, email, password):
        r = self.post("/auth/login", {"email": email, "password": password}, csrf=None)
        if r.status == 200 and isinstance(r.json, dict):
            self.csrf_token = r.json.get("csrf_token")
            self.user = r.json.get("user")
            self.email, self.password = email, password
        return r

    def logout(self):
        return self.post("/auth/logout")

    @property
    def session(self):
        return self.cookies.get("gf_session")

    def list_all(self, path, limit=200, query=None):
        """Follow next_cursor over a list endpoint; returns all items."""
        items = []
        q = dict(query or {})
        q["limit"] = str(limit)
        for _ in range(1000):
            r = self.get(path, query=q)
            if r.status != 200:
                raise AssertionError(f"list {path}: {r}")
            items.extend(r.json["items"])
            cur = r.json.get("next_cursor")
            if not cur:
                return items
            q["cursor"] = cur
        raise AssertionError(f"list {path}: too many pages")


def raw_http(base_url, data, timeout=30, chunks=None):
    """Send raw request bytes (then optional body chunks) over a socket and read the answer
    until the server closes. Send errors (server closed early) are tolerated. Returns
    (status or None, headers list, body bytes)."""
    u = urllib.parse.urlsplit(base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        try:
            s.sendall(data)
            for c in chunks or ():
                s.sendall(c)
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b""
        while True:
            try:
                part = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not part:
                break
            buf += part
    finally:
        s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0]) if lines and lines[0] else None
    status = int(m.group(1)) if m else None
    hdrs = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs.append((k.strip(), v.strip()))
    return status, hdrs, body


# ------------------------------------------------------------------ object helpers

def make_tenant(c, name=None, slug=None):
    slug = slug or uniq("t")
    r = c.post("/tenants", {"name": name or f"Tenant {slug}", "slug": slug})
    if r.status != 201:
        raise AssertionError(f"create tenant: {r}")
    return r.json


def make_project(c, tenant_id, name=None, description=None):
    body = {"name": name or uniq("proj")}
    if description is not None:
        body["description"] = description
    r = c.post(f"/tenants/{tenant_id}/projects", body)
    if r.status != 201:
        raise AssertionError(f"create project: {r}")
    return r.json


def broker_project(admin, broker, **token):
    """A tenant and a project with broker as its cluster and an auto-accept enrollment token
    (token: more fields of its body, e.g. default_labels). Returns (tenant_id, project_id,
    token secret)."""
    tenant = make_tenant(admin)["id"]
    project = make_project(admin, tenant)["id"]
    admin.post(f"/projects/{project}/clusters", broker.cluster_body()).expect(201)
    secret = admin.post(f"/projects/{project}/enrollment-tokens",
                        dict({"auto_accept": True}, **token)).expect(201).json["secret"]
    return tenant, project, secret


def insert_nodes(srv, project_id, cluster_id, n, prefix, labels="'{}'"):
    """n accepted, provisioned nodes of project_id on cluster_id, inserted in SQL as enrollment
    and provisioning would leave them (for fleets too large to enroll one by one): for
    g = 1..n, id md5('<prefix>-<g>')::uuid, name <prefix>-<g>, labels the SQL expression
    `labels` (it may use g)."""
    srv.sql("INSERT INTO nodes (id, project_id, name, status, public_key, provisioned,"
            " broker_cluster_id, labels)"
            f" SELECT md5('{prefix}-' || g)::uuid, '{project_id}', '{prefix}-' || g, 'accepted',"
            " decode(md5(g::text) || md5((g + 1)::text), 'hex'), true,"
            f" '{cluster_id}', {labels} FROM generate_series(1, {n}) g")


def add_member(c, tenant_id, role, user_id=None, email=None):
    body = {"role": role}
    if user_id:
        body["user_id"] = user_id
    else:
        body["email"] = email
    r = c.post(f"/tenants/{tenant_id}/members", body)
    if r.status != 201:
        raise AssertionError(f"add member: {r}")
    return r.json


def make_token(c, tenant_id, role, name=None, expires_at=None):
    body = {"name": name or uniq("tok"), "tenant_id": tenant_id, "role": role}
    if expires_at is not None:
        body["expires_at"] = expires_at
    r = c.post("/tokens", body)
    if r.status != 201:
        raise AssertionError(f"create token: {r}")
    return r.json


def random_uuid():
    return str(uuid.uuid4())


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class NodeKey:
    """An Ed25519 key pair through libsodium (ctypes): what an agent holds, for tests that
    speak the enrollment protocol themselves (forged signatures, clock skew)."""

    _lib = None

    def __init__(self):
        lib = NodeKey.lib()
        self.pk = ctypes.create_string_buffer(32)
        self.sk = ctypes.create_string_buffer(64)
        if lib.crypto_sign_keypair(self.pk, self.sk) != 0:
            raise AssertionError("crypto_sign_keypair failed")

    @classmethod
    def lib(cls):
        if cls._lib is None:
            cls._lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
            if cls._lib.sodium_init() < 0:
                raise AssertionError("sodium_init failed")
        return cls._lib

    @property
    def public_text(self):
        return b64url(self.pk.raw)

    def sign(self, msg):
        sig = ctypes.create_string_buffer(64)
        NodeKey.lib().crypto_sign_detached(sig, None, msg, ctypes.c_ulonglong(len(msg)), self.sk)
        return sig.raw

    def signed_headers(self, node_id, method, path, body=b"", ts=None):
        ts = str(int(time.time()) if ts is None else ts)
        msg = f"GF1\n{method}\n{path}\n{ts}\n{hashlib.sha256(body).hexdigest()}".encode()
        h = {"X-GF-Timestamp": ts, "X-GF-Signature": b64url(self.sign(msg))}
        if node_id is not None:
            h["X-GF-Node"] = node_id
        return h

    def enroll(self, client, body, ts=None):
        """POST /enroll with body (a dict), signed with this key (proof of possession)."""
        raw = json.dumps(body).encode()
        h = self.signed_headers(None, "POST", API + "/enroll", raw, ts=ts)
        h["Content-Type"] = "application/json"
        return client.post("/enroll", raw=raw, headers=h)


def random_public_key():
    return NodeKey().public_text


def closed_mqtt_url():
    """An mqtt:// URL on a loopback port nothing listens on."""
    return f"mqtt://127.0.0.1:{free_port()}"


def wait_for(fn, timeout=30, step=0.2, what="condition"):
    """Call fn until it returns something true (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def parallel(fn, n):
    """Run fn(i) for i in range(n) in threads released together; returns results in order
    (exceptions are returned, not raised)."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(10)
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported to the caller
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


# ------------------------------------------------------------------ unittest glue

class GfTestCase(unittest.TestCase):
    """Base class: one Server per test class (cls.srv), started in setUpClass.
    Set server_args for extra options, or start_server = False to manage servers yourself."""

    server_args = ()
    start_server = True
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.srv = None
        if cls.start_server:
            cls.srv = Server(extra_args=cls.server_args, name=cls.__name__)
            cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv is not None:
            cls.srv.stop()
            cls.srv.check_clean_exit()
            cls.srv.cleanup()

    # -- assertions
    def assertStatus(self, r, *statuses):
        self.assertIn(r.status, statuses, f"expected HTTP {statuses}, got {r!r}")

    def assertProblem(self, r, status, slug=None, field=None):
        """r is an application/problem+json answer with this status (and type slug, and
        errors[].field naming field)."""
        self.assertStatus(r, status)
        self.assertEqual(r.content_type, "application/problem+json", repr(r))
        j = r.json
        self.assertIsInstance(j, dict, repr(r))
        self.assertEqual(j.get("status"), status, repr(r))
        self.assertTrue(str(j.get("type", "")).startswith("urn:gatefleet:problem:"), repr(r))
        self.assertIsInstance(j.get("title"), str, repr(r))
        if slug is not None:
            self.assertEqual(j["type"], "urn:gatefleet:problem:" + slug, repr(r))
        if field is not None:
            fields = [e.get("field") for e in j.get("errors") or []]
            self.assertIn(field, fields, f"no error naming {field!r} in {r!r}")
        return j

    def assertNotLeaks(self, r, secrets_):
        for s in secrets_:
            if s:
                self.assertNotIn(str(s), r.text, f"{s!r} leaked in {r!r}")


class _Result(unittest.TextTestResult):
    pass


def main():
    """unittest.main() that prints the server logs when a test failed; exits non-zero on
    failure."""
    prog = unittest.main(module="__main__", exit=False, verbosity=2,
                         testRunner=unittest.TextTestRunner(resultclass=_Result, verbosity=2))
    stop_all_servers()
    ok = prog.result.wasSuccessful()
    if not ok:
        for s in _servers:
            sys.stderr.write(f"\n--- log of {s.name} ({s.log_path}), last lines ---\n"
                             f"{s.log_tail()}\n")
    sys.exit(0 if ok else 1)


AGENT_FIXTURES = os.path.join(REPO, "tests", "unit", "agent", "fixtures")
AGENT_KEEPALIVE = 4


class Agent:
    """One gatefleet-agent process with its own state_dir."""

    def __init__(self, srv, token, fixture="ups", name="agent", extra=(), env=None):
        self.dir = os.path.join(srv.tmp, uniq(name))
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "agent.log")
        self.args = [os.environ["GF_AGENT_BIN"], "--server_url", srv.base_url,
                     "--state_dir", os.path.join(self.dir, "state"),
                     "--procfs_root", os.path.join(AGENT_FIXTURES, fixture, "proc"),
                     "--sysfs_root", os.path.join(AGENT_FIXTURES, fixture, "sys"),
                     "--health_interval", "1", "--keepalive", str(AGENT_KEEPALIVE),
                     "--log_level", "debug"] + list(extra)
        if token:
            self.args += ["--enrollment_token", token]
        self.proc = None
        self.env = env

    def start(self):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        self.log.close()
        return self.proc.returncode

    def wait_exit(self, timeout=30):
        return self.proc.wait(timeout)

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def node_id(self):
        with open(os.path.join(self.dir, "state", "node.json")) as f:
            return json.load(f)["node_id"]


def multipart(metadata, files):
    """A multipart/form-data body: a "metadata" JSON part and one "file" part per
    (path, bytes). Returns (body, content type)."""
    boundary = "gfb" + uuid.uuid4().hex
    out = bytearray()
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
            f"Content-Type: application/json\r\n\r\n").encode()
    out += json.dumps(metadata).encode() + b"\r\n"
    for path, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{path}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def upload_bundle(client, project_id, metadata, files, **kw):
    body, ctype = multipart(metadata, files)
    return client.post(f"/projects/{project_id}/bundles", raw=body, content_type=ctype, **kw)


class SigningKey(NodeKey):
    """An operator's offline Ed25519 key: key id, envelopes (docs/bundle-format.md)."""

    @property
    def public_hex(self):
        return self.pk.raw.hex()

    @property
    def key_id(self):
        return hashlib.sha256(self.pk.raw).hexdigest()[:32]

    def envelope(self, data, key_id=None):
        import base64
        return {"signed": base64.b64encode(data).decode(), "key_id": key_id or self.key_id,
                "signature": self.sign(data).hex()}


class Stream:
    """One text/event-stream response (GET base_url + /api/v1 + path) read by a thread: events as dicts {id, event, data}
    (data parsed as JSON when it is), comments, in arrival order."""

    def __init__(self, base_url, path, client=None, token=None, last_event_id=None,
                 query=None):
        u = urllib.parse.urlsplit(base_url)
        if query:
            path += "?" + urllib.parse.urlencode(query)
        h = {"Accept": "text/event-stream"}
        tok = token or (client.token if client else None)
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        elif client is not None and client.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        if last_event_id is not None:
            h["Last-Event-ID"] = str(last_event_id)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.conn.request("GET", API + path, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.events, self.comments, self.retry = [], [], None
        self.ended = False
        self.cv = threading.Condition()
        if self.status == 200:
            self.conn.sock.settimeout(None)
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = self.resp.read()
            self.conn.close()

    def _read(self):
        cur = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode("utf-8").rstrip("\n")
                with self.cv:
                    if line == "":
                        if "data" in cur:
                            try:
                                cur["data"] = json.loads(cur["data"])
                            except ValueError:
                                pass
                            self.events.append(cur)
                        cur = {}
                    elif line.startswith(":"):
                        self.comments.append((time.monotonic(), line[1:].strip()))
                    else:
                        k, _, v = line.partition(":")
                        v = v[1:] if v.startswith(" ") else v
                        if k == "retry":
                            self.retry = int(v)
                        elif k in ("id", "event"):
                            cur[k] = v
                        elif k == "data":
                            cur["data"] = cur["data"] + "\n" + v if "data" in cur else v
                    self.cv.notify_all()
        except Exception:  # noqa: BLE001 - closed under the reader: the stream ended
            pass
        with self.cv:
            self.ended = True
            self.cv.notify_all()

    def wait(self, pred, timeout=30, what="events"):
        """Wait until pred(events) is true; returns the events."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred(self.events):
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    raise AssertionError(f"no {what} on the stream (ended={self.ended}); got "
                                         f"{[(e.get('id'), e.get('event')) for e in self.events]}")
                self.cv.wait(min(left, 0.5))
            return list(self.events)

    def ids(self):
        with self.cv:
            return [int(e["id"]) for e in self.events]

    def close(self):
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conn.close()

# SPDX-License-Identifier: Apache-2.0
"""test_bundles.py - signed configuration bundles against the real server and PostgreSQL
(and, in BundleAgentTest, a real broker and a real gatefleet-agent).

Publishing: versions grow per name, blobs are stored once, the manifest envelope verifies
with the project's key; offline signing with a registered operator key (wrong key refused);
the trust root changes one signed statement at a time (rotation signed by the old key; a
root of offline keys waits for an offline signature); bad uploads are refused precisely and
store nothing; agents download only their own project's blobs, with HTTP Range.

BundleAgentTest, the real agent: upload, assign, applied (files, modes, actions run, drift
gone); a failing health check rolls back to the previous configuration and re-runs its
actions; a hanging action is killed at the timeout; templates rendered per node; every
attack of the issue (forged, altered, replayed, expired, foreign, traversing, oversized
manifests and blobs, a rotation not signed by the old key) is refused with its typed
reason and leaves the active configuration untouched; the agent killed at every apply step
comes back on exactly the old or the new configuration and converges; desired state
survives a broker restart; a station clock set back a day cannot revive an expired manifest;
a final status the server read but had not committed when it was killed is sent again.
"""

import base64
import glob
import hashlib
import json
import os
import signal
import time
import uuid

import gf


def ts(t):
    """RFC 3339 UTC in whole seconds, the only spelling a manifest accepts."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def verify(envelope, public_hex):
    """Check an envelope's signature with a public key through libsodium."""
    lib = gf.NodeKey.lib()
    data = base64.b64decode(envelope["signed"])
    sig = bytes.fromhex(envelope["signature"])
    return lib.crypto_sign_verify_detached(sig, data, len(data), bytes.fromhex(public_hex)) == 0


META = {"name": "neuronex", "actions": ["restart:neuronex"], "health_timeout_s": 30}


class BundlePublishTest(gf.GfTestCase):

    def setUp(self):
        super().setUp()
        self.admin = self.srv.admin()
        t = gf.make_tenant(self.admin)
        self.pid = gf.make_project(self.admin, t["id"])["id"]

    def upload(self, meta=None, files=None, **kw):
        return gf.upload_bundle(self.admin, self.pid, meta or META,
                                files or [("etc/neuron.conf", b"port=502\n")], **kw)

    def blob_count(self):
        return int(self.srv.scalar("SELECT count(*) FROM blobs"))

    def test_versions_dedup_and_signature(self):
        b1 = self.upload().expect(201).json
        self.assertEqual((b1["name"], b1["version"], b1["status"]), ("neuronex", 1, "published"))
        self.assertEqual(b1["files"][0]["sha256"], hashlib.sha256(b"port=502\n").hexdigest())
        self.assertEqual(b1["files"][0]["mode"], "0644")
        before = self.blob_count()
        b2 = self.upload(files=[("etc/neuron.conf", b"port=502\n"),
                                ("bin/x.sh", b"#!/bin/sh\n")],
                         meta=dict(META, files={"bin/x.sh": {"mode": "0755"}})).expect(201).json
        self.assertEqual(b2["version"], 2)
        self.assertEqual(self.blob_count(), before + 1, "the unchanged file is stored once")
        self.assertEqual({f["path"]: f["mode"] for f in b2["files"]},
                         {"bin/x.sh": "0755", "etc/neuron.conf": "0644"})
        env = self.admin.get(f"/bundles/{b2['id']}/manifest").expect(200).json
        keys = self.admin.get(f"/projects/{self.pid}/signing-keys").expect(200).json["items"]
        self.assertEqual(len(keys), 1)
        self.assertEqual((keys[0]["kind"], keys[0]["state"]), ("server", "active"))
        self.assertNotIn("secret", json.dumps(keys))
        self.assertEqual(env["key_id"], keys[0]["key_id"])
        self.assertTrue(verify(env, keys[0]["public_key"]))
        m = json.loads(base64.b64decode(env["signed"]))
        self.assertEqual((m["project"], m["name"], m["version"]), (self.pid, "neuronex", 2))
        self.assertEqual(hashlib.sha256(base64.b64decode(env["signed"])).hexdigest(),
                         b2["manifest_sha256"])
        listed = self.admin.get(f"/projects/{self.pid}/bundles?name=neuronex").expect(200).json
        self.assertEqual([b["version"] for b in listed["items"]], [1, 2])
        trust = self.admin.get(f"/projects/{self.pid}/trust").expect(200).json
        self.assertEqual(trust["seq"], 1)
        self.assertIsNone(trust["pending"])

    def test_bad_uploads_change_nothing(self):
        self.upload().expect(201)
        blobs, bundles = self.blob_count(), self.srv.scalar("SELECT count(*) FROM bundles")
        cases = [
            (META, [("../etc/passwd", b"x")], 400, "file"),
            (META, [("/etc/passwd", b"x")], 400, "file"),
            (META, [("a/./b", b"x")], 400, "file"),
            (META, [("a", b"x"), ("a", b"y")], 400, "file"),
            (dict(META, name="Bad Name"), None, 400, "/name"),
            (dict(META, actions=["rm -rf /"]), None, 400, "/actions"),
            (dict(META, files={"etc/neuron.conf": {"mode": "4755"}}), None, 400, "/files"),
            (dict(META, files={"missing.conf": {"mode": "0644"}}), None, 400, "/files"),
            (dict(META, unknown=1), None, 400, "/unknown"),
            (dict(META, health_timeout_s=0), None, 400, "/health_timeout_s"),
            (dict(META, expires_at="2000-01-01T00:00:00Z"), None, 400, "/expires_at"),
            (dict(META, target={"selector": "site in ("}), None, 400, "/target/selector"),
            (dict(META, signing="offline", files={"etc/neuron.conf": {"template": True}}),
             None, 400, "/signing"),
            (dict(META, files={"etc/neuron.conf": {"template": True}}),
             [("etc/neuron.conf", b"port=${port")], 400, "etc/neuron.conf"),
        ]
        for meta, files, status, where in cases:
            with self.subTest(where=where, meta=meta, files=files):
                r = self.upload(meta=meta, files=files)
                self.assertEqual(r.status, status, r)
                self.assertIn(where, json.dumps(r.json), r.json)
        # No metadata part, a stray part, JSON instead of multipart.
        body, ctype = gf.multipart(META, [("a.conf", b"x")])
        r = self.admin.post(f"/projects/{self.pid}/bundles",
                            raw=body.replace(b'name="metadata"', b'name="meta"'),
                            content_type=ctype).expect(400)
        self.admin.post(f"/projects/{self.pid}/bundles", META).expect(415)
        # Bodies above max_body_bytes (1 MiB) reach the upload route only with credentials.
        big = bytes(range(256)) * 8192  # 2 MiB
        anon = self.srv.client()
        body, ctype = gf.multipart(dict(META, name="big"), [("big.bin", big)])
        try:
            anon.post(f"/projects/{self.pid}/bundles", raw=body, content_type=ctype).expect(413)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused on Content-Length before the body was read: the socket closed
        self.assertEqual(self.srv.scalar("SELECT count(*) FROM bundles"), bundles)
        self.assertEqual(self.blob_count(), blobs)

        self.assertEqual(self.blob_count(), blobs)
        self.assertEqual(self.srv.scalar("SELECT count(*) FROM bundles"), bundles)
        # The same upload with credentials is taken (max_upload_bytes).
        b = self.upload(meta=dict(META, name="big"), files=[("big.bin", big)]).expect(201).json
        self.assertEqual(b["files"][0]["size"], len(big))

    def test_offline_signing_and_trust_rotation(self):
        op = gf.SigningKey()
        # The first key is the operator's own: statement 1 waits for its signature.
        k = self.admin.post(f"/projects/{self.pid}/signing-keys",
                            {"name": "ops laptop", "public_key": op.public_hex}).expect(202).json
        self.assertEqual((k["kind"], k["state"], k["trust_pending"]), ("offline", "pending", True))
        trust = self.admin.get(f"/projects/{self.pid}/trust").expect(200).json
        stmt = base64.b64decode(trust["pending"]["statement"])
        self.assertEqual(json.loads(stmt)["keys"], [{"key_id": op.key_id,
                                                     "public_key": op.public_hex}])
        other = gf.SigningKey()
        self.admin.post(f"/projects/{self.pid}/trust/signature",
                        {"key_id": other.key_id, "signature": other.sign(stmt).hex()}).expect(422)
        self.admin.post(f"/projects/{self.pid}/trust/signature",
                        {"key_id": op.key_id, "signature": op.sign(stmt).hex()}).expect(200)
        # Only an offline key: server signing is refused, offline signing works.
        self.upload().expect(409)
        b = self.upload(meta=dict(META, signing="offline")).expect(201).json
        self.assertEqual(b["status"], "unsigned")
        self.admin.get(f"/bundles/{b['id']}/manifest").expect(409)
        data = base64.b64decode(b["unsigned_manifest"])
        self.admin.post(f"/bundles/{b['id']}/signature",
                        {"key_id": op.key_id, "signature": other.sign(data).hex()}).expect(422)
        self.admin.post(f"/bundles/{b['id']}/signature",
                        {"key_id": other.key_id, "signature": other.sign(data).hex()}).expect(422)
        b = self.admin.post(f"/bundles/{b['id']}/signature",
                            {"key_id": op.key_id, "signature": op.sign(data).hex()}).expect(200).json
        self.assertEqual(b["status"], "published")
        self.assertTrue(verify(self.admin.get(f"/bundles/{b['id']}/manifest").json, op.public_hex))
        # A server key joins: statement 2 must be signed offline by the old root (op).
        sk = self.admin.post(f"/projects/{self.pid}/signing-keys", {"name": "srv"}).expect(202).json
        p2 = base64.b64decode(self.admin.get(f"/projects/{self.pid}/trust").json["pending"]["statement"])
        self.admin.post(f"/projects/{self.pid}/signing-keys", {"name": "again"}).expect(409)
        self.admin.post(f"/projects/{self.pid}/trust/signature",
                        {"key_id": op.key_id, "signature": op.sign(p2).hex()}).expect(200)
        # Now the server key signs the next rotation itself: retire the operator key.
        r = self.admin.post(f"/signing-keys/{k['id']}/retire").expect(200).json
        self.assertEqual((r["state"], r["trust_seq"]), ("retired", 3))
        trust = self.admin.get(f"/projects/{self.pid}/trust").expect(200).json
        self.assertEqual(trust["statement"]["key_id"], sk["key_id"], "signed by the old root")
        self.assertTrue(verify(trust["statement"], sk["public_key"]))
        self.assertEqual([x["key_id"] for x in json.loads(base64.b64decode(
            trust["statement"]["signed"]))["keys"]], [sk["key_id"]])
        self.admin.post(f"/signing-keys/{sk['id']}/retire").expect(400)  # last key stays
        self.upload().expect(201)

    def test_agent_downloads_range_and_isolation(self):
        content = bytes(range(256)) * 40
        b = self.upload(files=[("etc/table.bin", content)]).expect(201).json
        sha = b["files"][0]["sha256"]
        key = gf.NodeKey()

        def node(status, project=None):
            return self.srv.scalar(
                f"WITH n AS (INSERT INTO nodes (project_id, status, public_key) VALUES "
                f"('{project or self.pid}', '{status}', decode('{key.pk.raw.hex() if status == 'accepted' else gf.NodeKey().pk.raw.hex()}', 'hex'))"
                f" RETURNING id) SELECT id FROM n")
        nid = node("accepted")
        c = self.srv.client()

        def get(path, node_id=nid, k=key, **hdr):
            full = gf.API + path
            h = k.signed_headers(node_id, "GET", full.split("?")[0])
            h.update(hdr)
            return c.request("GET", full, headers=h)

        r = get(f"/agent/blobs/{sha}").expect(200)
        self.assertEqual(r.body, content)
        r = get(f"/agent/blobs/{sha}", Range="bytes=1000-").expect(206)
        self.assertEqual(r.body, content[1000:])
        self.assertEqual(r.header("Content-Range"), f"bytes 1000-{len(content) - 1}/{len(content)}")
        r = get(f"/agent/blobs/{sha}", Range="bytes=1000-1099").expect(206)
        self.assertEqual(r.body, content[1000:1100])
        get(f"/agent/blobs/{sha}", Range=f"bytes={len(content)}-").expect(416)
        get(f"/agent/blobs/{sha}", Range="bytes=5-2").expect(400)
        get(f"/agent/blobs/{sha}", Range="bytes=99999999999999999999-").expect(416)
        r = get(f"/agent/blobs/{sha}", Range="bytes=10-99999999999999999").expect(206)
        self.assertEqual(r.body, content[10:])
        c.request("GET", f"{gf.API}/agent/blobs/{sha}").expect(401)
        get(f"/agent/blobs/{sha}", k=gf.NodeKey()).expect(401)  # someone else's signature
        # Another project's blob is not there for this node; a pending node gets nothing.
        t2 = gf.make_tenant(self.admin)
        p2 = gf.make_project(self.admin, t2["id"])["id"]
        other = gf.upload_bundle(self.admin, p2, META, [("x.conf", b"other tenant\n")]).expect(201).json
        get(f"/agent/blobs/{other['files'][0]['sha256']}").expect(404)
        self.srv.sql(f"UPDATE nodes SET status = 'pending' WHERE id = '{nid}'")
        get(f"/agent/blobs/{sha}").expect(403)
        self.srv.sql(f"UPDATE nodes SET status = 'accepted' WHERE id = '{nid}'")
        # Trust chain and manifests: only the node's own desired bundle.
        st = get("/agent/trust?since=0").expect(200).json["statements"]
        self.assertEqual([json.loads(base64.b64decode(e["signed"]))["seq"] for e in st], [1])
        self.assertEqual(get("/agent/trust?since=1").expect(200).json["statements"], [])
        get(f"/agent/bundles/{b['id']}/manifest").expect(404)
        self.admin.put(f"/nodes/{nid}/bundle", {"bundle_id": b["id"]}).expect(200)
        env = get(f"/agent/bundles/{b['id']}/manifest").expect(200).json
        self.assertEqual(env, self.admin.get(f"/bundles/{b['id']}/manifest").json)
        self.admin.put(f"/nodes/{nid}/bundle", {"bundle_id": other["id"]}).expect(404)
        # The bundle's target must fit the node: labels by selector, architecture.
        sel = self.upload(meta=dict(META, target={"selector": "site=north"})).expect(201).json
        r = self.admin.put(f"/nodes/{nid}/bundle", {"bundle_id": sel["id"]}).expect(422)
        self.assertIn("site=north", r.json["detail"])
        self.srv.sql(f"UPDATE nodes SET labels = '{{\"site\": \"north\"}}' WHERE id = '{nid}'")
        self.admin.put(f"/nodes/{nid}/bundle", {"bundle_id": sel["id"]}).expect(200)
        arm = self.upload(meta=dict(META, target={"arch": ["aarch64"]})).expect(201).json
        self.srv.sql(f"UPDATE nodes SET inventory = '{{\"arch\": \"x86_64\"}}' WHERE id = '{nid}'")
        r = self.admin.put(f"/nodes/{nid}/bundle", {"bundle_id": arm["id"]}).expect(422)
        self.assertIn("x86_64", r.json["detail"])


SCRIPTS = {
    "restart.sh": 'echo "restart $GATEFLEET_BUNDLE_DIR" >> "$(dirname "$0")/actions.log"\n'
                  'test ! -e "$(dirname "$0")/fail-restart"\n',
    "check.sh": 'test ! -e "$(dirname "$0")/fail-check"\n',
    "hang.sh": "sleep 1000\n",
    "slow.sh": 'echo slow >> "$(dirname "$0")/actions.log"; sleep 2\n',
}


class BundleAgentTest(gf.GfTestCase):
    """One agent with a local action map; the tests run in name order and build on each other
    (test_1 installs the first configuration)."""
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="bundles").start()
        cls.admin = cls.srv.admin()
        _, cls.pid, token = gf.broker_project(cls.admin, cls.broker,
                                              default_labels={"site": "north"})
        cls.scripts = os.path.join(cls.srv.tmp, gf.uniq("scripts"))
        os.makedirs(cls.scripts)
        for name, body in SCRIPTS.items():
            with open(os.path.join(cls.scripts, name), "w") as f:
                f.write(body)
        actions = os.path.join(cls.scripts, "actions.conf")
        with open(actions, "w") as f:
            f.write("# test action map\n")
            for name, script in [("restart:svc", "restart.sh"), ("check:svc", "check.sh"),
                                 ("hang:svc", "hang.sh"), ("slow:svc", "slow.sh")]:
                f.write(f"{name} = /bin/sh {os.path.join(cls.scripts, script)}\n")
        cls.agent = gf.Agent(cls.srv, token, name="bundle-agent",
                             extra=("--actions_file", actions))
        cls.agent.start()
        cls.node_id = gf.wait_for(lambda: os.path.exists(os.path.join(cls.agent.dir, "state",
                                                                      "node.json"))
                                  and cls.agent.node_id(), what="node.json")
        gf.wait_for(lambda: cls.admin.get(f"/nodes/{cls.node_id}").json["online"], what="online")
        # The first upload makes the project's server key (statement 1); an operator key
        # joins with statement 2, signed by it. The tests forge manifests with that key.
        cls.op = gf.SigningKey()
        cls.upload(cls, "warmup", b"warm\n")
        cls.admin.post(f"/projects/{cls.pid}/signing-keys",
                       {"name": "operator", "public_key": cls.op.public_hex}).expect(201)

    @classmethod
    def tearDownClass(cls):
        if cls.agent.proc and cls.agent.proc.poll() is None:
            cls.agent.stop()
        super().tearDownClass()
        cls.broker.stop()

    # ---- helpers

    def upload(self, content, extra=b"", meta=None, name="svc"):
        if isinstance(self, type):
            name, content = content, extra
        m = dict({"name": name, "actions": ["restart:svc"], "health_check": "check:svc",
                  "health_timeout_s": 5, "files": {"bin/run.sh": {"mode": "0750"}}}, **(meta or {}))
        files = [("etc/svc.conf", content), ("bin/run.sh", b"#!/bin/sh\n" + content)]
        return gf.upload_bundle(self.admin, self.pid, m, files).expect(201).json

    def assign(self, bundle):
        return self.admin.put(f"/nodes/{self.node_id}/bundle",
                              {"bundle_id": bundle["id"]}).expect(200).json

    def state(self):
        r = self.admin.get(f"/nodes/{self.node_id}/bundle")
        return r.json if r.status == 200 else {}

    def wait_state(self, states, version=None, timeout=40):
        def done():
            st = self.state()
            if st.get("state") in states and (version is None or st.get("version") == version):
                return st
            return None
        return gf.wait_for(done, timeout=timeout, what=f"bundle state in {states}")

    def current(self, path="etc/svc.conf"):
        p = os.path.join(self.agent.dir, "state", "bundles", "current", path)
        with open(p, "rb") as f:
            return f.read()

    def actions_log(self):
        p = os.path.join(self.scripts, "actions.log")
        return open(p).read().splitlines() if os.path.exists(p) else []

    def installed(self):
        with open(os.path.join(self.agent.dir, "state", "bundles", "installed.json")) as f:
            return json.load(f)

    def inject(self, envelope, trust_seq_bump=False):
        """What a compromised server (or a man in the middle) would hand the agent: put a
        crafted envelope behind the node's desired bundle and publish desired again."""
        data = base64.b64decode(envelope["signed"])
        sha = hashlib.sha256(data).hexdigest()
        env = json.dumps(envelope).replace("'", "''")
        self.srv.sql(f"UPDATE node_bundles SET envelope = '{env}', manifest_sha256 = '{sha}',"
                     f" gen = gen + 1, next_publish_at = now(), state = 'pending',"
                     f" reason = NULL WHERE node_id = '{self.node_id}'")
        return sha

    def base_manifest(self, version, files):
        now = int(time.time())
        return {"schema": 1, "type": "gatefleet.bundle", "project": self.pid, "name": "svc",
                "version": version, "created_at": ts(now),
                "expires_at": ts(now + 86400),
                "files": files, "actions": ["restart:svc"], "health_timeout_s": 5}

    # ---- tests

    def test_1_upload_assign_applied(self):
        b = self.upload(b"v1\n")
        st = self.assign(b)
        self.assertEqual(st["state"], "pending")
        st = self.wait_state({"applied"}, version=b["version"])
        self.assertFalse(st["drift"])
        self.assertEqual(st["applied_sha256"], b["manifest_sha256"])
        self.assertEqual(self.current(), b"v1\n")
        mode = os.stat(os.path.join(self.agent.dir, "state", "bundles", "current", "bin",
                                    "run.sh")).st_mode & 0o777
        self.assertEqual(mode, 0o750)
        self.assertEqual(len(self.actions_log()), 1, self.actions_log())
        steps = [e["state"] for e in st["events"] if e["version"] == b["version"]]
        for s in ("downloading", "verifying", "applying", "applied"):
            self.assertIn(s, steps)
        self.assertEqual(self.admin.get(f"/nodes/{self.node_id}").json["applied_bundle_id"], b["id"])
        drift = self.admin.get(f"/projects/{self.pid}/drift").expect(200).json["items"]
        self.assertNotIn(self.node_id, [d["node_id"] for d in drift])
        self.__class__.v1 = b

    def test_2_health_check_fails_rolls_back(self):
        open(os.path.join(self.scripts, "fail-check"), "w").close()
        try:
            b = self.upload(b"v2\n", meta={"health_timeout_s": 3})
            self.assign(b)
            st = self.wait_state({"rolled_back"}, version=b["version"])
            self.assertEqual(st["reason"], "health_timeout")
            self.assertTrue(st["drift"])
        finally:
            os.unlink(os.path.join(self.scripts, "fail-check"))
        self.assertEqual(self.current(), b"v1\n")
        log = self.actions_log()
        self.assertEqual(len(log), 3, log)  # v1, v2, v1 again after the rollback
        self.assertEqual(log[0], log[2])
        drift = self.admin.get(f"/projects/{self.pid}/drift").expect(200).json["items"]
        self.assertIn(self.node_id, [d["node_id"] for d in drift])
        # A hanging action is killed at the deadline (the whole process group).
        b = self.upload(b"v2b\n", meta={"actions": ["hang:svc"], "health_timeout_s": 2})
        self.assign(b)
        st = self.wait_state({"rolled_back"}, version=b["version"])
        self.assertEqual(st["reason"], "action_timeout")
        self.assertEqual(self.current(), b"v1\n")
        # A bundle naming an action the station does not have never starts.
        b = self.upload(b"v2c\n", meta={"actions": ["reboot:now"]})
        self.assign(b)
        st = self.wait_state({"failed"}, version=b["version"])
        self.assertEqual(st["reason"], "action")
        self.assertEqual(self.current(), b"v1\n")
        b = self.upload(b"v3\n")
        self.assign(b)
        self.wait_state({"applied"}, version=b["version"])
        self.assertEqual(self.current(), b"v3\n")
        self.__class__.v3 = b

    def test_3_attacks_refused(self):
        good = self.v3
        nv = good["version"] + 1  # above the high-water mark: later checks are reached
        cur = self.installed()
        blob = {f["path"]: f for f in good["files"]}["etc/svc.conf"]
        files = [{"path": "etc/svc.conf", "sha256": blob["sha256"], "size": blob["size"],
                  "mode": "0644"}]
        # A bundle whose blob the test then damages in the server's store.
        victim = self.upload(b"victim\n", name="victim")
        vf = {f["path"]: f for f in victim["files"]}["etc/svc.conf"]
        self.srv.sql(f"UPDATE blobs SET content = convert_to('victiM' || chr(10), 'UTF8') "
                     f"WHERE sha256 = '{vf['sha256']}'")
        big = self.upload(b"x" * 300000, name="big")
        bf = {f["path"]: f for f in big["files"]}["etc/svc.conf"]
        stranger = gf.SigningKey()
        enc = lambda m: json.dumps(m, separators=(",", ":")).encode()

        def signed(m, key=None, key_id=None):
            return (key or self.op).envelope(enc(m), key_id=key_id)

        def flipped():
            e = signed(self.base_manifest(nv, files))
            data = bytearray(base64.b64decode(e["signed"]))
            data[10] ^= 1
            e["signed"] = base64.b64encode(bytes(data)).decode()
            return e

        cases = [
            ("signature", flipped()),
            ("unknown_key", signed(self.base_manifest(nv, files), key=stranger)),
            ("signature", signed(self.base_manifest(nv, files), key=stranger, key_id=self.op.key_id)),
            ("rollback", signed(self.base_manifest(good["version"] - 1, files))),
            ("conflict", signed(dict(self.base_manifest(good["version"], files), health_timeout_s=9))),
            ("expired", signed(dict(self.base_manifest(nv, files),
                                    created_at=ts(int(time.time()) - 7200),
                                    expires_at=ts(int(time.time()) - 3600)))),
            ("project", signed(dict(self.base_manifest(nv, files), project=str(uuid.uuid4())))),
            ("node", signed(dict(self.base_manifest(nv, files), node=str(uuid.uuid4())))),
            ("schema", signed(dict(self.base_manifest(nv, files), schema=2))),
            ("path", signed(self.base_manifest(nv, [dict(files[0], path="../../etc/passwd")]))),
            ("path", signed(self.base_manifest(nv, [dict(files[0], path="/etc/passwd")]))),
            ("hash", signed(self.base_manifest(nv, [dict(files[0], sha256=vf["sha256"],
                                                        size=vf["size"])]))),
            ("size", signed(self.base_manifest(nv, [dict(files[0], sha256=bf["sha256"],
                                                        size=1000)]))),
        ]
        for reason, env in cases:
            with self.subTest(reason=reason):
                sha = self.inject(env)
                st = gf.wait_for(lambda: self.state().get("state") == "failed" and self.state(),
                                 timeout=30, what=f"refusal {reason}")
                self.assertEqual(st["reason"], reason, st["manifest_sha256"])
                self.assertEqual(self.current(), b"v3\n")
                self.assertEqual(self.installed()["sha256"], cur["sha256"])
                self.srv.sql(f"UPDATE node_bundles SET state = 'pending', reason = NULL "
                             f"WHERE node_id = '{self.node_id}'")
                self.assertNotEqual(sha, cur["sha256"])
        # A rotation statement not signed by a key of the current root.
        seq = int(self.srv.scalar(f"SELECT max(seq) FROM trust_statements WHERE project_id = '{self.pid}'"))
        stmt = enc({"schema": 1, "type": "gatefleet.trust", "project": self.pid, "seq": seq + 1,
                    "created_at": ts(int(time.time())),
                    "keys": [{"key_id": stranger.key_id, "public_key": stranger.public_hex}]})
        self.srv.sql(f"INSERT INTO trust_statements (project_id, seq, statement, key_id, signature,"
                     f" signed_at) VALUES ('{self.pid}', {seq + 1}, convert_to('{stmt.decode()}',"
                     f" 'UTF8'), '{stranger.key_id}', decode('{stranger.sign(stmt).hex()}', 'hex'),"
                     f" now())")
        try:
            self.inject(signed(self.base_manifest(nv, files), key=stranger))
            st = gf.wait_for(lambda: self.state().get("state") == "failed" and self.state(),
                             timeout=30, what="rotation refused")
            self.assertEqual(st["reason"], "trust")
            self.assertEqual(self.current(), b"v3\n")
        finally:
            self.srv.sql(f"DELETE FROM trust_statements WHERE project_id = '{self.pid}' AND seq = {seq + 1}")
            self.srv.sql(f"UPDATE node_bundles SET state = 'pending', reason = NULL "
                         f"WHERE node_id = '{self.node_id}'")
        # A legitimate rotation: the operator key is retired by a statement the old root
        # signs; the agent follows it and no longer accepts that key.
        op_row = [k for k in self.admin.get(f"/projects/{self.pid}/signing-keys").json["items"]
                  if k["key_id"] == self.op.key_id][0]
        self.admin.post(f"/signing-keys/{op_row['id']}/retire").expect(200)
        self.inject(signed(self.base_manifest(nv, files)))
        st = gf.wait_for(lambda: self.state().get("state") == "failed" and self.state(),
                         timeout=30, what="retired key refused")
        self.assertEqual(st["reason"], "unknown_key")
        with open(os.path.join(self.agent.dir, "state", "bundles", "trust.json")) as f:
            root = json.loads(base64.b64decode(json.load(f)["signed"]))
        self.assertEqual(root["seq"], seq + 1)
        self.assertNotIn(self.op.key_id, [k["key_id"] for k in root["keys"]])
        self.assertEqual(self.current(), b"v3\n")

    def test_4_template_rendered_per_node(self):
        b = gf.upload_bundle(self.admin, self.pid, {
            "name": "svc", "actions": ["restart:svc"], "health_timeout_s": 5,
            "files": {"etc/svc.conf": {"template": True}},
            "parameters": {"default": {"port": "502", "mode": "rtu"},
                           "nodes": {self.node_id: {"port": "1502"}}}},
            [("etc/svc.conf", b"site=${site}\nport=${port}\nmode=${mode}\nlit=$${x}\n")]).expect(201).json
        self.assertTrue(b["templated"])
        st = self.assign(b)
        self.assertNotEqual(st["manifest_sha256"], b["manifest_sha256"], "rendered for the node")
        self.wait_state({"applied"}, version=b["version"])
        self.assertEqual(self.current(), b"site=north\nport=1502\nmode=rtu\nlit=${x}\n")
        # A placeholder without a value anywhere: refused at assignment, nothing changes.
        b2 = gf.upload_bundle(self.admin, self.pid, {"name": "svc", "files": {"etc/svc.conf": {"template": True}}},
                              [("etc/svc.conf", b"zone=${zone}\n")]).expect(201).json
        r = self.admin.put(f"/nodes/{self.node_id}/bundle", {"bundle_id": b2["id"]}).expect(422)
        self.assertIn("zone", r.json["detail"])
        self.assertEqual(self.state()["bundle_id"], b["id"])

    def test_5_killed_at_every_step(self):
        points = ["downloaded", "verified", "staged", "switching", "switched", "actions",
                  "health", "committing"]
        for i, point in enumerate(points):
            with self.subTest(point=point):
                old = self.current()
                new = f"fault {point}\n".encode()
                b = self.upload(new)
                self.agent.stop()
                self.agent.env = {"GF_AGENT_FAULT_AT": point}
                self.agent.start()
                self.assign(b)
                self.assertEqual(self.agent.wait_exit(40), 99, self.agent.text()[-2000:])
                self.agent.log.close()
                # Power cut: exactly the old or the new tree is active, never a mix.
                self.assertIn(self.current(), (old, new))
                self.agent.env = None
                self.agent.start()
                self.wait_state({"applied"}, version=b["version"])
                self.assertEqual(self.current(), new)
                self.assertEqual(self.current("bin/run.sh"), b"#!/bin/sh\n" + new)
        # Killed while an action runs: the restart resumes the actions and converges.
        b = self.upload(b"slow\n", meta={"actions": ["slow:svc"]})
        self.assign(b)
        gf.wait_for(lambda: "slow" in self.actions_log(), what="slow action running")
        self.agent.proc.send_signal(signal.SIGKILL)
        self.agent.proc.wait(10)
        self.agent.log.close()
        self.agent.start()
        self.wait_state({"applied"}, version=b["version"])
        self.assertEqual(self.current(), b"slow\n")

    def test_6_desired_survives_a_broker_restart(self):
        """Assigned while the station is off; then the broker restarts without persistence
        and forgets the retained desired message. The server publishes desired state again
        on its new session, so the station still converges when it comes back."""
        b = self.upload(b"after broker restart\n")
        self.agent.stop()
        self.assign(b)
        gf.wait_for(lambda: self.state().get("published"), what="desired published")
        self.broker.stop()
        self.broker.start()
        self.agent.start()
        self.wait_state({"applied"}, version=b["version"], timeout=60)
        self.assertEqual(self.current(), b"after broker restart\n")

    def test_7_clock_set_back_cannot_revive_an_old_manifest(self):
        """The station's clock goes back a day (flat RTC battery). A manifest that expired an
        hour ago looks valid to that clock; the floor (newest created_at ever accepted)
        refuses it."""
        lib = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
        self.assertTrue(lib, "libfaketime (Debian package faketime, scripts/deps) is missing")
        op2 = gf.SigningKey()
        self.admin.post(f"/projects/{self.pid}/signing-keys",
                        {"name": "operator 2", "public_key": op2.public_hex}).expect(201)
        cur = self.installed()
        blob = [f for f in self.upload(b"old\n", name="other")["files"]
                if f["path"] == "etc/svc.conf"][0]
        now = int(time.time())
        m = dict(self.base_manifest(max(h["version"] for h in cur["hwm"]) + 100, [
            {"path": "etc/svc.conf", "sha256": blob["sha256"], "size": blob["size"],
             "mode": "0644"}]), created_at=ts(now - 2 * 86400), expires_at=ts(now - 3600))
        self.agent.stop()
        asan = os.environ.get("ASAN_OPTIONS", "")
        self.agent.env = {"LD_PRELOAD": lib[0], "FAKETIME": "-1d",
                          "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                          "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
        try:
            self.agent.start()
            self.inject(op2.envelope(json.dumps(m, separators=(",", ":")).encode()))
            st = gf.wait_for(lambda: self.state().get("state") == "failed" and self.state(),
                             timeout=30, what="old manifest refused")
            self.assertEqual(st["reason"], "expired")
            self.assertEqual(self.installed()["sha256"], cur["sha256"])
        finally:
            self.agent.stop()
            self.agent.env = None
            self.agent.start()

    def test_8_final_status_survives_a_server_crash(self):
        """The server's MQTT client acknowledges a message to the broker when it reads it,
        before the COMMIT, so a server killed in between loses a status the broker counts as
        delivered. The agent keeps its final status until the server acknowledges it after
        the COMMIT, and sends it again. (The restarted server resumes its broker session, so
        it does not publish every desired message again, which would have made the agent
        report again anyway.)"""
        b = self.upload(b"v8\n", meta={"actions": ["slow:svc"]})  # applying lasts 2 s
        self.assign(b)
        self.wait_state({"applying"}, version=b["version"])
        mark = f"bundle={b['id']} version={b['version']} state=applied"
        db, state = self.srv.db, self.srv.state_dir
        self.srv.kill_with_uncommitted(self.node_id, lambda: mark in self.agent.text(),
                                       "the agent's applied report")
        self.assertEqual(self.srv.scalar(
            f"SELECT state FROM node_bundles WHERE node_id = '{self.node_id}'"), "applying")
        type(self).srv = gf.Server(db=db, name="bundles-2", extra_args=(
            "--fleet_interval_ms", "100", "--state_dir", state)).start()
        type(self).admin = self.srv.admin()
        gf.wait_for(lambda: "broker kept our session" in open(self.srv.log_path).read(),
                    what="the session resumed")
        st = self.wait_state({"applied"}, version=b["version"], timeout=60)
        self.assertEqual(st["applied_sha256"], b["manifest_sha256"])
        self.assertIn("final bundle status not acknowledged; sent it again", self.agent.text())
        self.assertNotIn("desired messages republished", open(self.srv.log_path).read())


if __name__ == "__main__":
    gf.main()

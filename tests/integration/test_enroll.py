# SPDX-License-Identifier: Apache-2.0
"""test_enroll.py - enrollment tokens, agent enrollment and admission over REST.

Speaks the agent's enrollment protocol itself (Ed25519 through libsodium, gf.NodeKey) so
every refusal can be provoked: unknown, revoked, expired and used-up tokens; re-enrollment
with the same key is the same node and uses no token; pending nodes poll with signed requests
(forged signature, wrong node header, clock skew, unknown node: 401); accept/reject with
audit; rejected keys are refused loudly (403); pre-authorised keys are accepted on first
contact; broker credentials are derived (the same on every accepted answer, new after a
reject/accept cycle) and never show up in node reads or in the server log. Node lists filter
by status, label selector and text.
"""

import json
import time

import gf


class EnrollTest(gf.GfTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.admin()
        cls.tenant = gf.make_tenant(cls.admin)
        cls.project = gf.make_project(cls.admin, cls.tenant["id"])
        cls.pid = cls.project["id"]
        cls.cluster = cls.admin.post(f"/projects/{cls.pid}/clusters", {
            "name": "local", "kind": "mosquitto", "agent_url": "mqtt://127.0.0.1:18830",
            "admin_username": "admin", "admin_password": "s3cret-admin-pw"}).expect(201).json
        cls.anon = cls.srv.client(csrf=None)

    def etoken(self, **kw):
        return self.admin.post(f"/projects/{self.pid}/enrollment-tokens", kw).expect(201).json

    def enroll(self, token, key, inventory=None, fingerprint=None, **extra):
        body = {"token": token, "public_key": key.public_text,
                "fingerprint": fingerprint or {"machine_id": "m-" + key.public_text[:8]},
                "inventory": inventory or {"hostname": "gate-" + key.public_text[:6]}}
        body.update(extra)
        return key.enroll(self.anon, body)

    def poll(self, key, node_id, ts=None, headers=None):
        path = f"{gf.API}/enroll/{node_id}"
        h = key.signed_headers(node_id, "GET", path, ts=ts) if headers is None else headers
        return self.anon.get(f"/enroll/{node_id}", headers=h)

    # ---------------------------------------------------------------- tokens
    def test_token_secret_shown_once_and_hashed(self):
        t = self.etoken(name="north", auto_accept=True, max_uses=5,
                        default_labels={"site": "north"})
        self.assertTrue(t["secret"].startswith("gfe_"))
        self.assertTrue(t["secret"].startswith(t["prefix"]))
        listed = self.admin.list_all(f"/projects/{self.pid}/enrollment-tokens")
        mine = [x for x in listed if x["id"] == t["id"]]
        self.assertEqual(len(mine), 1)
        self.assertNotIn("secret", mine[0])
        self.assertEqual(mine[0]["default_labels"], {"site": "north"})
        stored = self.srv.scalar(
            f"SELECT secret_hash FROM enrollment_tokens WHERE id = '{t['id']}'")
        self.assertNotIn(t["secret"], stored)
        self.assertNotIn(t["secret"], self.srv.log())

    def test_token_bad_input(self):
        base = f"/projects/{self.pid}/enrollment-tokens"
        for body, field in (({"max_uses": 0}, "/max_uses"),
                            ({"default_labels": {"bad key": "x"}}, "/default_labels"),
                            ({"default_labels": {"k": "a b"}}, "/default_labels"),
                            ({"expires_at": "2001-01-01T00:00:00Z"}, "/expires_at"),
                            ({"auto_accept": "yes"}, "/auto_accept"),
                            ({"colour": "red"}, "/colour")):
            before = self.srv.scalar("SELECT count(*) FROM enrollment_tokens")
            self.assertProblem(self.admin.post(base, body), 400, field=field)
            self.assertEqual(before, self.srv.scalar("SELECT count(*) FROM enrollment_tokens"))

    # ---------------------------------------------------------------- enrollment
    def test_auto_accept_and_reenroll_is_same_node(self):
        t = self.etoken(auto_accept=True, max_uses=1, default_labels={"site": "north"})
        key = gf.NodeKey()
        r = self.enroll(t["secret"], key, inventory={"hostname": "gate-7", "arch": "aarch64"})
        self.assertStatus(r, 200)
        a = r.json
        self.assertEqual(a["status"], "accepted")
        self.assertEqual(a["mqtt"]["url"], self.cluster["agent_url"])
        self.assertEqual(a["mqtt"]["username"], a["node_id"])
        self.assertEqual(a["mqtt"]["topic_root"], f"gf/v1/n/{a['node_id']}/")
        self.assertGreaterEqual(len(a["mqtt"]["password"]), 24)
        node = self.admin.get(f"/nodes/{a['node_id']}").expect(200).json
        self.assertEqual(node["status"], "accepted")
        self.assertEqual(node["name"], "gate-7")
        self.assertEqual(node["labels"], {"site": "north"})
        self.assertEqual(node["public_key"], key.public_text)
        self.assertEqual(node["inventory"]["arch"], "aarch64")
        self.assertNotIn(a["mqtt"]["password"], json.dumps(node))
        # Again (restart, lost answer): same node, same credentials, token not used up
        # even though max_uses is 1.
        again = self.enroll(t["secret"], key, inventory={"hostname": "gate-7", "arch": "x"})
        self.assertStatus(again, 200)
        self.assertEqual(again.json["node_id"], a["node_id"])
        self.assertEqual(again.json["mqtt"]["password"], a["mqtt"]["password"])
        self.assertEqual(self.srv.scalar(
            f"SELECT count(*) FROM nodes WHERE public_key = (SELECT public_key FROM nodes "
            f"WHERE id = '{a['node_id']}')"), "1")
        self.assertEqual(self.srv.scalar(
            f"SELECT uses FROM enrollment_tokens WHERE id = '{t['id']}'"), "1")
        # A broker account is wanted for it.
        self.assertEqual(self.srv.scalar(
            f"SELECT want FROM broker_accounts WHERE node_id = '{a['node_id']}'"), "present")
        # The audit trail has the enrollment, by the node.
        audit = self.admin.get(f"/tenants/{self.tenant['id']}/audit",
                               query={"action": "node.enroll"}).expect(200).json["items"]
        mine = [e for e in audit if e["object_id"] == a["node_id"]]
        self.assertTrue(mine)
        self.assertEqual(mine[0]["actor_type"], "node")
        self.assertNotIn(a["mqtt"]["password"], self.srv.log())
        self.assertNotIn(t["secret"], self.srv.log())

    def test_token_refusals(self):
        used = self.etoken(auto_accept=True, max_uses=1)
        self.assertStatus(self.enroll(used["secret"], gf.NodeKey()), 200)
        revoked = self.etoken(auto_accept=True)
        self.admin.delete(f"/enrollment-tokens/{revoked['id']}").expect(204)
        self.assertProblem(self.admin.delete(f"/enrollment-tokens/{revoked['id']}"), 409)
        expiring = self.etoken(auto_accept=True, expires_at=gf.rfc3339(time.time() + 2))
        time.sleep(2.5)
        cases = ((used["secret"], "maximum number"), (revoked["secret"], "revoked"),
                 (expiring["secret"], "expired"), ("gfe_" + "x" * 40, "unknown"))
        for secret, words in cases:
            before = self.srv.scalar("SELECT count(*) FROM nodes")
            r = self.enroll(secret, gf.NodeKey())
            self.assertProblem(r, 401)
            self.assertIn(words, r.json["detail"])
            self.assertEqual(before, self.srv.scalar("SELECT count(*) FROM nodes"))

    def test_malformed_enrollment(self):
        t = self.etoken(auto_accept=True)
        key = gf.NodeKey()
        cases = (({"token": t["secret"], "public_key": "short"}, "/public_key"),
                 ({"token": t["secret"], "public_key": "!" * 43}, "/public_key"),
                 ({"public_key": key.public_text}, "/token"),
                 ({"token": t["secret"], "public_key": key.public_text,
                   "fingerprint": {"machine_id": 7}}, "/fingerprint/machine_id"),
                 ({"token": t["secret"], "public_key": key.public_text, "inventory": []},
                  "/inventory"))
        for body, field in cases:
            before = self.srv.scalar("SELECT count(*) FROM nodes")
            self.assertProblem(self.anon.post("/enroll", body), 400, field=field)
            self.assertEqual(before, self.srv.scalar("SELECT count(*) FROM nodes"))
        big = {"token": t["secret"], "public_key": key.public_text,
               "inventory": {"blob": "x" * 70000}}
        self.assertProblem(key.enroll(self.anon, big), 413)

    def test_enrollment_needs_proof_of_possession(self):
        """Without a signature by the enrolled key nobody gets a node's credentials, not
        even with a valid token and the node's (readable) public key; stored answers are
        never replayed to anonymous callers."""
        t = self.etoken(auto_accept=True)
        key, thief = gf.NodeKey(), gf.NodeKey()
        body = {"token": t["secret"], "public_key": key.public_text,
                "inventory": {"hostname": "victim"}}
        ok = key.enroll(self.anon, body, )
        self.assertStatus(ok, 200)
        before = self.srv.scalar("SELECT count(*) FROM nodes")
        r = self.anon.post("/enroll", body)
        self.assertProblem(r, 401)
        self.assertNotIn("password", r.text)
        raw = json.dumps(body).encode()
        forged = thief.signed_headers(None, "POST", gf.API + "/enroll", raw)
        r = self.anon.post("/enroll", raw=raw, headers=forged)
        self.assertProblem(r, 401)
        self.assertNotIn(ok.json["mqtt"]["password"], r.text)
        skew = key.enroll(self.anon, body, ts=int(time.time()) - 3600)
        self.assertProblem(skew, 401)
        self.assertIn("clock", skew.json["detail"])
        # An Idempotency-Key does not turn a signed answer into a replayable one.
        h = key.signed_headers(None, "POST", gf.API + "/enroll", raw)
        h["Idempotency-Key"] = "same-key"
        self.assertStatus(self.anon.post("/enroll", raw=raw, headers=h), 200)
        r = self.anon.post("/enroll", raw=raw, headers={"Idempotency-Key": "same-key"})
        self.assertProblem(r, 401)
        self.assertNotIn(ok.json["mqtt"]["password"], r.text)
        self.assertEqual(before, self.srv.scalar("SELECT count(*) FROM nodes"))

    def test_pending_accept_reject_cycle(self):
        t = self.etoken(auto_accept=False)
        key = gf.NodeKey()
        r = self.enroll(t["secret"], key)
        self.assertStatus(r, 202)
        node_id = r.json["node_id"]
        self.assertEqual(r.json["status"], "pending")
        self.assertNotIn("mqtt", r.json)
        self.assertStatus(self.poll(key, node_id), 202)
        pending = self.admin.list_all(f"/projects/{self.pid}/nodes",
                                      query={"status": "pending"})
        self.assertIn(node_id, [n["id"] for n in pending])
        self.assertIsNone(self.srv.scalar(
            f"SELECT want FROM broker_accounts WHERE node_id = '{node_id}'"))
        # Accept: the poll now carries credentials; the account is wanted.
        self.admin.post(f"/nodes/{node_id}/accept").expect(200)
        p = self.poll(key, node_id)
        self.assertStatus(p, 200)
        pw1 = p.json["mqtt"]["password"]
        self.assertEqual(self.srv.scalar(
            f"SELECT want FROM broker_accounts WHERE node_id = '{node_id}'"), "present")
        # Reject: poll and re-enroll are refused loudly; the account is to be removed.
        self.admin.post(f"/nodes/{node_id}/reject").expect(200)
        self.assertProblem(self.poll(key, node_id), 403)
        r = self.enroll(t["secret"], key)
        self.assertProblem(r, 403)
        self.assertIn("must not retry", r.json["detail"])
        self.assertEqual(self.srv.scalar(
            f"SELECT want FROM broker_accounts WHERE node_id = '{node_id}'"), "absent")
        # Accepting again issues new credentials (the old password stays dead).
        self.admin.post(f"/nodes/{node_id}/accept").expect(200)
        pw2 = self.poll(key, node_id).expect(200).json["mqtt"]["password"]
        self.assertNotEqual(pw1, pw2)
        actions = [e["action"] for e in self.admin.get(
            f"/tenants/{self.tenant['id']}/audit", query={"object_id": node_id}).json["items"]]
        for a in ("node.enroll", "node.accept", "node.reject"):
            self.assertIn(a, actions)

    def test_signed_poll_refusals(self):
        t = self.etoken(auto_accept=False)
        key, other = gf.NodeKey(), gf.NodeKey()
        node_id = self.enroll(t["secret"], key).expect(202).json["node_id"]
        path = f"{gf.API}/enroll/{node_id}"
        forged = other.signed_headers(node_id, "GET", path)
        self.assertProblem(self.poll(key, node_id, headers=forged), 401)
        wrong_node = key.signed_headers(gf.random_uuid(), "GET", path)
        self.assertProblem(self.poll(key, node_id, headers=wrong_node), 401)
        self.assertProblem(self.poll(key, node_id, headers={}), 401)
        skew = self.poll(key, node_id, ts=int(time.time()) - 3600)
        self.assertProblem(skew, 401)
        self.assertIn("clock", skew.json["detail"])
        ghost = gf.random_uuid()
        unknown = self.poll(key, ghost)
        self.assertProblem(unknown, 401)
        # Tampered path (signature over another node's path) is refused too.
        tampered = key.signed_headers(node_id, "GET", f"{gf.API}/enroll/{ghost}")
        self.assertProblem(self.poll(key, node_id, headers=tampered), 401)

    def test_preauthorised_key_is_accepted_on_first_contact(self):
        key = gf.NodeKey()
        n = self.admin.post(f"/projects/{self.pid}/nodes", {
            "public_key": key.public_text, "name": "well-12",
            "labels": {"site": "south"}}).expect(201).json
        self.assertEqual(n["status"], "accepted")
        self.assertProblem(self.admin.post(f"/projects/{self.pid}/nodes", {
            "public_key": key.public_text}), 409)
        t = self.etoken(auto_accept=False)
        r = self.enroll(t["secret"], key)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["node_id"], n["id"])
        node = self.admin.get(f"/nodes/{n['id']}").json
        self.assertEqual(node["name"], "well-12")
        self.assertIsNotNone(node["enrolled_at"])

    def test_no_cluster_means_retry_later(self):
        p2 = gf.make_project(self.admin, self.tenant["id"])
        t = self.admin.post(f"/projects/{p2['id']}/enrollment-tokens",
                            {"auto_accept": True}).expect(201).json
        before = self.srv.scalar("SELECT count(*) FROM nodes")
        r = self.enroll(t["secret"], gf.NodeKey())
        self.assertProblem(r, 503)
        self.assertEqual(before, self.srv.scalar("SELECT count(*) FROM nodes"))

    # ---------------------------------------------------------------- node lists
    def test_list_filters_selector_text_and_patch(self):
        p = gf.make_project(self.admin, self.tenant["id"])
        made = {}
        for name, labels in (("gate-north-1", {"site": "north", "role": "gate"}),
                             ("reg-north-2", {"site": "north", "role": "regulator"}),
                             ("well_south-3", {"site": "south", "role": "well"}),
                             ("gate-test-4", {"site": "north", "role": "gate",
                                              "decommissioned": "yes"}),
                             ("bare-5", {})):
            made[name] = self.admin.post(f"/projects/{p['id']}/nodes", {
                "public_key": gf.random_public_key(), "name": name,
                "labels": labels}).expect(201).json["id"]

        def names(**q):
            return sorted(n["name"] for n in self.admin.list_all(f"/projects/{p['id']}/nodes",
                                                                 query=q))
        self.assertEqual(names(selector="site=north,role in (gate,regulator),!decommissioned"),
                         ["gate-north-1", "reg-north-2"])
        # A node without the key matches neither "=" nor "in", and does match "!=" and notin.
        self.assertEqual(names(selector="site=north"),
                         ["gate-north-1", "gate-test-4", "reg-north-2"])
        self.assertEqual(names(selector="role in (well)"), ["well_south-3"])
        self.assertEqual(names(selector="role notin (gate)"),
                         ["bare-5", "reg-north-2", "well_south-3"])
        self.assertEqual(names(selector="site!=north"), ["bare-5", "well_south-3"])
        # "key=value" terms alone are answered by a containment test (migration 0010); with a
        # key twice, or with other terms, the full matcher still decides.
        self.assertEqual(names(selector="site=north,role=gate"), ["gate-north-1", "gate-test-4"])
        self.assertEqual(names(selector="site=north,site=south"), [])
        self.assertEqual(names(selector="site=north,site==north"),
                         ["gate-north-1", "gate-test-4", "reg-north-2"])
        self.assertEqual(names(selector="site=north,!decommissioned,role!=gate"),
                         ["reg-north-2"])
        self.assertEqual(names(selector="decommissioned=yes"), ["gate-test-4"])
        self.assertEqual(names(selector="site=North"), [])  # values compare exactly
        self.assertEqual(names(q="NORTH"), ["gate-north-1", "reg-north-2"])
        self.assertEqual(names(q="_"), ["well_south-3"])  # _ is not a wildcard
        self.assertEqual(names(q="%"), [])
        self.assertEqual(names(online="true"), [])
        self.assertEqual(len(names(online="false")), 5)
        self.assertEqual(len(names(status="accepted", limit=1)), 5)
        for q, field in (({"selector": "site in north"}, "selector"),
                         ({"status": "sleeping"}, "status"), ({"online": "maybe"}, "online")):
            self.assertProblem(self.admin.get(f"/projects/{p['id']}/nodes", query=q), 400,
                               field=field)
        # PATCH with If-Match; bad labels change nothing.
        nid = made["gate-north-1"]
        r = self.admin.get(f"/nodes/{nid}")
        etag = r.header("ETag")
        self.assertProblem(self.admin.patch(f"/nodes/{nid}", {"labels": {"bad key": "x"}}), 400,
                           field="/labels")
        u = self.admin.patch(f"/nodes/{nid}", {"labels": {"site": "east"}},
                             headers={"If-Match": etag}).expect(200).json
        self.assertEqual(u["labels"], {"site": "east"})
        self.assertProblem(self.admin.patch(f"/nodes/{nid}", {"name": "x"},
                                            headers={"If-Match": etag}), 412)
        # Delete: the node is gone and its account is to be removed.
        self.admin.delete(f"/nodes/{nid}").expect(204)
        self.assertStatus(self.admin.get(f"/nodes/{nid}"), 404)

    def test_cluster_secret_sealed_and_hidden(self):
        c = self.admin.get(f"/clusters/{self.cluster['id']}").expect(200).json
        self.assertTrue(c["has_admin_password"])
        self.assertNotIn("s3cret-admin-pw", json.dumps(c))
        raw = self.srv.scalar(
            f"SELECT encode(admin_secret, 'escape') FROM broker_clusters WHERE id = '{c['id']}'")
        self.assertNotIn("s3cret-admin-pw", raw)
        self.assertNotIn("s3cret-admin-pw", self.srv.log())
        for body, field in (({"kind": "rabbit"}, "/kind"), ({"agent_url": "http://x"}, "/agent_url"),
                            ({"agent_url": "mqtt://h:99999"}, "/agent_url")):
            full = {"name": gf.uniq("c"), "kind": "mosquitto", "agent_url": "mqtt://127.0.0.1:1",
                    "admin_username": "a", "admin_password": "b"}
            full.update(body)
            self.assertProblem(self.admin.post(f"/projects/{self.pid}/clusters", full), 400,
                               field=field)


if __name__ == "__main__":
    gf.main()

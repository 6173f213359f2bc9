# SPDX-License-Identifier: Apache-2.0
"""test_bola.py - broken object-level authorization, route by route.

Reads the router table (`gatefleet-server routes`). Tenant A has an owner, a viewer member,
a project and an API token; user B owns tenant B only. For EVERY route with a path
parameter, A's ids are substituted (tenant_id, project_id, user_id = A's viewer, token_id =
a token of A's owner; any other parameter gets a random UUID) and the route is called as B,
once with B's session (+ CSRF) and once with B's owner token, with a plausible body. Each
answer must be 404, indistinguishable from the answer for ids that do not exist, and must
not contain A's names, e-mails or ids (beyond what the same call with unknown ids echoes).
Routes under /users are server-admin only: B gets 403 (or 404) there, also without leaking.
Then A's objects are re-read as A's owner to prove nothing changed, list endpoints are
checked to never include A's objects, body-borne ids (POST /tokens tenant_id) are checked,
and an Idempotency-Key used by A does not replay A's answer to B.
"""

import json
import re

import gf

SUBST = ("tenant_id", "project_id", "user_id", "token_id", "node_id", "cluster_id",
         "enrollment_token_id", "bundle_id", "signing_key_id", "rollout_id", "command_id",
         "batch_id", "stream_id")
VOLATILE = ("request_id", "trace_id", "instance")


def plausible_body(method, path, b_user_id):
    """A body that would do damage if the route let it through."""
    if method not in ("POST", "PUT", "PATCH"):
        return None
    p = path[len(gf.API):]
    if re.fullmatch(r"/tenants/\{tenant_id\}/members", p):
        return {"user_id": b_user_id, "role": "owner"}
    if re.fullmatch(r"/tenants/\{tenant_id\}/members/\{user_id\}", p):
        return {"role": "owner"}
    if re.fullmatch(r"/tenants/\{tenant_id\}/projects", p):
        return {"name": gf.uniq("bola")}
    if re.fullmatch(r"/projects/\{project_id\}", p):
        return {"name": gf.uniq("pwned"), "description": "pwned"}
    if re.fullmatch(r"/tenants/\{tenant_id\}", p):
        return {"name": "pwned"}
    if re.fullmatch(r"/users/\{user_id\}", p):
        return {"is_admin": True, "disabled": True, "name": "pwned"}
    return {"name": gf.uniq("pwned")}


def known_route(path):
    """True when every parameter of the route is one we substitute with A's ids."""
    return all(n in SUBST for n in re.findall(r"\{(\w+)\}", path))


class BolaTest(gf.GfTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        admin = cls.admin = cls.srv.admin()
        # Tenant A: owner, viewer member, project, token.
        cls.owner_a = cls.srv.user()
        cls.member_a = cls.srv.user()
        cls.a = gf.make_tenant(admin)
        gf.add_member(admin, cls.a["id"], "owner", user_id=cls.owner_a.user["id"])
        gf.add_member(admin, cls.a["id"], "viewer", user_id=cls.member_a.user["id"])
        cls.pa = gf.make_project(cls.owner_a, cls.a["id"], description="secret plans of A")
        cls.tok_a = gf.make_token(cls.owner_a, cls.a["id"], "admin")
        # A's fleet objects: a broker cluster, an enrollment token, a pre-authorised node.
        cls.cluster_a = cls.owner_a.post(f"/projects/{cls.pa['id']}/clusters", {
            "name": gf.uniq("cluster-a"), "kind": "mosquitto", "agent_url": gf.closed_mqtt_url(),
            "admin_username": "admin-a", "admin_password": gf.new_password()}).expect(201).json
        cls.etok_a = cls.owner_a.post(f"/projects/{cls.pa['id']}/enrollment-tokens",
                                      {"name": gf.uniq("etok-a")}).expect(201).json
        cls.node_a = cls.owner_a.post(f"/projects/{cls.pa['id']}/nodes", {
            "public_key": gf.random_public_key(), "name": gf.uniq("node-a"),
            "labels": {"site": "a-secret-site"}}).expect(201).json
        # A's signed bundle (its first upload makes the project's signing key).
        cls.bundle_a = gf.upload_bundle(cls.owner_a, cls.pa["id"], {"name": "a-secret-bundle"},
                                        [("etc/a.conf", b"secret=a\n")]).expect(201).json
        cls.key_a = cls.owner_a.get(f"/projects/{cls.pa['id']}/signing-keys").json["items"][0]
        # A's rollout, a draft (B starting, pausing or cancelling it would show in read_a).
        cls.rollout_a = cls.owner_a.post(f"/projects/{cls.pa['id']}/rollouts", {
            "name": "a-secret-rollout", "bundle_id": cls.bundle_a["id"], "draft": True,
            "target": {"selector": "site=a-secret-site"}}).expect(201).json
        # A's finished command, command batch and ended log stream with a chunk, written
        # directly: A's node never connects (final states, so no sweep changes them).
        cls.batch_a, cls.command_a, cls.stream_a = cls.srv.sql(
            f"WITH b AS (INSERT INTO command_batches (project_id, selector, name, timeout_ms,"
            f" concurrency, total, requested_label) VALUES ('{cls.pa['id']}',"
            f" 'site=a-secret-site', 'a-secret-command', 1000, 1, 1, 'a-secret-label')"
            f" RETURNING id), c AS (INSERT INTO commands (project_id, node_id, batch_id, name,"
            f" timeout_ms, deadline_at, state, output, finished_at) SELECT"
            f" '{cls.pa['id']}', '{cls.node_a['id']}', b.id, 'a-secret-command', 1000, now(),"
            f" 'succeeded', 'a-secret-output', now() FROM b RETURNING id),"
            f" s AS (INSERT INTO log_streams (project_id, node_id, source, state, ends_at,"
            f" last_seq, lines) VALUES ('{cls.pa['id']}', '{cls.node_a['id']}',"
            f" '{{\"path\": \"/var/log/a-secret.log\"}}', 'ended', now(), 1, 1) RETURNING id),"
            f" k AS (INSERT INTO log_chunks (stream_id, seq, chunk) SELECT s.id, 1,"
            f" '{{\"seq\":1,\"lines\":[\"a-secret-line\"]}}' FROM s)"
            f" SELECT b.id, c.id, s.id FROM b, c, s")[0]
        # Tenant B: its owner is the attacker.
        cls.b_user = cls.srv.user()
        cls.b = gf.make_tenant(admin)
        gf.add_member(admin, cls.b["id"], "owner", user_id=cls.b_user.user["id"])
        cls.pb = gf.make_project(cls.b_user, cls.b["id"])
        cls.tok_b = gf.make_token(cls.b_user, cls.b["id"], "owner")
        cls.b_token = cls.srv.client(token=cls.tok_b["secret"])

        cls.ids = {"tenant_id": cls.a["id"], "project_id": cls.pa["id"],
                   "user_id": cls.member_a.user["id"], "token_id": cls.tok_a["id"],
                   "node_id": cls.node_a["id"], "cluster_id": cls.cluster_a["id"],
                   "enrollment_token_id": cls.etok_a["id"], "bundle_id": cls.bundle_a["id"],
                   "signing_key_id": cls.key_a["id"], "rollout_id": cls.rollout_a["id"],
                   "command_id": cls.command_a, "batch_id": cls.batch_a,
                   "stream_id": cls.stream_a}
        cls.a_names = [cls.a["name"], cls.a["slug"], cls.pa["name"], cls.pa["description"],
                       cls.owner_a.email, cls.member_a.email, cls.tok_a["name"],
                       cls.tok_a["prefix"], cls.tok_a["secret"], cls.cluster_a["name"],
                       cls.etok_a["name"], cls.etok_a["secret"], cls.node_a["name"],
                       "a-secret-site", "a-secret-bundle", cls.key_a["key_id"],
                       "a-secret-rollout", "a-secret-command", "a-secret-output",
                       "a-secret-label", "a-secret.log", "a-secret-line"]
        cls.a_ids = [cls.a["id"], cls.pa["id"], cls.owner_a.user["id"],
                     cls.member_a.user["id"], cls.tok_a["id"], cls.node_a["id"],
                     cls.cluster_a["id"], cls.etok_a["id"], cls.bundle_a["id"], cls.key_a["id"],
                     cls.rollout_a["id"], cls.command_a, cls.batch_a, cls.stream_a]
        cls.snapshot_a = cls.read_a()

    @classmethod
    def read_a(cls):
        o = cls.owner_a
        tenant = o.get(f"/tenants/{cls.a['id']}")
        project = o.get(f"/projects/{cls.pa['id']}")
        members = o.list_all(f"/tenants/{cls.a['id']}/members")
        projects = o.list_all(f"/tenants/{cls.a['id']}/projects")
        tokens = [t for t in o.list_all("/tokens") if t["id"] == cls.tok_a["id"]]
        for t in tokens:
            t.pop("last_used_at", None)
        member = cls.admin.get(f"/users/{cls.member_a.user['id']}").json
        return {"tenant": (tenant.status, tenant.json, tenant.header("ETag")),
                "project": (project.status, project.json, project.header("ETag")),
                "members": sorted((m["user_id"], m["role"]) for m in members),
                "projects": sorted(p["id"] for p in projects),
                "tokens": tokens,
                "rollout": {k: o.get(f"/rollouts/{cls.rollout_a['id']}").json.get(k)
                            for k in ("state", "updated_at", "targets")},
                "member_user": {k: member.get(k) for k in ("is_admin", "disabled", "name")},
                "commands": o.get(f"/commands/{cls.command_a}").json,
                "batch": o.get(f"/command-batches/{cls.batch_a}").json,
                "stream": o.get(f"/log-streams/{cls.stream_a}").json,
                "node_commands": cls.srv.scalar(
                    f"SELECT count(*) FROM commands WHERE node_id = '{cls.node_a['id']}'")}

    # ------------------------------------------------------------ helpers
    def fill(self, path, ids):
        def sub(m):
            return ids.get(m.group(1)) or gf.random_uuid()
        return re.sub(r"\{(\w+)\}", sub, path)

    def normalise(self, r, ids):
        text = r.text
        for v in ids.values():
            text = text.replace(v, "<id>")
        try:
            j = json.loads(text)
        except ValueError:
            return text
        if isinstance(j, dict):
            for k in VOLATILE:
                j.pop(k, None)
        return j

    def call(self, client, method, path, body):
        if method in ("GET", "DELETE"):
            return client.request(method, path)
        return client.request(method, path, body)

    def check_route(self, client, mode, rt, results):
        method, path = rt["method"], rt["path"]
        body = plausible_body(method, path, self.b_user.user["id"])
        real_path = self.fill(path, self.ids)
        ghost_ids = {k: gf.random_uuid() for k in SUBST}
        ghost_path = self.fill(path, ghost_ids)
        r = self.call(client, method, real_path, body)
        ghost = self.call(client, method, ghost_path, body)
        label = f"[{mode}] {method} {path}"
        results.append(f"{label} -> {r.status}")
        for s in self.a_names:
            self.assertNotIn(s, r.text, f"{label} leaks {s!r}: {r!r}")
        admin_only = path.startswith(gf.API + "/users")
        session_only = path.startswith(gf.API + "/tokens") and mode == "token"
        if rt["auth"] == "node":
            # Agent routes signed by the node's key: B has no key, same 401 as for no node.
            self.assertEqual(r.status, 401, f"{label}: {r!r}")
        elif admin_only or session_only:
            self.assertIn(r.status, (401, 403, 404), f"{label}: {r!r}")
        elif known_route(path) or body is None:
            self.assertEqual(r.status, 404, f"{label}: {r!r}")
        else:
            # A parameter we cannot fill and a body we cannot know: validation may come
            # first, but it must be the same answer as for ids that do not exist.
            self.assertIn(r.status, (400, 404, 422), f"{label}: {r!r}")
        self.assertEqual(r.status, ghost.status,
                         f"{label}: answer differs from a non-existent object: {r!r} vs "
                         f"{ghost!r}")
        self.assertEqual(self.normalise(r, self.ids), self.normalise(ghost, ghost_ids),
                         f"{label}: body differs from a non-existent object's")
        stripped = self.normalise(r, self.ids)
        stripped = json.dumps(stripped) if not isinstance(stripped, str) else stripped
        for s in self.a_ids:
            self.assertNotIn(s, stripped, f"{label} leaks id {s}")

    def param_routes(self):
        rts = [rt for rt in gf.routes()
               if "{" in rt["path"] and rt["path"].startswith(gf.API + "/")]
        self.assertTrue(rts, "no parameterised routes")
        # Destructive ones last, so a hole in a DELETE cannot hide others.
        return sorted(rts, key=lambda rt: (rt["method"] == "DELETE", rt["path"], rt["method"]))

    def assert_a_unchanged(self):
        now = self.read_a()
        self.assertEqual(now, self.snapshot_a, "tenant A changed")
        self.assertStatus(self.srv.client(token=self.tok_a["secret"]).get("/auth/me"), 200)

    # ------------------------------------------------------------ tests
    def test_every_param_route_as_b_session(self):
        results = []
        for rt in self.param_routes():
            with self.subTest(route=f"{rt['method']} {rt['path']}"):
                self.check_route(self.b_user, "session", rt, results)
        print("\n".join(results))
        self.assert_a_unchanged()

    def test_every_param_route_as_b_token(self):
        results = []
        for rt in self.param_routes():
            with self.subTest(route=f"{rt['method']} {rt['path']}"):
                self.check_route(self.b_token, "token", rt, results)
        print("\n".join(results))
        self.assert_a_unchanged()

    def test_lists_never_include_a(self):
        for client, mode in ((self.b_user, "session"), (self.b_token, "token")):
            tenants = client.list_all("/tenants")
            self.assertEqual([t["id"] for t in tenants], [self.b["id"]], mode)
            for rt in gf.routes():
                path = rt["path"]
                if rt["method"] != "GET" or "{" in path or not path.startswith(gf.API + "/"):
                    continue
                if path == gf.API + "/openapi.json":
                    continue
                r = client.request("GET", path)
                self.assertIn(r.status, (200, 401, 403), f"[{mode}] GET {path}: {r!r}")
                for s in self.a_names + self.a_ids:
                    self.assertNotIn(s, r.text, f"[{mode}] GET {path} leaks {s!r}")
        for path in (f"/tenants/{self.b['id']}/projects", f"/tenants/{self.b['id']}/members",
                     f"/tenants/{self.b['id']}/audit"):
            r = self.b_user.get(path)
            self.assertStatus(r, 200)
            for s in self.a_names + [self.a["id"], self.pa["id"], self.tok_a["id"]]:
                self.assertNotIn(s, r.text, f"GET {path} leaks {s!r}")
        me = self.b_user.get("/auth/me").json
        self.assertEqual([m["tenant_id"] for m in me["memberships"]], [self.b["id"]])

    def test_body_borne_tenant_id(self):
        # POST /tokens naming A's tenant: refused exactly like a tenant that does not exist.
        before = {t["id"] for t in self.b_user.list_all("/tokens")}
        r = self.b_user.post("/tokens", {"name": "steal", "tenant_id": self.a["id"],
                                         "role": "viewer"})
        ghost_id = gf.random_uuid()
        ghost = self.b_user.post("/tokens", {"name": "steal", "tenant_id": ghost_id,
                                             "role": "viewer"})
        self.assertIn(r.status, (400, 404, 422), repr(r))
        self.assertEqual(r.status, ghost.status, f"{r!r} vs {ghost!r}")
        self.assertEqual(r.text.replace(self.a["id"], "<id>"),
                         ghost.text.replace(ghost_id, "<id>"))
        for s in self.a_names:
            self.assertNotIn(s, r.text)
        self.assertNotIn("gft_", r.text)
        self.assertEqual({t["id"] for t in self.b_user.list_all("/tokens")}, before)
        self.assert_a_unchanged()

    def test_body_borne_bundle_and_node_ids_of_a(self):
        # A rollout in B's own project naming A's bundle, or A's node: refused exactly like
        # ids that do not exist, nothing of A named, nothing stored.
        pb = self.pb["id"]
        bundle_b = gf.upload_bundle(self.b_user, pb, {"name": "b-bundle"},
                                    [("etc/b.conf", b"b\n")]).expect(201).json["id"]
        before = self.b_user.list_all(f"/projects/{pb}/rollouts")
        for field, a_id in (("bundle", self.bundle_a["id"]), ("node", self.node_a["id"])):
            ghost_id = gf.random_uuid()

            def body(x):
                return ({"bundle_id": x, "target": {"selector": "x=y"}} if field == "bundle"
                        else {"bundle_id": bundle_b, "target": {"node_ids": [x]}})
            r = self.b_user.post(f"/projects/{pb}/rollouts", body(a_id))
            ghost = self.b_user.post(f"/projects/{pb}/rollouts", body(ghost_id))
            self.assertProblem(r, 422, None, "/bundle_id" if field == "bundle"
                               else "/target/node_ids")
            self.assertEqual(r.status, ghost.status, f"{r!r} vs {ghost!r}")
            self.assertEqual(r.text.replace(a_id, "<id>"), ghost.text.replace(ghost_id, "<id>"))
            for s in self.a_names:
                self.assertNotIn(s, r.text)
        self.assertEqual(self.b_user.list_all(f"/projects/{pb}/rollouts"), before)
        self.assert_a_unchanged()

    def test_idempotency_key_does_not_cross_callers(self):
        key = gf.uniq("shared-key")
        body = {"name": gf.uniq("idem")}
        ra = self.owner_a.post(f"/tenants/{self.a['id']}/projects", body, idempotency_key=key)
        self.assertStatus(ra, 201)
        self.snapshot_a = self.read_a()
        rb = self.b_user.post(f"/tenants/{self.b['id']}/projects", body, idempotency_key=key)
        self.assertStatus(rb, 201)
        self.assertNotEqual(rb.header("Idempotent-Replayed"), "true")
        self.assertEqual(rb.json["tenant_id"], self.b["id"])
        self.assertNotEqual(rb.json["id"], ra.json["id"])
        # Same key, A's path: not A's stored answer either.
        rc = self.b_user.post(f"/tenants/{self.a['id']}/projects", body, idempotency_key=key)
        self.assertIn(rc.status, (404, 422), repr(rc))
        self.assertNotEqual(rc.header("Idempotent-Replayed"), "true")
        self.assertNotIn(ra.json["id"], rc.text)
        self.assert_a_unchanged()

    def test_b_has_no_success_in_a_audit(self):
        evs = self.owner_a.list_all(f"/tenants/{self.a['id']}/audit",
                                    query={"actor": self.b_user.user["id"],
                                           "outcome": "success"})
        self.assertEqual(evs, [])


if __name__ == "__main__":
    gf.main()

# SPDX-License-Identifier: Apache-2.0
"""test_tokens.py - API tokens.

The secret is shown once (create) and never again (list, log); a token works as Bearer
without CSRF; it is scoped to its tenant (another tenant of the same user is 404); its role
caps what it can do and so does its user's current membership role; revoked and expired
tokens are 401; a user cannot mint a token above their own role, for a tenant they cannot see,
or with an expiry beyond one year; tokens cannot manage tokens.
"""

import time

import gf


class TokenTest(gf.GfTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.admin()
        cls.secrets = []
        # u: owner of A, viewer of B, operator of C.
        cls.u = cls.srv.user()
        cls.a = gf.make_tenant(cls.admin)
        cls.b = gf.make_tenant(cls.admin)
        cls.cten = gf.make_tenant(cls.admin)
        gf.add_member(cls.admin, cls.a["id"], "owner", user_id=cls.u.user["id"])
        gf.add_member(cls.admin, cls.b["id"], "viewer", user_id=cls.u.user["id"])
        gf.add_member(cls.admin, cls.cten["id"], "operator", user_id=cls.u.user["id"])
        cls.pb = gf.make_project(cls.admin, cls.b["id"])

    def token(self, tenant, role, **kw):
        t = gf.make_token(self.u, tenant["id"], role, **kw)
        self.secrets.append(t.get("secret"))
        return t

    def bearer(self, t):
        return self.srv.client(token=t["secret"])

    def test_create_shows_secret_once(self):
        t = self.token(self.a, "admin")
        for k in ("id", "name", "prefix", "tenant_id", "role", "created_at", "expires_at",
                  "secret"):
            self.assertIn(k, t)
        self.assertTrue(t["secret"].startswith("gft_"), t["secret"][:8])
        self.assertTrue(t["secret"].startswith(t["prefix"]))
        self.assertLess(len(t["prefix"]), len(t["secret"]))
        self.assertEqual(t["tenant_id"], self.a["id"])
        self.assertEqual(t["role"], "admin")
        self.assertIsNone(t.get("revoked_at"))
        r = self.u.get("/tokens")
        self.assertStatus(r, 200)
        self.assertNotIn(t["secret"], r.text)
        mine = [x for x in r.json["items"] if x["id"] == t["id"]]
        self.assertEqual(len(mine), 1)
        self.assertNotIn("secret", mine[0])
        self.assertNotIn("secret_hash", mine[0])
        self.assertEqual(mine[0]["prefix"], t["prefix"])

    def test_list_shows_only_own_tokens(self):
        t = self.token(self.a, "viewer")
        other = self.srv.user()
        r = other.get("/tokens")
        self.assertStatus(r, 200)
        self.assertNotIn(t["id"], r.text)

    def test_default_expiry_is_90_days(self):
        t = self.token(self.a, "viewer")
        delta = gf.parse_time(t["expires_at"]) - gf.parse_time(t["created_at"])
        self.assertAlmostEqual(delta, 90 * 86400, delta=120)

    def test_expiry_beyond_one_year_is_400(self):
        r = self.u.post("/tokens", {"name": "too long", "tenant_id": self.a["id"],
                                    "role": "viewer",
                                    "expires_at": gf.rfc3339(time.time() + 400 * 86400)})
        self.assertProblem(r, 400, field="/expires_at")

    def test_token_works_as_bearer_without_csrf(self):
        t = self.token(self.a, "admin")
        c = self.bearer(t)
        r = c.get("/auth/me")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["auth"], "token")
        self.assertEqual(r.json["user"]["id"], self.u.user["id"])
        self.assertEqual(r.json["token"]["id"], t["id"])
        self.assertEqual(r.json["token"]["tenant_id"], self.a["id"])
        self.assertEqual(r.json["token"]["role"], "admin")
        self.assertNotIn("csrf_token", r.json)
        self.assertStatus(c.get(f"/tenants/{self.a['id']}"), 200)
        r = c.post(f"/tenants/{self.a['id']}/projects", {"name": gf.uniq("tokproj")})
        self.assertStatus(r, 201)
        self.assertIsNone(c.set_cookies.get("gf_session"), "bearer call set a session cookie")

    def test_token_scoped_to_its_tenant(self):
        t = self.token(self.a, "owner")
        c = self.bearer(t)
        # u is a viewer of B, but this token is for A only: B does not exist for it.
        r = c.get(f"/tenants/{self.b['id']}")
        self.assertProblem(r, 404)
        self.assertNotIn(self.b["name"], r.text)
        self.assertProblem(c.get(f"/projects/{self.pb['id']}"), 404)
        self.assertProblem(c.get(f"/tenants/{self.b['id']}/projects"), 404)
        ids = [x["id"] for x in c.list_all("/tenants")]
        self.assertEqual(ids, [self.a["id"]])

    def test_viewer_token_cannot_create_projects(self):
        t = self.token(self.a, "viewer")
        c = self.bearer(t)
        self.assertStatus(c.get(f"/tenants/{self.a['id']}/projects"), 200)
        name = gf.uniq("denied")
        r = c.post(f"/tenants/{self.a['id']}/projects", {"name": name})
        self.assertProblem(r, 403)
        names = [p["name"] for p in self.u.list_all(f"/tenants/{self.a['id']}/projects")]
        self.assertNotIn(name, names)

    def test_effective_role_follows_membership(self):
        # An admin token of a user later demoted to viewer acts as a viewer.
        t_ten = gf.make_tenant(self.admin)
        v = self.srv.user()
        gf.add_member(self.admin, t_ten["id"], "admin", user_id=v.user["id"])
        t = gf.make_token(v, t_ten["id"], "admin")
        self.secrets.append(t["secret"])
        c = self.bearer(t)
        self.assertStatus(c.post(f"/tenants/{t_ten['id']}/projects", {"name": gf.uniq("p")}),
                          201)
        r = self.admin.patch(f"/tenants/{t_ten['id']}/members/{v.user['id']}",
                             {"role": "viewer"})
        self.assertStatus(r, 200)
        self.assertProblem(c.post(f"/tenants/{t_ten['id']}/projects",
                                  {"name": gf.uniq("p")}), 403)
        # Removed from the tenant: the tenant is gone for the token too.
        self.assertStatus(self.admin.delete(f"/tenants/{t_ten['id']}/members/{v.user['id']}"),
                          204)
        r = c.get(f"/tenants/{t_ten['id']}")
        self.assertIn(r.status, (401, 404), repr(r))

    def test_revoked_token_is_401(self):
        t = self.token(self.a, "viewer")
        c = self.bearer(t)
        self.assertStatus(c.get("/auth/me"), 200)
        self.assertStatus(self.u.delete(f"/tokens/{t['id']}"), 204)
        self.assertProblem(c.get("/auth/me"), 401)
        self.assertProblem(c.get(f"/tenants/{self.a['id']}"), 401)
        listed = [x for x in self.u.list_all("/tokens") if x["id"] == t["id"]]
        if listed:
            self.assertIsNotNone(listed[0].get("revoked_at"))
        # Revoking again: already revoked (or gone) is not a success that changes anything.
        r = self.u.delete(f"/tokens/{t['id']}")
        self.assertIn(r.status, (204, 404), repr(r))
        self.assertProblem(c.get("/auth/me"), 401)

    def test_expired_token_is_401(self):
        t = self.token(self.a, "viewer", expires_at=gf.rfc3339(time.time() + 2))
        c = self.bearer(t)
        self.assertStatus(c.get("/auth/me"), 200)
        time.sleep(max(0.0, gf.parse_time(t["expires_at"]) - time.time()) + 1.5)
        self.assertProblem(c.get("/auth/me"), 401)
        self.assertProblem(c.get(f"/tenants/{self.a['id']}"), 401)

    def test_unknown_and_malformed_bearer_is_401(self):
        for tok in ("gft_" + "A" * 40, "garbage", "gft_", self.u.session or "x"):
            c = self.srv.client(token=tok)
            self.assertProblem(c.get("/auth/me"), 401)

    def test_cannot_create_token_above_own_role(self):
        before = {x["id"] for x in self.u.list_all("/tokens")}
        for tenant, role in ((self.cten, "admin"), (self.cten, "owner"), (self.b, "operator")):
            r = self.u.post("/tokens", {"name": "too-high", "tenant_id": tenant["id"],
                                        "role": role})
            self.assertIn(r.status, (403, 422), repr(r))
            self.assertEqual(r.content_type, "application/problem+json")
            self.assertNotIn("gft_", r.text)
        # At or below the own role is fine.
        self.token(self.cten, "operator")
        self.token(self.b, "viewer")
        after = {x["id"] for x in self.u.list_all("/tokens")}
        self.assertEqual(len(after - before), 2)

    def test_cannot_create_token_for_unseen_tenant(self):
        # Refused exactly like a tenant that does not exist (no existence oracle).
        d = gf.make_tenant(self.admin)
        before = {x["id"] for x in self.u.list_all("/tokens")}
        r = self.u.post("/tokens", {"name": "x", "tenant_id": d["id"], "role": "viewer"})
        ghost_id = gf.random_uuid()
        ghost = self.u.post("/tokens", {"name": "x", "tenant_id": ghost_id, "role": "viewer"})
        self.assertIn(r.status, (400, 404, 422), repr(r))
        self.assertEqual(r.status, ghost.status, f"{r!r} vs {ghost!r}")
        self.assertEqual(r.text.replace(d["id"], "<id>"), ghost.text.replace(ghost_id, "<id>"))
        self.assertNotIn(d["name"], r.text)
        self.assertNotIn("gft_", r.text)
        self.assertEqual({x["id"] for x in self.u.list_all("/tokens")}, before)

    def test_tokens_cannot_manage_tokens(self):
        t = self.token(self.a, "owner")
        c = self.bearer(t)
        r = c.post("/tokens", {"name": "child", "tenant_id": self.a["id"], "role": "viewer"})
        self.assertIn(r.status, (401, 403), repr(r))
        self.assertNotIn("gft_", r.text)

    def test_only_owner_revokes(self):
        t = self.token(self.a, "viewer")
        other = self.srv.user()
        r = other.delete(f"/tokens/{t['id']}")
        self.assertProblem(r, 404)
        self.assertStatus(self.bearer(t).get("/auth/me"), 200)
        # A server admin may revoke anyone's token.
        self.assertStatus(self.admin.delete(f"/tokens/{t['id']}"), 204)
        self.assertProblem(self.bearer(t).get("/auth/me"), 401)

    def test_zz_secrets_never_logged(self):
        time.sleep(0.5)
        log = self.srv.log()
        for s in self.secrets:
            if s:
                self.assertNotIn(s, log)
                self.assertNotIn(s[len("gft_"):], log)


if __name__ == "__main__":
    gf.main()

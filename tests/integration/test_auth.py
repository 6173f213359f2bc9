# SPDX-License-Identifier: Apache-2.0
"""test_auth.py - sessions, CSRF, login throttling and secrets in logs.

Login (ok, bad password, unknown user: the two failures look the same), the session cookie's
flags, CSRF on cookie-authenticated mutations (missing, forged, right), logout invalidating
the session server-side, /auth/me, the per-account and per-address failed-login limits
(429 + Retry-After, even for the right password), and that no password, session or CSRF
token appears in the server log.
"""

import time

import gf

VOLATILE = ("instance", "request_id", "trace_id", "at", "time")


def stable(problem):
    return {k: v for k, v in (problem or {}).items() if k not in VOLATILE}


class AuthTest(gf.GfTestCase):
    # Per-address limit high here so the per-account tests are not disturbed by it;
    # AddressLimitTest covers the per-address limit on a server of its own.
    server_args = ("--login_max_failures_per_address", "1000")
    secrets_seen = []

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.admin()
        cls.secrets_seen.extend([cls.admin.password, cls.admin.session, cls.admin.csrf_token])

    def new_user(self):
        c = self.srv.user()
        self.secrets_seen.extend([c.password, c.session, c.csrf_token])
        return c

    def test_login_ok(self):
        u = self.new_user()
        c = self.srv.client()
        r = c.login(u.email, u.password)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["user"]["email"], u.email)
        self.assertEqual(r.json["user"]["id"], u.user["id"])
        self.assertNotIn("password", r.json["user"])
        self.assertNotIn("password_hash", r.json["user"])
        self.assertIsInstance(r.json["csrf_token"], str)
        self.assertGreaterEqual(len(r.json["csrf_token"]), 16)
        self.assertTrue(c.session, "no gf_session cookie set")
        self.secrets_seen.extend([c.session, c.csrf_token])

    def test_login_email_is_case_insensitive(self):
        u = self.new_user()
        r = self.srv.client().login(u.email.upper(), u.password)
        self.assertStatus(r, 200)

    def test_cookie_flags(self):
        u = self.new_user()
        c = self.srv.client()
        c.login(u.email, u.password)
        val, attrs = c.set_cookies["gf_session"]
        self.secrets_seen.append(val)
        self.assertTrue(val)
        self.assertIs(attrs.get("httponly"), True, attrs)
        self.assertEqual(str(attrs.get("samesite", "")).lower(), "strict", attrs)
        self.assertEqual(attrs.get("path"), "/", attrs)

    def test_bad_password_and_unknown_user_look_the_same(self):
        u = self.new_user()
        r1 = self.srv.client().login(u.email, "wrong-password-123")
        r2 = self.srv.client().login(f"{gf.uniq('ghost')}@example.test", "wrong-password-123")
        p1 = self.assertProblem(r1, 401)
        p2 = self.assertProblem(r2, 401)
        self.assertEqual(stable(p1), stable(p2))
        for r in (r1, r2):
            self.assertIsNone(r.header("Set-Cookie"), repr(r.headers))

    def test_missing_fields_are_400(self):
        r = self.srv.client().post("/auth/login", {"email": "a@b.test"})
        self.assertProblem(r, 400, field="/password")

    def test_csrf_required_on_cookie_mutations(self):
        before = {t["id"] for t in self.admin.list_all("/tenants")}
        slug = gf.uniq("csrf")
        r = self.admin.post("/tenants", {"name": "csrf none", "slug": slug}, csrf=None)
        self.assertProblem(r, 403, slug="csrf")
        r = self.admin.post("/tenants", {"name": "csrf forged", "slug": slug},
                            csrf="forged-" + gf.uniq())
        self.assertProblem(r, 403, slug="csrf")
        # Another session's valid token does not fit this session either.
        other = self.new_user()
        r = self.admin.post("/tenants", {"name": "csrf other", "slug": slug},
                            csrf=other.csrf_token)
        self.assertProblem(r, 403, slug="csrf")
        self.assertEqual({t["id"] for t in self.admin.list_all("/tenants")}, before,
                         "a request rejected for CSRF changed something")
        r = self.admin.post("/tenants", {"name": "csrf ok", "slug": slug})
        self.assertStatus(r, 201)

    def test_csrf_on_patch_and_delete(self):
        t = gf.make_tenant(self.admin)
        p = gf.make_project(self.admin, t["id"])
        r = self.admin.patch(f"/projects/{p['id']}", {"name": "renamed"}, csrf=None)
        self.assertProblem(r, 403, slug="csrf")
        r = self.admin.delete(f"/projects/{p['id']}", csrf="nope")
        self.assertProblem(r, 403, slug="csrf")
        r = self.admin.get(f"/projects/{p['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["name"], p["name"])
        self.assertStatus(self.admin.delete(f"/projects/{p['id']}"), 204)

    def test_get_needs_no_csrf(self):
        r = self.admin.get("/auth/me", csrf=None)
        self.assertStatus(r, 200)

    def test_me(self):
        u = self.new_user()
        r = u.get("/auth/me")
        self.assertStatus(r, 200)
        j = r.json
        self.assertEqual(j["user"]["id"], u.user["id"])
        self.assertEqual(j["auth"], "session")
        self.assertEqual(j["csrf_token"], u.csrf_token)
        self.assertEqual(j["memberships"], [])
        t = gf.make_tenant(self.admin)
        gf.add_member(self.admin, t["id"], "operator", user_id=u.user["id"])
        j = u.get("/auth/me").json
        self.assertIn({"tenant_id": t["id"], "tenant_name": t["name"], "role": "operator"},
                      [{k: m.get(k) for k in ("tenant_id", "tenant_name", "role")}
                       for m in j["memberships"]])

    def test_unauthenticated_is_401(self):
        c = self.srv.client()
        self.assertProblem(c.get("/auth/me"), 401)
        self.assertProblem(c.get("/tenants"), 401)
        c.cookies["gf_session"] = "not-a-session"
        self.assertProblem(c.get("/auth/me"), 401)

    def test_logout_invalidates_session(self):
        u = self.new_user()
        old = u.session
        self.assertTrue(old)
        r = u.logout()
        self.assertStatus(r, 204)
        val, attrs = u.set_cookies["gf_session"]
        self.assertTrue(val == "" or gf._cookie_expired(attrs), "cookie not cleared")
        self.assertProblem(u.get("/auth/me"), 401)
        # Replaying the old cookie value must not work either: the session is gone.
        c = self.srv.client()
        c.cookies["gf_session"] = old
        self.assertProblem(c.get("/auth/me"), 401)

    def test_logout_needs_csrf(self):
        u = self.new_user()
        r = u.post("/auth/logout", csrf=None)
        self.assertProblem(r, 403, slug="csrf")
        self.assertStatus(u.get("/auth/me"), 200)

    def test_sixth_failure_is_429_with_retry_after(self):
        u = self.new_user()
        c = self.srv.client()
        for i in range(5):
            r = c.login(u.email, f"wrong-password-{i:04d}")
            self.assertProblem(r, 401)
        r = c.login(u.email, "wrong-password-9999")
        self.assertProblem(r, 429)
        ra = r.header("Retry-After")
        self.assertIsNotNone(ra, repr(r.headers))
        self.assertTrue(ra.isdigit() and int(ra) > 0, ra)
        # Locked means locked: the right password is refused too.
        r = self.srv.client().login(u.email, u.password)
        self.assertProblem(r, 429)
        # Other accounts are not affected.
        other = self.new_user()
        self.assertStatus(self.srv.client().login(other.email, other.password), 200)

    def test_successful_login_is_not_counted(self):
        u = self.new_user()
        for _ in range(8):
            self.assertStatus(self.srv.client().login(u.email, u.password), 200)

    def test_disabled_user_cannot_log_in_or_use_session(self):
        u = self.new_user()
        r = self.admin.patch(f"/users/{u.user['id']}", {"disabled": True})
        self.assertStatus(r, 200)
        self.assertIs(r.json["disabled"], True)
        r = self.srv.client().login(u.email, u.password)
        self.assertIn(r.status, (401, 403), repr(r))
        self.assertNotIn("csrf_token", r.text)
        r = u.get("/auth/me")
        self.assertIn(r.status, (401, 403), repr(r))

    def test_zz_no_secrets_in_log(self):
        # Runs last (alphabetical order): everything above has been logged by now.
        time.sleep(0.5)
        log = self.srv.log()
        self.assertTrue(log, "empty server log")
        for s in self.secrets_seen:
            if s:
                self.assertNotIn(s, log, "a secret appears in the server log")


class AddressLimitTest(gf.GfTestCase):
    server_args = ("--login_max_failures_per_address", "4", "--login_max_failures", "100")

    def test_per_address_limit(self):
        admin = self.srv.admin()
        users = [self.srv.user() for _ in range(5)]
        del admin
        for i in range(4):
            r = self.srv.client().login(users[i].email, "wrong-password-xxxx")
            self.assertProblem(r, 401)
        r = self.srv.client().login(users[4].email, "wrong-password-xxxx")
        self.assertProblem(r, 429)
        ra = r.header("Retry-After")
        self.assertTrue(ra and ra.isdigit() and int(ra) > 0, ra)


if __name__ == "__main__":
    gf.main()

# SPDX-License-Identifier: Apache-2.0
"""test_idempotency.py - Idempotency-Key on POST.

A replay with the same key and body by the same caller returns the stored answer (same
status and body, Idempotent-Replayed: true) and creates nothing; the same key with another
body is 422; concurrent identical requests create exactly one object; keys are per caller;
malformed keys are 400 naming the header. The hourly maintenance deletes keys past their
24 h, with expired sessions and ended login-failure windows, and keeps the rest.
"""

import json

import gf


class IdempotencyTest(gf.GfTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.admin()
        cls.t = gf.make_tenant(cls.admin)
        cls.path = f"/tenants/{cls.t['id']}/projects"

    def projects(self, name=None):
        items = self.admin.list_all(self.path)
        return [p for p in items if name is None or p["name"] == name]

    def test_replay_returns_stored_response(self):
        key = gf.uniq("key")
        body = {"name": gf.uniq("idem"), "description": "first"}
        r1 = self.admin.post(self.path, body, idempotency_key=key)
        self.assertStatus(r1, 201)
        self.assertNotEqual((r1.header("Idempotent-Replayed") or "").lower(), "true")
        r2 = self.admin.post(self.path, body, idempotency_key=key)
        self.assertStatus(r2, 201)
        self.assertEqual(r2.header("Idempotent-Replayed"), "true")
        self.assertEqual(r2.json, r1.json)
        self.assertEqual(r2.content_type, r1.content_type)
        self.assertEqual(len(self.projects(body["name"])), 1)
        r3 = self.admin.post(self.path, body, idempotency_key=key)
        self.assertEqual(r3.json, r1.json)
        self.assertEqual(len(self.projects(body["name"])), 1)

    def test_replay_matches_json_not_bytes(self):
        # Same JSON with different whitespace / key order is the same request... or not;
        # either way it must not create a second object.
        key = gf.uniq("key")
        name = gf.uniq("idem")
        r1 = self.admin.post(self.path, raw=json.dumps({"name": name, "description": "d"})
                             .encode(), idempotency_key=key)
        self.assertStatus(r1, 201)
        r2 = self.admin.post(self.path, raw=json.dumps({"description": "d", "name": name},
                                                       indent=2).encode(),
                             idempotency_key=key)
        self.assertIn(r2.status, (201, 422), repr(r2))
        if r2.status == 201:
            self.assertEqual(r2.json, r1.json)
        self.assertEqual(len(self.projects(name)), 1)

    def test_same_key_different_body_is_422(self):
        key = gf.uniq("key")
        n1, n2 = gf.uniq("idem"), gf.uniq("idem")
        self.assertStatus(self.admin.post(self.path, {"name": n1}, idempotency_key=key), 201)
        r = self.admin.post(self.path, {"name": n2}, idempotency_key=key)
        self.assertProblem(r, 422)
        self.assertEqual(self.projects(n2), [])
        self.assertEqual(len(self.projects(n1)), 1)

    def test_same_key_other_path_is_422(self):
        key = gf.uniq("key")
        t2 = gf.make_tenant(self.admin)
        body = {"name": gf.uniq("idem")}
        self.assertStatus(self.admin.post(self.path, body, idempotency_key=key), 201)
        r = self.admin.post(f"/tenants/{t2['id']}/projects", body, idempotency_key=key)
        self.assertProblem(r, 422)
        self.assertEqual(self.admin.list_all(f"/tenants/{t2['id']}/projects"), [])

    def test_concurrent_identical_requests_create_one(self):
        key = gf.uniq("key")
        body = {"name": gf.uniq("race")}
        n = 8
        results = gf.parallel(lambda i: self.admin.post(self.path, body, idempotency_key=key),
                              n)
        for r in results:
            self.assertIsInstance(r, gf.Response, repr(r))
            # 201 (original or replay) or 409 (the original is still in flight).
            self.assertIn(r.status, (201, 409), repr(r))
        created = [r for r in results if r.status == 201]
        self.assertTrue(created, "no request succeeded")
        self.assertEqual(len({json.dumps(r.json, sort_keys=True) for r in created}), 1)
        originals = [r for r in created if r.header("Idempotent-Replayed") != "true"]
        self.assertLessEqual(len(originals), 1)
        self.assertEqual(len(self.projects(body["name"])), 1)
        # After the dust settles, a replay returns the one stored answer.
        r = self.admin.post(self.path, body, idempotency_key=key)
        self.assertStatus(r, 201)
        self.assertEqual(r.header("Idempotent-Replayed"), "true")
        self.assertEqual(r.json, created[0].json)

    def test_keys_are_per_caller(self):
        other = self.srv.user()
        gf.add_member(self.admin, self.t["id"], "admin", user_id=other.user["id"])
        key = gf.uniq("key")
        b1, b2 = {"name": gf.uniq("mine")}, {"name": gf.uniq("theirs")}
        r1 = self.admin.post(self.path, b1, idempotency_key=key)
        self.assertStatus(r1, 201)
        r2 = other.post(self.path, b2, idempotency_key=key)
        self.assertStatus(r2, 201)
        self.assertNotEqual(r2.header("Idempotent-Replayed"), "true")
        self.assertNotEqual(r2.json["id"], r1.json["id"])
        # Same body too: still the other caller's own request, not a replay of ours.
        b3 = {"name": gf.uniq("same")}
        k2 = gf.uniq("key")
        r3 = self.admin.post(self.path, b3, idempotency_key=k2)
        self.assertStatus(r3, 201)
        r4 = other.post(self.path, b3, idempotency_key=k2)
        self.assertNotEqual(r4.header("Idempotent-Replayed"), "true")
        self.assertProblem(r4, 409)  # the name is taken: proves it really ran

    def test_token_caller(self):
        tok = gf.make_token(self.admin, self.t["id"], "admin")
        c = self.srv.client(token=tok["secret"])
        key = gf.uniq("key")
        body = {"name": gf.uniq("tokidem")}
        r1 = c.post(self.path, body, idempotency_key=key)
        self.assertStatus(r1, 201)
        r2 = c.post(self.path, body, idempotency_key=key)
        self.assertEqual(r2.header("Idempotent-Replayed"), "true")
        self.assertEqual(r2.json, r1.json)
        self.assertEqual(len(self.projects(body["name"])), 1)

    def test_failed_request_replays_failure_or_reruns(self):
        existing = gf.make_project(self.admin, self.t["id"])
        key = gf.uniq("key")
        r1 = self.admin.post(self.path, {"name": existing["name"]}, idempotency_key=key)
        self.assertProblem(r1, 409)
        r2 = self.admin.post(self.path, {"name": existing["name"]}, idempotency_key=key)
        self.assertProblem(r2, 409)
        self.assertEqual(len(self.projects(existing["name"])), 1)

    def test_malformed_keys_are_400(self):
        name = gf.uniq("badkey")
        for key in ("", "k" * 201, "tab\there", "caf\u00e9"):
            with self.subTest(key=key[:20]):
                try:
                    r = self.admin.post(self.path, {"name": name},
                                        headers={"Idempotency-Key":
                                                 key.encode("utf-8").decode("latin-1")})
                except ValueError:
                    continue  # http.client refuses to send it: nothing to test
                self.assertProblem(r, 400, field="Idempotency-Key")
        self.assertEqual(self.projects(name), [])
        r = self.admin.post(self.path, {"name": name}, idempotency_key="k" * 200)
        self.assertStatus(r, 201)


    def test_hourly_purge_of_expired_bookkeeping(self):
        uid = self.srv.scalar("SELECT id FROM users ORDER BY created_at LIMIT 1")
        tag = gf.uniq("purge")
        self.srv.sql(
            "INSERT INTO idempotency_keys (actor, key, method, path, request_hash, created_at)"
            f" VALUES ('user:x', '{tag}-old', 'POST', '/p', 'h', now() - interval '25 hours'),"
            f" ('user:x', '{tag}-new', 'POST', '/p', 'h', now() - interval '23 hours');"
            "INSERT INTO sessions (token_hash, user_id, expires_at)"
            f" VALUES ('{tag}-old', '{uid}', now() - interval '1 minute'),"
            f" ('{tag}-new', '{uid}', now() + interval '1 hour');"
            "INSERT INTO login_failures (scope, key, window_start, failures)"
            f" VALUES ('address', '{tag}-old', now() - interval '1 day', 3),"
            f" ('address', '{tag}-new', now(), 3)")

        def left():
            return sorted(r[0] for r in self.srv.sql(
                f"SELECT key FROM idempotency_keys WHERE key LIKE '{tag}%'"
                f" UNION ALL SELECT token_hash FROM sessions WHERE token_hash LIKE '{tag}%'"
                f" UNION ALL SELECT key FROM login_failures WHERE key LIKE '{tag}%'"))
        self.assertEqual(left(), sorted([f"{tag}-old", f"{tag}-new"] * 3))
        # The maintenance runs when a replica starts, then hourly.
        other = gf.Server(db=self.srv.db, name="purge-replica").start()
        try:
            gf.wait_for(lambda: left() == [f"{tag}-new"] * 3, timeout=30,
                        what="expired rows deleted, the others kept")
        finally:
            other.stop()
        # The running server's own session still works.
        self.admin.get("/auth/me").expect(200)


if __name__ == "__main__":
    gf.main()

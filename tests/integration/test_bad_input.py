# SPDX-License-Identifier: Apache-2.0
"""test_bad_input.py - hostile and malformed requests.

Malformed JSON, non-object bodies, wrong types, unknown and duplicate fields, invalid
UTF-8 and NUL characters, too-deep nesting, bad UUIDs in paths, bad list parameters,
out-of-range strings, wrong or missing Content-Type (415), oversize bodies (413): all are
rejected with problem+json naming the field where there is one, and nothing is written.
SQL and LIKE metacharacters and non-ASCII text in names are stored and returned literally.
"""

import json

import gf


class BadInputTest(gf.GfTestCase):
    server_args = ("--max_body_bytes", "8192")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.admin()
        cls.t = gf.make_tenant(cls.admin)
        cls.ppath = f"/tenants/{cls.t['id']}/projects"

    def snapshot(self):
        return (self.admin.list_all(self.ppath), self.admin.list_all("/tenants"),
                self.srv.scalar("SELECT count(*) FROM projects"),
                self.srv.scalar("SELECT count(*) FROM tenants"),
                self.srv.scalar("SELECT count(*) FROM users"))

    def post_raw(self, path, data, content_type="application/json"):
        return self.admin.post(path, raw=data, content_type=content_type)

    def rejected(self, r, status=400, field=None):
        return self.assertProblem(r, status, field=field)

    def test_malformed_json(self):
        before = self.snapshot()
        for data in (b'{"name":', b"{name: 1}", b'{"name": "x",}', b"", b"   ",
                     b'{"name": "x"} trailing', b'{"name": "x"}{"name": "y"}', b"nul\x00l",
                     b'{"name": "\\x41"}'):
            with self.subTest(data=data):
                self.rejected(self.post_raw(self.ppath, data))
        self.assertEqual(self.snapshot(), before)

    def test_non_object_bodies(self):
        before = self.snapshot()
        for body in ([1, 2], "name", 42, None, True):
            with self.subTest(body=body):
                self.rejected(self.post_raw(self.ppath, json.dumps(body).encode()))
        self.assertEqual(self.snapshot(), before)

    def test_wrong_types_name_the_field(self):
        before = self.snapshot()
        for body, field in (({"name": 5}, "/name"), ({"name": None}, "/name"),
                            ({"name": ["x"]}, "/name"), ({"name": {"x": 1}}, "/name"),
                            ({"name": "ok", "description": 7}, "/description"),
                            ({"name": True}, "/name")):
            with self.subTest(body=body):
                self.rejected(self.admin.post(self.ppath, body), field=field)
        for body, field in (({"name": "t", "slug": 5}, "/slug"),
                            ({"name": 1, "slug": gf.uniq("s")}, "/name")):
            with self.subTest(body=body):
                self.rejected(self.admin.post("/tenants", body), field=field)
        self.assertEqual(self.snapshot(), before)

    def test_missing_required_field(self):
        before = self.snapshot()
        self.rejected(self.admin.post(self.ppath, {"description": "no name"}), field="/name")
        self.rejected(self.admin.post("/tenants", {"name": "no slug"}), field="/slug")
        self.assertEqual(self.snapshot(), before)

    def test_unknown_fields_are_rejected(self):
        before = self.snapshot()
        self.rejected(self.admin.post(self.ppath, {"name": gf.uniq("p"), "bogus": 1}),
                      field="/bogus")
        self.rejected(self.admin.post(self.ppath, {"name": gf.uniq("p"), "tenant_id":
                                                   gf.random_uuid()}), field="/tenant_id")
        self.rejected(self.admin.post("/tenants", {"name": "x", "slug": gf.uniq("s"),
                                                   "id": gf.random_uuid()}), field="/id")
        p = gf.make_project(self.admin, self.t["id"])
        before = self.snapshot()
        self.rejected(self.admin.patch(f"/projects/{p['id']}", {"version": 99}),
                      field="/version")
        self.rejected(self.admin.patch(f"/projects/{p['id']}", {"name": "x", "id": "y"}),
                      field="/id")
        self.assertEqual(self.snapshot(), before)

    def test_duplicate_keys_are_rejected(self):
        before = self.snapshot()
        self.rejected(self.post_raw(self.ppath, b'{"name": "a1", "name": "b1"}'))
        self.assertEqual(self.snapshot(), before)

    def test_invalid_utf8(self):
        before = self.snapshot()
        for data in (b'{"name": "\xff\xfe"}', b'{"name": "a\xc3"}',
                     b'{"name": "\xed\xa0\x80"}', b'{"na\xffme": "x"}'):
            with self.subTest(data=data):
                self.rejected(self.post_raw(self.ppath, data))
        # Escaped lone surrogate and NUL: valid JSON text, invalid as a name.
        self.rejected(self.post_raw(self.ppath, b'{"name": "a\\ud800b"}'))
        self.rejected(self.post_raw(self.ppath, b'{"name": "a\\u0000b"}'))
        self.assertEqual(self.snapshot(), before)

    def test_too_deep_nesting(self):
        before = self.snapshot()
        deep = b'{"name": "x", "description": ' + b"[" * 200 + b"]" * 200 + b"}"
        self.rejected(self.post_raw(self.ppath, deep))
        deep = b'{"a":' * 100 + b"1" + b"}" * 100
        self.rejected(self.post_raw(self.ppath, deep))
        self.assertEqual(self.snapshot(), before)

    def test_bad_uuid_in_path_names_the_parameter(self):
        for bad in ("not-a-uuid", "1234", gf.random_uuid() + "0",
                    gf.random_uuid().replace("-", ""), "%27%20OR%201%3D1--",
                    "00000000-0000-0000-0000-00000000000g"):
            with self.subTest(bad=bad):
                self.rejected(self.admin.get(f"/projects/{bad}"), field="project_id")
                self.rejected(self.admin.get(f"/tenants/{bad}"), field="tenant_id")
                self.rejected(self.admin.get(f"/tenants/{bad}/projects"), field="tenant_id")
                self.rejected(self.admin.patch(f"/projects/{bad}", {"name": "x"}),
                              field="project_id")
                self.rejected(self.admin.delete(f"/tenants/{self.t['id']}/members/{bad}"),
                              field="user_id")
                self.rejected(self.admin.delete(f"/tokens/{bad}"), field="token_id")
                self.rejected(self.admin.get(f"/users/{bad}"), field="user_id")
        self.assertStatus(self.admin.get(f"/tenants/{self.t['id']}"), 200)

    def test_bad_list_parameters(self):
        for q, field in (({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"),
                         ({"limit": "abc"}, "limit"), ({"limit": "-1"}, "limit"),
                         ({"limit": "1e3"}, "limit"), ({"cursor": "%%%not-a-cursor"}, "cursor")):
            with self.subTest(q=q):
                self.rejected(self.admin.get(self.ppath, query=q), field=field)
                self.rejected(self.admin.get("/tenants", query=q), field=field)
        self.assertStatus(self.admin.get(self.ppath, query={"limit": "200"}), 200)
        self.assertStatus(self.admin.get(self.ppath, query={"limit": "1"}), 200)

    def test_string_bounds(self):
        before = self.snapshot()
        self.rejected(self.admin.post(self.ppath, {"name": ""}), field="/name")
        self.rejected(self.admin.post(self.ppath, {"name": "x" * 201}), field="/name")
        self.rejected(self.admin.post(self.ppath, {"name": "ok", "description": "d" * 2001}),
                      field="/description")
        for slug in ("Bad Slug", "-lead", "trail-", "UPPER", "a" * 64, "", "sl/ash", "dot.ted"):
            with self.subTest(slug=slug):
                self.rejected(self.admin.post("/tenants", {"name": "n", "slug": slug}),
                              field="/slug")
        for email in ("", "no-at-sign", "a@", "@b", "x" * 250 + "@example.test"):
            with self.subTest(email=email):
                self.rejected(self.admin.post("/users", {"email": email}), field="/email")
        self.rejected(self.admin.post("/users", {"email": f"{gf.uniq('u')}@example.test",
                                                 "password": "short"}), field="/password")
        r = self.admin.post(f"/tenants/{self.t['id']}/members",
                            {"user_id": self.admin.user["id"], "role": "superuser"})
        self.rejected(r, field="/role")
        self.assertEqual(self.snapshot(), before)
        # 200 characters is still fine: the limit counts characters (GF_LIMIT_NAME_CHARS),
        # not bytes.
        self.assertStatus(self.admin.post(self.ppath, {"name": "\u00e9" * 200}), 201)

    def test_sql_metacharacters_are_literal(self):
        names = ["x'); DROP TABLE projects; --", "100% _wild_ \\ card", 'quote " double',
                 "semi;colon -- comment /* c */", "$$ dollar $tag$",
                 "emoji \U0001F680 and \u00fcml\u00e4ut", "<script>alert(1)</script>"]
        created = {}
        for n in names:
            with self.subTest(name=n):
                r = self.admin.post(self.ppath, {"name": n, "description": n})
                self.assertStatus(r, 201)
                self.assertEqual(r.json["name"], n)
                g = self.admin.get(f"/projects/{r.json['id']}")
                self.assertEqual(g.json["name"], n)
                self.assertEqual(g.json["description"], n)
                created[r.json["id"]] = n
        listed = {p["id"]: p["name"] for p in self.admin.list_all(self.ppath)}
        for pid, n in created.items():
            self.assertEqual(listed.get(pid), n)
        self.assertEqual(self.srv.scalar("SELECT to_regclass('public.projects') IS NOT NULL"),
                         "t")
        # A LIKE-ish name does not match other rows in a duplicate check.
        self.assertStatus(self.admin.post(self.ppath, {"name": "100% _wild_ \\ card!"}), 201)
        self.assertProblem(self.admin.post(self.ppath, {"name": "100% _wild_ \\ card"}), 409)

    def test_wrong_content_type_is_415(self):
        before = self.snapshot()
        body = json.dumps({"name": gf.uniq("ct")}).encode()
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml",
                   "multipart/form-data; boundary=x", "application/jsonx"):
            with self.subTest(ct=ct):
                self.rejected(self.post_raw(self.ppath, body, content_type=ct), status=415)
        self.rejected(self.post_raw(self.ppath, body, content_type=None), status=415)
        self.assertEqual(self.snapshot(), before)
        r = self.post_raw(self.ppath, body, content_type="application/json; charset=utf-8")
        self.assertStatus(r, 201)

    def test_oversize_is_413(self):
        before = self.snapshot()
        big = json.dumps({"name": "x", "description": "d" * 9000}).encode()
        st, _, body = gf.raw_http(
            self.srv.base_url,
            (f"POST {gf.API}{self.ppath} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             f"Content-Type: application/json\r\nContent-Length: {len(big)}\r\n"
             f"Cookie: gf_session={self.admin.session}\r\n"
             f"X-CSRF-Token: {self.admin.csrf_token}\r\n\r\n").encode(), chunks=[big])
        self.assertEqual(st, 413, body[:300])
        self.assertEqual(self.snapshot(), before)

    def test_bad_headers(self):
        p = gf.make_project(self.admin, self.t["id"])
        r = self.admin.patch(f"/projects/{p['id']}", {"name": "z"}, if_match="not-an-etag")
        self.assertIn(r.status, (400, 412), repr(r))
        self.assertEqual(self.admin.get(f"/projects/{p['id']}").json["name"], p["name"])
        r = self.srv.client(token="gft_" + "\u00e9" * 10).get("/auth/me")
        self.assertEqual(r.status, 401)


if __name__ == "__main__":
    gf.main()

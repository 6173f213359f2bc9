# SPDX-License-Identifier: Apache-2.0
"""test_etag.py - ETag / If-Match optimistic concurrency on tenants and projects.

Single-object reads carry ETag: "<version>"; PATCH with a stale If-Match is 412 and changes
nothing; with the current one it applies and the ETag changes; PATCH without If-Match
applies; two writers racing with the same ETag: exactly one wins.
"""

import gf


class ETagTest(gf.GfTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.admin()
        cls.t = gf.make_tenant(cls.admin)

    def check_resource(self, path, field):
        r = self.admin.get(path)
        self.assertStatus(r, 200)
        etag1 = r.header("ETag")
        self.assertIsNotNone(etag1, repr(r.headers))
        self.assertRegex(etag1, r'^(W/)?"[^"]+"$')
        self.assertEqual(etag1, f'"{r.json["version"]}"')
        self.assertEqual(self.admin.get(path).header("ETag"), etag1, "ETag not stable")

        # Current ETag: applies, version and ETag move on.
        v1 = gf.uniq("v1")
        r = self.admin.patch(path, {field: v1}, if_match=etag1)
        self.assertStatus(r, 200)
        self.assertEqual(r.json[field], v1)
        g = self.admin.get(path)
        etag2 = g.header("ETag")
        self.assertNotEqual(etag2, etag1)
        self.assertEqual(g.json[field], v1)
        self.assertEqual(etag2, f'"{g.json["version"]}"')
        if r.header("ETag") is not None:
            self.assertEqual(r.header("ETag"), etag2)

        # Stale ETag: 412 and nothing changed.
        before = g.json
        r = self.admin.patch(path, {field: gf.uniq("stale")}, if_match=etag1)
        self.assertProblem(r, 412)
        g = self.admin.get(path)
        self.assertEqual(g.json, before)
        self.assertEqual(g.header("ETag"), etag2)

        # Garbage ETag: 412 too.
        r = self.admin.patch(path, {field: gf.uniq("junk")}, if_match='"no-such-version"')
        self.assertProblem(r, 412)
        self.assertEqual(self.admin.get(path).json, before)

        # No If-Match: applies.
        v3 = gf.uniq("v3")
        r = self.admin.patch(path, {field: v3})
        self.assertStatus(r, 200)
        g = self.admin.get(path)
        self.assertEqual(g.json[field], v3)
        self.assertNotEqual(g.header("ETag"), etag2)

    def test_project_etag(self):
        p = gf.make_project(self.admin, self.t["id"])
        self.check_resource(f"/projects/{p['id']}", "description")

    def test_tenant_etag(self):
        t = gf.make_tenant(self.admin)
        self.check_resource(f"/tenants/{t['id']}", "name")

    def test_race_with_same_etag_one_wins(self):
        p = gf.make_project(self.admin, self.t["id"])
        path = f"/projects/{p['id']}"
        etag = self.admin.get(path).header("ETag")
        values = [gf.uniq(f"racer{i}") for i in range(6)]
        results = gf.parallel(
            lambda i: self.admin.patch(path, {"description": values[i]}, if_match=etag),
            len(values))
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses.count(200), 1, [repr(r) for r in results])
        self.assertEqual(statuses.count(412), len(values) - 1, [repr(r) for r in results])
        winner = [values[i] for i, r in enumerate(results) if r.status == 200][0]
        g = self.admin.get(path)
        self.assertEqual(g.json["description"], winner)
        self.assertEqual(g.json["version"], p["version"] + 1)

    def test_if_match_on_missing_object_is_404(self):
        r = self.admin.patch(f"/projects/{gf.random_uuid()}", {"description": "x"},
                             if_match='"1"')
        self.assertProblem(r, 404)


if __name__ == "__main__":
    gf.main()

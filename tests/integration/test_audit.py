# SPDX-License-Identifier: Apache-2.0
"""test_audit.py - the audit trail of a tenant.

Every mutation writes exactly one audit event (actor, action, object, outcome, source); a
failing mutation (409 duplicate name) writes no success event and changes nothing; a denied
one (403) is recorded with outcome denied; token callers are recorded as tokens; the list
is newest first, filters by actor, action, object_type, object_id, outcome and time range,
pages with limit/cursor, rejects bad filters, and never shows another tenant's events.
"""

import time

import gf

EVENT_KEYS = ("id", "at", "tenant_id", "actor_type", "actor_id", "actor_label", "action",
              "object_type", "object_id", "outcome", "source", "detail")


class AuditTest(gf.GfTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.admin()
        cls.owner = cls.srv.user()
        cls.viewer = cls.srv.user()
        cls.t = gf.make_tenant(cls.admin)
        gf.add_member(cls.admin, cls.t["id"], "owner", user_id=cls.owner.user["id"])
        gf.add_member(cls.admin, cls.t["id"], "viewer", user_id=cls.viewer.user["id"])
        cls.apath = f"/tenants/{cls.t['id']}/audit"

    def events(self, **query):
        return self.owner.list_all(self.apath, query={k: v for k, v in query.items()
                                                      if v is not None})

    def for_object(self, object_id):
        return self.events(object_id=object_id)

    def check_event(self, e, action_hint, object_type, object_id, outcome="success",
                    actor=None):
        for k in EVENT_KEYS:
            self.assertIn(k, e)
        actor = actor or self.owner
        self.assertEqual(e["tenant_id"], self.t["id"])
        self.assertEqual(e["actor_type"], "user")
        self.assertEqual(e["actor_id"], actor.user["id"])
        self.assertEqual(e["object_type"], object_type)
        self.assertEqual(e["object_id"], object_id)
        self.assertEqual(e["outcome"], outcome)
        self.assertIn(action_hint, e["action"])
        self.assertIn("127.0.0.1", e["source"])
        gf.parse_time(e["at"])

    def test_each_mutation_writes_one_event(self):
        o = self.owner
        tid = self.t["id"]
        # create project
        p = gf.make_project(o, tid)
        ev = self.for_object(p["id"])
        self.assertEqual(len(ev), 1, ev)
        self.check_event(ev[0], "create", "project", p["id"])
        actions = {ev[0]["action"]}
        # update project
        self.assertStatus(o.patch(f"/projects/{p['id']}", {"description": "changed"}), 200)
        ev = self.for_object(p["id"])
        self.assertEqual(len(ev), 2, ev)
        self.check_event(ev[0], "update", "project", p["id"])  # newest first
        actions.add(ev[0]["action"])
        # delete project
        self.assertStatus(o.delete(f"/projects/{p['id']}"), 204)
        ev = self.for_object(p["id"])
        self.assertEqual(len(ev), 3, ev)
        self.check_event(ev[0], "delete", "project", p["id"])
        actions.add(ev[0]["action"])
        self.assertEqual(len(actions), 3, actions)

        # members: add, change, remove (the object may be named by user or membership:
        # count the owner's new success events instead)
        u = self.srv.user()
        uid = u.user["id"]
        seen = {e["id"] for e in self.events(actor=o.user["id"])}
        gf.add_member(o, tid, "viewer", user_id=uid)
        self.assertStatus(o.patch(f"/tenants/{tid}/members/{uid}", {"role": "operator"}), 200)
        self.assertStatus(o.delete(f"/tenants/{tid}/members/{uid}"), 204)
        ev = [e for e in self.events(actor=o.user["id"]) if e["id"] not in seen]
        self.assertEqual(len(ev), 3, ev)
        for e in ev:
            self.assertEqual(e["outcome"], "success")
            self.assertEqual(e["actor_type"], "user")
            self.assertEqual(e["tenant_id"], tid)
            self.assertIn(uid, e["object_id"])
        self.assertEqual(len({e["action"] for e in ev}), 3)

        # tenant update
        n_before = len(self.for_object(tid))
        self.assertStatus(o.patch(f"/tenants/{tid}", {"name": gf.uniq("Renamed")}), 200)
        ev = self.for_object(tid)
        self.assertEqual(len(ev), n_before + 1)
        self.check_event(ev[0], "update", "tenant", tid)

    def test_reads_are_not_audited(self):
        p = gf.make_project(self.owner, self.t["id"])
        n = len(self.for_object(p["id"]))
        for _ in range(3):
            self.assertStatus(self.owner.get(f"/projects/{p['id']}"), 200)
        self.assertEqual(len(self.for_object(p["id"])), n)

    def test_failed_mutation_no_success_event_no_change(self):
        tid = self.t["id"]
        p = gf.make_project(self.owner, tid)
        before_projects = self.owner.list_all(f"/tenants/{tid}/projects")
        before_success = self.events(outcome="success")
        r = self.owner.post(f"/tenants/{tid}/projects", {"name": p["name"]})
        self.assertProblem(r, 409)
        self.assertEqual(self.owner.list_all(f"/tenants/{tid}/projects"), before_projects)
        self.assertEqual(self.events(outcome="success"), before_success)

    def test_denied_attempt_is_audited(self):
        tid = self.t["id"]
        name = gf.uniq("denied")
        r = self.viewer.post(f"/tenants/{tid}/projects", {"name": name})
        self.assertProblem(r, 403)
        ev = self.events(actor=self.viewer.user["id"], outcome="denied")
        self.assertGreaterEqual(len(ev), 1, ev)
        e = ev[0]
        self.assertEqual(e["actor_type"], "user")
        self.assertEqual(e["actor_id"], self.viewer.user["id"])
        self.assertEqual(e["tenant_id"], tid)
        self.assertEqual(e["outcome"], "denied")
        self.assertIn("127.0.0.1", e["source"])
        self.assertNotIn(name, [p["name"] for p in self.owner.list_all(f"/tenants/{tid}/projects")])
        self.assertEqual(self.events(actor=self.viewer.user["id"], outcome="success"), [])

    def test_token_actor(self):
        tok = gf.make_token(self.owner, self.t["id"], "admin")
        c = self.srv.client(token=tok["secret"])
        r = c.post(f"/tenants/{self.t['id']}/projects", {"name": gf.uniq("bytoken")})
        self.assertStatus(r, 201)
        ev = self.for_object(r.json["id"])
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["actor_type"], "token")
        self.assertIn(ev[0]["actor_id"], (tok["id"], self.owner.user["id"]))
        self.assertNotIn(tok["secret"], str(ev[0]))

    def test_filters(self):
        tid = self.t["id"]
        p1 = gf.make_project(self.owner, tid)
        self.assertStatus(self.owner.patch(f"/projects/{p1['id']}", {"description": "x"}), 200)
        create_action = self.for_object(p1["id"])[-1]["action"]
        for e in self.events(action=create_action):
            self.assertEqual(e["action"], create_action)
        self.assertIn(p1["id"], [e["object_id"] for e in self.events(action=create_action)])
        for e in self.events(object_type="project"):
            self.assertEqual(e["object_type"], "project")
        for e in self.events(outcome="success"):
            self.assertEqual(e["outcome"], "success")
        for e in self.events(actor=self.owner.user["id"]):
            self.assertEqual(e["actor_id"], self.owner.user["id"])
        # Time range: an event after a mark is found with from=mark, not with to=mark.
        time.sleep(0.05)
        mark = gf.rfc3339(time.time())
        time.sleep(0.05)
        p2 = gf.make_project(self.owner, tid)
        after = self.events(**{"from": mark})
        self.assertIn(p2["id"], [e["object_id"] for e in after])
        self.assertNotIn(p1["id"], [e["object_id"] for e in after])
        before = self.events(to=mark)
        self.assertNotIn(p2["id"], [e["object_id"] for e in before])
        self.assertIn(p1["id"], [e["object_id"] for e in before])

    def test_pagination_newest_first(self):
        tid = self.t["id"]
        for _ in range(5):
            gf.make_project(self.owner, tid)
        full = self.events()
        self.assertGreaterEqual(len(full), 7)
        times = [gf.parse_time(e["at"]) for e in full]
        self.assertEqual(times, sorted(times, reverse=True), "not newest first")
        paged, cursor, pages = [], None, 0
        while True:
            q = {"limit": "2"}
            if cursor:
                q["cursor"] = cursor
            r = self.owner.get(self.apath, query=q)
            self.assertStatus(r, 200)
            self.assertLessEqual(len(r.json["items"]), 2)
            paged.extend(r.json["items"])
            pages += 1
            cursor = r.json["next_cursor"]
            if cursor is None:
                break
            self.assertLess(pages, 1000)
        # Events written meanwhile would only appear at the front; none are written here.
        self.assertEqual([e["id"] for e in paged], [e["id"] for e in full])
        self.assertEqual(len({e["id"] for e in paged}), len(paged))

    def test_bad_filters_are_400(self):
        for q, field in (({"outcome": "maybe"}, "outcome"), ({"from": "yesterday"}, "from"),
                         ({"to": "2020-13-45T99:00:00Z"}, "to"),
                         ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"),
                         ({"cursor": "!!garbage!!"}, "cursor")):
            with self.subTest(q=q):
                self.assertProblem(self.owner.get(self.apath, query=q), 400, field=field)

    def test_other_tenants_events_are_not_listed(self):
        other = gf.make_tenant(self.admin)
        p = gf.make_project(self.admin, other["id"])
        ids = [e["object_id"] for e in self.events()]
        self.assertNotIn(p["id"], ids)
        self.assertNotIn(other["id"], [e["tenant_id"] for e in self.events()])
        self.assertEqual(self.events(object_id=p["id"]), [])

    def test_audit_is_append_only_in_database(self):
        n = self.srv.scalar("SELECT count(*) FROM audit_events")
        self.srv.pg.psql("DELETE FROM audit_events WHERE true", self.srv.db, check=False)
        self.assertEqual(self.srv.scalar("SELECT count(*) FROM audit_events"), n)


if __name__ == "__main__":
    gf.main()

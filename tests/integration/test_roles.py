# SPDX-License-Identifier: Apache-2.0
"""test_roles.py - the tenant role matrix.

viewer / operator / admin / owner (and a non-member, and a server admin) against read,
create, update and delete on tenants, members, projects and the audit log, with the
owner-only rules (only an owner grants or touches owners, deletes the tenant) and the
last-owner rule (409, also when deleting the user). Every refused request is checked to
have changed nothing.
"""

import gf

ROLES = ("viewer", "operator", "admin", "owner")
RANK = {r: i for i, r in enumerate(ROLES)}


def at_least(role, need):
    return RANK[role] >= RANK[need]


class RoleMatrixTest(gf.GfTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.admin()
        cls.t = gf.make_tenant(cls.admin)
        cls.users = {}
        for role in ROLES:
            c = cls.srv.user()
            gf.add_member(cls.admin, cls.t["id"], role, user_id=c.user["id"])
            cls.users[role] = c
        cls.outsider = cls.srv.user()
        cls.p = gf.make_project(cls.admin, cls.t["id"])

    def tenant_clone(self):
        """A fresh tenant with the same role holders (for destructive checks)."""
        t = gf.make_tenant(self.admin)
        for role, c in self.users.items():
            gf.add_member(self.admin, t["id"], role, user_id=c.user["id"])
        return t

    def members(self, tenant_id):
        return {m["user_id"]: m["role"]
                for m in self.admin.list_all(f"/tenants/{tenant_id}/members")}

    # ------------------------------------------------------------ reads
    def test_reads(self):
        tid, pid = self.t["id"], self.p["id"]
        for role, c in self.users.items():
            with self.subTest(role=role):
                r = c.get(f"/tenants/{tid}")
                self.assertStatus(r, 200)
                self.assertEqual(r.json["id"], tid)
                self.assertStatus(c.get(f"/tenants/{tid}/members"), 200)
                self.assertStatus(c.get(f"/tenants/{tid}/projects"), 200)
                self.assertStatus(c.get(f"/projects/{pid}"), 200)
                r = c.get(f"/tenants/{tid}/audit")
                if at_least(role, "admin"):
                    self.assertStatus(r, 200)
                else:
                    self.assertProblem(r, 403)
                self.assertIn(tid, [x["id"] for x in c.list_all("/tenants")])

    def test_outsider_sees_nothing(self):
        c, tid, pid = self.outsider, self.t["id"], self.p["id"]
        for path in (f"/tenants/{tid}", f"/tenants/{tid}/members", f"/tenants/{tid}/projects",
                     f"/projects/{pid}", f"/tenants/{tid}/audit"):
            r = c.get(path)
            self.assertProblem(r, 404)
            self.assertNotIn(self.t["name"], r.text)
        self.assertNotIn(tid, [x["id"] for x in c.list_all("/tenants")])
        self.assertProblem(c.patch(f"/tenants/{tid}", {"name": "x"}), 404)
        self.assertProblem(c.delete(f"/tenants/{tid}"), 404)
        self.assertProblem(c.post(f"/tenants/{tid}/projects", {"name": gf.uniq("x")}), 404)
        self.assertProblem(c.patch(f"/projects/{pid}", {"name": "x"}), 404)
        self.assertProblem(c.delete(f"/projects/{pid}"), 404)
        self.assertProblem(c.post(f"/tenants/{tid}/members",
                                  {"user_id": c.user["id"], "role": "owner"}), 404)
        self.assertNotIn(c.user["id"], self.members(tid))

    # ------------------------------------------------------------ tenant
    def test_patch_tenant(self):
        tid = self.t["id"]
        for role, c in self.users.items():
            with self.subTest(role=role):
                before = self.admin.get(f"/tenants/{tid}").json
                name = f"renamed by {role} {gf.uniq()}"
                r = c.patch(f"/tenants/{tid}", {"name": name})
                if at_least(role, "admin"):
                    self.assertStatus(r, 200)
                    self.assertEqual(r.json["name"], name)
                else:
                    self.assertProblem(r, 403)
                    self.assertEqual(self.admin.get(f"/tenants/{tid}").json, before)

    def test_delete_tenant_owner_only(self):
        t = self.tenant_clone()
        for role in ("viewer", "operator", "admin"):
            with self.subTest(role=role):
                self.assertProblem(self.users[role].delete(f"/tenants/{t['id']}"), 403)
                self.assertStatus(self.admin.get(f"/tenants/{t['id']}"), 200)
        p = gf.make_project(self.admin, t["id"])
        self.assertStatus(self.users["owner"].delete(f"/tenants/{t['id']}"), 204)
        self.assertProblem(self.admin.get(f"/tenants/{t['id']}"), 404)
        self.assertProblem(self.admin.get(f"/projects/{p['id']}"), 404)
        self.assertProblem(self.users["owner"].get(f"/tenants/{t['id']}"), 404)

    def test_create_tenant_server_admin_only(self):
        for role, c in list(self.users.items()) + [("outsider", self.outsider)]:
            with self.subTest(role=role):
                slug = gf.uniq("nt")
                self.assertProblem(c.post("/tenants", {"name": "n", "slug": slug}), 403)
                self.assertNotIn(slug, [x["slug"] for x in self.admin.list_all("/tenants")])

    def test_users_routes_server_admin_only(self):
        c = self.users["owner"]
        self.assertProblem(c.get("/users"), 403)
        self.assertProblem(c.post("/users", {"email": f"{gf.uniq('u')}@example.test"}), 403)
        self.assertProblem(c.get(f"/users/{c.user['id']}"), 403)
        self.assertProblem(c.patch(f"/users/{c.user['id']}", {"is_admin": True}), 403)
        self.assertIs(self.admin.get(f"/users/{c.user['id']}").json["is_admin"], False)

    # ------------------------------------------------------------ projects
    def test_project_crud(self):
        tid = self.t["id"]
        for role, c in self.users.items():
            with self.subTest(role=role):
                allowed = at_least(role, "admin")
                name = gf.uniq(f"p-{role}")
                r = c.post(f"/tenants/{tid}/projects", {"name": name})
                self.assertStatus(r, 201 if allowed else 403)
                target = gf.make_project(self.admin, tid)
                r = c.patch(f"/projects/{target['id']}", {"description": f"by {role}"})
                self.assertStatus(r, 200 if allowed else 403)
                r = c.delete(f"/projects/{target['id']}")
                self.assertStatus(r, 204 if allowed else 403)
                r = self.admin.get(f"/projects/{target['id']}")
                if allowed:
                    self.assertProblem(r, 404)
                else:
                    self.assertStatus(r, 200)
                    self.assertEqual(r.json["description"], target["description"])
                    names = [p["name"] for p in self.admin.list_all(f"/tenants/{tid}/projects")]
                    self.assertNotIn(name, names)

    # ------------------------------------------------------------ members
    def test_member_crud(self):
        tid = self.t["id"]
        for role, c in self.users.items():
            with self.subTest(role=role):
                allowed = at_least(role, "admin")
                newbie = self.srv.user()
                r = c.post(f"/tenants/{tid}/members",
                           {"user_id": newbie.user["id"], "role": "viewer"})
                self.assertStatus(r, 201 if allowed else 403)
                if allowed:
                    self.assertEqual(r.json["user_id"], newbie.user["id"])
                    self.assertEqual(r.json["role"], "viewer")
                    self.assertEqual(r.json["email"], newbie.email)
                else:
                    self.assertNotIn(newbie.user["id"], self.members(tid))
                    gf.add_member(self.admin, tid, "viewer", user_id=newbie.user["id"])
                r = c.patch(f"/tenants/{tid}/members/{newbie.user['id']}", {"role": "operator"})
                self.assertStatus(r, 200 if allowed else 403)
                self.assertEqual(self.members(tid)[newbie.user["id"]],
                                 "operator" if allowed else "viewer")
                r = c.delete(f"/tenants/{tid}/members/{newbie.user['id']}")
                self.assertStatus(r, 204 if allowed else 403)
                self.assertEqual(newbie.user["id"] in self.members(tid), not allowed)

    def test_add_member_by_email(self):
        newbie = self.srv.user()
        r = self.users["admin"].post(f"/tenants/{self.t['id']}/members",
                                     {"email": newbie.email, "role": "operator"})
        self.assertStatus(r, 201)
        self.assertEqual(r.json["user_id"], newbie.user["id"])

    def test_add_existing_member_is_409(self):
        c = self.users["owner"]
        r = c.post(f"/tenants/{self.t['id']}/members",
                   {"user_id": self.users["viewer"].user["id"], "role": "admin"})
        self.assertProblem(r, 409)
        self.assertEqual(self.members(self.t["id"])[self.users["viewer"].user["id"]], "viewer")

    def test_only_owner_touches_owners(self):
        t = self.tenant_clone()
        tid = t["id"]
        adm, own = self.users["admin"], self.users["owner"]
        a, b = self.srv.user(), self.srv.user()
        # Granting owner.
        self.assertProblem(adm.post(f"/tenants/{tid}/members",
                                    {"user_id": a.user["id"], "role": "owner"}), 403)
        self.assertNotIn(a.user["id"], self.members(tid))
        self.assertStatus(own.post(f"/tenants/{tid}/members",
                                   {"user_id": a.user["id"], "role": "owner"}), 201)
        # Promoting to owner.
        gf.add_member(adm, tid, "viewer", user_id=b.user["id"])
        self.assertProblem(adm.patch(f"/tenants/{tid}/members/{b.user['id']}",
                                     {"role": "owner"}), 403)
        self.assertEqual(self.members(tid)[b.user["id"]], "viewer")
        # Touching an owner.
        self.assertProblem(adm.patch(f"/tenants/{tid}/members/{a.user['id']}",
                                     {"role": "viewer"}), 403)
        self.assertProblem(adm.delete(f"/tenants/{tid}/members/{a.user['id']}"), 403)
        self.assertEqual(self.members(tid)[a.user["id"]], "owner")
        # Owners can.
        self.assertStatus(own.patch(f"/tenants/{tid}/members/{a.user['id']}",
                                    {"role": "admin"}), 200)
        self.assertStatus(own.delete(f"/tenants/{tid}/members/{a.user['id']}"), 204)
        self.assertNotIn(a.user["id"], self.members(tid))

    def sole_owner_tenant(self):
        """A fresh tenant whose only member is a new user o, its owner: (tenant, o)."""
        t = gf.make_tenant(self.admin)
        o = self.srv.user()
        gf.add_member(self.admin, t["id"], "owner", user_id=o.user["id"])
        me = self.admin.user["id"]
        if me in self.members(t["id"]):
            # The creating server admin is an owner too: step down, leaving o alone.
            self.assertStatus(self.admin.delete(f"/tenants/{t['id']}/members/{me}"), 204)
        self.assertEqual(self.members(t["id"]), {o.user["id"]: "owner"})
        return t, o

    def test_last_owner_cannot_be_removed(self):
        t, o = self.sole_owner_tenant()
        tid = t["id"]
        r = o.delete(f"/tenants/{tid}/members/{o.user['id']}")
        self.assertProblem(r, 409)
        r = o.patch(f"/tenants/{tid}/members/{o.user['id']}", {"role": "admin"})
        self.assertProblem(r, 409)
        # Server admins act as owner, and still cannot remove the last owner.
        r = self.admin.delete(f"/tenants/{tid}/members/{o.user['id']}")
        self.assertProblem(r, 409)
        r = self.admin.patch(f"/tenants/{tid}/members/{o.user['id']}", {"role": "viewer"})
        self.assertProblem(r, 409)
        self.assertEqual(self.members(tid), {o.user["id"]: "owner"})
        # With a second owner, the first can go.
        p = self.srv.user()
        self.assertStatus(o.post(f"/tenants/{tid}/members",
                                 {"user_id": p.user["id"], "role": "owner"}), 201)
        self.assertStatus(o.delete(f"/tenants/{tid}/members/{o.user['id']}"), 204)
        self.assertEqual(self.members(tid), {p.user["id"]: "owner"})

    def test_last_owner_cannot_be_deleted_as_a_user(self):
        t, o = self.sole_owner_tenant()
        tid = t["id"]
        j = self.assertProblem(self.admin.delete(f"/users/{o.user['id']}"), 409)
        self.assertIn(t["slug"], j["detail"])
        self.assertEqual(self.admin.get(f"/users/{o.user['id']}").status, 200)
        self.assertEqual(self.members(tid), {o.user["id"]: "owner"})
        # An owner among others, and a plain member, can be deleted.
        p = self.srv.user()
        gf.add_member(self.admin, tid, "owner", user_id=p.user["id"])
        v = self.srv.user()
        gf.add_member(self.admin, tid, "viewer", user_id=v.user["id"])
        self.assertStatus(self.admin.delete(f"/users/{v.user['id']}"), 204)
        self.assertStatus(self.admin.delete(f"/users/{o.user['id']}"), 204)
        self.assertEqual(self.members(tid), {p.user["id"]: "owner"})
        self.assertProblem(self.admin.delete(f"/users/{p.user['id']}"), 409)

    def test_server_admin_acts_as_owner(self):
        t = self.tenant_clone()
        root = self.srv.user(is_admin=True)
        tid = t["id"]
        self.assertStatus(root.get(f"/tenants/{tid}"), 200)
        self.assertStatus(root.get(f"/tenants/{tid}/audit"), 200)
        self.assertStatus(root.patch(f"/tenants/{tid}", {"name": "by root"}), 200)
        newbie = self.srv.user()
        self.assertStatus(root.post(f"/tenants/{tid}/members",
                                    {"user_id": newbie.user["id"], "role": "owner"}), 201)
        self.assertStatus(root.delete(f"/tenants/{tid}"), 204)


if __name__ == "__main__":
    gf.main()

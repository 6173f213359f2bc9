# SPDX-License-Identifier: Apache-2.0
"""test_rollouts_templated.py - rollouts of templated bundles (files with ${name}
placeholders, rendered per node) with the real server, PostgreSQL, mosquitto (dynamic
security) and the fleet simulator playing the agents' bundle protocol.

Nodes are enrolled here with their keys kept, so the test reads what each node's agent
would fetch through the node-signed agent routes (manifest envelope, blobs) and its
retained `desired` message from the broker. Covered: every
node of a rollout gets its own instance (its labels and its row of the bundle's value
table rendered, a manifest naming it, signed with the project's key), its desired message
names that instance and its target reaches `applied` from the simulator's statuses; a node
cannot fetch another node's rendered file; a node without a value for a placeholder
becomes a `failed` target with the placeholder named and keeps its desired state, and with
a retry it is rendered again from the labels of that moment; a cancel gives notified nodes
their previous instance back, rendered files included; without a server-held key the
POST is refused and a started rollout fails with the reason; two replicas, one of them
killed between waves and restarted, render and notify each node once.
"""

import base64
import hashlib
import json
import os
import signal
import time

import gf
import gf_fleet

NODES = 20
TEMPLATE = b"site=${site}\nport=${port}\nlit=$${x}\n"
MISSING = "template etc/site.conf: no value for ${site}: not in the node's row, its labels " \
          "or the default row"


def verify(envelope, public_hex):
    """Check an envelope's signature with a public key through libsodium."""
    lib = gf.NodeKey.lib()
    data = base64.b64decode(envelope["signed"])
    sig = bytes.fromhex(envelope["signature"])
    return lib.crypto_sign_verify_detached(sig, data, len(data), bytes.fromhex(public_hex)) == 0


class TemplatedRolloutTest(gf_fleet.FleetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        keep = os.path.join(gf.run_root(), gf.uniq("tpl-keys"))
        os.makedirs(keep)
        cls.key_args = ("--fleet_interval_ms", "100", "--rollout_interval_ms", "200",
                        "--master_key_file", os.path.join(keep, "master.key"))
        cls.srv = gf.Server(extra_args=cls.key_args, name="tpl-rollouts").start()
        cls.admin = cls.srv.admin()
        tenant = gf.make_tenant(cls.admin)["id"]
        cls.pid = gf.make_project(cls.admin, tenant)["id"]
        cls.admin.post(f"/projects/{cls.pid}/clusters", cls.broker.cluster_body()).expect(201)
        token = cls.admin.post(f"/projects/{cls.pid}/enrollment-tokens",
                               {"auto_accept": True}).expect(201).json["secret"]
        anon = cls.srv.client(csrf=None)
        nodes, cls.keys = [], {}
        for _ in range(NODES):
            key = gf.NodeKey()
            a = key.enroll(anon, {"token": token, "public_key": key.public_text,
                                  "inventory": {"hostname": gf.uniq("tpl")}}).expect(200).json
            nodes.append((a["node_id"], a["mqtt"]["password"]))
            cls.keys[a["node_id"]] = key
        gf.wait_for(lambda: cls.srv.scalar("SELECT count(*) FROM nodes WHERE provisioned")
                    == str(NODES), timeout=90, what="broker accounts")
        cls.free = [n for n, _ in nodes]
        cls.sim = gf_fleet.online_sim(cls.srv, cls.broker, nodes)
        cls.http = cls.srv.client()
        cls.reader = (gf.uniq("reader"), gf.new_password())  # reads retained desired messages
        cls.broker.make_client(*cls.reader)

    # ------------------------------------------------------------------ helpers

    def group(self, name, sites, behaviour="ok"):
        """Take len(sites) free nodes, label them group=name and site=<site> (None: no site
        label), give them a behaviour."""
        ids, type(self).free = self.free[:len(sites)], self.free[len(sites):]
        self.assertEqual(len(ids), len(sites), "out of test nodes: raise NODES")
        for i, site in zip(ids, sites):
            labels = {"group": name} if site is None else {"group": name, "site": site}
            self.srv.sql(f"UPDATE nodes SET labels = '{json.dumps(labels)}' WHERE id = '{i}'")
            self.sim.send(f"set {i} {behaviour}")
        return ids

    def upload(self, name, text=TEMPLATE, rows=None):
        return gf.upload_bundle(self.admin, self.pid, {
            "name": name, "actions": [], "health_timeout_s": 30,
            "files": {"etc/site.conf": {"template": True}},
            "parameters": {"default": {"port": "502"}, "nodes": rows or {}}},
            [("etc/site.conf", text), ("etc/static.conf", b"static\n")]).expect(201).json

    def rollout(self, bundle, body, status=201):
        b = {"bundle_id": bundle["id"]}
        b.update(body)
        return self.admin.post(f"/projects/{self.pid}/rollouts", b).expect(status).json

    def get(self, rid):
        return self.admin.get(f"/rollouts/{rid}").expect(200).json

    def wait_rollout(self, rid, pred, what, timeout=30):
        seen = []

        def check():
            r = self.get(rid)
            seen[:] = [r]
            return r if pred(r) else None
        try:
            return gf.wait_for(check, timeout=timeout, what=what)
        except AssertionError as e:
            raise AssertionError(f"{e}; the rollout: {seen[0] if seen else None}") from None

    def targets(self, rid):
        items = self.admin.get(f"/rollouts/{rid}/targets",
                               query={"limit": "200"}).expect(200).json["items"]
        return {t["node_id"]: t for t in items}

    def agent_get(self, node, path):
        """GET an agent route as node (signed with its key)."""
        full = gf.API + path
        return self.http.request("GET", full,
                                 headers=self.keys[node].signed_headers(node, "GET", full))

    def instance(self, node, bundle_id):
        """What node's agent fetches for bundle_id: (envelope, manifest, {path: bytes})."""
        env = self.agent_get(node, f"/agent/bundles/{bundle_id}/manifest").expect(200).json
        m = json.loads(base64.b64decode(env["signed"]))
        files = {f["path"]: self.agent_get(node, f"/agent/blobs/{f['sha256']}").expect(200).body
                 for f in m["files"]}
        return env, m, files

    def server_key(self):
        keys = self.admin.get(f"/projects/{self.pid}/signing-keys").expect(200).json["items"]
        return [k for k in keys if k["state"] == "active" and k["kind"] == "server"][0]

    def retained_desired(self, node):
        rc, lines, err = self.broker.sub(f"gf/v1/n/{node}/desired", *self.reader)
        self.assertEqual(rc, 0, err)
        return json.loads(lines[0].split(" ", 1)[1])

    # ------------------------------------------------------------------ tests

    def test_each_node_gets_its_own_instance(self):
        ids = self.group("own", ["north", "south", "east", "west"])
        b = self.upload("own", rows={ids[1]: {"port": "1502"}})
        self.assertTrue(b["templated"])
        r = self.rollout(b, {"target": {"selector": "group=own"},
                             "waves": [{"nodes": 1}, {"percent": 100}]})
        self.assertEqual((r["state"], r["targets"]), ("running", 4))
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded", "succeeded")
        self.assertEqual(done["counts"], {"applied": 4})
        for t in self.targets(r["id"]).values():
            self.assertEqual((t["state"], t["attempts"], t["error"]), ("applied", 1, None), t)
        key = self.server_key()
        shas = set()
        for i, site in zip(ids, ["north", "south", "east", "west"]):
            env, m, files = self.instance(i, b["id"])
            self.assertTrue(verify(env, key["public_key"]), i)
            self.assertEqual(env["key_id"], key["key_id"])
            self.assertEqual((m["node"], m["project"], m["version"]), (i, self.pid, b["version"]))
            port = "1502" if i == ids[1] else "502"
            self.assertEqual(files["etc/site.conf"],
                             f"site={site}\nport={port}\nlit=${{x}}\n".encode())
            self.assertEqual(files["etc/static.conf"], b"static\n")
            sha = hashlib.sha256(base64.b64decode(env["signed"])).hexdigest()
            shas.add(sha)
            # The desired message names this instance; the simulator reported it applied.
            st = self.admin.get(f"/nodes/{i}/bundle").expect(200).json
            self.assertEqual((st["bundle_id"], st["manifest_sha256"], st["state"]),
                             (b["id"], sha, "applied"))
            self.assertEqual((st["applied_sha256"], st["drift"]), (sha, False))
            self.assertNotEqual(sha, b["manifest_sha256"])
        self.assertEqual(len(shas), 4)
        d = self.retained_desired(ids[2])
        mine = self.admin.get(f"/nodes/{ids[2]}/bundle").json["manifest_sha256"]
        self.assertEqual((d["bundle_id"], d["manifest_sha256"]), (b["id"], mine))
        # A node cannot fetch another node's rendered file (nor the raw template).
        _, m0, _ = self.instance(ids[0], b["id"])
        other = [f["sha256"] for f in m0["files"] if f["path"] == "etc/site.conf"][0]
        self.agent_get(ids[3], f"/agent/blobs/{other}").expect(404)
        raw = [f["sha256"] for f in b["files"] if f["path"] == "etc/site.conf"][0]
        self.agent_get(ids[0], f"/agent/blobs/{raw}").expect(404)
        # Each node got one desired generation from the rollout.
        for i in ids:
            self.assertEqual(len({e["gen"] for e in self.sim.events("desired", i)}), 1, i)

    def test_missing_value_fails_the_target(self):
        ids = self.group("missing", ["a", "b", None])
        b = self.upload("missing")
        r = self.rollout(b, {"target": {"selector": "group=missing"}})
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "paused", "paused")
        self.assertEqual(done["pause_reason"], "threshold")
        self.assertEqual(done["counts"], {"applied": 2, "failed": 1})
        t = self.targets(r["id"])
        self.assertEqual((t[ids[2]]["state"], t[ids[2]]["error"], t[ids[2]]["attempts"]),
                         ("failed", MISSING, 1))
        self.assertIsNone(t[ids[2]]["notified_at"])
        # Not notified: no desired state, nothing published to it, nothing to fetch.
        self.assertEqual(self.admin.get(f"/nodes/{ids[2]}/bundle").status, 404)
        self.assertEqual(self.sim.events("desired", ids[2]), [])
        self.agent_get(ids[2], f"/agent/bundles/{b['id']}/manifest").expect(404)
        # The error filter finds it by the placeholder's name.
        found = self.admin.get(f"/rollouts/{r['id']}/targets",
                               query={"error": "${site}"}).expect(200).json["items"]
        self.assertEqual([x["node_id"] for x in found], [ids[2]])
        self.admin.post(f"/rollouts/{r['id']}/cancel").expect(200)

    def test_retry_renders_the_labels_of_that_moment(self):
        (node,) = self.group("retry", [None])
        b = self.upload("retry")
        r = self.rollout(b, {"target": {"selector": "group=retry"},
                             "retries": {"failed": 1, "backoff_s": 4}})
        t = gf.wait_for(lambda: (lambda x: x if x["error"] else None)(
            self.targets(r["id"])[node]), what="the first attempt's failure")
        self.assertEqual((t["error"], t["attempts"]), (MISSING, 1))
        self.assertEqual(self.sim.events("desired", node), [])
        self.srv.sql(f"UPDATE nodes SET labels = labels || '{{\"site\": \"late\"}}'"
                     f" WHERE id = '{node}'")
        done = self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded", "succeeded",
                                 timeout=40)
        self.assertEqual(done["counts"], {"applied": 1})
        self.assertEqual(self.targets(r["id"])[node]["attempts"], 2)
        _, _, files = self.instance(node, b["id"])
        self.assertEqual(files["etc/site.conf"], b"site=late\nport=502\nlit=${x}\n")

    def test_cancel_restores_the_previous_instance(self):
        ids = self.group("cancel", ["c1", "c2"])
        v1 = self.upload("cancel")
        for i in ids:
            self.admin.put(f"/nodes/{i}/bundle", {"bundle_id": v1["id"]}).expect(200)
        for i in ids:
            gf.wait_for(lambda: self.admin.get(f"/nodes/{i}/bundle").json["state"] == "applied",
                        what="v1 applied")
        before = {i: self.admin.get(f"/nodes/{i}/bundle").json for i in ids}
        old = {i: self.instance(i, v1["id"]) for i in ids}
        for i in ids:
            self.sim.send(f"set {i} ignore")  # notified, never starts
        v2 = self.upload("cancel", text=b"v2 site=${site}\n")
        self.assertEqual(v2["version"], v1["version"] + 1)
        r = self.rollout(v2, {"target": {"selector": "group=cancel"}})
        self.wait_rollout(r["id"], lambda x: x["counts"].get("notified") == 2, "2 notified")
        new = {i: self.instance(i, v2["id"]) for i in ids}
        for i, site in zip(ids, ["c1", "c2"]):
            self.assertEqual(new[i][2]["etc/site.conf"], f"v2 site={site}\n".encode())
            # The node's rendered file is v2's now: v1's is no longer served to it.
            v1_sha = [f["sha256"] for f in old[i][1]["files"] if f["path"] == "etc/site.conf"][0]
            self.agent_get(i, f"/agent/blobs/{v1_sha}").expect(404)
        c = self.admin.post(f"/rollouts/{r['id']}/cancel").expect(200).json
        self.assertEqual(c["counts"], {"cancelled": 2})
        for i, site in zip(ids, ["c1", "c2"]):
            st = self.admin.get(f"/nodes/{i}/bundle").expect(200).json
            self.assertEqual((st["bundle_id"], st["manifest_sha256"], st["state"]),
                             (v1["id"], before[i]["manifest_sha256"], "applied"))
            env, m, files = self.instance(i, v1["id"])
            self.assertEqual(env, old[i][0])
            self.assertEqual(files, old[i][2])
            v2_sha = [f["sha256"] for f in new[i][1]["files"] if f["path"] == "etc/site.conf"][0]
            self.agent_get(i, f"/agent/blobs/{v2_sha}").expect(404)
            self.agent_get(i, f"/agent/bundles/{v2['id']}/manifest").expect(404)
            gf.wait_for(lambda: self.retained_desired(i)["manifest_sha256"]
                        == before[i]["manifest_sha256"], what="v1's desired published again")

    def test_no_server_key_to_sign_instances(self):
        (node,) = self.group("nokey", ["k1"])
        b = self.upload("nokey")
        d = self.rollout(b, {"target": {"node_ids": [node]}, "draft": True})
        # The project's server key stops signing (as if retired) while the draft waits.
        key = self.srv.scalar(f"UPDATE signing_keys SET state = 'retired' WHERE project_id ="
                              f" '{self.pid}' AND kind = 'server' AND state = 'active'"
                              f" RETURNING id")
        try:
            p = self.assertProblem(self.admin.post(f"/projects/{self.pid}/rollouts", {
                "bundle_id": b["id"], "target": {"node_ids": [node]}}), 409, "conflict",
                "/bundle_id")
            self.assertIn("server-held key", p["detail"])
            self.assertProblem(self.admin.put(f"/nodes/{node}/bundle", {"bundle_id": b["id"]}),
                               409, "conflict", "/bundle_id")
            self.assertEqual(self.admin.post(f"/rollouts/{d['id']}/start").expect(200)
                             .json["state"], "running")
            done = self.wait_rollout(d["id"], lambda x: x["state"] == "failed", "failed")
        finally:
            self.srv.sql(f"UPDATE signing_keys SET state = 'active' WHERE id = '{key}'")
        self.assertEqual(done["reason"], "the project's trust root holds no server-held key to "
                         "sign the nodes' instances of this templated bundle")
        self.assertEqual(done["counts"], {"cancelled": 1})  # never notified, let go
        self.assertEqual(self.admin.get(f"/nodes/{node}/bundle").status, 404)
        self.assertEqual(self.sim.events("desired", node), [])
        # Let go, and with the key back the same bundle rolls out.
        r = self.rollout(b, {"target": {"node_ids": [node]}})
        self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded", "succeeded with a key")

    def test_two_replicas_and_a_kill(self):
        ids = self.group("replicas", [f"r{k}" for k in range(6)])
        b = self.upload("replicas")
        other = gf.Server(db=self.srv.db, name="tpl-replica-2", extra_args=self.key_args).start()
        try:
            r = self.rollout(b, {"target": {"selector": "group=replicas"},
                                 "waves": [{"nodes": 2, "then": "pause"}, {"percent": 100}]})
            self.wait_rollout(r["id"], lambda x: x["state"] == "paused", "wave 1 applied")
            # SIGKILL the first replica and restart it (same state_dir, so same replica id and
            # broker sessions: what the broker queued for it meanwhile is delivered).
            db, state = self.srv.db, self.srv.state_dir
            self.srv.stop(sig=signal.SIGKILL)
            type(self).srv = gf.Server(db=db, extra_args=list(self.key_args) + ["--state_dir", state],
                                       name="tpl-2").start()
            type(self).admin = self.srv.admin()
            type(self).http = self.srv.client()
            self.admin.post(f"/rollouts/{r['id']}/resume").expect(200)
            done = self.wait_rollout(r["id"], lambda x: x["state"] == "succeeded", "succeeded")
        finally:
            other.stop()
        self.assertEqual(done["counts"], {"applied": 6})
        targets = self.targets(r["id"])
        for k, i in enumerate(ids):
            self.assertEqual(targets[i]["attempts"], 1)
            self.assertEqual(len({e["gen"] for e in self.sim.events("desired", i)}), 1, i)
            _, m, files = self.instance(i, b["id"])
            self.assertEqual(files["etc/site.conf"], f"site=r{k}\nport=502\nlit=${{x}}\n".encode())
        time.sleep(0.5)  # no late second notification from the other replica
        for i in ids:
            self.assertEqual(len({e["gen"] for e in self.sim.events("desired", i)}), 1, i)


if __name__ == "__main__":
    gf.main()

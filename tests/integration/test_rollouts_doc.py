# SPDX-License-Identifier: Apache-2.0
"""test_rollouts_doc.py - the curl script of docs/rollouts.md, run exactly as written.

Every ```sh block of the page is joined into one bash script and run against a real server,
PostgreSQL, mosquitto and nine simulated stations (fleetsim --mode fleet): six labelled
site=north (the canary rollout: one of its last wave fails, one hangs until the script has
paused and resumed the rollout on seeing the failure), three site=south (the draft that is
started, then cancelled while it waits for its rate limit). The script must exit 0, the
canary must succeed with one failed station, and the second rollout must be cancelled.
"""

import os
import re
import subprocess
import threading

import gf
import gf_fleet

DOC = os.path.join(os.environ.get("GF_REPO", "."), "docs", "rollouts.md")


class RolloutDocTest(gf.GfTestCase):
    start_server = False

    def test_script_runs_as_written(self):
        with open(DOC) as f:
            script = "\n".join(re.findall(r"```sh\n(.*?)```", f.read(), re.S))
        self.assertIn("Idempotency-Key", script)
        broker = gf.Broker(name="doc").start()
        sim = None
        try:
            srv = gf.Server(extra_args=("--fleet_interval_ms", "100", "--rollout_interval_ms",
                                        "200"), name="doc").start()
            admin, tenant, project, nodes = gf_fleet.fleet_project(srv, broker, 9, timeout=60)
            ids = [n for n, _ in nodes]
            for i, nid in enumerate(ids):
                site = "north" if i < 6 else "south"
                srv.sql(f"UPDATE nodes SET labels = '{{\"site\": \"{site}\"}}'"
                        f" WHERE id = '{nid}'")
            # Waves by enrollment order: north 0 | 1 | 2..5; node 3 fails, node 4 hangs.
            sim = gf_fleet.online_sim(srv, broker, nodes, args=("--step-ms", "100"),
                                      behaviours={3: "fail", 4: "hang"})

            def unstick():
                # Once the script has resumed, the hanging station restarts and applies.
                gf.wait_for(lambda: srv.scalar(
                    "SELECT count(*) FROM project_events WHERE kind = 'rollout.resumed'") == "1",
                    timeout=120, what="the script's resume")
                sim.send(f"offline {ids[4]}")
                sim.send(f"online {ids[4]} ok")
            helper = threading.Thread(target=unstick, daemon=True)
            helper.start()
            work = os.path.join(broker.dir, "script")
            os.makedirs(work)
            env = dict(os.environ, GF=srv.base_url, EMAIL=admin.email, PASSWORD=admin.password,
                       TENANT=tenant, PROJECT=project)
            p = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                               text=True, timeout=180)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
            self.assertIn("final: succeeded", p.stdout)
            canary = srv.scalar("SELECT id FROM rollouts WHERE name = 'neuronex canary'")
            self.assertEqual(srv.scalar("SELECT count(*) FROM rollouts"), "2")  # idempotent
            self.assertEqual(srv.scalar(
                f"SELECT state FROM rollout_targets WHERE rollout_id = '{canary}'"
                f" AND node_id = '{ids[3]}'"), "failed")
            self.assertEqual(srv.scalar(
                f"SELECT count(*) FROM rollout_targets WHERE rollout_id = '{canary}'"
                " AND state = 'applied'"), "5")
            self.assertEqual(srv.scalar(
                "SELECT string_agg(state, ',' ORDER BY created_at) FROM rollouts"),
                "succeeded,cancelled")
            self.assertIn(ids[3], p.stdout)  # the script listed what failed
        finally:
            if sim is not None:
                sim.quit()
            broker.stop()


if __name__ == "__main__":
    gf.main()

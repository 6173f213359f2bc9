# SPDX-License-Identifier: Apache-2.0
"""test_fleetsim.py - many nodes at once through the real protocol (tests/sim/fleetsim).

Enrolls 60 virtual nodes over REST, runs the simulator against a private mosquitto with
dynamic security and a real server, then checks the whole chain: every node connected
with its own credentials, every acknowledged sample is in PostgreSQL exactly once (no
acknowledged loss, no duplicates, sequences without holes up to the acknowledged mark),
and each node shows online with its latest health. Also runs the broker-only echo mode
the benchmark uses for its ceiling, to keep it working.
"""

import json
import os
import subprocess

import gf
from gf_fleet import fleet_project, write_creds

NODES = 60


class FleetSimTest(gf.GfTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = os.environ.get("GF_FLEETSIM_BIN")
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100"), name="sim").start()
        cls.admin, _, cls.pid, cls.nodes = fleet_project(cls.srv, cls.broker, NODES, timeout=60)
        cls.creds = write_creds(os.path.join(cls.broker.dir, "creds.txt"), cls.nodes)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.broker.stop()

    def run_sim(self, *args, timeout=120):
        self.assertTrue(self.sim and os.path.exists(self.sim), "GF_FLEETSIM_BIN not built")
        p = subprocess.run([self.sim, "--creds", self.creds, "--broker",
                            f"127.0.0.1:{self.broker.port}"] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def test_ingest_no_loss_no_duplicates(self):
        self.assertEqual(self.srv.scalar("SELECT count(*) FROM nodes WHERE provisioned"),
                         str(NODES))
        r = self.run_sim("--interval-ms", "200", "--duration", "6", "--warmup", "2")
        self.assertEqual(r["connected"], NODES, r)
        self.assertGreater(r["samples_acked"], NODES * 20, r)
        self.assertEqual(r["resends"], 0, r)
        boot = r["boot_id"]
        # One statement: the server may still be committing the last batches.
        row = self.srv.sql(f"SELECT count(*), count(DISTINCT (node_id, seq)) FROM "
                           f"health_samples WHERE boot_id = '{boot}'")[0]
        stored, distinct = int(row[0]), int(row[1])
        self.assertEqual(stored, distinct, "a sample was stored twice")
        # Everything acknowledged is stored (the simulator stops without waiting for the
        # last acks, so stored may exceed acked, never the other way round).
        self.assertGreaterEqual(stored, r["samples_acked"], r)
        self.assertLessEqual(r["samples_acked"], r["samples_made"], r)
        holes = self.srv.scalar(
            f"SELECT count(*) FROM (SELECT node_id, max(seq) - count(*) AS gap FROM "
            f"health_samples WHERE boot_id = '{boot}' GROUP BY node_id) g WHERE gap <> 0")
        self.assertEqual(holes, "0")
        online = self.admin.list_all(f"/projects/{self.pid}/nodes", query={"online": "true"})
        self.assertEqual(len(online), NODES)
        self.assertTrue(all(n["health"] and n["health"]["cpu"]["usage_pct"] == 23.5
                            for n in online))

    def test_echo_mode_measures_the_broker(self):
        """The benchmark's ceiling: the same protocol, acknowledged by a sink that does
        nothing else. Acks of another run's boot id are ignored."""
        self.broker.make_client("sink", "sink-password")
        r = self.run_sim("--mode", "echo", "--interval-ms", "100", "--duration", "3",
                         "--warmup", "1", "--sink", "sink:sink-password")
        self.assertEqual(r["connected"], NODES, r)
        self.assertGreater(r["samples_sunk"], 0, r)
        self.assertGreater(r["acked_per_s"], NODES * 5, r)
        self.assertLessEqual(r["samples_acked"], r["samples_made"], r)


if __name__ == "__main__":
    gf.main()

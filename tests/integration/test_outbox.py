# SPDX-License-Identifier: Apache-2.0
"""test_outbox.py - the desired outbox's work per batch does not grow with the fleet, even
while PostgreSQL's statistics are out of date (issue 5; docs/performance.md, "Statistics").

Each batch of the outbox (server/mqtt/desired.c) asks for the oldest due rows of its cluster
(gf_q_desired_due). Written as a join of node_bundles and nodes, that query was planned from
the nodes whenever the planner thought there were few of them: 10,000 stations enrolled
since the last ANALYZE (autovacuum's comes up to a minute later), a bulk import, a restored
dump. Every batch then read every accepted node and sorted every due row, and so did every
idle pass of the fleet loop. The query now has only node_bundles in FROM, so its plan is the
outbox index in order, stopped after a batch.

Here the nodes table's statistics say it is empty (ANALYZE before 3,000 nodes are added,
autovacuum off for the table, as in the minute after an import); 30 desired messages go out
in batches of 3. Asserted from PostgreSQL's own counters: all of that read fewer node rows
than one pass over the nodes (about 120). With the join it read 369,091 in the same test.
The command relay's due query (gf_q_command_due) joins the nodes too; 30 commands are held
to the same bound (its plan starts from the queued commands, and must keep doing so).
"""

import time

import gf

NODES = 3000
ASSIGNED = 30


def node_rows_read(srv):
    """Rows of `nodes` read so far, by sequential and index scans (every backend's counts
    reach pg_stat_user_tables within about a second of its last transaction)."""
    return int(srv.scalar("SELECT seq_tup_read + coalesce(idx_tup_fetch, 0)"
                          " FROM pg_stat_user_tables WHERE relname = 'nodes'"))


def settled(srv):
    """node_rows_read once it has stopped moving (the server's backends flushed theirs), or
    after 12 s: a fleet loop that reads the nodes on every pass never lets it settle."""
    last = node_rows_read(srv)
    for _ in range(8):
        time.sleep(1.5)
        now = node_rows_read(srv)
        if now == last:
            break
        last = now
    return last


class OutboxStaleStatisticsTest(gf.GfTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker().start()
        cls.srv = gf.Server(extra_args=("--fleet_interval_ms", "100", "--desired_batch", "3"),
                            name="outbox").start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.broker.stop()

    def test_due_query_reads_a_batch_not_the_fleet(self):
        admin = self.srv.admin()
        pid = gf.make_project(admin, gf.make_tenant(admin)["id"])["id"]
        cluster = admin.post(f"/projects/{pid}/clusters", self.broker.cluster_body()).expect(201)
        # The planner's picture of the nodes: none (the minute after a bulk import).
        self.srv.sql("ALTER TABLE nodes SET (autovacuum_enabled = false)")
        self.srv.sql("ANALYZE nodes")
        gf.insert_nodes(self.srv, pid, cluster.json["id"], NODES, "outbox")
        ids = [r[0] for r in self.srv.sql(
            f"SELECT id FROM nodes WHERE project_id = '{pid}' ORDER BY name LIMIT {ASSIGNED}")]
        bundle = gf.upload_bundle(admin, pid, {"name": "outbox", "actions": []},
                                  [("etc/outbox.conf", b"v1\n")]).expect(201).json
        batches = self.srv.metric("gf_desired_batches_total")
        published = self.srv.metric("gf_desired_published_total")
        before = settled(self.srv)
        for i in ids:
            admin.put(f"/nodes/{i}/bundle", {"bundle_id": bundle["id"]}).expect(200)
        lit = ",".join(f"'{i}'" for i in ids)
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT count(*) FROM node_bundles WHERE node_id IN ({lit})"
            " AND published_gen = gen") == str(ASSIGNED), timeout=30, what="published")
        read = settled(self.srv) - before
        print(f"# {read} node rows read", flush=True)
        # The scenario happened: 30 messages, each acknowledged once, in batches of 3.
        self.assertEqual(self.srv.metric("gf_desired_published_total") - published, ASSIGNED)
        self.assertGreaterEqual(self.srv.metric("gf_desired_batches_total") - batches,
                                ASSIGNED // 3)
        # 30 assignments (each reads its node) and the outbox's look-ups of the rows it
        # took, not the 3,000 nodes per batch and per idle pass.
        self.assertLess(read, NODES, f"{read} node rows read to publish {ASSIGNED} messages")
        # The command relay's due query also joins the nodes: a command to each of those
        # nodes (offline: each is sent, then waits for its deadline), with a history of
        # 21,000 finished commands the planner knows about.
        self.srv.sql(
            "INSERT INTO commands (project_id, node_id, name, timeout_ms, state, deadline_at,"
            f" finished_at) SELECT '{pid}', id, 'ping', 1000, 'succeeded', now(), now()"
            f" FROM nodes, generate_series(1, 7) WHERE project_id = '{pid}'")
        self.srv.sql("ANALYZE commands")
        before = settled(self.srv)
        for i in ids:
            admin.post(f"/nodes/{i}/commands", {"name": "ping", "timeout_s": 600}).expect(202)
        gf.wait_for(lambda: self.srv.scalar(
            f"SELECT count(*) FROM commands WHERE node_id IN ({lit}) AND state = 'sent'")
            == str(ASSIGNED), timeout=30, what="commands sent")
        read = settled(self.srv) - before
        print(f"# {read} node rows read for commands", flush=True)
        self.assertLess(read, NODES, f"{read} node rows read to send {ASSIGNED} commands")
        # The planner still believes the table empty (else this proved nothing).
        self.assertEqual(self.srv.scalar(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'nodes'"), "0")


if __name__ == "__main__":
    gf.main()

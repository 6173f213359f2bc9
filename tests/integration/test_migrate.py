# SPDX-License-Identifier: Apache-2.0
"""test_migrate.py - schema migrations.

`gatefleet-server migrate` on an empty database applies every file of migrations/ (one
schema_migrations row each) and a second run changes nothing; a database that cannot be
reached fails with a non-zero exit; two servers started at the same moment on the same
empty database both become ready and the schema is applied exactly once (the advisory lock).
"""

import time

import gf


def schema_fingerprint(pg, db):
    """Tables, columns and indexes of the public schema, as one sorted list."""
    rows = pg.psql(
        "SELECT 'col', table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' UNION ALL "
        "SELECT 'idx', tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = 'public' ORDER BY 1, 2, 3", db)
    return rows


class MigrateTest(gf.GfTestCase):
    start_server = False

    def setUp(self):
        self.pg = gf.pg()
        self.db = self.pg.create_db()
        self.addCleanup(self.pg.drop_db, self.db)

    def migrations_rows(self):
        return self.pg.psql("SELECT * FROM schema_migrations ORDER BY 1", self.db)

    def test_migrate_twice_second_is_noop(self):
        url = self.pg.url(self.db)
        p = gf.migrate(url)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        n = gf.migrations_count()
        self.assertGreater(n, 0)
        count = int(self.pg.scalar("SELECT count(*) FROM schema_migrations", self.db))
        self.assertEqual(count, n)
        self.assertEqual(
            self.pg.scalar("SELECT count(DISTINCT version) FROM schema_migrations", self.db),
            str(n))
        rows1 = self.migrations_rows()
        schema1 = schema_fingerprint(self.pg, self.db)
        self.assertTrue(any(r[1] == "tenants" for r in schema1), "tenants table missing")

        p = gf.migrate(url)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.migrations_rows(), rows1, "second migrate changed the ledger")
        self.assertEqual(schema_fingerprint(self.pg, self.db), schema1,
                         "second migrate changed the schema")

    def test_migrate_unreachable_database_fails(self):
        t0 = time.monotonic()
        p = gf.migrate("host=127.0.0.1 port=1 user=nobody dbname=nothing connect_timeout=5")
        self.assertNotEqual(p.returncode, 0)
        self.assertLess(time.monotonic() - t0, 60)
        self.assertTrue((p.stdout + p.stderr).strip(), "no diagnostic printed")

    def test_two_servers_same_empty_database(self):
        a = gf.Server(db=self.db, name="twin-a", wait=False)
        b = gf.Server(db=self.db, name="twin-b", wait=False)
        try:
            a.start()
            b.start()
            a.wait_ready()
            b.wait_ready()
            for s in (a, b):
                r = s.client().request("GET", "/readyz")
                self.assertStatus(r, 200)
            n = gf.migrations_count()
            self.assertEqual(
                self.pg.scalar("SELECT count(*) FROM schema_migrations", self.db), str(n))
            self.assertEqual(
                self.pg.scalar("SELECT count(DISTINCT version) FROM schema_migrations",
                               self.db), str(n))
            # Both work against the same schema: an admin made through one is seen by both.
            email, password = a.create_admin()
            for s in (a, b):
                r = s.client().login(email, password)
                self.assertStatus(r, 200)
        finally:
            ra, rb = a.stop(), b.stop()
        self.assertEqual((ra, rb), (0, 0), a.log_tail() + "\n----\n" + b.log_tail())
        a.check_clean_exit()
        b.check_clean_exit()
        a.cleanup()
        b.cleanup()

    def test_server_on_migrated_database_starts(self):
        p = gf.migrate(self.pg.url(self.db))
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = self.migrations_rows()
        with gf.Server(db=self.db, name="premigrated") as s:
            self.assertStatus(s.client().request("GET", "/readyz"), 200)
        self.assertEqual(self.migrations_rows(), rows)


if __name__ == "__main__":
    gf.main()

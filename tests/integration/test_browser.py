#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""test_browser.py - the web dashboard in a real browser: starts a server on a fresh
database with a server admin, then runs tests/browser/dashboard.js (Debian chromium driven
by playwright-core, installed into the build tree by the `browser` CTest fixture)."""
import os
import subprocess
import unittest

import gf

BROWSER_DIR = os.environ.get("GF_BROWSER_DIR", "")


class DashboardTest(unittest.TestCase):
    def test_dashboard_flow(self):
        with gf.Server(name="browser") as srv:
            admin = srv.admin()
            env = dict(os.environ, NODE_PATH=os.path.join(BROWSER_DIR, "node_modules"))
            out = subprocess.run(["node", os.path.join(gf.REPO, "tests", "browser", "dashboard.js"),
                                  srv.base_url, admin.email, admin.password, srv.tmp],
                                 capture_output=True, text=True, timeout=240, env=env)
            print(out.stdout, out.stderr)
            self.assertEqual(out.returncode, 0, f"{out.stdout}\n{out.stderr}\n{srv.log_tail()}")
            self.assertNotIn(admin.password, srv.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)

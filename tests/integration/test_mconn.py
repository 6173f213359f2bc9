# SPDX-License-Identifier: Apache-2.0
"""test_mconn.py - the server's MQTT session (server/mqtt/conn.c) counting its publishes in
flight through a broker that hangs, dies and comes back empty, with the real paho and a
real mosquitto (tests/sim/mconn_probe drives one session from stdin).

The desired outbox and the command relay wait on that count (gf_mconn_window keeps it under
the broker's Receive Maximum, gf_mconn_flush waits for it to reach zero). A new connection
writes off what was in flight on the last one. paho, though, still completes some of those
later: publishes left in its queue when the connection broke go out on the next one and
are acknowledged there. Counted again, they made the completions outnumber the publishes,
and the window looked full for good: after a broker restart every batch of desired messages
timed out until the server was restarted. Here the broker is stopped (SIGSTOP) while the
session publishes more than the sockets hold, then killed and started again: the late
completions must come (else the test proves nothing), and the window and a flush must work
at once on the new connection.
"""

import os
import signal
import subprocess

import gf


class Probe:
    """A running mconn_probe: one command, one answer line."""

    def __init__(self, broker, user, password):
        self.proc = subprocess.Popen(
            [os.environ["GF_MCONN_PROBE_BIN"], "--url", broker.url, "--user", user,
             "--password", password, "--client-id", gf.uniq("probe")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            bufsize=1)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        if not answer:
            raise AssertionError(f"mconn_probe exited on {line!r} ({self.proc.poll()})")
        return answer

    def quit(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        return self.proc.wait(15)


class MconnTest(gf.GfTestCase):
    start_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = gf.Broker(name="mconn").start()
        cls.password = gf.new_password()
        cls.broker.ctrl("createClient", "probe", "-p", cls.password)
        cls.broker.ctrl("createRole", "probe")
        cls.broker.ctrl("addRoleACL", "probe", "publishClientSend", "probe/#", "allow")
        cls.broker.ctrl("addClientRole", "probe", "probe")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.broker.stop()
        finally:
            super().tearDownClass()

    def test_late_completions_after_a_broker_restart(self):
        p = Probe(self.broker, "probe", self.password)
        try:
            self.assertEqual(p.ask("connects 1 10000"), ["connects", "1"])
            self.assertEqual(p.ask("publish 10 100"), ["published", "10", "0"])
            self.assertEqual(p.ask("flush 5000"), ["flush", "ok"])
            # The broker hangs: 3000 publishes of 32 KiB (96 MiB) fill the sockets, the rest
            # wait in paho's queue. Then it dies and comes back without their session.
            self.broker.proc.send_signal(signal.SIGSTOP)
            try:
                self.assertEqual(p.ask("publish 3000 32768"), ["published", "3000", "0"])
                self.assertEqual(p.ask("flush 1000"), ["flush", "timeout"])
            finally:
                self.broker.stop(sig=signal.SIGKILL)
            self.broker.start()
            self.assertEqual(p.ask("connects 2 15000"), ["connects", "2"])
            # What paho had left in its queue goes out on the new connection and is
            # acknowledged there, after the connect wrote it off.
            late = gf.wait_for(lambda: int(p.ask("late")[1]) or None, timeout=30,
                               what="completions of the last connection's publishes")
            self.assertGreater(late, 0)
            # Nothing of this connection is in flight: the window is open and a flush ends
            # at once, before and after new publishes.
            self.assertEqual(p.ask("window 256 2000"), ["window", "ok"])
            self.assertEqual(p.ask("flush 2000"), ["flush", "ok"])
            self.assertEqual(p.ask("publish 300 100"), ["published", "300", "0"])
            self.assertEqual(p.ask("window 256 5000"), ["window", "ok"])
            self.assertEqual(p.ask("flush 5000"), ["flush", "ok"])
        finally:
            self.assertEqual(p.quit(), 0)


if __name__ == "__main__":
    gf.main()

# SPDX-License-Identifier: Apache-2.0
"""benchenv.py - what every benchmark under tests/bench/ sets up the same way: a fixtures
directory with the test harness's PostgreSQL and mosquitto (tests/harness), the environment
tests/integration/gf.py reads, and /proc readings of a process's CPU and memory."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
HARNESS = os.path.join(REPO, "tests", "harness")
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))


def start(prefix):
    """Make a fixtures directory, point gf.py at it and start PostgreSQL and mosquitto.
    GF_SERVER_BIN defaults to the release build. Returns the directory (give it to stop)."""
    os.environ.setdefault("GF_SERVER_BIN",
                          os.path.join(REPO, "build", "release", "server", "gatefleet-server"))
    fixtures = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(fixtures, 0o755)
    os.environ["GF_FIXTURES"] = fixtures
    os.environ["GF_REPO"] = REPO
    for svc in ("pg", "mqtt"):
        subprocess.run(["bash", os.path.join(HARNESS, svc + ".sh"), "start",
                        os.path.join(fixtures, svc)], check=True, stdout=subprocess.DEVNULL)
    return fixtures


def stop(fixtures):
    for svc in ("mqtt", "pg"):
        subprocess.run(["bash", os.path.join(HARNESS, svc + ".sh"), "stop",
                        os.path.join(fixtures, svc)], stdout=subprocess.DEVNULL)


def proc_cpu_seconds(pid):
    """User + system CPU seconds of pid so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid, key):
    """A size field of /proc/<pid>/status (VmRSS, VmHWM) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0

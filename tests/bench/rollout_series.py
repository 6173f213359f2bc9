#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""rollout_series.py - rollout_bench.py run N times in a row, each on fresh fixtures, with
the spread of its figures: on a shared 2-core machine one run says little about a target.

Prints one line per run (from the POST: POST answered, last station received its desired
message, last `applied` committed, rollout succeeded; duplicates; server peak RSS; the load
average before the run), then min / median / max of each figure and how many runs met the
issue's targets (every station notified within 2 s, every `applied` committed within 5 s).
Exits non-zero if a run fails or a station got its desired message twice or not at all.
Usage: tests/bench/rollout_series.py [--runs 10] [--nodes 10000] [rollout_bench.py args...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = ("post_s", "notified_s", "committed_s", "succeeded_s")
TARGETS = {"notified_s": 2.0, "committed_s": 5.0}  # issue 5, from the POST


def one_run(nodes, extra):
    """One rollout_bench.py run; its JSON result (the first JSON object of its output)."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "rollout_bench.py"),
                          "--nodes", str(nodes)] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=900)
    if out.returncode != 0 or "{" not in out.stdout:
        sys.stderr.write(out.stdout[-4000:])
        raise SystemExit(f"rollout_bench.py failed (exit {out.returncode})")
    result, _ = json.JSONDecoder().raw_decode(out.stdout[out.stdout.index("{"):])
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=10000)
    args, extra = ap.parse_known_args()
    runs, bad = [], 0
    print("# run  load   " + "  ".join(f"{f:>11}" for f in FIGURES) + "  dups  rss_mb",
          flush=True)
    for i in range(args.runs):
        with open("/proc/loadavg") as f:
            load = float(f.read().split()[0])
        r = one_run(args.nodes, extra)
        runs.append(r)
        complete = r["desired_received"] == args.nodes and r["desired_duplicates"] == 0
        bad += 0 if complete else 1
        print(f"{i + 1:5d} {load:5.2f}   " + "  ".join(f"{r[f]:11.3f}" for f in FIGURES)
              + f"  {r['desired_duplicates']:4d}  {r['server_rss_mb']:6.1f}"
              + ("" if complete else f"  INCOMPLETE: {r['desired_received']} received"),
              flush=True)
    summary = {"runs": args.runs, "nodes": args.nodes}
    for f in FIGURES:
        v = [r[f] for r in runs]
        summary[f] = {"min": min(v), "median": round(statistics.median(v), 3), "max": max(v)}
    for f, limit in TARGETS.items():
        summary[f"{f}_within_{limit:g}s"] = sum(1 for r in runs if r[f] <= limit)
    summary["incomplete_runs"] = bad
    print(json.dumps(summary, indent=2))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

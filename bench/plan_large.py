"""Benchmark: plan of 1,000 sites and 20,000 users against the embedded sandbox, and a no-op
apply after a full apply.

Prints wall time and peak memory of each command (run as a separate process), and the backend
read and write calls. Goal: plan within 3 s and 300 MB on a 2-core machine; zero writes for the
no-op apply.

    python bench/plan_large.py [--sites 1000] [--users 20000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import ENV, generate

# runs one command and reports its own peak memory: a separate process per measurement
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "e = time.perf_counter() - t\n"
    "sys.stdout.write(p.stderr)\n"
    "print(f'@@ {p.returncode} {e} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n"
)


def ainas(*args: str, cwd: Path) -> tuple[float, int, str]:
    """Run the real command; wall time, peak RSS (KB) of that process, its stderr."""
    process = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "ainas_provision", "--debug", *args],
        cwd=cwd,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
    )
    stderr, _, tail = process.stdout.rpartition("@@ ")
    code, elapsed, peak = tail.split()
    if int(code) not in (0, 2):
        raise SystemExit(f"{' '.join(args)} failed:\n{stderr[-3000:]}")
    return float(elapsed), int(peak), stderr


def calls(stderr: str) -> str:
    match = re.search(r"backend calls: (.*)", stderr)
    return match.group(1) if match else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "manifests", args.sites, args.users)
        print(f"{args.sites} sites, {args.users} users; cpus: {os.cpu_count()}")
        elapsed, peak, err = ainas("plan", "manifests", "--format", "json", cwd=Path(tmp))
        print(
            f"plan (empty sandbox, everything to create): {elapsed:.2f} s, peak {peak / 1024:.0f} MB"
        )
        elapsed, peak, err = ainas(
            "apply",
            "manifests",
            "--auto-approve",
            "--parallelism",
            str(args.parallelism),
            cwd=Path(tmp),
        )
        print(f"full apply: {elapsed:.1f} s; backend calls: {calls(err)}")
        elapsed, peak, err = ainas("plan", "manifests", "--detailed-exitcode", cwd=Path(tmp))
        print(
            f"plan after the apply: {elapsed:.2f} s, peak {peak / 1024:.0f} MB (goal: 3 s, 300 MB); "
            f"backend calls: {calls(err)}"
        )
        elapsed, peak, err = ainas("apply", "manifests", "--auto-approve", cwd=Path(tmp))
        print(f"no-op apply: {elapsed:.2f} s; backend calls: {calls(err)} (goal: zero writes)")


if __name__ == "__main__":
    main()

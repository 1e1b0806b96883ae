"""Benchmark: ``validate`` of a manifest directory of 1,000 sites and 20,000 users.

Prints wall time and peak memory (of a separate process running the real command).
Goal: at most 2 s and 300 MB on a 2-core machine.

    python bench/validate_large.py [--sites 1000] [--users 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import ENV, generate


def run_once(path: Path) -> tuple[float, int]:
    env = {**os.environ, **ENV}
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "ainas_provision", "validate", str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"validate failed:\n{process.stderr[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "manifests", args.sites, args.users)
        files = sum(1 for _ in root.rglob("*.yaml"))
        times = []
        peak = 0
        for _ in range(args.runs):
            elapsed, peak_kb = run_once(root)
            times.append(elapsed)
            peak = max(peak, peak_kb)
    print(f"validate: {args.sites} sites, {args.users} users, {files} files")
    print(
        f"  wall time: median {statistics.median(times):.2f} s, best {min(times):.2f} s "
        f"over {args.runs} runs (goal: 2 s)"
    )
    print(f"  peak memory: {peak / 1024:.0f} MB (goal: 300 MB)")
    print(f"  cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()

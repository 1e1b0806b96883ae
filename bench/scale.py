"""Benchmark: how validate and plan grow with the number of users (1,000 to 100,000).

For each size, a generated tree (one site per 20 users) is validated and planned (against the
empty embedded sandbox, text and JSON: everything to create) as separate processes of the real
command; then, after one ``apply`` (not measured), planned again against the tenant that holds
it all (converged: nothing to change). Each run is measured by its own CPU time (user + system:
on a shared machine, wall time measures the neighbours), its wall time (printed too: on a quiet
machine it is what a person waits) and its peak memory (max RSS).
``validate`` and ``plan`` run cold (``--no-cache``) and warm (a second run with the caches of
parsed files and of validated trees filled by the first). Medians of ``--runs`` runs; then the marginal cost per user
(least-squares slope over the sizes) and the fixed cost (intercept). First, the start-up:
``--help`` and ``validate`` of the one-file quick start.

The package is compiled to bytecode first and the commands run with bytecode (as an installed
package runs): with ``PYTHONDONTWRITEBYTECODE`` set, every run would compile the tool's modules
again, a tenth of a second of start-up that no installed copy pays.

    python bench/scale.py [--sizes 1000,5000,20000,50000,100000] [--runs 3] [--no-converged]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import ENV, generate

REPO = Path(__file__).resolve().parent.parent

# runs one command as a child and prints the child's own CPU seconds and peak RSS
MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "wall = time.perf_counter() - start\n"
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'code': p.returncode, 'cpu': r.ru_utime + r.ru_stime, 'wall': wall,\n"
    "                  'rss_kb': r.ru_maxrss, 'err': p.stderr.decode()[-2000:]}))\n"
)


def measure(args: list[str], cwd: Path, cache_dir: Path) -> tuple[float, float, float]:
    """(CPU seconds, peak MB, wall seconds) of ``ainas-provision ARGS`` in its own process
    (wall: from its start to its end, as the process that starts it sees them)."""
    env = {**os.environ, **ENV, "AINAS_CACHE_DIR": str(cache_dir)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module's documentation
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "ainas_provision", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    if result["code"] not in (0, 2):
        raise SystemExit(f"{' '.join(args)} failed:\n{result['err']}")
    return result["cpu"], result["rss_kb"] / 1024, result["wall"]


def slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return b, my - b * mx


CASES = {
    "validate (cold)": (["validate", "m", "--no-cache"], False),
    "validate (warm)": (["validate", "m"], True),
    "plan text (cold)": (["plan", "m", "--no-cache"], False),
    "plan text (warm)": (["plan", "m"], True),
    "plan json (cold)": (["plan", "m", "--format", "json", "--no-cache"], False),
}
# after the apply: the tenant holds everything, the plan is "No changes"
CONVERGED = {
    "converged plan (cold)": (["plan", "m", "--no-cache"], False),
    "converged plan (warm)": (["plan", "m"], True),
}


def startup(runs: int) -> None:
    """``--help`` and ``validate`` of the quick start: CPU and wall time, medians."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(
            REPO / "examples" / "quickstart",
            root / "quickstart",
            ignore=shutil.ignore_patterns("ainas.state.json*", "*.state.key", "*.sandbox.sqlite*"),
        )
        for name, command in {
            "--help": ["--help"],
            "validate examples/quickstart": ["validate", "quickstart"],
        }.items():
            cpus, walls, outer = [], [], []
            for _ in range(runs):
                start = time.perf_counter()
                cpu, _peak, wall = measure(command, root, root / "cache")
                outer.append(time.perf_counter() - start)
                cpus.append(cpu)
                walls.append(wall)
            print(
                f"{name}: {statistics.median(cpus):.3f} CPU-s, "
                f"{statistics.median(walls):.3f} s wall "
                f"({statistics.median(outer):.3f} s with the measuring process)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,20000,50000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--no-converged", action="store_true", help="skip the apply and the converged plan"
    )
    args = parser.parse_args()
    for package in ("ainas_provision", "ainas_catalogue", "ainas_emulator"):
        compileall.compile_dir(REPO / package, quiet=1)
    sizes = [int(s) for s in args.sizes.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, load average {load:.1f} at start, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(f"medians of {args.runs} runs; CPU = user + system seconds of the command's process")
    startup(max(args.runs, 5))
    cases = dict(CASES) if args.no_converged else {**CASES, **CONVERGED}
    table: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
    for users in sizes:
        sites = max(1, users // 20)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            generate(root / "m", sites, users)
            cache_dir = root / "cache"
            for name, (command, warm) in cases.items():
                if name == next(iter(CONVERGED)):  # the tenant made to hold it all, once
                    measure(["apply", "m", "--auto-approve", "--parallelism", "2"], root, cache_dir)
                cpus, peaks, walls = [], [], []
                for _ in range(args.runs):
                    if warm:
                        measure(command, root, cache_dir)  # fills the cache
                    cpu, peak, wall = measure(command, root, cache_dir)
                    cpus.append(cpu)
                    peaks.append(peak)
                    walls.append(wall)
                table[name].append(
                    (statistics.median(cpus), statistics.median(peaks), statistics.median(walls))
                )
        print(f"{users:>7,} users, {sites:,} sites:", flush=True)
        for name in cases:
            cpu, peak, wall = table[name][-1]
            print(f"    {name:<22} {cpu:6.2f} CPU-s {wall:6.2f} s wall {peak:6.0f} MB", flush=True)
    if len(sizes) < 2:
        return
    print("\nmarginal cost per user (slope) and fixed cost (intercept):")
    for name, rows in table.items():
        cpu_b, cpu_a = slope(sizes, [cpu for cpu, _, _ in rows])
        mem_b, mem_a = slope(sizes, [peak for _, peak, _ in rows])
        print(
            f"  {name:<22} CPU {cpu_b * 1000:.3f} ms/user + {cpu_a:.2f} s;"
            f"  memory {mem_b * 1024:.2f} KiB/user + {mem_a:.0f} MB"
        )


if __name__ == "__main__":
    main()

"""Benchmark: sites and users created through the browser target against the emulator's screens.

The sandbox server runs in its own process (``ainas-provision sandbox serve``). For each
parallelism (separate browsers and contexts, one per worker) the browser target creates 10 sites
and 100 staff users — every one a filled form, its confirmation and 確定 — and the JSON
``https://`` target creates the same number on the same tenant in the same run. It prints the
seconds per form, the ratio of the two, and the peak memory of the browser processes (resident
set of every Chromium process started, summed, sampled every 0.1 s; Linux only). ``--forms N``
adds a long run of N users at parallelism 1, to show that recycling contexts (every
``RECYCLE_AFTER`` forms) keeps the memory bounded.

    python bench/browser_apply.py [--sites 10] [--users 100] [--parallelism 1 2] [--forms 1000]

Goal on a 2-core machine: at most 0.5 s per form at parallelism 1, and below 800 MB for 1,000
forms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ainas_emulator.init import init_sandbox
from ainas_provision.domain.desired import DesiredState
from ainas_provision.secrets.values import Secret
from ainas_provision.targets.browser import RECYCLE_AFTER, BrowserOptions, open_browser
from ainas_provision.targets.https.backend import open_https
from ainas_provision.targets.registry import Target
from bench.http_apply import NEW_PASSWORD, environment, start_server

USER_PASSWORD = Secret("Bench-User-Pw-1", "bench")


class BrowserMemory:
    """The summed resident memory of this process's Chromium descendants, sampled."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> BrowserMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, browser_rss())


def browser_rss() -> int:
    """Bytes resident in the Chromium processes descending from this process (0 off Linux)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return 0
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    rss: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        parents[pid] = int(fields.get("PPid", "0").strip() or 0)
        names[pid] = fields.get("Name", "").strip()
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    me = os.getpid()

    def descends(pid: int) -> bool:
        seen = 0
        while pid and seen < 64:
            if pid == me:
                return True
            pid = parents.get(pid, 0)
            seen += 1
        return False

    return sum(
        rss[pid] for pid in rss if "chrom" in names.get(pid, "") and pid != me and descends(pid)
    )


def full_width(text: object) -> str:
    """``text`` in full-width forms (代理人拠点名 is 全角)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in str(text))


def site_fields(prefix: str, n: int) -> dict:
    name = f"{full_width(prefix)}拠点{full_width(n)}"
    return {"name": name, "short_name": name}


def user_fields(prefix: str, n: int, site_id: str) -> dict:
    return {
        "login_id": f"{prefix}{n:05}",
        "name": f"担当{n}",
        "role": "担当者(送信可)",
        "site_id": site_id,
        "password": USER_PASSWORD,
        "default_destination": ["東京都", "練馬"],
    }


def create_all(backend, prefix: str, sites: int, users: int, parallelism: int) -> float:
    """Create ``sites`` sites, then ``users`` users spread over them; the wall time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        site_ids = list(pool.map(lambda n: backend.create("site", site_fields(prefix, n)), range(sites)))
        logins = list(
            pool.map(
                lambda n: backend.create(
                    "user", user_fields(prefix, n, site_ids[n % len(site_ids)])
                ),
                range(users),
            )
        )
    elapsed = time.perf_counter() - started
    assert len(set(site_ids)) == sites and len(set(logins)) == users
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--forms", type=int, default=0, help="a long run of N users (memory)")
    args = parser.parse_args()
    forms = args.sites + args.users
    with tempfile.TemporaryDirectory() as tmp:
        files = init_sandbox(Path(tmp) / "sandbox")
        process, url = start_server(files.directory, 0)
        try:
            first = open_https(Target("https", url), None, environment(files, "99999999"))
            try:
                first.change_password(Secret(NEW_PASSWORD, "bench"))
            finally:
                first.close()
            env = environment(files, NEW_PASSWORD)
            desired = DesiredState.empty("1")
            evidence = BrowserOptions(evidence_dir=Path(tmp) / ".ainas")
            print(
                f"{args.sites} sites + {args.users} users = {forms} forms per run, "
                f"{os.cpu_count()} CPUs; contexts recycled every {RECYCLE_AFTER} forms"
            )
            for parallelism in args.parallelism:
                with BrowserMemory() as memory:
                    backend = open_browser(
                        f"browser+{url}/oss_agt/", desired, env, parallelism=parallelism, options=evidence
                    )
                    try:
                        backend.session()  # logged in before the clock starts
                        browser = create_all(backend, f"b{parallelism}", args.sites, args.users, parallelism)
                    finally:
                        backend.close()
                json_backend = open_https(Target("https", url), desired, env, parallelism=parallelism)
                try:
                    json_backend.session()
                    api = create_all(json_backend, f"j{parallelism}", args.sites, args.users, parallelism)
                finally:
                    json_backend.close()
                print(
                    f"  parallelism {parallelism}: browser {browser / forms:.3f} s/form "
                    f"({browser:.1f} s), JSON https:// {api / forms:.4f} s/form ({api:.2f} s), "
                    f"ratio {browser / api:.0f}x; browser peak memory "
                    f"{memory.peak / 2**20:.0f} MB"
                )
            if args.forms:
                with BrowserMemory() as memory:
                    backend = open_browser(
                        f"browser+{url}/oss_agt/", desired, env, parallelism=1, options=evidence
                    )
                    try:
                        backend.session()
                        long = create_all(backend, "long", 1, args.forms - 1, 1)
                    finally:
                        backend.close()
                print(
                    f"  {args.forms} forms at parallelism 1: {long / args.forms:.3f} s/form, "
                    f"browser peak memory {memory.peak / 2**20:.0f} MB"
                )
            print("  goal: <= 0.5 s/form at parallelism 1; < 800 MB for 1,000 forms")
        finally:
            process.terminate()
            process.wait(timeout=15)
            if process.stdout:
                process.stdout.close()


if __name__ == "__main__":
    main()

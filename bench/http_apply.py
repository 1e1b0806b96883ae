"""Benchmark: 1,000 user creations over HTTPS with mutual TLS against the sandbox server.

The server runs in its own process (``ainas-provision sandbox serve --latency-ms 20``); the HTTPS
backend creates the users from a pool of ``parallelism`` threads, as the executor does. For each
parallelism it prints the wall time and its ratio to the latency bound (requests × latency /
parallelism): what the network alone would cost. Goal: within 1.3× of the bound at parallelism 10.

    python bench/http_apply.py [--users 1000] [--latency-ms 20] [--parallelism 1 4 10]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ainas_emulator.files import SandboxFiles
from ainas_emulator.init import init_sandbox
from ainas_provision.secrets.values import Secret
from ainas_provision.targets.https.backend import open_https
from ainas_provision.targets.registry import Target

NEW_PASSWORD = "Bench-Admin-Pw-1"
USER_PASSWORD = Secret("Bench-User-Pw-1", "bench")


def start_server(directory: Path, latency_ms: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ainas_provision",
            "sandbox",
            "serve",
            str(directory),
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.match(r"listening on (https://\S+)/", line)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return process, match.group(1)


def environment(files: SandboxFiles, password: str) -> dict[str, str]:
    notice = files.notice.read_text(encoding="utf-8")
    cert_password = re.search(r"^クライアント証明書パスワード: (\S+)$", notice, re.M).group(1)
    return {
        "AINAS_LOGIN_ID": "abcde",
        "AINAS_PASSWORD": password,
        "AINAS_CLIENT_CERT": str(files.client_cert),
        "AINAS_CLIENT_CERT_PASSWORD": cert_password,
        "AINAS_CA_FILE": str(files.ca),
    }


def user(site_id: str, prefix: str):
    def fields(n: int) -> dict:
        return {
            "login_id": f"{prefix}{n:05}",
            "name": f"担当{n}",
            "role": "担当者(送信可)",
            "site_id": site_id,
            "password": USER_PASSWORD,
        }

    return "user", fields


def site(prefix: str):
    def fields(n: int) -> dict:
        name = prefix + "".join(chr(0xFF10 + int(d)) for d in str(n))  # full-width digits
        return {"name": name, "short_name": name}

    return "site", fields


def create_many(url, env, what, count: int, parallelism: int) -> tuple[float, int]:
    """``count`` creations from ``parallelism`` threads; the wall time and the requests sent."""
    kind, fields = what
    backend = open_https(Target("https", url), None, env, parallelism=parallelism)
    try:
        backend.session()  # log in before the clock starts
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            created = list(pool.map(lambda n: backend.create(kind, fields(n)), range(count)))
        elapsed = time.perf_counter() - started
        writes = backend.requests["write"]
    finally:
        backend.close()
    assert len(set(created)) == count
    return elapsed, writes


def apply_command(
    tmp: Path, url: str, env: dict, count: int, parallelism: int
) -> tuple[float, int]:
    """``ainas-provision apply`` of ``count`` new users (the site 本店 exists and is adopted)."""
    root = tmp / "manifests"
    root.mkdir()
    lines = [
        "version: 1",
        'organization: {id: "1"}',
        "sites:",
        "  honten: {name: 本店, short_name: 本店}",
        "users:",
    ]
    for n in range(count):
        lines.append(
            f"  cmd{n:05}: {{name: 担当{n}, role: 担当者(送信可), site: honten, "
            "initial_password: {env: BENCH_USER_PASSWORD}}"
        )
    (root / "users.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "ainas_provision",
            "--debug",
            "apply",
            str(root),
            "--target",
            url,
            "--auto-approve",
            "--parallelism",
            str(parallelism),
        ],
        env={**os.environ, **env, "BENCH_USER_PASSWORD": USER_PASSWORD.reveal()},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"apply failed:\n{process.stderr[-2000:]}")
    calls = re.search(r"backend calls: (.*)", process.stderr).group(1)
    writes = sum(
        int(part.split()[1])
        for part in calls.split(", ")
        if part.split()[0] in ("create", "update", "delete")
    )
    return elapsed, writes


def report(label: str, elapsed: float, writes: int, latency_ms: float, parallelism: int) -> None:
    bound = writes * latency_ms / 1000 / parallelism
    ratio = f"ratio {elapsed / bound:.2f}" if bound else "no latency bound"
    print(
        f"  {label}, parallelism {parallelism:>2}: {elapsed:6.2f} s for {writes} requests; "
        f"latency bound {bound:5.2f} s; {ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 4, 10])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = init_sandbox(Path(tmp) / "sandbox")
        process, url = start_server(files.directory, args.latency_ms)
        try:
            first = open_https(Target("https", url), None, environment(files, "99999999"))
            try:
                first.change_password(Secret(NEW_PASSWORD, "bench"))
                site_id = first.create("site", {"name": "本店", "short_name": "本店"})
            finally:
                first.close()
            env = environment(files, NEW_PASSWORD)
            print(
                f"{args.users} user creations over HTTPS (mutual TLS), server latency "
                f"{args.latency_ms:g} ms, {os.cpu_count()} CPUs"
            )
            for parallelism in args.parallelism:
                what = user(site_id, f"p{parallelism}u")
                elapsed, writes = create_many(url, env, what, args.users, parallelism)
                report("users", elapsed, writes, args.latency_ms, parallelism)
            # the real command: validate, read, plan and apply 1,000 new users
            elapsed, writes = apply_command(
                Path(tmp), url, env, args.users, top := max(args.parallelism)
            )
            report("apply command", elapsed, writes, args.latency_ms, top)
            # the same over a resource whose creation stores no password: what the HTTP path
            # costs when the server's own work per request is small
            elapsed, writes = create_many(url, env, site("拠点"), args.users, top)
            report("sites", elapsed, writes, args.latency_ms, top)
            print("  goal: users within 1.3x of the latency bound at parallelism 10")
        finally:
            process.terminate()
            process.wait(timeout=15)
            if process.stdout:
                process.stdout.close()


if __name__ == "__main__":
    main()

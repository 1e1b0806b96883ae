"""Benchmark: the tool against the scripts IT staff would write instead, on one server, one run.

One sandbox server (HTTPS, mutual TLS, ``--latency-ms`` per request, its access log on) serves
three ways of creating the same number of users, each its own set of login IDs, in this order
(a fresh server and tenant for each round, so that the tool, first, reads a tenant of one
site):

- ``ainas-provision apply`` of a manifest (the whole command: start, validate, read the tenant,
  plan, create at ``--parallelism``), and the same command again (the rerun);
- ``bench/plain/create_users_sequential.py``: log in, POST each row of a CSV file, one after
  another; run again, it posts every row again (409 for each);
- ``bench/plain/create_users_threads.py``: the same with a pool of 10 threads.

Wall times are of the whole process each time, and so are CPU times (user + system of the
process and its children: what a loaded machine turns into wall time); requests and writes (POST, PUT, PATCH, DELETE,
but not the login's POST /session) are counted from the server's access log, not from the
clients. Printed: each figure, and the
ratios of the same run. The server runs on the same machine: its own CPU (TLS, password
hashing) competes with the client's; where ``sandbox serve`` has ``--hash-cost`` the server's
password hashing is set to ``--server-hash-cost`` (default its minimum) so that the clients are
measured, not the server. The package is compiled to bytecode first and every program runs with
its bytecode, as an installed copy does.

    python bench/compare_http.py [--users 1000] [--latency-ms 20] [--parallelism 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import compileall
import csv
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

from ainas_emulator.files import SandboxFiles
from ainas_emulator.init import init_sandbox
from ainas_provision.secrets.values import Secret
from ainas_provision.targets.https.backend import open_https
from ainas_provision.targets.registry import Target

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ADMIN_PASSWORD = "Bench-Admin-Pw-1"
USER_PASSWORD = "Bench-User-Pw-1"
SITE = "本店"
ACCESS = re.compile(r'"(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class Server:
    """``ainas-provision sandbox serve`` with its access log read into a list of lines."""

    def __init__(self, directory: Path, latency_ms: float, hash_cost: str | None) -> None:
        command = [sys.executable, "-m", "ainas_provision", "sandbox", "serve", str(directory)]
        command += ["--port", "0", "--latency-ms", str(latency_ms), "--access-log"]
        self.hash_cost = None
        if hash_cost is not None and "--hash-cost" in _serve_help():
            command += ["--hash-cost", hash_cost]
            self.hash_cost = hash_cost
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()
        match = re.match(r"listening on (https://\S+)/", line)
        if not match:
            self.process.kill()
            raise SystemExit(f"the server did not start: {line!r}")
        self.url = match.group(1)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            if ACCESS.search(line):
                self.lines.append(line)

    def mark(self) -> int:
        time.sleep(0.5)  # the log is written after each response: let the last lines arrive
        return len(self.lines)

    def count(self, start: int, end: int) -> tuple[int, int]:
        """(requests, writes) logged between two marks."""
        requests = writes = 0
        for line in self.lines[start:end]:
            requests += 1
            method, path, _ = ACCESS.search(line).groups()
            # a write changes the tenant: logging in (POST /session) does not
            writes += method in WRITES and not path.endswith("/session")
        return requests, writes

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def _serve_help() -> str:
    return subprocess.run(
        [sys.executable, "-m", "ainas_provision", "sandbox", "serve", "--help"],
        capture_output=True,
        text=True,
    ).stdout


def client_environment(files: SandboxFiles, tmp: Path) -> dict[str, str]:
    """The tool's settings, and for the scripts the client certificate as PEM (what
    ``openssl pkcs12 -nodes`` gives an IT person)."""
    notice = files.notice.read_text(encoding="utf-8")
    password = re.search(r"^クライアント証明書パスワード: (\S+)$", notice, re.M).group(1)
    key, cert, extra = pkcs12.load_key_and_certificates(
        files.client_cert.read_bytes(), password.encode()
    )
    pem = tmp / "client.pem"
    pem.write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        + cert.public_bytes(Encoding.PEM)
        + b"".join(c.public_bytes(Encoding.PEM) for c in extra or [])
    )
    return {
        "AINAS_LOGIN_ID": "abcde",
        "AINAS_PASSWORD": ADMIN_PASSWORD,
        "AINAS_CLIENT_CERT": str(files.client_cert),
        "AINAS_CLIENT_CERT_PASSWORD": password,
        "AINAS_CA_FILE": str(files.ca),
        "CLIENT_PEM": str(pem),
        "CA_PEM": str(files.ca),
        "BENCH_USER_PASSWORD": USER_PASSWORD,
    }


def prepare(server: Server, files: SandboxFiles) -> None:
    """The first login's password change, and the site the users belong to."""
    env = {
        "AINAS_LOGIN_ID": "abcde",
        "AINAS_PASSWORD": "99999999",
        "AINAS_CLIENT_CERT": str(files.client_cert),
        "AINAS_CA_FILE": str(files.ca),
    }
    notice = files.notice.read_text(encoding="utf-8")
    env["AINAS_CLIENT_CERT_PASSWORD"] = re.search(
        r"^クライアント証明書パスワード: (\S+)$", notice, re.M
    ).group(1)
    backend = open_https(Target("https", server.url), None, env)
    try:
        backend.change_password(Secret(ADMIN_PASSWORD, "bench"))
        backend.create("site", {"name": SITE, "short_name": SITE})
    finally:
        backend.close()


def write_csv(path: Path, prefix: str, count: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["login_id", "name", "role", "site", "password"])
        for n in range(count):
            writer.writerow([f"{prefix}{n:05}", f"担当{n}", "担当者(送信可)", SITE, USER_PASSWORD])
    return path


def write_manifests(directory: Path, prefix: str, count: int) -> Path:
    directory.mkdir()
    lines = [
        "version: 1",
        'organization: {id: "1"}',
        "sites:",
        f"  honten: {{name: {SITE}, short_name: {SITE}}}",
        "users:",
    ]
    for n in range(count):
        lines.append(
            f"  {prefix}{n:05}: {{name: 担当{n}, role: 担当者(送信可), site: honten, "
            "initial_password: {env: BENCH_USER_PASSWORD}}"
        )
    (directory / "users.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def _children_cpu() -> float:
    try:
        import resource
    except ImportError:  # no getrusage (Windows): CPU not measured
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command."""
    env = {**os.environ, **env}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # every program runs with its bytecode (see main)
    cpu = _children_cpu()
    started = time.perf_counter()
    process = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]} failed:\n{process.stdout[-1500:]}{process.stderr[:1500]}")
    return elapsed, _children_cpu() - cpu


def disk_sync_ms(directory: Path, count: int = 20) -> float:
    """The median fsync of a small append in ``directory``: what the state journal waits for."""
    path = directory / "fsync.probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(count):
            os.write(fd, b"x" * 200)
            started = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times) * 1000


def one_round(server: Server, env: dict, tmp: Path, users: int, parallelism: int, tag: str):
    """Each way once: creation and rerun; {name: (seconds, requests, writes, CPU seconds)}."""
    out = {}
    tool = [sys.executable, "-m", "ainas_provision", "apply"]
    manifests = write_manifests(tmp / f"manifests-{tag}", f"t{tag}", users)
    tool += [str(manifests), "--target", server.url, "--auto-approve"]
    tool += ["--parallelism", str(parallelism), "--state", str(tmp / f"state-{tag}.json")]
    scripts = {
        "sequential script": HERE / "plain" / "create_users_sequential.py",
        "10-thread script": HERE / "plain" / "create_users_threads.py",
    }
    runs = {"ainas-provision apply": (tool, "t")}
    for name, script in scripts.items():
        prefix = "s" if "sequential" in name else "p"
        rows = write_csv(tmp / f"{prefix}{tag}.csv", f"{prefix}{tag}", users)
        api = f"{server.url}/api/v1"  # as the API documentation gives it
        runs[name] = ([sys.executable, str(script), api, str(rows)], prefix)
    for name, (command, _) in runs.items():
        for phase in ("create", "rerun"):
            start = server.mark()
            seconds, cpu = timed(command, env, tmp)
            requests, writes = server.count(start, server.mark())
            out[(name, phase)] = (seconds, requests, writes, cpu)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--server-hash-cost",
        default="1",
        help="passed to `sandbox serve --hash-cost` where the server has it",
    )
    args = parser.parse_args()
    # the tool runs from its bytecode, as an installed copy does (pip compiles a package when it
    # installs it; the scripts' httpx was): with PYTHONDONTWRITEBYTECODE set and no bytecode, each
    # run would compile the tool's modules again, about a tenth of a second
    for package in ("ainas_provision", "ainas_catalogue", "ainas_emulator"):
        compileall.compile_dir(REPO / package, quiet=1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rounds = []
    for index in range(args.runs):
        # a fresh tenant each round: the tool reads the whole tenant, which would otherwise
        # grow by the scripts' users from round to round
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            files = init_sandbox(tmp / "sandbox")
            server = Server(files.directory, args.latency_ms, args.server_hash_cost)
            try:
                prepare(server, files)
                env = client_environment(files, tmp)
                if not index:
                    print(
                        f"{args.users} users over HTTPS (mutual TLS), server latency "
                        f"{args.latency_ms:g} ms, tool parallelism {args.parallelism}; "
                        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f}; "
                        f"server hash cost: {server.hash_cost or 'its default'}; "
                        f"fsync of a small append here: {disk_sync_ms(tmp):.1f} ms; "
                        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
                    )
                rounds.append(one_round(server, env, tmp, args.users, args.parallelism, str(index)))
            finally:
                server.stop()
    keys = list(rounds[0])
    median = {
        key: tuple(statistics.median(r[key][i] for r in rounds) for i in range(4)) for key in keys
    }
    print(f"medians of {args.runs} rounds (each round runs all three, one after another):")
    for (name, phase), (seconds, requests, writes, cpu) in median.items():
        print(
            f"  {name:<22} {phase:<6} {seconds:7.2f} s  {cpu:6.2f} CPU-s  {requests:5.0f} "
            f"requests  {writes:5.0f} writes"
        )
    tool, threads = "ainas-provision apply", "10-thread script"
    sequential = "sequential script"

    def ratio(a, b, phase, index=0):
        values = [
            r[(a, phase)][index] / r[(b, phase)][index] for r in rounds if r[(b, phase)][index]
        ]
        return statistics.median(values) if values else float("nan")

    print("same-run ratios (median over rounds):")
    print(
        f"  creation: tool / 10-thread script {ratio(tool, threads, 'create'):.2f}x (goal <= 1.1)"
    )
    print(
        f"  creation, CPU seconds: tool / 10-thread script {ratio(tool, threads, 'create', 3):.2f}x"
    )
    print(f"  creation: sequential script / tool {ratio(sequential, tool, 'create'):.2f}x")
    rerun_share = median[(tool, "rerun")][1] / max(1, median[(tool, "create")][1])
    print(
        f"  rerun: the tool sends {rerun_share:.1%} of its creation's requests "
        f"(goal <= 2 %), {median[(tool, 'rerun')][2]:.0f} writes (goal 0); the scripts resend "
        f"{median[(threads, 'rerun')][1]} and {median[(sequential, 'rerun')][1]} requests"
    )
    print(f"  rerun time: 10-thread script / tool {ratio(threads, tool, 'rerun'):.2f}x")
    if hasattr(os, "getloadavg"):
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

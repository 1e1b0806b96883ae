"""Faults over the network: a lossy, slow, spiky server, and a server that dies mid-apply.

The sandbox server injects seeded faults (HTTP 500 before a change; the connection cut after
it; a request stalled past the client's timeout before the change — carried out later, perhaps
after the retry; an answer held past the timeout after the change) and latency spikes. Applies
must converge within a bounded number of runs, with no duplicate and no lost change.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ainas_provision.state.keys import key_text
from ainas_provision.state.store import LocalStateStore
from tests.conftest import copy_example
from tests.helpers import run
from tests.server_support import (
    NEW_PASSWORD,
    client_env,
    copy_sandbox,
    count,
    make_template,
    running,
)

RUNS = int(os.environ.get("AINAS_RELIABILITY_NETWORK_RUNS", "10"))
SCALE = int(os.environ.get("AINAS_RELIABILITY_NETWORK_SCALE", "1"))  # deep runs: more to apply


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template") / "sandbox")


@pytest.fixture
def files(template, tmp_path):
    return copy_sandbox(template, tmp_path / "sandbox")


def manifests(tmp_path: Path, sites: int, users: int) -> Path:
    """The quickstart plus ``sites`` branches, each with a batch account, and ``users`` staff."""
    root = copy_example("quickstart", tmp_path / "manifests")
    lines = ["version: 1", "sites:"]
    for n in range(sites):
        wide = "".join(chr(0xFF10 + int(d)) for d in str(n))
        lines += [
            f"  branch{n}:",
            f"    name: 支店{wide}号",
            f"    short_name: 支店{wide}",
            f"    code: BR{n:03}",
            "    registered:",
            "      certificate_manager_name: 利活用　一郎",
            "      batch_account:",
            f'        payment_user_id: "{70000000 + n}"',
            f"        batch_user_id: BR{n:06}",
            "        batch_password: {file: secrets/akihabara-batch-password.txt}",
            "        arrival_number_password: {file: secrets/akihabara-arrival-password.txt}",
            "        payment_method_national: ダイレクト納付(国庫金限定)",
            "        payment_method_prefectural: ダイレクト納付",
        ]
    lines.append("users:")
    for n in range(users):
        lines += [
            f"  staff{n:03}:",
            f"    name: 担当{n}",
            "    role: 担当者(送信可)",
            f"    site: branch{n % sites}",
            "    initial_password: {file: secrets/dairi002-password.txt}",
        ]
    (root / "more.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def environment(files, **overrides) -> dict[str, str]:
    """The admin's settings, with its password already changed or still the initial one."""
    changed = count(files, "users", "login_id = 'abcde' AND must_change_password = 0")
    if changed:
        return client_env(files, password=NEW_PASSWORD, new_password=None, **overrides)
    return client_env(files, **overrides)


def assert_no_duplicates_and_true_state(files, root: Path, sites: int, users: int) -> None:
    assert count(files, "sites") == sites + 1
    distinct = count(files, "(SELECT DISTINCT json_extract(fields, '$.site_code') FROM sites)")
    assert distinct == sites + 1  # (the quickstart's site has no code: NULL counts once)
    assert count(files, "batch_accounts") == sites + 2
    assert count(files, "users", "role != '管理者'") == users + 2
    state = LocalStateStore(root / "ainas.state.json").load()
    for handle, entry in state.sites.items():
        assert count(files, "sites", f"site_id = '{entry.site_id}'") == 1, handle
    for login_id in state.users:
        assert count(files, "users", f"login_id = '{login_id}'") == 1, login_id


@pytest.mark.slow
def test_applies_converge_through_drops_errors_timeouts_and_spikes(files, tmp_path):
    sites, users = 6 * SCALE, 18 * SCALE
    root = manifests(tmp_path, sites, users)
    key = key_text(secrets.token_bytes(32))
    options = {"fail_rate": 0.25, "stall_ms": 1500, "spike_rate": 0.1, "spike_ms": 200, "seed": 11}
    with running(files, **options) as server:
        target = server.url.rstrip("/")
        for runs in range(1, RUNS + 1):  # noqa: B007  (reported below)
            env = environment(files, AINAS_STATE_KEY=key, AINAS_HTTP_TIMEOUT="0.5")
            applied = run("apply", str(root), "--target", target, "--auto-approve", env=env)
            assert "Traceback" not in applied.stderr
            if applied.exit_code != 0:
                continue
            plan = run("plan", str(root), "--target", target, "--detailed-exitcode", env=env)
            if plan.exit_code == 0:
                break
        else:
            pytest.fail(f"no convergence in {RUNS} runs")
        time.sleep(1.6)  # stalled requests the client gave up on are carried out meanwhile
        injected = dict(server.app.injected)
    assert all(injected[kind] for kind in ("before", "after", "stall", "held", "spike")), injected
    assert_no_duplicates_and_true_state(files, root, sites, users)
    print(f"{sites} sites, {users} users: converged in {runs} runs; faults injected: {injected}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(files, port: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ainas_provision",
            "sandbox",
            "serve",
            str(files.directory),
            "--port",
            str(port),
            "--latency-ms",
            "40",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    process.stdout.close()
    match = re.search(r"listening on (https://\S+?)/?$", line.strip())
    assert match, line
    return process, match.group(1)


@pytest.mark.slow
def test_a_server_that_dies_mid_apply_gives_a_clear_error_and_a_true_state(files, tmp_path):
    sites, users = 4, 40
    root = manifests(tmp_path, sites, users)
    key = key_text(secrets.token_bytes(32))
    env = {**os.environ, **environment(files, AINAS_STATE_KEY=key, AINAS_HTTP_TIMEOUT="5")}
    env = {
        k: v
        for k, v in env.items()
        if not (
            k.startswith("AINAS_")
            and k not in environment(files)
            and k not in ("AINAS_STATE_KEY", "AINAS_HTTP_TIMEOUT")
        )
    }
    port = _free_port()
    server, url = _serve(files, port)
    try:
        apply = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ainas_provision",
                "apply",
                str(root),
                "--target",
                url,
                "--auto-approve",
                "--parallelism",
                "2",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        created = 0
        for line in apply.stdout:
            if ": created" in line:
                created += 1
                if created == 10:
                    server.send_signal(signal.SIGKILL)  # the server dies mid-apply
                    break
        _, err = apply.communicate(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
    assert apply.returncode == 1
    assert "Traceback" not in err
    assert (
        re.search(r"failed: cannot reach https://127\.0\.0\.1:\d+", err) or "no answer from" in err
    ), err
    assert "Apply finished with errors" in err
    state = LocalStateStore(root / "ainas.state.json").load()  # a true record of what was done
    for handle, entry in state.sites.items():
        assert count(files, "sites", f"site_id = '{entry.site_id}'") == 1, handle
    for login_id in state.users:
        assert count(files, "users", f"login_id = '{login_id}'") == 1, login_id
    # the server comes back: the next apply finishes the job, without duplicates
    server, url = _serve(files, port)
    try:
        env = {**env, **environment(files, AINAS_STATE_KEY=key)}
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "ainas_provision",
                "apply",
                str(root),
                "--target",
                url,
                "--auto-approve",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert again.returncode == 0, again.stderr
    finally:
        server.terminate()
        server.wait()
    assert_no_duplicates_and_true_state(files, root, sites, users)

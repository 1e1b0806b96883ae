"""An apply killed with SIGKILL at random points loses nothing and duplicates nothing.

One large-enough manifest directory (``bench.generate``: 20 sites with both batch accounts,
200 users) is applied by ``python -m ainas_provision apply`` in a subprocess, killed with
SIGKILL after a random number of its progress lines (each ``…: created [n/N]`` line is printed
after the change was recorded) or after a random delay (which also lands in validation, in the
journal's folding and in the final write of the state), again and again. When an apply gets to
the end before its kill, the manifests switch between the full set and a smaller one (10 sites,
100 users: deletions, moves between sites), so that kills land in creations, updates and
deletions alike. After every kill:

- the state and its journal load (``LocalStateStore.load()``);
- no site code, site name or ログインID exists twice in the sandbox;
- the dead apply's lock is reported as stale by the next apply, and ``state unlock`` breaks it
  with the documented message.

At the end, an apply finishes and converges: the plan is empty (``--detailed-exitcode`` 0), the
tenant holds exactly the manifests' sites and users, every secret the sandbox holds is the
manifests' (checked against its password hashes), and the state has the fingerprint of each.

The narrowest window — AINAS has created a resource, the state has not recorded it — is hit
exactly, for each kind of resource, by :mod:`tests.reliability.die`.

``AINAS_RELIABILITY_KILLS`` (default 10) sets the number of kills, ``AINAS_RELIABILITY_SEED``
the seed (default: a fixed one; ``random`` for a new one, printed).
"""

from __future__ import annotations

import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ainas_emulator.store import verify_password
from ainas_provision.state.store import LocalStateStore
from bench.generate import ENV, generate
from tests.conftest import copy_example
from tests.helpers import run
from tests.reliability.support import (
    STATE,
    cli_command,
    counts,
    duplicates,
    load_state,
    rows,
    subprocess_env,
)

# read when the module is imported: the shared fixture removes AINAS_* from the environment
KILLS = int(os.environ.get("AINAS_RELIABILITY_KILLS", "10"))
_seed = os.environ.get("AINAS_RELIABILITY_SEED", "20261125")
SEED = random.randrange(2**32) if _seed == "random" else int(_seed)

FULL = (20, 200)  # sites, users
SMALL = (10, 100)
PROGRESS = re.compile(r": .* \[\d+/\d+\]$")


@dataclass
class Tally:
    kills: int = 0
    finished_runs: int = 0
    journals_left: int = 0
    holder_files_left: int = 0
    changes_before_kills: int = 0
    kill_points: list[str] = field(default_factory=list)


def write(directory: Path, size: tuple[int, int]) -> None:
    for part in ("sites", "users"):
        shutil.rmtree(directory / part, ignore_errors=True)
    generate(directory, *size)


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def apply_and_kill(directory: Path, rng: random.Random, tally: Tally) -> tuple[int, list[str]]:
    """Start an apply and SIGKILL it after a random number of progress lines or a random delay;
    returns its exit status (negative: killed) and the progress lines it printed."""
    by_lines = rng.random() < 0.75
    target = rng.randint(1, 40)
    deadline = time.monotonic() + (120.0 if by_lines else rng.uniform(0.0, 2.0))
    process = subprocess.Popen(
        cli_command("apply", directory.name, "--auto-approve"),
        cwd=directory.parent,
        env=subprocess_env(ENV),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True)
    reader.start()
    progress: list[str] = []
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break  # the delay is over
            if line is None:
                break  # the apply ended on its own
            if PROGRESS.search(line):
                progress.append(line)
                if by_lines and len(progress) >= target:
                    break
        process.send_signal(signal.SIGKILL)
        status = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=60)
        process.stdout.close()
    if status == -signal.SIGKILL:
        tally.changes_before_kills += len(progress)
        tally.kill_points.append(f"{len(progress)}{'' if by_lines else 'd'}")
    return status, progress


def assert_reported_changes_are_recorded(directory: Path, progress: list[str]) -> None:
    """Each progress line is printed after its change was recorded: the state (its journal
    replayed) holds every change the killed apply reported."""
    state = load_state(directory)
    for line in progress:
        address, outcome = line.split(": ", 1)
        kind, key = address.split(".", 1)
        if kind == "user":
            assert (key in state.users) == (not outcome.startswith("deleted")), line
        elif kind == "site":
            assert (key in state.sites) == (not outcome.startswith("deleted")), line
            created = re.match(r"(created|adopted) \(拠点ID (\d+)\)", outcome)
            if created:
                assert state.sites[key].site_id == created.group(2), line
        elif kind in ("batch_account", "kei_batch_account"):
            assert f"{kind}.batch_password" in state.fingerprints("sites", key), line


def check_after_kill(directory: Path, tally: Tally) -> None:
    store = LocalStateStore(directory / STATE)
    if store.journal_path.exists():
        tally.journals_left += 1
    state = store.load()  # parses, journal replayed
    bound = [entry.site_id for entry in state.sites.values()]
    assert len(bound) == len(set(bound)), "two handles bound to one 拠点ID"
    assert not any(duplicates(directory).values()), duplicates(directory)
    # the lock went away with the killed process: nothing to break, the next apply just runs
    assert store.holder() is None
    if store.locker.holder_record() is not None:
        tally.holder_files_left += 1


def assert_secrets_reached_the_tenant(directory: Path) -> None:
    users = rows(directory, "SELECT login_id, password FROM users WHERE role != '管理者'")
    for login, hashed in users:
        assert verify_password(ENV["BENCH_USER_PASSWORD"], hashed), login
    for site_id, kind, batch, arrival in rows(
        directory,
        "SELECT site_id, kind, batch_password, arrival_number_password FROM batch_accounts",
    ):
        prefix = "BENCH_KEI_" if kind == "kei_batch_account" else "BENCH_"
        assert verify_password(ENV[prefix + "BATCH_PASSWORD"], batch), (site_id, kind)
        assert verify_password(ENV[prefix + "ARRIVAL_PASSWORD"], arrival), (site_id, kind)


def test_killed_applies_lose_nothing_and_a_rerun_converges(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "bench"
    rng = random.Random(SEED)
    size = FULL
    write(directory, size)
    tally = Tally()
    attempts = 0
    while tally.kills < KILLS:
        attempts += 1
        assert attempts <= 4 * KILLS + 10, tally
        status, progress = apply_and_kill(directory, rng, tally)
        if status == 0:  # it finished first: give the next applies other work
            tally.finished_runs += 1
            size = SMALL if size == FULL else FULL
            write(directory, size)
            continue
        assert status == -signal.SIGKILL, status
        tally.kills += 1
        check_after_kill(directory, tally)
        assert_reported_changes_are_recorded(directory, progress)
    if size != FULL:
        write(directory, FULL)
    final = run("apply", directory.name, "--auto-approve", env=ENV)
    assert final.exit_code == 0, final.stdout + final.stderr
    plan = run("plan", directory.name, "--detailed-exitcode", env=ENV)
    assert plan.exit_code == 0, plan.stdout
    assert not any(duplicates(directory).values()), duplicates(directory)
    assert counts(directory) == FULL
    state = load_state(directory)
    assert len(state.sites) == FULL[0] and len(state.users) == FULL[1]
    assert_secrets_reached_the_tenant(directory)
    # and the state knows every secret it wrote (none adopted as written by someone else)
    assert all("initial_password" in state.fingerprints("users", u) for u in state.users)
    assert all(len(state.fingerprints("sites", h)) == 4 for h in state.sites)
    assert "was not written by this tool" not in plan.stdout
    print(
        f"\ncrash safety (seed {SEED}): {tally.kills} kills survived, "
        f"{tally.finished_runs} applies finished before their kill, "
        f"{tally.changes_before_kills} changes reported by the killed applies (all recorded), "
        f"{tally.journals_left} journals replayed, {tally.holder_files_left} lock files left "
        f"(none held); killed after (changes; d: by delay): {' '.join(tally.kill_points)}"
    )


APPLY_QUICKSTART = ("apply", "quickstart", "--auto-approve")


@pytest.mark.parametrize(
    "victim",
    ["certificate", "site", "batch_account", "kei_batch_account", "user:dairi001", "user:dairi002"],
)
def test_a_crash_right_after_a_creation_loses_nothing(victim, tmp_path, monkeypatch):
    """The narrowest window: AINAS has created the resource, the state has not recorded it yet.
    The next apply must neither create it twice nor forget the secrets it was created with (a
    user adopted without its password's fingerprint would never see a later change of it)."""
    monkeypatch.chdir(tmp_path)
    copy_example("quickstart", tmp_path / "quickstart")
    died = subprocess.run(
        [sys.executable, "-m", "tests.reliability.die", victim, "--", *APPLY_QUICKSTART],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == 137, died.stdout + died.stderr
    assert run("state", "unlock", "quickstart").exit_code == 0
    again = run("apply", "quickstart", "--auto-approve")
    assert again.exit_code == 0, again.stdout + again.stderr
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout
    assert "was not written by this tool" not in plan.stdout, plan.stdout
    directory = tmp_path / "quickstart"
    assert not any(duplicates(directory).values()) and counts(directory) == (1, 2)
    assert len(rows(directory, "SELECT cert_id FROM certificates")) == 1
    state = load_state(directory)
    assert set(state.fingerprints("users", "dairi001")) == {"initial_password"}
    assert len(state.fingerprints("sites", "akihabara")) == 4  # both batch accounts' secrets

"""Many applies at once on one manifest directory: one at a time, nothing interleaved.

``AINAS_RELIABILITY_APPLIES`` (default 6) ``python -m ainas_provision apply`` processes are
started together on one directory (20 sites, 200 users), each through
:mod:`tests.reliability.tap`, which records lock and journal events in an audit file and holds
every process at a start barrier until all are ready to ask for the lock. From the audit:

- the holding intervals never overlap (exactly one holder at a time);
- every journal record of a process lies inside its own holding interval, after its own
  ``begin``: the journal of each apply is contiguous, and the serials of successive applies
  follow one another in one lineage;

and afterwards the state agrees with the tenant, nothing exists twice, and the plan is empty.

Without ``--lock-timeout`` the others fail at once, naming the holder; with it, they wait and
run in turn (an injected fault makes the first one leave work for the next).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ainas_emulator.service import AinasSandbox
from bench.generate import ENV, generate
from tests.conftest import REPO
from tests.helpers import run
from tests.reliability.support import (
    SANDBOX,
    counts,
    duplicates,
    load_state,
    read_tenant,
    subprocess_env,
)

# read when the module is imported: the shared fixture removes AINAS_* from the environment
APPLIES = int(os.environ.get("AINAS_RELIABILITY_APPLIES", "6"))
SITES, USERS = 20, 200
ORG_ID = "9001"  # bench.generate's organization
HANG = 300  # seconds: a hang detector only


def start_applies(directory: Path, audit: Path, go: Path, *extra: str) -> list[subprocess.Popen]:
    command = [
        *(sys.executable, "-m", "tests.reliability.tap", str(audit), str(go), "--"),
        *("apply", str(directory), "--auto-approve", *extra),
    ]
    processes = []
    for number in range(APPLIES):
        out = (directory.parent / f"apply{number}.out").open("w", encoding="utf-8")
        processes.append(
            subprocess.Popen(
                command,
                cwd=REPO,
                env=subprocess_env(ENV),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
        out.close()
    deadline = time.monotonic() + HANG
    while sum(e["event"] == "ready" for e in events(audit)) < APPLIES:
        assert time.monotonic() < deadline, "the applies never got to the lock"
        assert all(p.poll() is None for p in processes), "an apply ended before the lock"
        time.sleep(0.01)
    go.touch()  # all ask for the lock now
    for process in processes:
        process.wait(timeout=HANG)
    return processes


def output(directory: Path, number: int) -> str:
    return (directory.parent / f"apply{number}.out").read_text(encoding="utf-8")


def events(audit: Path) -> list[dict]:
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]


def check_audit(audit: Path) -> dict:
    """One holder at a time; each journal record inside its writer's holding interval, after its
    own begin; serials one after another in one lineage. Returns counts."""
    holder = None
    begun = False
    begins = []
    tally = {"acquired": 0, "refused": 0, "records": 0}
    for event in events(audit):
        kind, pid = event["event"], event["pid"]
        if kind == "acquired":
            assert holder is None, f"{pid} took the lock while {holder} held it"
            holder, begun = pid, False
            tally["acquired"] += 1
        elif kind == "released":
            assert holder == pid, f"{pid} released a lock held by {holder}"
            holder = None
        elif kind == "record":
            assert holder == pid, f"{pid} wrote the journal while {holder} held the lock"
            record = event["record"]
            if record.get("op") == "begin":
                assert not begun, f"{pid} began twice in one holding"
                begun = True
                begins.append((record["lineage"], record["serial"]))
            else:
                assert begun, f"{pid} wrote a record before its begin"
            tally["records"] += 1
        elif kind == "refused":
            tally["refused"] += 1
    assert holder is None, f"{holder} never released the lock"
    assert len({lineage for lineage, _ in begins}) <= 1, begins
    serials = [serial for _, serial in begins]
    assert serials == list(range(1, len(serials) + 1)), serials
    tally["applies that wrote"] = len(begins)
    return tally


def assert_state_agrees_with_the_tenant(directory: Path) -> None:
    state = load_state(directory)
    tenant = read_tenant(directory, ORG_ID)
    assert sorted(e.site_id for e in state.sites.values()) == sorted(tenant["sites"])
    assert set(state.users) == set(tenant["users"])
    assert counts(directory) == (SITES, USERS)
    assert not any(duplicates(directory).values()), duplicates(directory)
    assert run("plan", str(directory), "--detailed-exitcode", env=ENV).exit_code == 0


def test_simultaneous_applies_fail_at_once_naming_the_holder(tmp_path):
    directory = generate(tmp_path / "bench", SITES, USERS)
    audit, go = tmp_path / "audit.jsonl", tmp_path / "go"
    processes = start_applies(directory, audit, go)
    tally = check_audit(audit)
    pids = {p.pid: n for n, p in enumerate(processes)}
    winners = [n for n, p in enumerate(processes) if p.returncode == 0]
    assert len(winners) == 1 and tally["acquired"] == 1, [p.returncode for p in processes]
    winner = processes[winners[0]].pid
    assert tally["refused"] == APPLIES - 1
    for event in events(audit):
        if event["event"] == "refused":
            assert event["holder"] == winner and event["waited"] < 5, event
            text = output(directory, pids[event["pid"]])
            assert "error: the state is locked by " in text and f"(pid {winner}, apply)" in text
            assert "wait for it to finish, or use --lock-timeout SECONDS to wait" in text
    assert "Apply complete: 260 changes applied." in output(directory, winners[0])
    assert_state_agrees_with_the_tenant(directory)
    print(
        f"\nconcurrency: {APPLIES} simultaneous applies, 1 ran, {tally['refused']} refused at once"
    )


def test_simultaneous_applies_with_a_lock_timeout_run_in_turn(tmp_path):
    directory = generate(tmp_path / "bench", SITES, USERS)
    assert run("plan", str(directory), env=ENV).exit_code == 0  # the sandbox tenant exists
    sandbox = AinasSandbox(directory / SANDBOX)
    sandbox.add_fault("create", "user", times=7)  # the first apply leaves work for the next
    sandbox.close()
    audit, go = tmp_path / "audit.jsonl", tmp_path / "go"
    processes = start_applies(directory, audit, go, "--lock-timeout", str(HANG))
    tally = check_audit(audit)
    assert tally["acquired"] == APPLIES and tally["refused"] == 0, tally
    first = next(e["pid"] for e in events(audit) if e["event"] == "acquired")
    for number, process in enumerate(processes):
        expected = 1 if process.pid == first else 0  # the first met the injected faults
        assert process.returncode == expected, output(directory, number)
    assert tally["applies that wrote"] == 2, tally  # the first, and the one that finished
    assert_state_agrees_with_the_tenant(directory)
    print(
        f"\nconcurrency: {APPLIES} simultaneous applies with --lock-timeout ran in turn; "
        f"{tally['applies that wrote']} wrote the journal ({tally['records']} records), none overlapped"
    )

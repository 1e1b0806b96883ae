"""Laws of plan and apply, over generated valid manifests, on the embedded sandbox.

- apply, then plan: the plan is empty (and no secret value is in what plan and apply printed,
  the saved plan or the state);
- apply(A), then apply(B): the tenant holds B — every field as AINAS shows it, every secret by
  its hash in the sandbox and its fingerprint in the state — whatever A and B are, within the
  rules: write-once batch-account values stay (a change is refused and changes nothing),
  deletions beyond ``max_deletes`` need ``--allow-deletes``, a role change between 拠点管理者 and
  担当者 replaces the user, a site leaves together with its users.

Each example has its own directory (manifests, state, key, sandbox). The CLI runs in process.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import assume, event, given
from hypothesis import strategies as st

from ainas_provision.plan.diff import WRITE_ONCE_RULE
from tests.helpers import run
from tests.reliability.strategies import (
    WRITE_ONCE,
    SecretValue,
    batch_of,
    expected_deletions,
    histories,
    manifests,
    secret_values,
    write_manifests,
)
from tests.reliability.support import STATE, assert_tenant_matches


@contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ainas-law-") as name:
        yield Path(name) / "manifests"


def apply(directory: Path, *args: str):
    return run("apply", str(directory), "--auto-approve", *args)


def assert_plan_is_empty(directory: Path) -> None:
    plan = run("plan", str(directory), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr


def capped(count: int, cap: int) -> str:
    return f"{cap} or more" if count >= cap else str(count)


def describe(manifest: dict) -> None:
    """Hypothesis statistics (--hypothesis-show-statistics): what the examples held."""
    accounts = sum(
        batch_of(site, section) is not None
        for site in manifest["sites"].values()
        for section in ("registered", "kei")
    )
    event(f"sites: {len(manifest['sites'])}, users: {capped(len(manifest['users']), 3)}")
    event(f"batch accounts: {capped(accounts, 2)}")


def describe_change(before: dict, after: dict, deletions: int, refused: bool) -> None:
    both = set(before["users"]) & set(after["users"])
    moved = sum(before["users"][u]["site"] != after["users"][u]["site"] for u in both)
    event(f"deletions and replacements: {capped(deletions, 3)}")
    event(f"users kept and moved to another site: {capped(moved, 2)}")
    event(f"sites deleted: {capped(len(set(before['sites']) - set(after['sites'])), 2)}")
    event(f"refused for max_deletes, then --allow-deletes: {refused}")


@given(manifests())
def test_apply_then_plan_is_empty(manifest):
    describe(manifest)
    with workspace() as directory:
        write_manifests(manifest, directory)
        saved = directory.parent / "first.plan"
        planned = run("plan", str(directory), "--out", str(saved))
        assert planned.exit_code == 0, planned.stdout + planned.stderr
        applied = apply(directory)
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        assert_tenant_matches(directory, manifest)
        assert_plan_is_empty(directory)
        # no secret value in what the tool printed or wrote
        written = [planned.stdout, planned.stderr, applied.stdout, applied.stderr]
        written += [path.read_text("utf-8") for path in (saved, directory / STATE) if path.exists()]
        for value in secret_values(manifest).values():
            assert not any(value in text for text in written)


@given(histories(), st.sampled_from([0, 1000]))
def test_apply_a_then_b_leaves_the_tenant_equal_to_b(history, max_deletes):
    before, after = history
    after["policy"]["max_deletes"] = max_deletes
    with workspace() as directory:
        write_manifests(before, directory)
        assert apply(directory).exit_code == 0
        write_manifests(after, directory)
        deletions = expected_deletions(before, after)
        describe_change(before, after, deletions, refused=deletions > max_deletes)
        applied = apply(directory)
        if deletions > max_deletes:
            assert applied.exit_code == 1
            assert f"more than policy.max_deletes ({max_deletes}) allows" in applied.stderr
            assert f"--allow-deletes {deletions}" in applied.stderr
            assert_tenant_matches(directory, before)  # refused before anything was sent
            applied = apply(directory, "--allow-deletes", str(deletions))
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        assert_tenant_matches(directory, after)
        assert_plan_is_empty(directory)


def changed(value: str) -> str:
    """Another valid value of the same form (last character replaced)."""
    return value[:-1] + ("7" if value[-1] != "7" else "8")


@given(manifests(), st.data())
def test_a_changed_write_once_value_is_refused_and_changes_nothing(manifest, data):
    accounts = [
        (handle, section)
        for handle, site in manifest["sites"].items()
        for section in ("registered", "kei")
        if batch_of(site, section) is not None
    ]
    assume(accounts)
    handle, section = data.draw(st.sampled_from(accounts))
    name = data.draw(st.sampled_from(WRITE_ONCE))
    edited = copy.deepcopy(manifest)
    account = edited["sites"][handle][section]["batch_account"]
    if name == "batch_password":
        account[name] = SecretValue(changed(account[name].value), account[name].form)
    else:
        account[name] = changed(account[name])
    with workspace() as directory:
        write_manifests(manifest, directory)
        assert apply(directory).exit_code == 0
        write_manifests(edited, directory)
        refused = apply(directory)
        assert refused.exit_code == 1
        assert "the plan cannot be applied" in refused.stderr
        assert WRITE_ONCE_RULE in refused.stderr
        assert_tenant_matches(directory, manifest)

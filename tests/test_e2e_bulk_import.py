"""End to end: bulk onboarding from a CSV, importing a tenant, and scoping to sites."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import copy_example
from tests.helpers import bulk_demo_environment, run


@pytest.fixture(scope="module")
def demo_env() -> dict[str, str]:
    return bulk_demo_environment()


@pytest.fixture
def bulk(tmp_path, monkeypatch, demo_env) -> Path:
    path = tmp_path / "bulk"
    copy_example("bulk-onboarding", path)
    for name, value in demo_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return path


def files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".yaml", ".json") and not p.name.startswith("ainas.state")
    }


def test_bulk_example_applies_to_an_empty_sandbox_then_plans_no_changes(bulk):
    applied = run("apply", "bulk", "--auto-approve")
    assert applied.exit_code == 0, applied.stderr
    assert (
        "Apply complete: 250 changes applied." in applied.stdout
    )  # 50 sites, 100 accounts, 100 users
    plan = run("plan", "bulk", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout
    assert "No changes" in plan.stdout


def test_import_gives_manifests_that_validate_and_plan_nothing_and_round_trip(bulk):
    assert run("apply", "bulk", "--auto-approve").exit_code == 0
    imported = run("import", "--target", "sandbox:bulk/ainas.sandbox.sqlite", "--out", "first")
    assert imported.exit_code == 0, imported.stderr
    assert "Imported 50 sites and 100 users into first" in imported.stdout
    assert len(list(Path("first/sites").glob("*.yaml"))) == 50
    assert run("validate", "first").exit_code == 0
    # the plan it suggests, as printed, reaches the imported target
    hint = re.search(r"then `ainas-provision (plan [^`]+)` shows no changes", imported.stdout)
    assert hint, imported.stdout
    assert hint.group(1) == "plan first --target sandbox:bulk/ainas.sandbox.sqlite"
    plan = run(*shlex.split(hint.group(1)), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout
    assert plan.stdout.count("was not written by this tool") == 300  # a note per write-only value
    # round trip: apply the import to a fresh sandbox, import that: the same manifests
    fresh = run(
        "apply",
        "first",
        "--target",
        "sandbox:fresh.sqlite",
        "--state",
        "fresh.state.json",
        "--auto-approve",
    )
    assert fresh.exit_code == 0, fresh.stderr
    again = run("import", "--target", "sandbox:fresh.sqlite", "--out", "second")
    assert again.exit_code == 0, again.stderr
    assert files(Path("first")) == files(Path("second"))


def test_import_refuses_to_overwrite_or_rebind(bulk):
    assert run("apply", "bulk", "--auto-approve").exit_code == 0
    assert (
        run("import", "--target", "sandbox:bulk/ainas.sandbox.sqlite", "--out", "first").exit_code
        == 0
    )
    again = run("import", "--target", "sandbox:bulk/ainas.sandbox.sqlite", "--out", "first")
    assert again.exit_code == 1
    assert "already manages sites or users" in again.stderr
    missing = run("import", "--target", "sandbox:nowhere.sqlite", "--out", "x")
    assert missing.exit_code == 1 and "no sandbox at nowhere.sqlite" in missing.stderr


def test_site_option_limits_the_plan_to_one_site(bulk):
    plan = run("plan", "bulk", "--site", "sjk01")
    assert plan.exit_code == 0
    addresses = [line.split()[1] for line in plan.stdout.splitlines() if line.startswith("  + ")]
    assert addresses == [
        "site.sjk01",
        "batch_account.sjk01",
        "kei_batch_account.sjk01",
        "user.sjk01-kanri",
        "user.sjk01-tanto01",
    ]
    applied = run("apply", "bulk", "--site", "sjk01", "--auto-approve")
    assert applied.exit_code == 0
    whole = run("plan", "bulk")
    assert "site.sjk01" not in whole.stdout and "Plan: 245 to add" in whole.stdout
    unknown = run("plan", "bulk", "--site", "nosuch")
    assert unknown.exit_code == 1 and "--site nosuch: no such site handle" in unknown.stderr


def test_a_site_managers_plan_never_mentions_other_sites(bulk, demo_env, monkeypatch):
    assert run("apply", "bulk", "--auto-approve").exit_code == 0
    manifest = bulk / "branches.csv"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace("林　花子", "林　花代").replace("斎藤　美咲", "斎藤　美紀"), encoding="utf-8"
    )
    monkeypatch.setenv("AINAS_LOGIN_ID", "sjk01-kanri")
    monkeypatch.setenv("AINAS_PASSWORD", demo_env["USER_SJK01_KANRI_PASSWORD"])
    plan = run("plan", "bulk", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.stdout + plan.stderr
    assert "sites sjk01" in plan.stdout
    assert "  ~ user.sjk01-tanto01 (林　花代): update in place" in plan.stdout
    for other in ("sby02", "ikb03"):
        assert other not in plan.stdout
    applied = run("apply", "bulk", "--auto-approve")
    assert applied.exit_code == 0, applied.stderr


def test_a_saved_plan_for_one_site_applies_with_its_own_scope(bulk):
    assert run("plan", "bulk", "--site", "ikb03", "--out", "ikb03.plan").exit_code == 0
    applied = run("apply", "bulk", "--plan", "ikb03.plan")
    assert applied.exit_code == 0, applied.stderr
    assert "Apply complete: 5 changes applied." in applied.stdout
    other = run("plan", "bulk", "--site", "ikb03", "--out", "again.plan")
    assert other.exit_code == 0
    refused = run("apply", "bulk", "--plan", "again.plan", "--site", "sjk01")
    assert refused.exit_code == 1 and "the plan was made for sites ikb03" in refused.stderr


def test_a_tenant_of_500_sites_is_imported_in_one_command(tmp_path, monkeypatch):
    from ainas_emulator.service import AinasSandbox

    monkeypatch.chdir(tmp_path)
    sandbox = AinasSandbox(tmp_path / "big.sqlite")
    sandbox.create_tenant("500", "大規模代理人", "大規模", [("abcde", "管理者一郎")])
    admin = sandbox.first_admin("500")
    actor = admin.__class__(admin.login_id, "500", admin.role, None, False)
    for n in range(500):
        wide = "".join(chr(0xFF10 + int(d)) for d in str(n))
        site_id = sandbox.create(
            actor, "site", {"site_name": f"支店{wide}", "site_short_name": f"支店{wide}", "site_code": f"B{n:03}"}
        )
        sandbox.create(
            actor,
            "user",
            {
                "login_id": f"u{n:03}",
                "user_name": f"担当{n}",
                "role": "担当者(送信可)",
                "site": site_id,
                "password": "Pass-word-01",
            },
        )
    sandbox.close()
    result = run("--debug", "import", "--target", "sandbox:big.sqlite", "--out", "imported")
    assert result.exit_code == 0, result.stderr
    assert "Imported 500 sites and 500 users into imported" in result.stdout
    assert len(list(Path("imported/sites").glob("*.yaml"))) == 500
    assert "read 1" in result.stderr  # one read of the whole tenant
    env = {f"USER_U{n:03}_PASSWORD": "Pass-word-01" for n in range(500)}
    plan = run("plan", "imported", "--target", "sandbox:big.sqlite", "--detailed-exitcode", env=env)
    assert plan.exit_code == 0, plan.stdout[-2000:] + plan.stderr[-2000:]

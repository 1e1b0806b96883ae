"""state list / mv / rm: what the state manages, edited without touching AINAS."""

from __future__ import annotations

from pathlib import Path

import pytest

from ainas_emulator.service import AinasSandbox
from tests.conftest import copy_example
from tests.helpers import run


@pytest.fixture
def applied(tmp_path, monkeypatch) -> Path:
    path = copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    return path


def site_ids(path: Path) -> list[str]:
    sandbox = AinasSandbox(path / "ainas.sandbox.sqlite")
    try:
        return [r[0] for r in sandbox.store.connection().execute("SELECT site_id FROM sites")]
    finally:
        sandbox.close()


def rename_handle(path: Path, old: str, new: str) -> None:
    manifest = path / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace(f"  {old}:", f"  {new}:", 1).replace(f"site: {old}", f"site: {new}")
    manifest.write_text(text, encoding="utf-8")


def test_list_names_every_managed_address(applied):
    result = run("state", "list", "quickstart")
    assert result.exit_code == 0, result.stderr
    [site_id] = site_ids(applied)
    assert result.stdout.splitlines() == [
        result.stdout.splitlines()[0],
        f"site.akihabara\t拠点ID {site_id}",
        "user.dairi001\tログインID",
        "user.dairi002\tログインID",
    ]
    assert result.stdout.startswith("certificate\tfingerprint ")


def test_renaming_a_handle_without_mv_would_replace_the_site(applied):
    rename_handle(applied, "akihabara", "akiba")
    plan = run("plan", "quickstart")
    assert "- site.akihabara" in plan.stdout and "+ site.akiba" in plan.stdout


def test_mv_keeps_the_live_site_and_its_secrets_fingerprints(applied):
    [site_id] = site_ids(applied)
    rename_handle(applied, "akihabara", "akiba")
    moved = run("state", "mv", "site.akihabara", "site.akiba", "quickstart")
    assert moved.exit_code == 0, moved.stderr
    assert "moved site.akihabara to site.akiba" in moved.stdout
    assert "could not be carried over" not in moved.stderr
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert plan.exit_code == 0, (
        plan.stdout + plan.stderr
    )  # nothing to do: same 拠点ID, same secrets
    assert "never written" not in plan.stdout and "not written by this tool" not in plan.stdout
    assert site_ids(applied) == [site_id]


def test_mv_without_the_manifests_drops_the_fingerprints_and_says_so(applied):
    rename_handle(applied, "akihabara", "akiba")
    (applied / "secrets" / "akihabara-arrival.txt").unlink(missing_ok=True)
    moved = run(
        "state",
        "mv",
        "site.akihabara",
        "site.akiba",
        "elsewhere",
        "--state",
        "quickstart/ainas.state.json",
    )
    assert moved.exit_code == 0, moved.stderr
    assert "could not be carried over" in moved.stderr
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert "not written by this tool" in plan.stdout, plan.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("site.nowhere", "site.x"), "the state manages no site.nowhere"),
        (("site.akihabara", "user.x"), "a user is its ログインID in AINAS"),
        (("user.dairi001", "user.dairi009"), "a user is its ログインID in AINAS"),
        (("akihabara", "site.x"), "'akihabara' is not a state address"),
    ],
)
def test_mv_refuses_what_it_cannot_do(applied, args, message):
    before = (applied / "ainas.state.json").read_text(encoding="utf-8")
    result = run("state", "mv", *args, "quickstart")
    assert result.exit_code == 1
    assert message in result.stderr
    assert (applied / "ainas.state.json").read_text(encoding="utf-8") == before


def test_rm_stops_managing_without_deleting(applied):
    [site_id] = site_ids(applied)
    removed = run("state", "rm", "user.dairi002", "quickstart")
    assert removed.exit_code == 0, removed.stderr
    assert "user.dairi002" not in run("state", "list", "quickstart").stdout
    # the manifests still name it: the next plan adopts it again, deleting nothing
    plan = run("plan", "quickstart")
    assert "  <= user.dairi002 (" in plan.stdout and ": delete" not in plan.stdout
    assert site_ids(applied) == [site_id]


# -- moved: the rename reviewed in a pull request ------------------------------------------------
def test_a_moved_section_renames_without_replacing(applied):
    [site_id] = site_ids(applied)
    rename_handle(applied, "akihabara", "akiba")
    manifest = applied / "ainas.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        + "\nmoved:\n  - {from: site.akihabara, to: site.akiba}\n",
        encoding="utf-8",
    )
    before = (applied / "ainas.state.json").read_text(encoding="utf-8")
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr  # nothing to do in AINAS
    assert (
        f"site.akiba: moved from site.akihabara (moved:): 拠点ID {site_id} kept; apply records it"
    ) in plan.stdout
    assert "not written by this tool" not in plan.stdout
    assert (applied / "ainas.state.json").read_text(
        encoding="utf-8"
    ) == before  # plan writes nothing
    applied_run = run("apply", "quickstart", "--auto-approve")
    assert applied_run.exit_code == 0, applied_run.stderr
    listed = run("state", "list", "quickstart").stdout
    assert f"site.akiba\t拠点ID {site_id}" in listed and "site.akihabara" not in listed
    # the entry may stay: the next plan is empty and says nothing of it
    again = run("plan", "quickstart", "--detailed-exitcode")
    assert again.exit_code == 0 and "moved from" not in again.stdout
    assert site_ids(applied) == [site_id]

"""The README's promises: its test command is what CI runs, and its tables match the code."""

from __future__ import annotations

import re

from ainas_provision.validation.rules import every_rule
from tests.conftest import REPO

RULES = every_rule()

README = (REPO / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:sh|bash|console)\n(.*?)\n```", section, re.S)


def test_ci_runs_exactly_the_readme_test_command():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    test_command = commands[1].strip()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci


def test_rules_table_lists_every_rule():
    table = README.split("## Validation rules", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M)
    assert sorted(listed) == sorted(RULES)
    for rule_id in listed:
        row = re.search(rf"^\| `{rule_id}` \| (.*?) \|", table, re.M).group(1)
        assert RULES[rule_id].summary in row


def test_quick_start_runs_twice_and_leaves_only_what_tests_never_copy(tmp_path, monkeypatch):
    """The Quick start writes beside the example manifests; the tests copy the examples without
    what it wrote (tests.conftest.GENERATED), so its commands and the test command work in
    either order in one checkout."""
    import fnmatch
    import shlex

    from tests.conftest import GENERATED, copy_example
    from tests.helpers import run

    copy_example("quickstart", tmp_path / "examples" / "quickstart")
    monkeypatch.chdir(tmp_path)
    before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    commands = [
        shlex.split(part)[1:]
        for part in quick_start_commands()[0].split("&&")
        if part.strip().startswith(".venv/bin/ainas-provision")
    ]
    assert len(commands) == 3, commands
    for _ in range(2):
        for args in commands:
            result = run(*args)
            assert result.exit_code == 0, (args, result.stdout, result.stderr)
    left = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} - before
    assert left  # the state, its key and the sandbox
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    for path in left:
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in GENERATED), path
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in ignored), path


def test_no_test_copies_an_example_with_what_a_run_left_in_it():
    """Examples are copied with tests.conftest.copy_example, which leaves out the state, its key
    and the sandbox a run of the Quick start writes beside them."""
    offenders = []
    for path in (REPO / "tests").rglob("*.py"):
        if path.name == "conftest.py":  # copy_example itself
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"copytree\(\s*(EXAMPLES|REPO\s*/\s*\"examples\")", text):
            offenders.append(path.name)
    assert offenders == [], offenders

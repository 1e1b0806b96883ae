"""The README's promises: its test command is what CI runs, and its tables match the code."""

from __future__ import annotations

import re

from ainas_provision.validation.rules import RULES
from tests.conftest import REPO

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

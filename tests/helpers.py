"""Helpers shared by tests: running the CLI in-process."""

from __future__ import annotations

from click.testing import CliRunner, Result

from ainas_provision.cli.main import cli


def run(*args: str, input: str | None = None, env: dict | None = None) -> Result:
    """Run ``ainas-provision ARGS`` through click's runner (stdout and stderr kept apart)."""
    runner = CliRunner()
    return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def error_lines(result: Result) -> list[str]:
    """The diagnostic lines of a validate run (without the summary)."""
    return [
        line for line in result.stderr.splitlines() if not line.startswith(("invalid:", "valid:"))
    ]

"""Start-up: `--help` lists the commands without importing them, and a command imports only
what it uses (the HTTP client, Jinja2, the certificate reader, jsonschema)."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from ainas_provision.cli.main import COMMANDS, SUMMARIES, cli
from tests.conftest import EXAMPLES, REPO

PROBE = (
    "import sys, json\n"
    "from ainas_provision.cli.main import cli\n"
    "try:\n"
    "    cli(sys.argv[1:], prog_name='ainas-provision')\n"
    "except SystemExit:\n"
    "    pass\n"
    "sys.stderr.write('@@' + json.dumps(sorted(sys.modules)))\n"
)


def modules_after(*args: str) -> set[str]:
    """The modules a fresh interpreter has imported after running the command."""
    process = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO
    )
    return set(json.loads(process.stderr.rpartition("@@")[2]))


def test_every_command_is_summarized_as_it_describes_itself():
    ctx = click.Context(cli)
    assert set(SUMMARIES) == set(COMMANDS), "a command added: give its summary in SUMMARIES"
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command.get_short_help_str(10**6) == SUMMARIES[name], name
        # sandbox's summary is its own short_help, which click never shortens: widths from 45
        # (an 80-column terminal gives 66)
        for width in (45, 66, 100):
            listed = click.Command(name, help=SUMMARIES[name]).get_short_help_str(width)
            assert listed == command.get_short_help_str(width), (name, width)


def test_help_lists_every_command_with_its_summary():
    output = CliRunner().invoke(cli, ["--help"], terminal_width=200).output
    for name, summary in SUMMARIES.items():
        assert f"  {name} " in output
        assert summary in output


def test_help_imports_no_command_module():
    loaded = modules_after("--help")
    commands = {m for m in loaded if m.startswith("ainas_provision.cli.") and m.endswith("_cmd")}
    assert not commands
    for heavy in (
        "jsonschema",
        "jsonschema_rs",
        "httpx",
        "jinja2",
        "cryptography",
        "yaml",
        "logging",
        "socket",
        "ainas_provision.diagnostics",
    ):
        assert heavy not in loaded, heavy


@pytest.mark.parametrize(
    "absent",
    [
        "jsonschema",
        "httpx",
        "jinja2",
        "uvicorn",
        "starlette",
        "cryptography.hazmat.primitives.ciphers.aead",
    ],
)
def test_validating_a_valid_manifest_imports_only_what_it_uses(absent):
    """The quickstart (one file, no template, valid): the compiled validator decides, so the
    Python jsonschema is not imported; nothing of HTTP or templating either, nor AES-GCM (no
    value is encrypted; the certificate reader is: the quickstart names a .p12 file)."""
    loaded = modules_after("validate", str(EXAMPLES / "quickstart"))
    assert "ainas_provision.cli.validate_cmd" in loaded
    assert "jsonschema_rs" in loaded
    assert absent not in loaded

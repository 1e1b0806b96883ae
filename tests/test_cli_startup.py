"""Start-up: `--help` lists the commands without importing them, and a command imports only
what it uses (the HTTP client, Jinja2, the certificate reader, jsonschema)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from ainas_provision.cli.main import COMMANDS, SUMMARIES, cli
from tests.conftest import EXAMPLES, REPO, copy_example

PROBE = (
    "import sys, json\n"
    "from ainas_provision.cli.main import cli\n"
    "try:\n"
    "    cli(sys.argv[1:], prog_name='ainas-provision')\n"
    "except SystemExit:\n"
    "    pass\n"
    "sys.stderr.write('@@' + json.dumps(sorted(sys.modules)))\n"
)


def modules_after(*args: str, cwd=REPO, env=None) -> set[str]:
    """The modules a fresh interpreter has imported after running the command."""
    process = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd, env=env
    )
    return set(json.loads(process.stderr.rpartition("@@")[2]))


def as_installed() -> dict[str, str]:
    """The environment, for runs that keep their bytecode as an installed copy does (and the
    screen catalogue's parsed form beside it: without it, a run parses its YAML)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


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
        "ainas_provision.state.postgres",
        "psycopg",
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


# what no run against the embedded sandbox with a state file needs: PostgreSQL, HTTP, templates
NOT_FOR_A_LOCAL_RUN = (
    "ainas_provision.state.postgres",
    "psycopg",
    "httpx",
    "jinja2",
    "jsonschema",
    "ainas_provision.apply.executor",
)


def test_a_warm_plan_on_the_embedded_sandbox_imports_only_what_it_uses(tmp_path):
    """A second plan of an unchanged tree takes its manifests from the cache of validated
    trees: it parses no YAML and checks no schema, so neither PyYAML nor a validator (nor the
    rules that only validation runs) is imported; a state file needs no PostgreSQL store."""
    copy_example("quickstart", tmp_path / "quickstart")
    first = subprocess.run(
        [sys.executable, "-m", "ainas_provision", "apply", "quickstart", "--auto-approve"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=as_installed(),
    )
    assert first.returncode == 0, first.stderr
    loaded = modules_after("plan", "quickstart", cwd=tmp_path, env=as_installed())
    assert "ainas_provision.targets.embedded" in loaded
    assert "ainas_provision.validation.tree" in loaded
    only_validating = (
        "ainas_provision.manifest.yamlfile",
        "yaml",
        "jsonschema_rs",
        "ainas_provision.validation.schema_errors",
        "ainas_provision.validation.rules.inferred",
        "ainas_provision.manifest.datafiles",
    )
    for absent in (*NOT_FOR_A_LOCAL_RUN, *only_validating):
        assert absent not in loaded, absent


def test_a_cold_plan_imports_yaml_but_nothing_it_does_not_use(tmp_path):
    copy_example("quickstart", tmp_path / "quickstart")
    loaded = modules_after("plan", "quickstart", "--no-cache", cwd=tmp_path)
    for present in ("yaml", "jsonschema_rs", "ainas_provision.validation.schema_errors"):
        assert present in loaded, present  # validated, this time
    for absent in NOT_FOR_A_LOCAL_RUN:
        assert absent not in loaded, absent


def test_every_dataclass_has_a_docstring():
    """Python 3.11 gives a dataclass without a docstring one made from its signature
    (``inspect.signature``, formatted) when the class is made: on every run, for each class
    imported, about 0.1 ms; a docstring of its own costs nothing."""
    missing = []
    for package in ("ainas_provision", "ainas_catalogue", "ainas_emulator"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.ClassDef)
                    and any(ast.unparse(d).startswith("dataclass") for d in node.decorator_list)
                    and ast.get_docstring(node) is None
                ):
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert not missing, missing


def test_an_apply_over_https_imports_no_other_target_nor_store(tmp_path):
    """An apply over HTTPS (nothing left to do, a second run) imports the HTTP client and the
    certificate reader, but neither the embedded sandbox, nor the PostgreSQL store, nor what
    only validating or templating needs."""
    from tests.server_support import NEW_PASSWORD, client_env, copy_sandbox, make_template, running

    files = copy_sandbox(make_template(tmp_path / "template"), tmp_path / "sandbox")
    copy_example("quickstart", tmp_path / "quickstart")
    with running(files) as server:
        url = server.url.rstrip("/")
        env = {**as_installed(), **client_env(files)}
        args = ("apply", "quickstart", "--target", url, "--auto-approve")
        first = subprocess.run(
            [sys.executable, "-m", "ainas_provision", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        assert first.returncode == 0, first.stderr
        env |= client_env(files, password=NEW_PASSWORD, new_password=None)
        loaded = modules_after(*args, cwd=tmp_path, env=env)
    assert "ainas_provision.targets.https.backend" in loaded
    assert "httpx" in loaded
    for absent in (
        "ainas_emulator",
        "ainas_provision.targets.embedded",
        "ainas_provision.state.postgres",
        "psycopg",
        "jinja2",
        "jsonschema",
        "yaml",
        "ainas_provision.validation.schema_errors",
    ):
        assert absent not in loaded, absent

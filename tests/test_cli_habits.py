"""What a shell, a CI job and a Japanese Windows console expect of the command: exit codes, the
terminal's encoding, a closed pipe, colour, --debug anywhere, the environment in --help."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ainas_provision.cli.main import ENVIRONMENT, color_setting
from tests.conftest import REPO, copy_example
from tests.helpers import run

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def quickstart(tmp_path, monkeypatch) -> Path:
    path = copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    return path


def command(
    *args: str, cwd: Path, env: dict | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """The real console entry point, in its own process."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AINAS_", "PYTHONIO"))}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ainas_provision", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        timeout=120,
        **kwargs,
    )


# -- exit codes ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--no-such-option"),
        ("nosuchcommand",),
        (),
        ("state", "nosuchcommand"),
        ("certs", "inspect"),  # a missing argument
        ("plan", "--format", "xml"),
        ("--no-such-global",),
    ],
)
def test_a_usage_error_exits_1_never_2(args):
    result = run(*args)
    assert result.exit_code == 1, (result.exit_code, result.output)


def test_help_still_exits_0():
    assert run("--help").exit_code == 0
    assert run("plan", "--help").exit_code == 0


def test_ctrl_c_at_the_apply_prompt_exits_130(quickstart):
    from tests.test_e2e_sandbox import _spawn_apply_in_terminal

    process, controller = _spawn_apply_in_terminal(quickstart)
    try:
        # a signal that lands between the prompt and the read is only seen by the next one:
        # press Ctrl-C again then, as a person would — but not while the first is being handled
        # (a second interrupt during the exit would end the process by the signal itself)
        time.sleep(1)
        for _ in range(3):
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
                break
            except subprocess.TimeoutExpired:
                continue
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    assert not (quickstart / "ainas.state.json").exists()


# -- encodings and pipes -------------------------------------------------------------------------
def test_output_survives_a_cp932_terminal_and_file(quickstart, tmp_path):
    env = {"PYTHONIOENCODING": "cp932"}
    saved = command("plan", "quickstart", "--out", "plan.json", cwd=tmp_path, env=env)
    assert saved.returncode == 0, saved.stderr.decode("cp932", "replace")
    for args in (
        ("show", "plan.json", "--format", "markdown"),
        ("show", "plan.json"),
        ("validate", "quickstart", "--format", "json"),
        ("plan", "quickstart", "--format", "markdown"),
    ):
        result = command(*args, cwd=tmp_path, env=env)
        assert result.returncode == 0, (args, result.stderr.decode("cp932", "replace"))
        assert b"Traceback" not in result.stderr
        text = result.stdout.decode("cp932")  # what a cp932 console shows: valid cp932
        assert "利活用事務所" in text or '"valid": true' in text
    markdown = command("show", "plan.json", "--format", "markdown", cwd=tmp_path, env=env)
    assert "### ainas-provision plan - " in markdown.stdout.decode(
        "cp932"
    )  # the em dash's stand-in


def test_a_bad_manifest_on_cp932_names_the_character(tmp_path):
    (tmp_path / "ainas.yaml").write_text(
        "version: 1\norganization: {id: '1'}\nsites:\n  a: {name: 利活用 事務所, short_name: 利活用}\n",
        encoding="utf-8",
    )
    result = command("validate", "ainas.yaml", cwd=tmp_path, env={"PYTHONIOENCODING": "cp932"})
    assert result.returncode == 1
    text = result.stderr.decode("cp932")
    assert "must be full-width (全角): half-width space ' ' (U+0020)" in text
    assert "Traceback" not in text


def test_a_closed_pipe_ends_quietly(quickstart, tmp_path):
    # a reader that stops at once, as `plan | head -1` does after one line
    process = subprocess.Popen(
        [sys.executable, "-m", "ainas_provision", "schema"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.read(10)
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err
    assert b"internal error" not in err


def test_the_process_ends_at_once_with_its_whole_output_and_its_exit_status(quickstart, tmp_path):
    # the command's own process ends without tearing the interpreter down (cli.main._end_now):
    # what was written but still buffered, the log and every exit status must arrive as before
    expected = run("plan", "quickstart", "--format", "json", "--detailed-exitcode")
    assert expected.exit_code == 2
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AINAS_", "PYTHONIO"))}
    args = ("--debug", "plan", "quickstart", "--format", "json", "--detailed-exitcode")
    with open(tmp_path / "plan.out", "wb") as out:  # a file: stdout buffered in blocks
        result = subprocess.run(
            [sys.executable, "-m", "ainas_provision", *args],
            cwd=tmp_path,
            env=environment,
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    written = json.loads((tmp_path / "plan.out").read_text(encoding="utf-8"))  # all of it

    def changes(plan: dict) -> list:  # a fingerprint's key is new each time: not compared
        return [(c["address"], c["action"], c["fields"]) for c in plan["changes"]]

    assert changes(written) == changes(json.loads(expected.stdout)) != []
    assert "DEBUG ainas_provision" in result.stderr.decode(), result.stderr  # logging's too
    assert b"Traceback" not in result.stderr
    piped = command("plan", "quickstart", cwd=tmp_path)  # the digest: a new key each time

    def shown(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("Plan digest")]

    assert piped.returncode == 0
    assert shown(piped.stdout.decode()) == shown(run("plan", "quickstart").stdout)
    assert command("plan", "nosuchdir", cwd=tmp_path).returncode == 1
    assert command("--version", cwd=tmp_path).returncode == 0


# -- colour --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("no_color", "env", "expected"),
    [
        (False, {}, None),
        (True, {}, False),
        (False, {"NO_COLOR": "1"}, False),
        (False, {"TERM": "dumb"}, False),
        (False, {"FORCE_COLOR": "1"}, True),
        (False, {"FORCE_COLOR": "0"}, None),
        (True, {"FORCE_COLOR": "1"}, False),
        (False, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
    ],
)
def test_colour_setting(no_color, env, expected):
    assert color_setting(no_color, env) is expected


def test_colour_follows_the_environment_and_the_option(quickstart, tmp_path):
    forced = command("plan", "quickstart", cwd=tmp_path, env={"FORCE_COLOR": "1"})
    assert ANSI.search(forced.stdout.decode()), forced.stdout
    plain = command("plan", "quickstart", cwd=tmp_path)  # not a terminal
    assert not ANSI.search(plain.stdout.decode())
    for env, args in (
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, ()),
        ({"FORCE_COLOR": "1", "TERM": "dumb"}, ()),
        ({"FORCE_COLOR": "1"}, ("--no-color",)),
    ):
        result = command("plan", "quickstart", *args, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert not ANSI.search(result.stdout.decode() + result.stderr.decode()), (env, args)


def test_debug_and_no_color_after_the_command_name(quickstart):
    before = run("--debug", "plan", "quickstart")
    after = run("plan", "quickstart", "--debug")
    assert after.exit_code == 0, after.stderr
    assert "backend calls:" in before.stderr and "backend calls:" in after.stderr
    assert run("validate", "quickstart", "--no-color").exit_code == 0


# -- help ----------------------------------------------------------------------------------------
def test_help_lists_every_environment_variable_the_tool_reads():
    used = set()
    for path in (REPO / "ainas_provision").rglob("*.py"):
        used |= set(re.findall(r"\bAINAS_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8")))
    used -= {"AINAS_CERT_PASSWORD"}  # a name import writes into manifests, not one it reads
    listed = {name for name in ENVIRONMENT if name.startswith("AINAS_")}
    assert used <= listed, used - listed
    help_text = run("--help").stdout
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in listed:
        assert name in help_text
        assert f"`{name}`" in readme, name
    assert "_AINAS_PROVISION_COMPLETE=bash_source" in help_text
    assert "_AINAS_PROVISION_COMPLETE=bash_source" in readme


def test_shell_completion_works_as_documented(tmp_path):
    result = command(
        cwd=tmp_path,
        env={
            "_AINAS_PROVISION_COMPLETE": "bash_complete",
            "COMP_WORDS": "ainas-provision pl",
            "COMP_CWORD": "1",
        },
    )
    assert result.returncode == 0
    assert "plain,plan" in result.stdout.decode()


# -- smaller things ------------------------------------------------------------------------------
def test_repeated_errors_are_grouped_with_a_count_and_the_first_places(in_repo):
    result = run("validate", "examples/bulk-onboarding")  # its variables are not set
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == "invalid: 300 errors, 0 warnings in 2 files"
    assert len(lines) < 20, len(lines)
    assert sum("[secret-env]" in line and ": error: " in line for line in lines) == 3
    grouped = [line for line in lines if line.startswith("… and 297 more errors [secret-env]")]
    assert grouped, lines
    assert re.search(r"examples/bulk-onboarding/branches\.yaml\.j2:\d+:\d+ \(row 4\)", grouped[0])
    assert grouped[0].endswith("(--format json lists every one)")
    full = run("validate", "examples/bulk-onboarding", "--format", "json")
    assert len(__import__("json").loads(full.stdout)["diagnostics"]) == 300


def test_a_tab_in_the_indentation_is_explained(tmp_path):
    (tmp_path / "ainas.yaml").write_text('version: 1\norganization:\n\tid: "1"\n', encoding="utf-8")
    result = run("validate", str(tmp_path / "ainas.yaml"))
    assert result.exit_code == 1
    assert ":3:1: error: YAML syntax error: " in result.stderr
    assert (
        "this line has a tab character (U+0009); YAML indents with spaces only — replace the tab "
        "with spaces" in result.stderr
    )


def test_sandbox_init_refuses_a_manifest_directory(quickstart):
    result = run("sandbox", "init", "quickstart")
    assert result.exit_code == 1
    assert "quickstart holds manifests (ainas.yaml…)" in result.stderr
    assert not (quickstart / "ca.pem").exists()


def test_rehearsal_directory_is_ignored_by_git():
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert "rehearsal/" in ignored


def test_one_deletion_is_singular(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    text = (quickstart / "ainas.yaml").read_text(encoding="utf-8")
    users = text.index("\nusers:")
    (quickstart / "ainas.yaml").write_text(
        text[:users] + text[users:].replace("  dairi002:", "  dairi002x:", 1), encoding="utf-8"
    )
    result = run("plan", "quickstart")
    assert "this plan deletes 1 resource and policy.max_deletes is 0" in result.stderr, (
        result.stderr
    )

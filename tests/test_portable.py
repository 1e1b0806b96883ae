"""The Windows paths of ``ainas_provision.portable``, forced on Linux where they can run here:
file modes left alone, the honest note instead of "mode 0600", relpath without a relative path,
the exclusive listening address, the console that never crashes, the question under mintty."""

from __future__ import annotations

import io
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ainas_provision import portable
from tests.conftest import REPO, copy_example

MODULES = ("ainas_provision", "ainas_emulator", "ainas_catalogue")


def test_only_the_portability_module_calls_what_windows_lacks():
    offenders = []
    for package in MODULES:
        for path in (REPO / package).rglob("*.py"):
            if path.name == "portable.py":
                continue
            text = path.read_text(encoding="utf-8")
            for needle in ("os.fork", "os.kill(", "fcntl", "os.fchmod", "SO_REUSEADDR", "msvcrt"):
                if needle in text:
                    offenders.append(f"{path.relative_to(REPO)}: {needle}")
            if "os.path.relpath(" in text and "ValueError" not in text:
                offenders.append(f"{path.relative_to(REPO)}: unguarded os.path.relpath")
    assert offenders == []


@pytest.fixture
def windows(monkeypatch):
    monkeypatch.setattr(portable, "WINDOWS", True)


def test_modes_are_set_on_posix(tmp_path):
    path = tmp_path / "key"
    path.write_text("k", encoding="utf-8")
    path.chmod(0o644)
    portable.make_private(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    fd = os.open(path, os.O_RDONLY)
    try:
        portable.make_private_fd(fd)
    finally:
        os.close(fd)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    portable.make_private_directory(tmp_path)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert portable.private_note() == "mode 0600"


def test_modes_are_left_alone_on_windows_and_the_note_says_what_protects(tmp_path, windows):
    path = tmp_path / "key"
    path.write_text("k", encoding="utf-8")
    path.chmod(0o644)
    portable.make_private(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        portable.make_private_fd(fd)
    finally:
        os.close(fd)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # no mode: the profile's ACL protects it
    assert "0600" not in portable.private_note()
    assert "Windows profile" in portable.private_note()


def test_sandbox_init_and_a_state_key_work_without_modes(tmp_path, windows, monkeypatch):
    """The whole of `sandbox init` and a state key, with no chmod or fchmod available at all."""
    from click.testing import CliRunner

    from ainas_provision.cli.main import cli

    def refused(*args, **kwargs):
        raise AssertionError("a file mode was set on Windows")

    monkeypatch.setattr(os, "chmod", refused)
    monkeypatch.delattr(os, "fchmod")
    monkeypatch.setattr(Path, "chmod", refused)
    monkeypatch.chdir(tmp_path)
    # (a sandbox goes in a directory of its own, not among manifests)
    result = CliRunner().invoke(cli, ["sandbox", "init", "rehearsal"])
    assert result.exit_code == 0, result.output
    assert "Windows profile" in result.output and "0600" not in result.output
    from ainas_provision.state.keys import create_key_file

    create_key_file(tmp_path / "k.key")
    assert (tmp_path / "k.key").stat().st_size > 0


def test_relpath_without_a_relative_path_is_the_absolute_one(monkeypatch, tmp_path):
    assert portable.relpath(tmp_path / "a", tmp_path) == "a"

    def other_drive(path, start=None):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    monkeypatch.setattr(os.path, "relpath", other_drive)
    assert portable.relpath(tmp_path / "a", tmp_path) == str(tmp_path / "a")
    from ainas_provision.targets.registry import resolve

    target = resolve(None, tmp_path / "ainas.yaml", env={})
    assert target.kind == "sandbox" and Path(target.location).is_absolute()


class Recorder:
    def __init__(self):
        self.options = []

    def setsockopt(self, level, name, value):
        self.options.append((level, name, value))


def test_listening_sockets_are_exclusive(monkeypatch):
    sock = Recorder()
    portable.exclusive_address(sock)
    assert sock.options == [(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)]
    monkeypatch.setattr(portable, "WINDOWS", True)
    monkeypatch.setattr(socket, "SO_EXCLUSIVEADDRUSE", -5, raising=False)
    sock = Recorder()
    portable.exclusive_address(sock)
    assert sock.options == [(socket.SOL_SOCKET, -5, 1)]  # never SO_REUSEADDR on Windows


def test_two_servers_cannot_share_a_port():
    first = socket.socket()
    portable.exclusive_address(first)
    first.bind(("127.0.0.1", 0))
    first.listen()
    second = socket.socket()
    try:
        portable.exclusive_address(second)
        with pytest.raises(OSError):
            second.bind(first.getsockname())
    finally:
        second.close()
        first.close()


def stream(encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="strict")


@pytest.mark.parametrize("encoding", ["cp932", "ascii", "latin-1", "cp1252"])
def test_no_console_encoding_crashes_the_output(encoding):
    out = stream(encoding)
    portable.configure_console((out,), env={})
    out.write("代理人拠点 — 一括利用者アカウント 〜 “quoted” … 🙂\n")
    out.flush()
    text = out.buffer.getvalue().decode(encoding)
    assert text.endswith("\n")
    if encoding == "cp932":
        assert text == "代理人拠点 ― 一括利用者アカウント ～ “quoted” … ?\n"
    if encoding == "ascii":
        assert "--" in text and '"quoted"' in text and "..." in text


def test_utf8_is_left_as_it_is():
    out = stream("utf-8")
    portable.configure_console((out,), env={})
    assert out.errors == "strict"


def test_mintty_gets_utf8(windows):
    out = stream("cp932")
    portable.configure_console((out,), env={"MSYSTEM": "MINGW64"})
    out.write("代理人拠点 — ok\n")
    out.flush()
    assert out.buffer.getvalue().decode("utf-8") == "代理人拠点 — ok\n"
    chosen = stream("cp932")  # PYTHONIOENCODING is the user's choice: kept, but safe
    portable.configure_console((chosen,), env={"MSYSTEM": "MINGW64", "PYTHONIOENCODING": "cp932"})
    assert chosen.encoding == "cp932" and chosen.errors == portable.ERRORS


def test_mintty_stdin_counts_as_a_person(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    assert not portable.interactive_stdin(env={"MSYSTEM": "MINGW64"})  # Linux: a pipe is a pipe
    monkeypatch.setattr(portable, "WINDOWS", True)
    assert portable.interactive_stdin(env={"MSYSTEM": "MINGW64"})
    assert not portable.interactive_stdin(env={})  # Windows, redirected: nobody to ask


@pytest.mark.parametrize(
    ("encoding", "lang"), [("cp932", "en"), ("cp932", "ja"), ("latin-1", "en")]
)
def test_the_whole_cli_runs_on_a_narrow_console(tmp_path, encoding, lang):
    """The real command, its stdout and stderr in a narrow encoding: validate with errors, plan;
    in Japanese on cp932, as on the office's Windows PC, the Japanese is shown as it is."""
    copy_example("quickstart", tmp_path / "m")
    broken = tmp_path / "m" / "ainas.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("postal_code: 123-4567", "postal_code: 1234567"),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONIOENCODING": encoding, "AINAS_LANG": lang}
    env.pop("PYTHONUTF8", None)
    run = [sys.executable, "-m", "ainas_provision"]
    for args, code, where in ((["validate", "m"], 1, "stderr"), (["--help"], 0, "stdout")):
        result = subprocess.run([*run, *args], cwd=tmp_path, env=env, capture_output=True)
        assert result.returncode == code, result.stderr.decode(encoding, "replace")
        assert b"Traceback" not in result.stderr and b"UnicodeEncodeError" not in result.stderr
        shown = getattr(result, where).decode(encoding)  # what the console shows: decodable
        assert ("postal_code" if args[0] == "validate" else "validate") in shown
        if lang == "ja":
            assert ("エラー: " if args[0] == "validate" else "マニフェストを検査します") in shown
            assert "?" not in shown.replace("[?", "")  # nothing Japanese was lost


def test_apply_asks_under_mintty_and_says_how_to_answer(tmp_path, monkeypatch):
    """Windows in Git Bash: stdin is a pipe, yet a person answers; the question says how."""
    from tests.helpers import run

    copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    refused = run("apply", "quickstart", input="yes\n")  # Linux, a pipe: nobody to ask
    assert refused.exit_code == 1 and "--auto-approve" in refused.stderr
    monkeypatch.setattr(portable, "WINDOWS", True)
    monkeypatch.setenv("MSYSTEM", "MINGW64")
    for key in tmp_path.rglob("*.state.key"):  # made again, and announced, by the next run
        key.unlink()
    cancelled = run("apply", "quickstart", input="no\n")
    assert cancelled.exit_code == 1, cancelled.output
    assert "type yes and Enter, or re-run with --auto-approve" in cancelled.stdout
    assert "nothing was changed" in cancelled.stderr
    applied = run("apply", "quickstart", input="yes\n")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 6 changes applied." in applied.stdout
    assert "created the state key" in cancelled.stderr
    assert "Windows profile" in cancelled.stderr and "0600" not in cancelled.stderr

"""Hostile files named by manifests: templates, data files and certificate files stay inside the
manifest directory (links resolved, a link out is named); no device, FIFO or /proc file is ever
read, and nothing larger than the limit; what the tool writes from the tenant is owner-only;
broken secrets and states are placed diagnostics, never a crash."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from ainas_emulator.store import Store
from ainas_provision.files import MAX_SECRET_BYTES, UnsafeFile, read_regular
from ainas_provision.state.model import State
from ainas_provision.state.store import LocalStateStore
from ainas_provision.validation.engine import validate
from tests.conftest import copy_example
from tests.helpers import run

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
CANARY = "canary-Zq81-never-shown"
ORGANIZATION = """\
version: 1
organization:
  id: "30001"
policy:
  allow_plaintext_secrets: true
"""


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "organization.yaml").write_text(ORGANIZATION, encoding="utf-8")
    (tmp_path / "outside.txt").write_text(f"password: {CANARY}\n", encoding="utf-8")
    return tmp_path


def within_seconds(function, seconds: float = 20):
    """Run ``function``; fail (rather than hang the suite) if it does not return in time."""
    box: dict = {}

    def target():
        try:
            box["value"] = function()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the read hung (a FIFO opened as a file?)"
    if "error" in box:
        raise box["error"]
    return box["value"]


def messages(result) -> list[str]:
    return [str(d) for d in result.diagnostics]


# -- the reader -----------------------------------------------------------------------------------


def test_the_reader_takes_regular_files_only(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, reason in (
        (fifo, "it is a FIFO (named pipe): only regular files are read"),
        (Path("/dev/zero"), "it is a character device: only regular files are read"),
        (tmp_path, "it is a directory: only regular files are read"),
        (Path("/proc/self/environ"), "/proc/self/environ is a system file (/proc, /sys)"),
    ):
        with pytest.raises(UnsafeFile) as caught:
            within_seconds(lambda path=path: read_regular(path))
        assert reason in caught.value.strerror
    big = tmp_path / "big"
    big.write_bytes(b"x" * (MAX_SECRET_BYTES + 1))
    with pytest.raises(UnsafeFile, match="larger than 65,536 bytes"):
        read_regular(big, limit=MAX_SECRET_BYTES)
    assert read_regular(big) == b"x" * (MAX_SECRET_BYTES + 1)


def test_the_reader_names_a_link_out_of_its_directory(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "secret").write_text("s", encoding="utf-8")
    (tmp_path / "m" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(UnsafeFile) as caught:
        read_regular(tmp_path / "m" / "link", within=tmp_path / "m", shown="m/link")
    assert caught.value.outside
    assert f"m/link is a link to {tmp_path / 'secret'}, outside the manifest directory" in (
        caught.value.strerror
    )
    (tmp_path / "m" / "inside").symlink_to(tmp_path / "m" / "link")  # a chain out is out
    with pytest.raises(UnsafeFile):
        read_regular(tmp_path / "m" / "inside", within=tmp_path / "m")


# -- templates, data files, manifests, certificate files -----------------------------------------


def test_an_include_of_a_link_out_is_an_error_naming_it(here):
    (here / "m" / "parts").mkdir()
    (here / "m" / "parts" / "env.j2").symlink_to(here / "outside.txt")
    (here / "m" / "proc.j2").symlink_to("/proc/self/environ")
    (here / "m" / "users.yaml.j2").write_text(
        "version: 1\n{% include 'parts/env.j2' %}\n", encoding="utf-8"
    )
    (here / "m" / "more.yaml.j2").write_text(
        "version: 1\n\n{% include 'proc.j2' %}\n", encoding="utf-8"
    )
    result = validate(here / "m", now=NOW)
    lines = messages(result)
    assert (
        f"m/users.yaml.j2:2:1: error: included template 'parts/env.j2' is refused: "
        f"m/parts/env.j2 is a link to {here / 'outside.txt'}, outside the manifest directory "
        f"{here / 'm'}: files named by manifests are read only from inside it [template-error]"
    ) in lines
    assert any(
        line.startswith("m/more.yaml.j2:3:1: error: included template 'proc.j2' is refused: ")
        for line in lines
    ), lines
    rendered = run("render", "m")
    assert rendered.exit_code == 1
    assert CANARY not in rendered.stdout + rendered.stderr


def test_an_include_of_a_fifo_does_not_hang(here):
    os.mkfifo(here / "m" / "pipe.j2")
    (here / "m" / "t.yaml.j2").write_text("version: 1\n{% include 'pipe.j2' %}\n", "utf-8")
    result = within_seconds(lambda: validate(here / "m", now=NOW))
    assert any("'pipe.j2' is refused: it is a FIFO" in line for line in messages(result))


def test_a_vars_entry_linking_out_is_an_error_at_the_entry(here):
    (here / "m" / "branches.csv").symlink_to(here / "outside.txt")
    (here / "m" / "vars.yaml").write_text(
        "version: 1\nvars:\n  rows: branches.csv\n", encoding="utf-8"
    )
    result = validate(here / "m", now=NOW)
    assert messages(result)[0].startswith(
        "m/vars.yaml:3:9: error: data file m/branches.csv cannot be read: m/branches.csv is a "
        f"link to {here / 'outside.txt'}, outside the manifest directory"
    )
    assert CANARY not in "\n".join(messages(result))


def test_a_data_file_on_the_command_line_that_is_a_fifo_is_an_error(here):
    os.mkfifo(here / "rows.csv")
    result = within_seconds(lambda: validate(here / "m", vars_files=["rows.csv"], now=NOW))
    assert messages(result) == [
        "rows.csv:1:1: error: data file rows.csv cannot be read: it is a FIFO (named pipe): only "
        "regular files are read [vars-file]"
    ]


def test_manifests_that_are_devices_fifos_or_links_out_are_placed_errors(here):
    os.mkfifo(here / "m" / "pipe.yaml")
    (here / "m" / "zero.yaml").symlink_to("/dev/zero")
    (here / "m" / "away.yaml").symlink_to(here / "outside.txt")
    result = within_seconds(lambda: validate(here / "m", now=NOW))
    lines = messages(result)
    assert (
        "m/pipe.yaml:1:1: error: cannot read the file: it is a FIFO (named pipe): only regular files are read [path]"
        in lines
    )
    assert any(
        line.startswith(
            "m/zero.yaml:1:1: error: cannot read the file: m/zero.yaml is a link to /dev/zero, outside"
        )
        for line in lines
    ), lines
    assert any(
        line.startswith("m/away.yaml:1:1: error: cannot read the file: m/away.yaml is a link to")
        for line in lines
    ), lines
    assert CANARY not in "\n".join(lines)
    direct = within_seconds(lambda: run("validate", "/dev/zero"))
    assert direct.exit_code == 1
    assert "it is a character device: only regular files are read" in direct.stderr
    assert "Traceback" not in direct.stderr and "internal error" not in direct.stderr


@pytest.fixture
def quickstart(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    monkeypatch.chdir(tmp_path)
    return path


def _point_secret(quickstart: Path, target: str) -> None:
    manifest = quickstart / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    old = "initial_password: {file: secrets/dairi002-password.txt}"
    assert old in text
    manifest.write_text(text.replace(old, f"initial_password: {{file: {target}}}"), "utf-8")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/dev/zero", "cannot read /dev/zero: it is a character device"),
        (
            "/proc/self/environ",
            "cannot read /proc/self/environ: /proc/self/environ is a system file",
        ),
        ("secrets/pipe", "cannot read secrets/pipe: it is a FIFO (named pipe)"),
        ("secrets/huge", "cannot read secrets/huge: it is larger than 65,536 bytes"),
    ],
)
def test_a_file_secret_that_is_no_regular_file_is_a_placed_error(quickstart, target, reason):
    os.mkfifo(quickstart / "secrets" / "pipe")
    (quickstart / "secrets" / "huge").write_bytes(b"A1b-" * 20_000)
    _point_secret(quickstart, target)
    result = within_seconds(lambda: run("validate", "quickstart"))
    assert result.exit_code == 1
    assert f"ainas.yaml:77:23: error: パスワード (initial_password) {reason}" in result.stderr, (
        result.stderr
    )
    planned = within_seconds(lambda: run("plan", "quickstart"))
    assert planned.exit_code == 1 and "internal error" not in planned.stderr


def test_a_certificate_file_linking_out_is_an_error_naming_it(quickstart):
    cert = quickstart / "certs" / "gyoseishoshi.p12"
    moved = quickstart.parent / "elsewhere.p12"
    cert.rename(moved)
    cert.symlink_to(moved)
    result = run("validate", "quickstart")
    assert result.exit_code == 1
    assert (
        "ainas.yaml:16:9: error: 証明書ファイル (file) certs/gyoseishoshi.p12 cannot be read: "
        f"certs/gyoseishoshi.p12 is a link to {moved}, outside the manifest directory"
    ) in result.stderr


def test_an_environment_secret_that_is_not_utf8_fails_validate_not_plan(quickstart):
    manifest = quickstart / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    old = "arrival_number_password: {file: secrets/akihabara-arrival-password.txt}"
    manifest.write_text(text.replace(old, "arrival_number_password: {env: BAD_SECRET}"), "utf-8")
    env = {"BAD_SECRET": os.fsdecode(b"Abcdef12\xff")}  # as Python gives undecodable bytes
    for command in ("validate", "plan"):
        result = run(command, "quickstart", env=env)
        assert result.exit_code == 1, result.stdout
        assert (
            "ainas.yaml:43:34: error: 到達番号パスワード (arrival_number_password) {env: "
            "BAD_SECRET} is not valid UTF-8 text [secret-env]"
        ) in result.stderr
        assert "internal error" not in result.stderr


# -- broken states --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"sites": {"akihabara": None}}, "sites.akihabara is null, not an entry of the state"),
        (
            {"sites": {"akihabara": {"site_id": 7}}},
            "sites.akihabara.site_id is a number, not a 拠点ID",
        ),
        (
            {"users": {"dairi001": {"fingerprints": ["x"]}}},
            "users.dairi001.fingerprints is a list, not a mapping of field names to fingerprints",
        ),
        (
            {"users": {"dairi001": {"fingerprints": {"initial_password": 5}}}},
            "users.dairi001.fingerprints is a mapping, not a mapping of field names",
        ),
    ],
)
def test_a_state_entry_of_the_wrong_type_is_named(quickstart, entry, message):
    state = State().to_json()
    state.update(entry)
    (quickstart / "ainas.state.json").write_text(json.dumps(state), encoding="utf-8")
    for command in (("plan", "quickstart"), ("apply", "quickstart", "--auto-approve")):
        result = run(*command)
        assert result.exit_code == 1
        assert message in result.stderr, result.stderr
        assert "internal error" not in result.stderr


def test_a_journal_record_of_the_wrong_type_is_named(tmp_path):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    store.journal_path.write_text(
        '{"op": "begin", "lineage": "l", "serial": 1}\n'
        '{"op": "set", "section": "sites", "key": "a", "value": null}\n'
        '{"op": "set", "section": "sites", "key": "b", "value": {"site_id": "1"}}\n',
        encoding="utf-8",
    )
    with pytest.raises(Exception, match=r"damaged at line 2: sites.a is null"):
        store.load()


def test_a_state_that_is_a_device_is_an_error(tmp_path):
    (tmp_path / "ainas.state.json").symlink_to("/dev/zero")
    with pytest.raises(Exception, match="it is a character device"):
        within_seconds(LocalStateStore(tmp_path / "ainas.state.json").load)


# -- file modes -----------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_journal_is_owner_only_whatever_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        store = LocalStateStore(tmp_path / "ainas.state.json")
        store.begin(State())
        assert mode(store.journal_path) == 0o600
        store.commit(State())
        assert mode(store.path) == 0o600
        store.journal_path.write_text("", encoding="utf-8")  # an older version's, 0644
        os.chmod(store.journal_path, 0o644)
        store.begin(State())
        assert mode(store.journal_path) == 0o600
        store.abandon()
    finally:
        os.umask(previous)


def test_the_sandbox_database_and_its_wal_and_shm_are_owner_only(tmp_path):
    previous = os.umask(0o022)
    try:
        old = tmp_path / "old.sqlite"
        old.write_bytes(b"")
        os.chmod(old, 0o644)  # one made by an older version
        for path in (tmp_path / "ainas.sandbox.sqlite", old):
            store = Store(path)
            with store.transaction() as db:
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('x', 'y')")
            files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
            assert all(f.exists() for f in files)
            assert [mode(f) for f in files] == [0o600, 0o600, 0o600]
            store.close()
    finally:
        os.umask(previous)


def test_a_plan_file_that_is_a_device_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = within_seconds(lambda: run("show", "/dev/zero"))
    assert result.exit_code == 1
    assert "is not a plan saved by `ainas-provision plan --out` (it is a character device" in (
        result.stderr
    )

"""Reading recorded files again (files.read_again, what the cache of validated trees checks on
every run): the quick reading of a plain file and the long one agree on every kind of file, a
file that changed in any way (its bytes, a link put in its place, a FIFO, a size past the limit)
reads differently, and a link out of the manifest directory is refused exactly as before."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from ainas_provision import files
from ainas_provision.files import read_again, read_regular, recording

LIMIT = 1024


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A manifest directory ``m`` (the working directory its parent, paths relative as the tool
    records them) and a folder ``outside`` beside it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m" / "users").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text("outside: 1\n", encoding="utf-8")
    (tmp_path / "m" / "a.yaml").write_text("a: 1\n", encoding="utf-8")
    (tmp_path / "m" / "users" / "u.yaml").write_text("u: 1\n", encoding="utf-8")
    (tmp_path / "m" / "empty.yaml").write_bytes(b"")
    (tmp_path / "m" / "big.yaml").write_bytes(b"x" * (LIMIT + 1))
    (tmp_path / "m" / "inside-link.yaml").symlink_to("a.yaml")
    (tmp_path / "m" / "out-link.yaml").symlink_to(tmp_path / "outside" / "secret.yaml")
    (tmp_path / "m" / "linked-users").symlink_to("users")
    (tmp_path / "m" / "linked-out").symlink_to(tmp_path / "outside")
    os.mkfifo(tmp_path / "m" / "fifo.yaml")
    return tmp_path


PATHS = [
    "m/a.yaml",
    "m/users/u.yaml",
    "m/empty.yaml",
    "m/big.yaml",  # too large: refused
    "m/inside-link.yaml",  # a link inside: read through it
    "m/out-link.yaml",  # a link out: refused
    "m/linked-users/u.yaml",  # a folder linked inside
    "m/linked-out/secret.yaml",  # a folder linked out: refused
    "m/users/../a.yaml",
    "m/users/../../outside/secret.yaml",  # out through "..": refused
    "m/fifo.yaml",  # never opened for reading
    "m/users",  # a directory
    "m/missing.yaml",
    "/proc/self/environ",
]


def record(path: str, within: str | None = "m") -> tuple:
    # a refusal is recorded as a failed read
    with recording() as reads, contextlib.suppress(OSError):
        read_regular(Path(path), within=None if within is None else Path(within), limit=LIMIT)
    (read,) = reads
    return read


def again(read: tuple) -> tuple[bool, bool]:
    """What the quick way (with the folders of one check) and the long way (none) say."""
    return read_again(read, {}), read_again(read, None)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("within", ["m", None])
def test_an_unchanged_file_reads_the_same_either_way(tree, path, within):
    read = record(path, within)
    assert again(read) == (True, True)
    absolute = record(str(tree / path), None if within is None else str(tree / within))
    assert again(absolute) == (True, True)


def test_what_the_reader_refuses_is_recorded_as_a_failed_read(tree):
    refused = ["m/big.yaml", "m/out-link.yaml", "m/linked-out/secret.yaml", "m/fifo.yaml"]
    refused += ["m/users/../../outside/secret.yaml", "m/users", "/proc/self/environ"]
    for path in refused:
        assert record(path)[3] == b"", path
    for path in ["m/a.yaml", "m/inside-link.yaml", "m/linked-users/u.yaml", "m/empty.yaml"]:
        assert record(path)[3] == files.digest(Path(path).read_bytes()), path


def test_a_file_made_a_link_out_reads_differently(tree):
    read = record("m/a.yaml")
    content = (tree / "m" / "a.yaml").read_bytes()
    (tree / "outside" / "a.yaml").write_bytes(content)  # the same bytes, outside
    (tree / "m" / "a.yaml").unlink()
    (tree / "m" / "a.yaml").symlink_to(tree / "outside" / "a.yaml")
    assert again(read) == (False, False)
    # a link inside to the same bytes is a file that reads the same
    (tree / "m" / "a.yaml").unlink()
    (tree / "m" / "b.yaml").write_bytes(content)
    (tree / "m" / "a.yaml").symlink_to("b.yaml")
    assert again(read) == (True, True)


def test_a_folder_made_a_link_out_reads_differently(tree):
    read = record("m/users/u.yaml")
    (tree / "outside" / "users").mkdir()
    (tree / "outside" / "users" / "u.yaml").write_bytes((tree / "m/users/u.yaml").read_bytes())
    (tree / "m" / "users" / "u.yaml").unlink()
    (tree / "m" / "users").rmdir()
    (tree / "m" / "users").symlink_to(tree / "outside" / "users")
    assert again(read) == (False, False)


def test_a_refused_link_out_stays_refused_until_it_is_a_file(tree):
    read = record("m/out-link.yaml")
    assert again(read) == (True, True)  # refused again: the same outcome
    (tree / "m" / "out-link.yaml").unlink()
    (tree / "m" / "out-link.yaml").write_text("outside: 1\n", encoding="utf-8")
    assert again(read) == (False, False)  # now it reads: a change


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.write_text("a: 2\n", encoding="utf-8"),  # the same size
        lambda p: p.write_text("a: 1\n# more\n", encoding="utf-8"),
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"x" * (LIMIT + 1)),  # past the limit: refused now
        lambda p: (p.unlink(), os.mkfifo(p)),  # a FIFO: not waited for
        lambda p: (p.unlink(), p.mkdir()),
        lambda p: p.unlink(),
    ],
    ids=["bytes", "longer", "empty", "too-large", "fifo", "directory", "removed"],
)
def test_a_changed_file_reads_differently(tree, change):
    read = record("m/a.yaml")
    change(tree / "m" / "a.yaml")
    assert again(read) == (False, False)


def test_a_file_that_could_not_be_read_and_now_can_reads_differently(tree):
    read = record("m/missing.yaml")
    (tree / "m" / "missing.yaml").write_text("x: 1\n", encoding="utf-8")
    assert again(read) == (False, False)


def test_a_check_resolves_each_folder_and_the_working_directory_once(tree, monkeypatch):
    for i in range(3):
        (tree / "m" / "users" / f"f{i}.yaml").write_text(f"f: {i}\n", encoding="utf-8")
    reads = [record(f"m/users/f{i}.yaml") for i in range(3)] + [record("m/a.yaml")]
    calls = {"realpath": 0, "getcwd": 0}
    realpath, getcwd = os.path.realpath, os.getcwd

    def counted_realpath(*args, **kwargs):
        calls["realpath"] += 1
        return realpath(*args, **kwargs)

    def counted_getcwd():
        calls["getcwd"] += 1
        return getcwd()

    monkeypatch.setattr(files.os.path, "realpath", counted_realpath)
    monkeypatch.setattr(files.os, "getcwd", counted_getcwd)
    folders: dict[str, str] = {}
    assert all(read_again(read, folders) for read in reads)
    # m/users, m, and the manifest directory as ``within``: each once; the working directory once
    assert calls == {"realpath": 3, "getcwd": 1}


@pytest.mark.skipif(not files._PLAIN_READS, reason="no O_NOFOLLOW: every file is read the long way")
def test_the_quick_way_reads_plain_files_only(tree):
    for path in ["m/a.yaml", "m/users/u.yaml", "m/empty.yaml", "m/linked-users/u.yaml"]:
        assert files._read_plain(path, "m", LIMIT, {}) == Path(path).read_bytes(), path
    for path in PATHS:
        if path not in {"m/a.yaml", "m/users/u.yaml", "m/empty.yaml", "m/linked-users/u.yaml"}:
            assert files._read_plain(path, "m", LIMIT, {}) is None, path


def test_a_file_named_without_a_folder_and_a_root_folder_are_read_the_long_way(tree, monkeypatch):
    monkeypatch.chdir(tree / "m")
    read = record("a.yaml", ".")
    assert read[3] != b"" and again(read) == (True, True)
    assert files._read_plain("a.yaml", ".", LIMIT, {}) is None
    assert files._read_plain("/proc", None, LIMIT, {}) is None  # a name in "/"
    (tree / "m" / "a.yaml").write_text("a: 2\n", encoding="utf-8")
    assert again(read) == (False, False)

"""The state store contract (state/protocols.py), run against every implementation, and the file
lock's own promises: it goes away with its process, a damaged holder file never stops anything,
``state unlock --force`` always works, and a lock that cannot be taken says why."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ainas_provision.state.lock import FileLocker
from ainas_provision.state.model import Put, Remove, SiteEntry, UserEntry
from ainas_provision.state.protocols import Locker, LockError, LockInfo, StateStore
from ainas_provision.state.store import LocalStateStore


def file_store(tmp_path: Path) -> StateStore:
    return LocalStateStore(tmp_path / "ainas.state.json")


def postgres_store(request, tmp_path: Path) -> StateStore:
    from ainas_provision.state.postgres import PostgresStateStore

    server = request.getfixturevalue("postgres_server")
    url = server.url(request.getfixturevalue("pg_database")) + "#conformance"
    store = PostgresStateStore(url, key_dir=tmp_path)
    request.addfinalizer(store.close)
    return store


# every implementation of StateStore: each test below runs against each
STORES = [pytest.param("file", id="file"), pytest.param("postgresql", id="postgresql")]


@pytest.fixture(params=STORES)
def make_store(request, tmp_path):
    if request.param == "file":
        return lambda: file_store(tmp_path)
    return lambda: postgres_store(request, tmp_path)


def test_a_store_conforms_to_the_protocol(make_store):
    store = make_store()
    assert isinstance(store, StateStore) and isinstance(store, Locker)
    assert store.describe()
    assert not store.exists()


def test_records_survive_an_abandoned_apply_and_commit_folds_them_in(make_store):
    store = make_store()
    state = store.load()
    store.begin(state)
    store.record(state, Put("sites", "a", SiteEntry("100000001", {"batch_account.x": "f"})))
    store.record(state, Put("users", "u", UserEntry({"initial_password": "f"})))
    store.record(
        state, Put("target", None, {"kind": "sandbox", "location": "x", "organization_id": "1"})
    )
    store.record(state, Remove("users", "u"))
    store.abandon()  # the process goes away without committing
    again = make_store()
    recovered = again.load()
    assert recovered.sites == {"a": SiteEntry("100000001", {"batch_account.x": "f"})}
    assert recovered.users == {} and recovered.target["organization_id"] == "1"
    assert (recovered.lineage, recovered.serial) == (state.lineage, 1)
    again.begin(recovered)
    again.commit(recovered)
    assert make_store().load().serial == 2 and make_store().exists()


def test_the_lock_is_exclusive_and_its_error_carries_the_holder(make_store):
    first, second = make_store(), make_store()
    mine = LockInfo.mine("apply")
    lock_id = first.lock(mine)
    assert lock_id == mine.id
    with pytest.raises(LockError) as held:
        second.lock(LockInfo.mine("apply"), timeout=0)
    assert held.value.holder == mine
    assert f"(pid {os.getpid()}, apply) since {mine.since}" in str(held.value)
    assert "wait for it to finish" in str(held.value)
    assert second.holder() == mine
    first.unlock(lock_id)
    assert second.holder() is None
    second.unlock(second.lock(LockInfo.mine("apply")))  # free again


def test_unlock_with_another_id_leaves_the_lock_alone(make_store):
    store = make_store()
    lock_id = store.lock(LockInfo.mine("apply"))
    store.unlock("not-" + lock_id)
    with pytest.raises(LockError):
        make_store().lock(LockInfo.mine("apply"))
    store.unlock(lock_id)


def test_force_unlock_breaks_a_held_lock_and_the_old_holder_cannot_undo_the_new(make_store):
    old, breaker, new = make_store(), make_store(), make_store()
    old_id = old.lock(LockInfo.mine("apply"))
    assert breaker.force_unlock().id == old_id
    new_id = new.lock(LockInfo.mine("apply"))
    old.unlock(old_id)  # the broken holder ends: the new lock stays
    with pytest.raises(LockError):
        make_store().lock(LockInfo.mine("apply"))
    new.unlock(new_id)
    assert make_store().force_unlock() is None  # nothing to break


HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ainas_provision.state.lock import FileLocker
    from ainas_provision.state.protocols import LockInfo
    FileLocker(Path(sys.argv[1])).lock(LockInfo.mine("apply"))
    print("locked", flush=True)
    time.sleep(600)
    """
)


def hold(path: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def stop(holder: subprocess.Popen) -> None:
    holder.kill()
    holder.wait()
    holder.stdout.close()


def test_the_lock_goes_away_with_a_killed_holder(tmp_path):
    path = tmp_path / "s.lock"
    holder = hold(path)
    try:
        with pytest.raises(LockError) as held:
            FileLocker(path).lock(LockInfo.mine("apply"))
        assert held.value.holder.pid == holder.pid
    finally:
        stop(holder)  # SIGKILL: no cleanup runs in the holder
    assert path.exists()  # what it left behind does not matter:
    assert FileLocker(path).holder() is None
    locker = FileLocker(path)
    locker.unlock(locker.lock(LockInfo.mine("apply")))


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage", b'{"pid": "12x", "id": 1}', b"[1, 2]", b"\xff\xfe", b'{"pid": 1e999}'],
    ids=["empty", "garbage", "bad-pid", "list", "not-utf8", "huge"],
)
def test_a_malformed_holder_file_never_stops_anything(tmp_path, content):
    path = tmp_path / "s.lock"
    path.write_bytes(content)  # left by someone: no process holds it
    assert FileLocker(path).holder() is None
    locker = FileLocker(path)
    lock_id = locker.lock(LockInfo.mine("apply"))
    locker.unlock(lock_id)
    holder = hold(path)  # held, and then its holder record is damaged
    try:
        path.write_bytes(content)
        with pytest.raises(LockError, match="holder record is unreadable"):
            FileLocker(path).lock(LockInfo.mine("apply"))
        assert FileLocker(path).holder().holder == "an unknown holder"
        assert FileLocker(path).force_unlock() is not None
        FileLocker(path).lock(LockInfo.mine("apply"))
    finally:
        stop(holder)


@pytest.mark.parametrize(
    ("code", "message"),
    [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "is not writable")],
)
def test_a_lock_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch, code, message):
    path = tmp_path / "s.lock"
    real_open, real_write = os.open, os.write

    def refusing_open(file, flags, *args):
        if code == errno.EROFS and Path(file) == path:
            raise OSError(code, os.strerror(code))
        return real_open(file, flags, *args)

    def refusing_write(fd, data):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "open", refusing_open)
    if code == errno.ENOSPC:
        monkeypatch.setattr(os, "write", refusing_write)
    with pytest.raises(LockError, match=f"cannot take the state lock {path}: .*{message}"):
        FileLocker(path).lock(LockInfo.mine("apply"))
    monkeypatch.setattr(os, "write", real_write)
    monkeypatch.setattr(os, "open", real_open)
    assert FileLocker(path).holder() is None  # nothing half-taken left


def test_lock_info_reads_back_and_refuses_anything_else():
    info = LockInfo.mine("import")
    assert LockInfo.from_json(info.to_json()) == info
    assert LockInfo.from_json({"id": "x"}) is None
    assert LockInfo.from_json("x") is None

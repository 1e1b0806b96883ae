"""The state file: atomic, journaled, locked, keyed; never a secret in it."""

from __future__ import annotations

import json
import stat

import pytest

from ainas_provision.state.keys import (
    Fingerprinter,
    StateKeyError,
    create_key_file,
    default_key_path,
    find_key,
)
from ainas_provision.state.model import Put, SiteEntry, State, StateFormatError, UserEntry
from ainas_provision.state.store import LocalStateStore, StateError


def test_records_are_durable_before_the_state_is_written(tmp_path):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    state = store.load()
    store.begin(state)
    store.record(state, Put("sites", "a", SiteEntry("123456789")))
    store.record(state, Put("users", "u", UserEntry()))
    store.abandon()  # the process dies here: no commit
    recovered = LocalStateStore(tmp_path / "ainas.state.json").load()
    assert recovered.sites == {"a": SiteEntry("123456789")}
    assert recovered.users == {"u": UserEntry()}
    assert recovered.serial == 1 and recovered.lineage == state.lineage


def test_a_torn_last_journal_line_is_ignored(tmp_path):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    state = store.load()
    store.begin(state)
    store.record(state, Put("sites", "a", SiteEntry("1")))
    store.abandon()
    with open(store.journal_path, "a", encoding="utf-8") as handle:
        handle.write('{"op": "set", "section": "sites", "key": "b", "val')
    recovered = LocalStateStore(tmp_path / "ainas.state.json").load()
    assert list(recovered.sites) == ["a"]


def test_a_damaged_journal_in_the_middle_is_an_error(tmp_path):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    store.journal_path.write_text("garbage\n{}\n", encoding="utf-8")
    with pytest.raises(StateError, match="damaged at line 1"):
        store.load()


def test_commit_writes_the_state_and_ends_the_journal(tmp_path):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    state = store.load()
    store.begin(state)
    store.record(state, Put("sites", "a", SiteEntry("1")))
    store.commit(state)
    assert not store.journal_path.exists()
    data = json.loads(store.path.read_text(encoding="utf-8"))
    assert (
        data["format_version"] == 1
        and data["serial"] == 1
        and data["sites"] == {"a": {"site_id": "1", "fingerprints": {}}}
    )
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_new_apply_folds_a_left_journal_in_first(tmp_path):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    state = store.load()
    store.begin(state)
    store.record(state, Put("sites", "a", SiteEntry("1")))
    store.abandon()
    again = LocalStateStore(tmp_path / "ainas.state.json")
    state = again.load()
    again.begin(state)
    assert json.loads(again.path.read_text(encoding="utf-8"))["sites"] == {
        "a": {"site_id": "1", "fingerprints": {}}
    }
    assert state.serial == 2
    again.commit(state)


def test_unreadable_state_is_a_clear_error(tmp_path):
    path = tmp_path / "ainas.state.json"
    path.write_text('{"format_version": 99}', encoding="utf-8")
    with pytest.raises(StateError, match="cannot read the state file"):
        LocalStateStore(path).load()
    with pytest.raises(StateFormatError):
        State.from_json({"format_version": 1})


# how each case changes the state file as written (None: not at all; a text alone: all of it)
_STATE_TEXTS = {
    "as written": None,
    "a serial beyond 64 bits": ('"serial": 1,', '"serial": 123456789012345678901234567890,'),
    "a float serial": ('"serial": 1,', '"serial": 3.0,'),
    "a runbook's huge number": (
        '"format_version": 1,',
        '"format_version": 1, "runbook": {"steps": [{"n": 123456789012345678901234567890}]},',
    ),
    "NaN in the target": ('"target": null,', '"target": {"kind": "sandbox", "n": NaN},'),
    "an escaped lone surrogate": ('"lineage": "', '"lineage": "\\ud800'),
    "a huge number in a user's entry": (
        '"fingerprints": {',
        '"n": 123456789012345678901234567890, "fingerprints": {',
    ),
    "not JSON": "{",
    "a list": "[1.5]",
    "a byte-order mark": "\ufeff",
}


@pytest.mark.parametrize("case", list(_STATE_TEXTS))
def test_the_state_file_is_decoded_as_the_standard_library_decodes_it(tmp_path, case):
    # the store decodes with orjson and falls back to json: the outcome (the state, or the
    # error's reason) must be the standard library's in every case
    written = LocalStateStore(tmp_path / "ainas.state.json")
    state = written.load()
    written.begin(state)
    written.record(state, Put("users", "u", UserEntry({"initial_password": "ab"})))
    written.commit(state)
    text = written.path.read_text(encoding="utf-8")
    change = _STATE_TEXTS[case]
    if isinstance(change, tuple):
        assert change[0] in text
        text = text.replace(*change, 1)
    elif change == "\ufeff":
        text = change + text
    elif change is not None:
        text = change
    path = tmp_path / "other.state.json"
    path.write_text(text, encoding="utf-8")

    def outcome(load):
        try:
            return load()
        except (StateError, ValueError) as exc:  # the reason, after the store's "…{path}: "
            return str(exc).removeprefix(f"cannot read the state file {path}: ")

    got = outcome(LocalStateStore(path).load)
    expected = outcome(lambda: State.from_json(json.loads(path.read_bytes().decode("utf-8"))))
    if isinstance(expected, str):
        assert got == expected
    else:
        assert got == expected
        assert type(got.serial) is type(expected.serial)
        assert repr(got.runbook) == repr(expected.runbook)  # NaN != NaN; a float is not an int


def test_key_file_is_private_and_checked(tmp_path):
    state_path = tmp_path / "ainas.state.json"
    key_path = default_key_path(state_path)
    assert key_path.name == "ainas.state.key"
    key = create_key_file(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    found = find_key(key_path, env={})
    assert found.key == key
    assert find_key(key_path, env={"AINAS_STATE_KEY": key_path.read_text()}).key == key
    with pytest.raises(StateKeyError, match="is not a state key"):
        find_key(key_path, env={"AINAS_STATE_KEY": "nonsense"})
    with pytest.raises(StateKeyError, match=r"names .* which does not exist"):
        find_key(key_path, env={"AINAS_STATE_KEY_FILE": str(tmp_path / "missing.key")})


def test_fingerprints_depend_on_key_address_and_field():
    a, b = Fingerprinter(b"a" * 32), Fingerprinter(b"b" * 32)
    assert a("user.x", "initial_password", "P") != b("user.x", "initial_password", "P")
    assert a("user.x", "initial_password", "P") != a("user.y", "initial_password", "P")
    assert a("user.x", "initial_password", "P") == a("user.x", "initial_password", "P")
    assert a.key_check != b.key_check
    assert "a" * 32 not in repr(a)


@pytest.mark.parametrize("name", ["AINAS_STATE_KEY", "AINAS_STATE_KEY_FILE"])
def test_an_empty_key_variable_is_named_as_for_the_secrets_key(tmp_path, name):
    """One helper for both keys: an empty variable (an undefined CI secret) is an error, never a
    reason to make a new key beside the state."""
    with pytest.raises(StateKeyError, match=f"{name} is set but empty"):
        find_key(tmp_path / "ainas.state.key", env={name: " "})
    assert not (tmp_path / "ainas.state.key").exists()

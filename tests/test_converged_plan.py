"""The quick paths of a converged plan see every difference the long way sees.

A plan of a tenant that already holds the manifests takes short cuts: the diff compares a
resource's fields in one step and settles an unchanged user without building its change, the
sandbox decodes each distinct stored form once, a user is read from its screen fields directly,
the state's entries are taken without a second check, a fingerprint reuses the key's HMAC. Each is
checked here against the long way — the diff with its short cuts turned off, ``from_screen``,
``entry_from_json``, a plain HMAC — on a real converged tenant (the multi-branch example applied to
the embedded sandbox) with one thing changed at a time: a one-character drift in any field of any
kind, a changed secret, a resource missing or extra.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ainas_emulator.service import Actor, AinasSandbox
from ainas_provision.domain import kinds, screens
from ainas_provision.domain.live import CurrentState, LiveResource, Session
from ainas_provision.plan import diff as diff_module
from ainas_provision.secrets.values import Secret
from ainas_provision.state.keys import Fingerprinter
from ainas_provision.state.model import State, StateFormatError, entry_from_json
from ainas_provision.targets import convert
from ainas_provision.targets.embedded import SandboxBackend
from ainas_provision.workflow import run as workflow
from tests.conftest import copy_example
from tests.helpers import run

GROUPS = ("sites", "batch_accounts", "kei_batch_accounts", "users")


@pytest.fixture(scope="module")
def converged(tmp_path_factory) -> Path:
    """The multi-branch example (three sites, registered and kei batch accounts, managers and
    staff with default destinations) applied to its embedded sandbox."""
    path = copy_example("multi-branch", tmp_path_factory.mktemp("converged") / "multi-branch")
    result = run("apply", str(path), "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    return path


@pytest.fixture
def loaded(converged):
    """The run of a plan of the converged tenant, read: its desired state, current state and
    state, for the diff to be called on (and changed by a test) in process."""
    opened = workflow.open_run(workflow.Options(path=converged, dry_run=True), lambda _: None)
    try:
        workflow.connect(opened)
        session = opened.backend.session()
        opened.current = workflow.read_current(opened, None, session)
        yield opened
    finally:
        opened.close()


def plan_of(opened, *, quick: bool, monkeypatch=None):
    """The plan's changes, notes and errors as JSON: with the short cuts, or the long way."""
    with pytest.MonkeyPatch.context() as patch:
        if not quick:
            patch.setattr(diff_module._Compared, "same", lambda self, desired, live: False)
            patch.setattr(diff_module._Differ, "quick_users", False)
        plan = diff_module.diff(
            opened.desired,
            opened.current,
            opened.state,
            opened.fingerprint,
            diff_module.DiffOptions(target=opened.identity),
        )
    return {
        "changes": [change.to_json() for change in plan.changes],
        "notes": [note.to_json() for note in plan.notes],
        "errors": [error.to_json() for error in plan.errors],
    }


def agreed(opened) -> dict:
    quick, long = plan_of(opened, quick=True), plan_of(opened, quick=False)
    assert quick == long
    return quick


def drifted(value: object) -> object:
    """The value with one character changed (a list: its last item; a flag flipped)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value[:-1] + chr(ord(value[-1]) + 1) if value else "x"
    if isinstance(value, list):
        return [*value[:-1], drifted(value[-1])]
    if value is None:
        return "x"
    raise AssertionError(f"no drift for {value!r}")


def live_fields() -> list[tuple[str, str]]:
    """Every field the sandbox shows of each kind the plan compares (its first resource)."""
    names = {
        "sites": [spec.name for spec in kinds.SITE.fields],
        "batch_accounts": [s.name for s in kinds.BATCH_ACCOUNT.fields if not s.secret],
        "kei_batch_accounts": [s.name for s in kinds.KEI_BATCH_ACCOUNT.fields if not s.secret],
        "users": ["name", "role", "site_id", "default_destination", "kei_default_destination"],
    }
    return [(group, name) for group in GROUPS for name in names[group]]


def test_the_converged_tenant_plans_no_change_either_way(loaded):
    plan = agreed(loaded)
    assert plan["changes"] == []
    assert plan["errors"] == []


@pytest.mark.parametrize(("group", "name"), live_fields())
def test_a_one_character_drift_in_any_live_field_is_seen(loaded, group, name):
    resources = getattr(loaded.current, group)
    key = sorted(resources)[0]
    if group == "users":
        key = next(k for k in sorted(resources) if k in loaded.desired.users)
        # a staff user with default destinations, for the pairs to be compared as values
        key = next(
            (k for k in sorted(resources) if resources[k].fields.get("default_destination")), key
        )
    fields = resources[key].fields
    fields[name] = drifted(fields.get(name))
    plan = agreed(loaded)
    assert plan["changes"] or plan["errors"], f"{group}.{name} drifted and nothing was seen"


@pytest.mark.parametrize("group", GROUPS)
def test_a_one_character_drift_in_the_manifests_is_seen(loaded, group):
    resource = next(iter(getattr(loaded.desired, group).values()))
    name = next(n for n, v in resource.fields.items() if isinstance(v, str) and n != "site")
    resource.fields[name] = drifted(resource.fields[name])
    plan = agreed(loaded)
    assert plan["changes"] or plan["errors"]


def test_a_user_moved_to_another_site_is_seen(loaded):
    user = next(u for u in loaded.desired.users.values() if u.fields["site"] == "shinjuku")
    user.fields["site"] = "yokohama"
    plan = agreed(loaded)
    assert [c["address"] for c in plan["changes"]] == [f"user.{user.key}"]
    assert [f["name"] for f in plan["changes"][0]["fields"]] == ["site"]


def test_a_list_against_a_tuple_and_an_empty_text_against_none_are_alike(loaded):
    """The values the long way normalizes: the quick comparison leaves them to it."""
    user = next(u for u in loaded.desired.users.values() if u.fields.get("default_destination"))
    user.fields["default_destination"] = tuple(user.fields["default_destination"])
    user.fields["default_menu"] = ""
    assert agreed(loaded)["changes"] == []


def test_a_field_with_a_default_left_empty_on_both_sides_plans_as_the_long_way(loaded):
    """A live checkbox left empty means its default (False): the long way compares that with
    what the manifests say, even when they say nothing."""
    handle, site = next(iter(loaded.desired.sites.items()))
    live = loaded.current.sites[loaded.state.site_id(handle)]
    site.fields["kei.client_receipt_selectable"] = None
    live.fields["kei.client_receipt_selectable"] = None
    plan = agreed(loaded)
    assert [c["address"] for c in plan["changes"]] == [f"site.{handle}"]


@pytest.mark.parametrize("kind", ["user", "batch_account", "kei_batch_account"])
def test_a_changed_secret_is_seen(loaded, kind):
    if kind == "user":
        resource = next(iter(loaded.desired.users.values()))
        secret = "initial_password"
    else:
        resource = next(iter(getattr(loaded.desired, f"{kind}s").values()))
        secret = "arrival_number_password"  # batch_password is write-once: an error
    resource.secrets[secret] = Secret("Another-Pass-99", "test")
    plan = agreed(loaded)
    change = next(c for c in plan["changes"] if c["address"] == f"{kind}.{resource.key}")
    assert secret in [f["name"] for f in change["fields"]]


def test_a_secret_the_state_does_not_know_is_a_note(loaded):
    login_id = next(iter(loaded.desired.users))
    loaded.state.users[login_id] = type(loaded.state.users[login_id])({})
    plan = agreed(loaded)
    assert plan["changes"] == []
    assert [n["address"] for n in plan["notes"]] == [f"user.{login_id}"]


def test_an_unmanaged_identical_user_is_adopted(loaded):
    login_id = next(iter(loaded.desired.users))
    del loaded.state.users[login_id]
    plan = agreed(loaded)
    assert [(c["action"], c["address"]) for c in plan["changes"]] == [("adopt", f"user.{login_id}")]


@pytest.mark.parametrize("group", GROUPS)
def test_a_missing_live_resource_is_created(loaded, group):
    resources = getattr(loaded.current, group)
    del resources[sorted(resources)[-1]]
    plan = agreed(loaded)
    assert any(c["action"] == "create" for c in plan["changes"]) or plan["errors"]


def test_an_extra_live_user_is_noted(loaded):
    some = loaded.current.users[next(iter(loaded.desired.users))]
    loaded.current.users["extra01"] = LiveResource("user", "extra01", {**some.fields})
    plan = agreed(loaded)
    assert [n["address"] for n in plan["notes"]] == ["user.extra01"]


def test_an_extra_live_site_is_noted(loaded):
    some = next(iter(loaded.current.sites.values()))
    loaded.current.sites["999999999"] = LiveResource("site", "999999999", {**some.fields})
    plan = agreed(loaded)
    assert "site[999999999]" in [n["address"] for n in plan["notes"]]


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.lists(st.one_of(st.none(), st.text(max_size=2)), max_size=2),
    st.tuples(st.text(max_size=2), st.text(max_size=2)),
)


@given(data=st.data())
def test_any_change_of_live_fields_plans_as_the_long_way(converged, data):
    """Random values (None, flags, empty texts, lists and tuples) in random live and desired
    fields, or fields taken away: the short cuts never decide otherwise than the long way."""
    opened = workflow.open_run(workflow.Options(path=converged, dry_run=True), lambda _: None)
    try:
        workflow.connect(opened)
        opened.current = workflow.read_current(opened, None, opened.backend.session())
        for _ in range(data.draw(st.integers(1, 3))):
            group = data.draw(st.sampled_from(GROUPS))
            side = data.draw(st.sampled_from(["current", "desired"]))
            resources = getattr(getattr(opened, side), group)
            resource = resources[data.draw(st.sampled_from(sorted(resources)))]
            name = data.draw(st.sampled_from(sorted(resource.fields)))
            if side == "desired" and name == "site":
                continue  # a handle the manifests must name: validation's, not the diff's
            if data.draw(st.booleans()):
                resource.fields[name] = data.draw(VALUES)
            else:
                del resource.fields[name]
        try:
            quick = plan_of(opened, quick=True)
        except Exception as exc:  # a value the long way cannot take either
            with pytest.raises(type(exc)):
                plan_of(opened, quick=False)
        else:
            assert quick == plan_of(opened, quick=False)
    finally:
        opened.close()


# -- the sandbox's read ----------------------------------------------------------------------


def test_users_with_the_same_stored_form_are_listed_as_dicts_of_their_own(converged):
    sandbox = AinasSandbox(converged / "ainas.sandbox.sqlite")
    try:
        admin = sandbox.first_admin("20481")
        actor = Actor(admin.login_id, admin.org_id, admin.role, None, False)  # as the target acts
        users, total = sandbox.list_users(actor)
        assert total == len(users)
        managers = [u for u in users if u["role"] == "拠点管理者"]
        assert len(managers) >= 2
        first, second = managers[:2]
        assert first is not second
        first["default_menu"] = "changed"
        assert second["default_menu"] is None
        again, _ = sandbox.list_users(actor)
        assert all(u["default_menu"] is None for u in again if u["role"] == "拠点管理者")
        # the screen's fields, in the order the API has always given them
        assert list(again[0]) == [
            "login_id",
            "user_name",
            "role",
            "site",
            "default_destination_prefecture",
            "default_destination_office",
            "kei_default_destination_prefecture",
            "kei_default_destination_office",
            "default_menu",
            "last_login",
        ]
    finally:
        sandbox.close()


def test_the_sandbox_reads_users_as_their_listing_converts(converged):
    backend = SandboxBackend(converged / "ainas.sandbox.sqlite", "20481")
    try:
        read = backend.read().users
        actor = backend._acting()
        listed, _ = backend.sandbox.list_users(actor)
        expected = convert.state({"id": "20481"}, [], [], listed, None).users
        assert list(read) == list(expected)
        assert {k: v.fields for k, v in read.items()} == {k: v.fields for k, v in expected.items()}
        assert any(v.fields["default_destination"] for v in read.values())
    finally:
        backend.close()


FORM_KEYS = st.sampled_from(
    [
        "default_destination_prefecture",
        "default_destination_office",
        "kei_default_destination_prefecture",
        "kei_default_destination_office",
        "default_menu",
        # what an emulator never stores in a user's form, read the long way if it did
        "user_name",
        "name",
        "role",
        "site",
        "site_id",
        "default_destination",
        "other",
    ]
)


@given(
    forms=st.lists(
        st.dictionaries(FORM_KEYS, st.one_of(st.none(), st.text(max_size=2)), max_size=6),
        min_size=1,
        max_size=3,
    ),
    users=st.lists(
        st.tuples(st.integers(0, 2), st.one_of(st.none(), st.text(max_size=2))), max_size=6
    ),
)
def test_users_from_rows_are_their_listing_converted(forms, users):
    """Rows sharing forms (as the sandbox gives them) against the dicts list_users would make."""
    rows, listed = [], []
    for number, (form_index, site) in enumerate(users):
        form = forms[form_index % len(forms)]
        login_id, name, role = f"user{number:02d}", f"名前{number}", "担当者(送信可)"
        rows.append((login_id, name, role, site, form, None))
        listed.append(
            {
                "login_id": login_id,
                "user_name": name,
                "role": role,
                "site": site,
                **form,
                "last_login": None,
            }
        )
    read = convert.users_from_rows(rows)
    expected = convert.state({"id": "1"}, [], [], listed, None).users
    assert {k: v.fields for k, v in read.items()} == {k: v.fields for k, v in expected.items()}
    # each user's lists are its own, though its form is shared
    pairs = [v.fields["default_destination"] for v in read.values()]
    lists = [value for value in pairs if isinstance(value, list)]
    assert len({id(value) for value in lists}) == len(lists)


def test_users_sharing_a_form_have_lists_of_their_own():
    form = {
        "default_destination_prefecture": "東京都",
        "default_destination_office": "練馬",
        "kei_default_destination_prefecture": None,
        "kei_default_destination_office": None,
        "default_menu": None,
    }
    rows = [(f"user0{n}", "名前", "担当者(送信可)", "1", form, None) for n in (1, 2)]
    first, second = convert.users_from_rows(rows).values()
    assert first.fields["default_destination"] == ["東京都", "練馬"]
    first.fields["default_destination"][1] = "品川"
    assert second.fields["default_destination"] == ["東京都", "練馬"]


SCREEN_KEYS = st.sampled_from(
    [
        "login_id",
        "user_name",
        "role",
        "site",
        "password",
        "default_menu",
        "default_destination_prefecture",
        "default_destination_office",
        "kei_default_destination_prefecture",
        "kei_default_destination_office",
        "last_login",
        # fields a screen does not know, passed through under their own names: some are the
        # names of mapped manifest fields (read the long way), some not
        "name",
        "site_id",
        "default_destination",
        "initial_password",
        "other",
        "start_date",
    ]
)


@given(
    item=st.dictionaries(
        SCREEN_KEYS, st.one_of(st.none(), st.text(max_size=3), st.just("2026/12/01")), max_size=12
    )
)
def test_a_projection_reads_what_from_screen_reads(item):
    for kind, names in (
        ("user", (*convert.USER_FIELDS, "initial_password", "start_date")),
        ("certificate", ("start_date", "trade_name_kana", "file", "p12")),
        ("site", ("name", "code", "registered.review_deadline", "site_name")),
    ):
        named = screens.from_screen(kind, item)
        assert screens.Projection(kind, names)(item) == {n: named.get(n) for n in names}


# -- the state's entries ---------------------------------------------------------------------

PRINTS = st.one_of(
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.one_of(st.integers(), st.none()), min_size=1),
    st.none(),
    st.integers(),
    st.lists(st.text(), max_size=1),
)
ENTRY = st.one_of(
    st.fixed_dictionaries({"fingerprints": PRINTS}),
    st.fixed_dictionaries(
        {"site_id": st.one_of(st.text(max_size=3), st.none(), st.integers())},
        optional={"fingerprints": PRINTS},
    ),
    st.fixed_dictionaries({}),
    st.none(),
    st.text(max_size=2),
)


def long_way(section: str, table: dict) -> dict:
    return {key: entry_from_json(section, value, key) for key, value in table.items()}


@given(
    sites=st.dictionaries(st.text(max_size=3), ENTRY, max_size=3),
    users=st.dictionaries(st.text(max_size=3), ENTRY, max_size=3),
)
def test_state_entries_are_read_or_refused_as_the_long_way_does(sites, users):
    document = {"format_version": 1, "lineage": "l", "serial": 1, "sites": sites, "users": users}
    try:
        expected = (long_way("sites", sites), long_way("users", users))
    except StateFormatError as refusal:
        with pytest.raises(StateFormatError) as raised:
            State.from_json(copy.deepcopy(document))
        assert str(raised.value) == str(refusal)
        return
    state = State.from_json(copy.deepcopy(document))
    assert (state.sites, state.users) == expected
    # the state holds the entries it read: another value put in the document afterwards is not seen
    for table in (sites, users):
        for value in table.values():
            value["fingerprints"] = {"changed": "x"}
    assert (state.sites, state.users) == expected


def test_a_state_file_round_trips_as_written(converged):
    text = (converged / "ainas.state.json").read_text(encoding="utf-8")
    state = State.from_json(json.loads(text))
    assert json.dumps(state.to_json(), ensure_ascii=False, indent=2) + "\n" == text


# -- fingerprints ----------------------------------------------------------------------------


def test_a_fingerprint_is_the_keyed_hmac_of_address_field_and_value():
    key = bytes(range(32))
    fingerprint = Fingerprinter(key)
    for address, field, value in [
        ("user.a", "initial_password", "Pass-01"),
        ("batch_account.site", "batch_password", "パスワード"),
        ("user.a", "initial_password", ""),
    ]:
        expected = hmac.new(
            key, f"{address}\0{field}\0{value}".encode(), hashlib.sha256
        ).hexdigest()
        assert fingerprint(address, field, value) == expected
    # the same message again: the key's state is copied for each, never consumed
    assert fingerprint("user.a", "initial_password", "") == expected


# -- the digest of what was read -------------------------------------------------------------


def small_tenant(sites_first: bool = True) -> CurrentState:
    state = CurrentState(
        LiveResource(
            "organization",
            "1",
            {
                "name": "代理人A",
                "short_name": "代理人A",
                "status": "OSS申請可能",
                "permissions": {"新車新規申請可否": "可能"},
            },
        ),
        session=Session("abcde", "管理者"),
    )
    site = LiveResource(
        "site",
        "100000001",
        {"name": "利活用事務所", "code": "AKB", "kei.client_receipt_selectable": False},
    )
    user = LiveResource(
        "user",
        "dairi001",
        {
            "name": "管理者1",
            "role": "拠点管理者",
            "site_id": "100000001",
            "default_destination": ["東京都", "練馬"],
            "default_menu": None,
        },
    )
    if sites_first:
        state.sites[site.id] = site
        state.users[user.id] = user
    else:  # the same reading, its mappings filled in another order
        user.fields = dict(reversed(user.fields.items()))
        site.fields = dict(reversed(site.fields.items()))
        state.users[user.id] = user
        state.sites[site.id] = site
    return state


# what a saved plan's target_digest is the SHA-256 of: a change here refuses every saved plan
CANONICAL = (
    '{"organization":{"kind":"organization","id":"1","fields":{"name":"代理人A","permissions":'
    '{"新車新規申請可否":"可能"},"short_name":"代理人A","status":"OSS申請可能"}},"certificates":[],'
    '"sites":{"100000001":{"kind":"site","id":"100000001","fields":{"code":"AKB",'
    '"kei.client_receipt_selectable":false,"name":"利活用事務所"}}},"batch_accounts":{},'
    '"kei_batch_accounts":{},"users":{"dairi001":{"kind":"user","id":"dairi001","fields":'
    '{"default_destination":["東京都","練馬"],"default_menu":null,"name":"管理者1","role":"拠点管理者",'
    '"site_id":"100000001"}}},"api_accounts":{},"members":{},"session":{"login_id":"abcde",'
    '"role":"管理者","site_id":null,"must_change_password":false},"scope":null}'
)


def test_the_digest_of_a_reading_is_that_of_its_canonical_json():
    expected = hashlib.sha256(CANONICAL.encode("utf-8")).hexdigest()
    assert small_tenant().digest() == expected
    assert small_tenant(sites_first=False).digest() == expected


@pytest.mark.parametrize(
    ("group", "name"),
    [("sites", "name"), ("users", "default_destination"), ("users", "default_menu")],
)
def test_the_digest_changes_with_one_character(group, name):
    tenant = small_tenant()
    resource = next(iter(getattr(tenant, group).values()))
    resource.fields[name] = drifted(resource.fields[name])
    assert tenant.digest() != small_tenant().digest()


def test_a_value_orjson_does_not_write_still_has_a_digest_of_its_own():
    tenant, other = small_tenant(), small_tenant()
    tenant.users["dairi001"].fields["default_menu"] = 2**70
    other.users["dairi001"].fields["default_menu"] = 2**70 + 1
    assert tenant.digest() == tenant.digest()
    assert tenant.digest() not in (other.digest(), small_tenant().digest())

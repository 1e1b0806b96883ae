"""What is reviewed is what is applied: a saved plan is bound to its digest and to the plan the
manifests, the state and the target make at apply time; an edited plan file is refused, and
its guard rails are never taken from the file."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ainas_provision.plan.changes import Change, FieldChange
from ainas_provision.plan.plan import Plan, content_digest
from tests.conftest import copy_example
from tests.helpers import run


@pytest.fixture
def applied(tmp_path, monkeypatch) -> Path:
    """The quickstart applied, then a reviewed change: dairi002 renamed, saved as p.json."""
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    monkeypatch.chdir(tmp_path)
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    manifest = path / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("name: 利活用 花子", "name: 利活用 花代"), encoding="utf-8")
    assert run("plan", "quickstart", "--out", "p.json").exit_code == 0
    return path


def load(name: str = "p.json") -> dict:
    return json.loads(Path(name).read_text(encoding="utf-8"))


def save(data: dict, name: str = "p.json", *, redigest: bool = True) -> None:
    if redigest:  # the attacker recomputes the digest: the binding to the fresh plan holds
        data["digest"] = content_digest({k: v for k, v in data.items() if k != "digest"})
    Path(name).write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def target_rows(path: Path) -> str:
    """The sandbox's content and the state, to show that nothing moved."""
    import sqlite3

    with sqlite3.connect(path / "ainas.sandbox.sqlite") as db:
        dump = "\n".join(db.iterdump())
    state = (path / "ainas.state.json").read_text(encoding="utf-8")
    return hashlib.sha256((dump + state).encode()).hexdigest()


def test_a_renamed_site_in_the_plan_file_is_refused_naming_the_change(applied):
    """An attacker who writes the plan with the tool's own code (a well-formed file, its
    digest right) and renames the site in it."""
    plan = Plan.load(Path("p.json"))
    site_id = json.loads((applied / "ainas.state.json").read_text())["sites"]["akihabara"]
    plan.changes.append(
        Change(
            "update",
            "site",
            "akihabara",
            title="利活用事務所",
            live_id=site_id["site_id"],
            fields=[FieldChange("short_name", "代理人拠点名(略称)", "利活用事務所", "利活用")],
            payload={"name": "見せていない名前", "short_name": "利活用"},
        )
    )
    plan.changes.sort()
    plan.save(Path("p.json"))
    before = target_rows(applied)
    refused = run("apply", "quickstart", "--plan", "p.json")
    assert refused.exit_code == 1
    assert "the saved plan is not the plan the manifests, the state and the target make" in (
        refused.stderr
    )
    assert "change 1 is site.akihabara in the file, user.dairi002 afresh" in refused.stderr
    assert "見せていない名前" not in refused.stderr + refused.stdout  # values are not echoed
    assert "Traceback" not in refused.stderr
    assert target_rows(applied) == before


def test_a_payload_edit_is_refused_naming_the_key(applied):
    plan = Plan.load(Path("p.json"))
    plan.changes[0].payload["name"] = "見せていない名前"
    plan.save(Path("p.json"))
    refused = run("apply", "quickstart", "--plan", "p.json")
    assert refused.exit_code == 1
    assert "change user.dairi002 differs at payload.name" in refused.stderr


def test_a_target_description_that_is_not_this_targets_is_refused(applied):
    """The description is what a reviewer reads for the tenant: edited (the digest made again),
    the plan is refused, although the description is not compared with the fresh plan's (a
    plan saved in Japanese applies in English)."""
    before = target_rows(applied)
    data = load()
    data["target_description"] = "embedded sandbox staging/ainas.sandbox.sqlite"
    save(data)
    refused = run("apply", "quickstart", "--plan", "p.json")
    assert refused.exit_code == 1
    assert "its 'target_description' differs from the fresh plan's" in refused.stderr
    assert "Apply complete" not in refused.stdout
    assert target_rows(applied) == before


def test_a_deletion_added_with_a_raised_max_deletes_is_refused(applied):
    """The walk-around: a user deleted with no --allow-deletes despite policy.max_deletes: 0,
    by editing the plan's changes and its max_deletes."""
    plan = Plan.load(Path("p.json"))
    plan.max_deletes = 5
    plan.changes.append(
        Change(
            "delete",
            "user",
            "dairi001",
            title="管理者1",
            live_id="dairi001",
            payload={"role": "拠点管理者", "site_id": None},
        )
    )
    plan.changes.sort()
    plan.save(Path("p.json"))
    before = target_rows(applied)
    refused = run("apply", "quickstart", "--plan", "p.json")
    assert refused.exit_code == 1, refused.stdout
    assert "its change user.dairi001 (delete) is not one the manifests make" in refused.stderr
    assert target_rows(applied) == before


def test_guard_rails_come_from_the_manifests_not_the_file(applied):
    """Only max_deletes edited (digest recomputed): refused, and were it not, the fresh plan's
    policy would be the one applied."""
    data = load()
    data["max_deletes"] = 99
    data["errors"] = []
    save(data)
    refused = run("apply", "quickstart", "--plan", "p.json")
    assert refused.exit_code == 1
    assert "its 'max_deletes' differs from the fresh plan's" in refused.stderr


def test_an_edit_without_a_new_digest_is_refused_at_load(applied):
    data = load()
    data["changes"][0]["payload"]["name"] = "別の名前"
    save(data, redigest=False)
    for command in (("show", "p.json"), ("apply", "quickstart", "--plan", "p.json")):
        refused = run(*command)
        assert refused.exit_code == 1
        assert "its content does not match its digest" in refused.stderr
        assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("field", ["kind", "location", "organization_id"])
def test_a_target_value_that_is_not_text_is_refused_at_load(applied, field):
    # found by the random edits below: a list where the target type's name belongs, digest recomputed
    data = load()
    data["target"][field] = [data["target"][field]]
    save(data)
    for command in (("show", "p.json"), ("apply", "quickstart", "--plan", "p.json")):
        refused = run(*command)
        assert refused.exit_code == 1, refused.stderr
        assert "its target is not a kind, a location and an organization" in refused.stderr
        assert "Traceback" not in refused.stderr and "internal error" not in refused.stderr


def test_the_renderings_carry_the_digest_and_apply_checks_it(applied):
    digest = run("show", "p.json", "--digest").stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert digest == load()["digest"]
    text = run("show", "p.json").stdout
    assert f"Plan digest: {digest}" in text.splitlines()
    markdown = run("show", "p.json", "--format", "markdown").stdout
    assert f"`Plan digest: {digest}`" in markdown.splitlines()[:4]  # never cut by the limit
    other = "sha256:" + "0" * 64
    refused = run("apply", "quickstart", "--plan", "p.json", "--expect-digest", other)
    assert refused.exit_code == 1
    assert f"not the reviewed {other}" in refused.stderr
    usage = run("apply", "quickstart", "--expect-digest", digest)
    assert usage.exit_code == 1 and "--plan FILE" in usage.stderr
    applied_run = run("apply", "quickstart", "--plan", "p.json", "--expect-digest", digest)
    assert applied_run.exit_code == 0, applied_run.stderr
    assert f"Plan digest: {digest}" in applied_run.stdout  # what ran is the reviewed plan


def _leaves(value, path=()):
    """Every place in a JSON value: (path, value) for leaves, containers included."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))


def _set(data, path, value):
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


def _canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def edits(draw, original: dict):
    """A saved plan with one random edit: a value replaced by another, a key removed or added,
    a change dropped or duplicated; the digest recomputed or not."""
    data = copy.deepcopy(original)
    places = [p for p, _ in _leaves(data) if p and p[0] != "digest"]
    kind = draw(st.sampled_from(["replace", "remove", "add", "drop", "duplicate"]))
    if kind in ("drop", "duplicate") and data["changes"]:
        index = draw(st.integers(0, len(data["changes"]) - 1))
        if kind == "drop":
            del data["changes"][index]
        else:
            data["changes"].insert(index, copy.deepcopy(data["changes"][index]))
    elif kind == "add":
        containers = [p for p in places if isinstance(_get(data, p), dict)] + [()]
        where = _get(data, draw(st.sampled_from(containers)))
        key = draw(st.text(min_size=1, max_size=6).filter(lambda k: k not in where))
        where[key] = draw(json_values)
    else:
        path = draw(st.sampled_from(places))
        old = _get(data, path)
        if kind == "remove" and isinstance(path[-1], str):
            parent = _get(data, path[:-1])
            del parent[path[-1]]
        else:
            new = draw(json_values.filter(lambda v: _canonical(v) != _canonical(old)))
            _set(data, path, new)
    redigest = draw(st.booleans())
    return data, redigest


def _get(data, path):
    for step in path:
        data = data[step]
    return data


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """A reviewed plan against an applied quickstart, for the property test (module scope: a
    refused apply changes nothing, so every example can use it)."""
    root = tmp_path_factory.mktemp("saved-plan")
    path = root / "quickstart"
    copy_example("quickstart", path)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert run("apply", "quickstart", "--auto-approve").exit_code == 0
        manifest = path / "ainas.yaml"
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(
            text.replace("name: 利活用 花子", "name: 利活用 花代"), encoding="utf-8"
        )
        assert run("plan", "quickstart", "--out", "p.json").exit_code == 0
    return root, json.loads((root / "p.json").read_text(encoding="utf-8"))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_edits_of_a_saved_plan_are_always_refused(reviewed, data, monkeypatch):
    root, original = reviewed
    edited, redigest = data.draw(edits(original))
    monkeypatch.chdir(root)
    before = target_rows(root / "quickstart")
    save(edited, "edited.json", redigest=redigest)
    result = run("apply", "quickstart", "--plan", "edited.json")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: "), result.stderr  # refused, saying why
    assert "Apply complete" not in result.stdout
    assert target_rows(root / "quickstart") == before

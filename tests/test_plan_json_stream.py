"""The JSON plan is written change by change: the text is exactly what one ``json.dumps`` of the
whole plan gives, and the digest streamed is the digest of the whole."""

from __future__ import annotations

import json

import pytest

from ainas_provision.plan.changes import Change, FieldChange, Note
from ainas_provision.plan.plan import Plan, content_digest
from ainas_provision.plan.render import emit, render_json


def change(i: int) -> Change:
    return Change(
        action="create" if i % 3 else "update",
        kind="user",
        key=f"user{i:05d}",
        title=f"利用者 {i}",
        live_id=None if i % 2 else str(i),
        fields=[
            FieldChange("name", "氏名", None if i % 3 else "旧", f"利用者\u3000{i}"),
            FieldChange("initial_password", "パスワード", None, "(sensitive)", sensitive=True),
            FieldChange("roles", "ロール", [], ["拠点管理者", {"nested": [1, 2.5, None]}]),
        ],
        payload={"name": f"利用者 {i}", "empty": {}, "list": [], "quote": 'a "b" \\ c\n'},
        depends_on=[f"site.s{i % 7}"] if i % 2 else [],
        note="a note" if i % 5 == 0 else None,
    )


PLANS = {
    "empty": Plan(),
    "one change": Plan(changes=[change(1)], target={"kind": "sandbox", "description": "x"}),
    "many, with notes and errors": Plan(
        changes=[change(i) for i in range(50)],
        notes=[Note("warning", "user.a", "注意"), Note("info", "site.b", "b")],
        errors=["one", "二"],
        scope=["s1", "s2"],
        forget=[("user", "x")],
        incomplete="the target's list was cut",
        key_check="abc",
        max_deletes=3,
    ),
}


@pytest.mark.parametrize("name", list(PLANS))
def test_streamed_json_is_the_whole_dump(name):
    plan = PLANS[name]
    whole = json.dumps(plan.to_json(), ensure_ascii=False, indent=2)
    assert "".join(plan.json_chunks()) == whole
    assert render_json(plan) == whole
    content = {k: v for k, v in plan.to_json().items() if k != "digest"}
    assert plan.digest() == content_digest(content) == plan.to_json()["digest"]
    # and it reads back as the same plan
    assert Plan.from_json(json.loads(whole)).digest() == plan.digest()


def test_a_large_plan_is_written_in_pieces(capsys):
    plan = Plan(changes=[change(i) for i in range(2000)])
    chunks = list(plan.json_chunks())
    assert len(chunks) > 2000  # one at least per change
    assert max(len(c) for c in chunks) < 5000  # never the whole plan at once
    emit(plan, "json")
    assert (
        capsys.readouterr().out == json.dumps(plan.to_json(), ensure_ascii=False, indent=2) + "\n"
    )

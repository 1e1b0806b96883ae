"""The JSON plan is written change by change: the text is exactly what one ``json.dumps`` of the
whole plan gives, and the digest streamed is the digest of the whole."""

from __future__ import annotations

import json

import click
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
        note_template="a note on {login_id}" if i % 5 == 0 else None,
        note_args={"login_id": f"user{i:05d}"} if i % 5 == 0 else {},
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


@pytest.mark.parametrize("color", [False, True])
def test_text_plan_batched_is_what_secho_prints_line_by_line(color):
    from click.testing import CliRunner

    from ainas_provision.plan import render

    plan = Plan(
        changes=[change(i) for i in range(render.ECHO_BATCH // 3)],
        notes=[Note("warning", "user.a", "注意")],
        errors=["e"],
    )

    def line_by_line():
        for line, fg in render.text_lines(plan):
            click.secho(line, fg=fg)

    runner = CliRunner()
    expected = runner.invoke(click.command()(line_by_line), color=color).output
    batched = runner.invoke(click.command()(lambda: render.echo_text(plan)), color=color).output
    assert batched == expected
    assert len(render.text_lines(plan)) > render.ECHO_BATCH  # more than one batch
    assert ("\x1b[" in batched) == color


def test_values_in_the_text_plan_are_written_as_json_dumps_writes_them():
    from ainas_provision.plan.render import SENSITIVE, value_text

    for value in ["a", 'あ"\\\n\t\x00\u2028', "", 1, -0.0, 1.5, True, [1, "x", None], {"a": [1]}]:
        assert value_text(value) == json.dumps(value, ensure_ascii=False), value
    assert value_text(None) == "null"
    assert value_text(SENSITIVE) == SENSITIVE

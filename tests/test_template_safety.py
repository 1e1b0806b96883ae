"""Templates cannot be turned against the manifests they render: a value from a data file is
written as a YAML scalar of its place and cannot add structure (a 拠点管理者, a list item, a key
of a secret reference); and what a template may build is bounded, whichever way it is built."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ainas_provision.manifest.scalars import Interpolations, context_of, plain_safe
from ainas_provision.validation.engine import validate
from tests.conftest import EXAMPLES, copy_example
from tests.helpers import bulk_demo_environment, run

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
INJECTED = "\n  evil-kanri:\n    name: 悪意　太郎\n    role: 拠点管理者\n    site: sby02\n"


@pytest.fixture
def bulk(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "bulk"
    copy_example("bulk-onboarding", path)
    monkeypatch.chdir(tmp_path)
    for name, value in bulk_demo_environment().items():
        monkeypatch.setenv(name, value)
    return path


def edit_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one CSV cell, written as a spreadsheet would (quoted, newlines kept)."""
    csv_path = path / "branches.csv"
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    rows[row][column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path.write_text(out.getvalue(), encoding="utf-8")


def test_a_csv_cell_with_newlines_adds_no_site_manager(bulk):
    """The attack: a staff name whose cell continues with a new user under `users:`."""
    edit_cell(bulk, 0, "staff_name", "林　花子" + INJECTED)
    result = validate(bulk, now=NOW)
    users = result.merged["users"] if result.merged else {}
    assert "evil-kanri" not in users
    assert len(users) == 100
    assert users["sjk01-tanto01"]["name"] == "林　花子" + INJECTED  # one scalar, exact
    rendered = run("render", str(bulk))
    assert "\n  evil-kanri:" not in rendered.stdout


def test_a_cell_cannot_add_an_item_to_a_flow_list(bulk):
    edit_cell(bulk, 0, "office", "練馬, 品川")
    result = validate(bulk, now=NOW)
    assert result.merged["users"]["sjk01-tanto01"]["default_destination"] == [
        "東京都",
        "練馬, 品川",
    ]


def test_a_cell_that_would_end_a_plain_scalar_is_refused_at_its_line(bulk):
    """`{env: BRANCH_{{ code }}_…}`: a code holding `}, file: …` would rewrite the secret's
    source; it is refused where it is used, with the row."""
    edit_cell(bulk, 1, "code", "SBY02_X}, {file: /etc/hostname")
    result = validate(bulk, now=NOW)
    lines = [str(d) for d in result.diagnostics]
    assert lines[0].startswith("bulk/branches.yaml.j2:36:"), lines
    assert "would end the plain scalar it is put in" in lines[0]
    assert result.diagnostics[0].mark.note == (
        "while rendering row 2 of bulk/branches.csv (line 3, code: SBY02_X}, {file: /etc/hostname)"
    )


def test_the_bulk_example_renders_as_before(bulk):
    result = validate(bulk, now=NOW)
    assert [str(d) for d in result.diagnostics] == []
    sites = result.merged["sites"]
    assert sites["sjk01"]["registered"]["batch_account"]["payment_user_id"] == "30010001"
    assert sites["sjk01"]["registered"]["batch_account"]["batch_password"] == {
        "env": "BRANCH_SJK01_BATCH_PASSWORD"
    }


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("k: {{ v }}\n", "a\nb: c", {"k": "a\nb: c"}),
        ("k: {{ v }}\n", "x: y", {"k": "x: y"}),
        ("k: {{ v }}\n", "- a", {"k": "- a"}),
        ("k: {{ v }}\n", "*alias", {"k": "*alias"}),
        ("k: {{ v }}\n", "&a x", {"k": "&a x"}),
        ("k: {{ v }}\n", "!!python/object:os.system x", {"k": "!!python/object:os.system x"}),
        ("k: {{ v }}\n", "a # b", {"k": "a # b"}),
        ("k: {{ v }}\n", "...", {"k": "..."}),
        ("k: {{ v }}\n", "a\u2028b", {"k": "a\u2028b"}),
        ("k: {{ v }}\n", "新宿", {"k": "新宿"}),
        ('k: "{{ v }}"\n', 'a"\nb: "c', {"k": 'a"\nb: "c'}),
        ('k: "{{ v }}"\n', "16:00", {"k": "16:00"}),
        ("k: '{{ v }}'\n", "it's", {"k": "it's"}),
        ("k: [a, {{ v }}]\n", "b, c", {"k": ["a", "b, c"]}),
        ("k: [a, {{ v }}]\n", "", {"k": ["a", ""]}),
        ("k: {a: {{ v }}}\n", "b, c: d", {"k": {"a": "b, c: d"}}),
        ("{{ v }}: 1\n", "x: y", {"x: y": 1}),
        ("k:\n  - {{ v }}\n", "a\n  - b", {"k": ["a\n  - b"]}),
        ("k: |\n  {{ v }}\n", "a\nb: c", {"k": '"a\\nb\\x3a c"\n'}),
        ("k: {{ v | tojson }}\n", ["a", "b"], {"k": ["a", "b"]}),
        ("k: {{ v | safe }}\n", "[a, b]", {"k": ["a", "b"]}),
        ("{% macro m(x) %}k: {{ x }}{% endmacro %}{{ m(v) }}\n", "a\nb: c", {"k": "a\nb: c"}),
    ],
)
def test_a_value_is_one_scalar_of_its_place(tmp_path, template, value, expected):
    (tmp_path / "t.yaml.j2").write_text(template, encoding="utf-8")
    from ainas_provision.manifest.templates import load_template

    document, problem = load_template(tmp_path / "t.yaml.j2", {"v": value})
    assert problem is None, str(problem)
    assert document.root == expected


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("k: x{{ v }}\n", "a\nb: c"),
        ("k: {env: A_{{ v }}}\n", "B}, file: /etc/hostname"),
        ("k: [a{{ v }}]\n", "b, c"),
        ("k: '{{ v }}'\n", "a\nb"),
    ],
)
def test_a_value_that_cannot_be_a_scalar_there_is_refused(tmp_path, template, value):
    (tmp_path / "t.yaml.j2").write_text(template, encoding="utf-8")
    from ainas_provision.manifest.templates import load_template

    document, problem = load_template(tmp_path / "t.yaml.j2", {"v": value})
    assert document is None
    assert problem.rule == "template-error" and problem.mark.line == 1
    assert "scalar" in problem.message


def test_a_forged_token_in_data_is_only_text():
    interpolations = Interpolations()
    forged = "\x00" + "0" * 16 + ":0\x00"
    token = interpolations.finalize("a\nb")
    other = interpolations.finalize(forged)
    assert interpolations.resolve(f"k: {token}\nj: {other}\n", "") == (
        'k: "a\\nb"\n' + 'j: "\\u0000' + "0" * 16 + '\\x3a0\\u0000"\n'
    )


def test_contexts_and_plain_safety():
    assert [context_of(line) for line in ("k: ", 'k: "a', "k: 'a''", "k: a", "# ", "[a, ")] == [
        "start",
        "double",
        "single",
        "mid",
        "comment",
        "flow-start",
    ]
    assert plain_safe("新宿登録センター") and plain_safe("sjk01@example.jp") and plain_safe("")
    assert not any(plain_safe(v) for v in ("a: b", "a #b", "-x", "a,b", "x\ny", "---", "<<"))


# -- bombs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "'x'.ljust(999999999)",
        "'x'.rjust(999999999)",
        "'x'.center(999999999)",
        "'1'.zfill(999999999)",
        "'\\t'.expandtabs(999999999)",
        "('x' * 1000000).replace('x', 'xx')",
        "'x'.join(['a'] * 1000000)",
        "('x' * 1000000).join(range(1000))",
        "('x' * 1000000).join(range(1000) | map('string'))",
        "'%0999999999d' % 1",
        "'%.999999999f' % 1",
        "'%*d' % (999999999, 1)",
        "'%0999999999d' | format(1)",
        "'{:999999999}'.format(1)",
        "'{:>999999999}'.format('x')",
        "'{:{w}}'.format(1, w=999999999)",
        "'{a:999999999}'.format_map({'a': 1})",
        "'x' | center(999999999)",
        "('x\\n' * 100000) | indent(999999)",
        "range(100000) | join('x' * 1000000)",
        "('x' * 1000000) | replace('x', 'xxx')",
    ],
)
def test_a_template_cannot_build_a_huge_value(tmp_path, expression):
    (tmp_path / "t.yaml.j2").write_text(f"k: {{{{ {expression} }}}}\n", encoding="utf-8")
    from ainas_provision.manifest.templates import load_template

    document, problem = load_template(tmp_path / "t.yaml.j2", {})
    assert document is None
    assert problem.rule == "template-error"
    assert problem.message.startswith("refused by the template sandbox: "), problem.message


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'x'.ljust(3)", "x  "),
        ("'%03d' % 7", "007"),
        ("'%03d' | format(7)", "007"),
        ("'{:>4}'.format('ab')", "  ab"),
        ("['a', 'b'] | join('-')", "a-b"),
        ("'a-b' | replace('-', '_')", "a_b"),
        ("'ab' | center(6)", "  ab  "),
    ],
)
def test_ordinary_widths_still_work(tmp_path, expression, expected):
    (tmp_path / "t.yaml.j2").write_text(f'k: "{{{{ {expression} }}}}"\n', encoding="utf-8")
    from ainas_provision.manifest.templates import load_template

    document, problem = load_template(tmp_path / "t.yaml.j2", {})
    assert problem is None, str(problem)
    assert document.root == {"k": expected}


# -- a property: no cell, whatever it holds, changes the shape of the bulk example ---------------

YAML_SOUP = st.text(
    alphabet=st.sampled_from(list(" \t\n\r:-?#,[]{}&*!|>'\"%@`\\<=~.0aZ新　\u2028\x85")),
    max_size=24,
)


def _shape(node):
    """The document's structure with its scalars blanked: what a cell must not change."""
    if isinstance(node, dict):
        return [("k", _shape(v)) for v in node.values()]
    if isinstance(node, list):
        return [_shape(item) for item in node]
    return "scalar"


@pytest.fixture(scope="module")
def bulk_rows():
    from ainas_provision.manifest.datafiles import read_csv

    text = (EXAMPLES / "bulk-onboarding" / "branches.csv").read_text(encoding="utf-8")
    return read_csv(text, "branches.csv")[:3]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cell=YAML_SOUP, row=st.integers(0, 2), column=st.integers(0, 19))
def test_no_cell_changes_the_shape_of_the_bulk_example(bulk_rows, cell, row, column):
    from ainas_provision.manifest.datafiles import DataRow
    from ainas_provision.manifest.templates import load_template

    template = EXAMPLES / "bulk-onboarding" / "branches.yaml.j2"
    original, problem = load_template(template, {"branches": bulk_rows})
    assert problem is None
    rows = [DataRow(r.items(), source=r.source, row=r.row, line=r.line) for r in bulk_rows]
    name = list(rows[row])[column]
    rows[row][name] = cell
    edited, problem = load_template(template, {"branches": rows})
    if problem is not None:  # refused where it is used, or a key made twice: a diagnostic
        assert problem.mark.file.endswith("branches.yaml.j2")
        return
    assert _shape(edited.root) == _shape(original.root)
    assert len(edited.root["users"]) == 6 and len(edited.root["sites"]) == 3

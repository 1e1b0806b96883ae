"""Templated manifests: rendering with data files, and every problem reported at the template's
own line, with the data row it was rendered from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ainas_provision.manifest.datafiles import DataRow
from ainas_provision.manifest.templates import render_template
from ainas_provision.validation.engine import load_documents, validate
from tests.helpers import bulk_demo_environment

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)

ORGANIZATION = """\
version: 1
organization:
  id: "30001"
policy:
  allow_plaintext_secrets: true
"""

BRANCHES_CSV = """\
code,name,short_name,login,office
SJK01,新宿登録センター,新宿,sjk01-tanto,練馬
SBY02,渋谷登録センター,渋谷,sby02-tanto,品川
IKB03,池袋 登録センター,池袋,ikb03-tanto,練馬
"""

SITES_TEMPLATE = """\
version: 1
sites:
{% for b in branches %}
  {{ b.code | lower }}:
    name: {{ b.name }}
    short_name: {{ b.short_name }}
{% endfor %}
"""

USERS_TEMPLATE = """\
version: 1
users:
{% for b in branches %}
  {{ b.login }}:
    name: 担当　太郎
    role: 担当者(送信可)
    site: {{ b.code | lower }}
    initial_password: Demo-Pass-2024
    default_destination: [東京都, {{ b.office }}]
{% endfor %}
"""


@pytest.fixture
def here(tmp_path, monkeypatch):
    """An empty manifest directory, the working directory, so that messages show short paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def messages(result) -> list[str]:
    return [str(d) for d in result.diagnostics]


def fix_row_three(text: str) -> str:
    return text.replace("池袋 登録センター", "池袋登録センター")


# -- rendering and variables -----------------------------------------------------------------


def test_a_template_renders_one_entry_per_row(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: branches.csv\n",
            "branches.csv": fix_row_three(BRANCHES_CSV),
            "sites.yaml.j2": SITES_TEMPLATE,
            "users.yaml.j2": USERS_TEMPLATE,
        },
    )
    result = validate(here, now=NOW)
    assert messages(result) == []
    assert list(result.merged["sites"]) == ["sjk01", "sby02", "ikb03"]
    assert result.merged["users"]["sby02-tanto"]["default_destination"] == ["東京都", "品川"]
    assert [doc.display for doc in result.documents] == [
        "organization.yaml",
        "sites.yaml.j2",
        "users.yaml.j2",
    ]


def test_vars_from_the_command_line_csv_yaml_and_json(here):
    write(
        here,
        {
            "manifests/organization.yaml": ORGANIZATION,
            "manifests/sites.yaml.j2": (
                "version: 1\nsites:\n{% for b in rows %}"
                "  {{ prefix }}{{ b.code | lower }}:\n"
                "    name: {{ b.name }}\n    short_name: {{ short }}\n"
                "    code: {{ codes[loop.index0] }}\n"
                "{% endfor %}"
            ),
            "data/branches.csv": fix_row_three(BRANCHES_CSV),
            "data/settings.yaml": "prefix: hk-\nshort: 本店\n",
            "data/codes.json": '["A-1", "B-2", "C-3"]',
        },
    )
    result = validate(
        here / "manifests",
        vars_files=["rows=data/branches.csv", "data/settings.yaml", "codes=data/codes.json"],
        now=NOW,
    )
    assert messages(result) == []
    sites = result.merged["sites"]
    assert list(sites) == ["hk-sjk01", "hk-sby02", "hk-ikb03"]
    assert sites["hk-sby02"] == {"name": "渋谷登録センター", "short_name": "本店", "code": "B-2"}


def test_a_csv_on_the_command_line_is_named_after_its_file(here):
    write(
        here,
        {
            "m/organization.yaml": ORGANIZATION,
            "m/sites.yaml.j2": SITES_TEMPLATE,
            "branches.csv": fix_row_three(BRANCHES_CSV),
        },
    )
    result = validate(here / "m", vars_files=["branches.csv"], now=NOW)
    assert messages(result) == []
    assert len(result.merged["sites"]) == 3


def test_the_command_line_wins_over_the_vars_setting(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: branches.csv\n",
            "branches.csv": fix_row_three(BRANCHES_CSV),
            "other.csv": "code,name,short_name\nOMY01,大宮登録センター,大宮\n",
            "sites.yaml.j2": SITES_TEMPLATE,
        },
    )
    result = validate(here, vars_files=["branches=other.csv"], now=NOW)
    assert messages(result) == []
    assert list(result.merged["sites"]) == ["omy01"]


def test_data_files_are_never_loaded_as_manifests(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  settings: data/settings.yaml\n",
            "data/settings.yaml": "short: 本店\nnames: [一, 二]\n",  # not a manifest
            "sites.yaml.j2": (
                "version: 1\nsites:\n"
                "{% for n in settings.names %}  s{{ loop.index }}:\n"
                "    name: 支店{{ n }}\n    short_name: {{ settings.short }}{{ n }}\n{% endfor %}"
            ),
        },
    )
    documents, problems = load_documents(here)
    assert problems == []
    assert [doc.display for doc in documents] == ["organization.yaml", "sites.yaml.j2"]
    assert documents[1].root["sites"]["s2"]["name"] == "支店二"


def test_a_csv_column_wins_over_a_dict_method_or_row_attribute(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: b.csv\n",
            "b.csv": "code,items,row\nSJK01,新宿登録センター,新宿\n",
            "sites.yaml.j2": (
                "version: 1\nsites:\n{% for b in branches %}  {{ b.code | lower }}:\n"
                "    name: {{ b.items }}\n    short_name: {{ b.row }}\n{% endfor %}"
            ),
        },
    )
    result = validate(here, now=NOW)
    assert messages(result) == []
    assert result.merged["sites"]["sjk01"] == {"name": "新宿登録センター", "short_name": "新宿"}


def test_a_template_that_renders_nothing_is_no_document_and_no_error(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: b.csv\n",
            "b.csv": "code\n",
            "extra.yaml.j2": "{% for b in branches %}version: 1\n{% endfor %}\n",
        },
    )
    documents, problems = load_documents(here)
    assert problems == []
    assert [doc.display for doc in documents] == ["organization.yaml"]


# -- problems in the rendered output, at the template's line ---------------------------------


def test_a_half_width_character_from_a_csv_row_is_reported_at_the_template_line(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: branches.csv\n",
            "branches.csv": BRANCHES_CSV,
            "branches.yaml.j2": SITES_TEMPLATE,
        },
    )
    result = validate(here, now=NOW)
    assert messages(result) == [
        "branches.yaml.j2:5:13: error: 代理人拠点名 (name) must be full-width (全角): half-width "
        "space ' ' (U+0020) at character 3 — use '\u3000' (U+3000); write '池袋\u3000登録センター' "
        "[fullwidth] (sites.ikb03.name)\n"
        "    note: rendered from row 3 of branches.csv (line 4, code: IKB03)"
    ]
    (diagnostic,) = result.diagnostics
    assert diagnostic.as_json()["notes"] == [
        "rendered from row 3 of branches.csv (line 4, code: IKB03)"
    ]


def test_a_mistake_in_literal_template_text_is_reported_at_its_line_for_each_row(here):
    template = (
        USERS_TEMPLATE.replace("role: 担当者(送信可)", "role: 担当者（送信可）")
        .replace("{% for b in branches %}\n", "{% for b in branches -%}\n{% if b.login %}\n")
        .replace("{% endfor %}", "{%- endif %}\n{% endfor %}")
    )
    assert template.splitlines()[6] == "    role: 担当者（送信可）"  # line 7
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: branches.csv\n",
            "branches.csv": fix_row_three(BRANCHES_CSV),
            "sites.yaml.j2": SITES_TEMPLATE,
            "users.yaml.j2": template,
        },
    )
    result = validate(here, now=NOW)
    places = sorted((str(d.mark), d.mark.note, d.rule) for d in result.diagnostics)
    assert places == [
        (
            "users.yaml.j2:7:11",
            f"rendered from row {n} of branches.csv (line {n + 1}, {code})",
            "enum",
        )
        for n, code in [(1, "code: SJK01"), (2, "code: SBY02"), (3, "code: IKB03")]
    ]


def test_a_duplicate_key_names_the_rows_of_both(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: branches.csv\n",
            "branches.csv": fix_row_three(BRANCHES_CSV) + "SBY02,渋谷第二センター,渋谷二,x,品川\n",
            "branches.yaml.j2": SITES_TEMPLATE,
        },
    )
    result = validate(here, now=NOW)
    assert messages(result) == [
        "branches.yaml.j2:4:3: error: key 'sby02' appears twice in this mapping (first at line 4, "
        "rendered from row 2 of branches.csv (line 3, code: SBY02)); YAML would silently keep "
        "only the last one — remove or rename one of them [duplicate-key]\n"
        "    note: rendered from row 4 of branches.csv (line 5, code: SBY02)"
    ]


def test_vars_in_a_template_is_refused(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION,
            "sites.yaml.j2": "version: 1\nvars:\n  branches: b.csv\n",
        },
    )
    result = validate(here, now=NOW)
    assert messages(result) == [
        "sites.yaml.j2:2:1: error: vars: is read from plain manifest files only (templates are "
        "rendered with the variables it names): move it to a .yaml file [vars-file] (vars)"
    ]


# -- problems while rendering ----------------------------------------------------------------


def test_an_undefined_column_is_reported_at_the_line_using_it_with_the_row(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: branches.csv\n",
            "branches.csv": BRANCHES_CSV,
            "branches.yaml.j2": SITES_TEMPLATE.replace("b.short_name", "b.short"),
        },
    )
    assert messages(validate(here, now=NOW)) == [
        "branches.yaml.j2:6:1: error: no column 'short' in branches.csv — did you mean "
        "'short_name'? [template-undefined]\n"
        "    note: while rendering row 1 of branches.csv (line 2, code: SJK01)"
    ]


def test_an_undefined_variable_is_named_with_a_suggestion(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: branches.csv\n",
            "branches.csv": BRANCHES_CSV,
            "branches.yaml.j2": "version: 1\n\nsites:\n{% for b in brnaches %}\n{% endfor %}\n",
        },
    )
    assert messages(validate(here, now=NOW)) == [
        "branches.yaml.j2:4:1: error: undefined variable 'brnaches' — did you mean 'branches'? "
        "[template-undefined]"
    ]


def test_an_undefined_variable_without_any_data_file(here):
    write(here, {"sites.yaml.j2": "version: 1\norganization:\n  id: '{{ org_id }}'\n"})
    assert messages(validate(here, now=NOW)) == [
        "sites.yaml.j2:3:1: error: undefined variable 'org_id': no data file gives variables — "
        "name one with --vars FILE, or in a vars: setting of a plain manifest file "
        "[template-undefined]"
    ]


def test_a_syntax_error_names_its_line(here):
    write(here, {"sites.yaml.j2": "version: 1\n\n\n{{ b.name }\n"})
    assert messages(validate(here, now=NOW)) == [
        "sites.yaml.j2:4:1: error: template syntax error: unexpected '}' [template-syntax]"
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__[1].__subclasses__()",
        "cycler.__init__.__globals__.os.system('touch escaped')",
        "lipsum.__globals__['os'].system('touch escaped')",
        "branches.__class__",
    ],
)
def test_a_sandbox_escape_is_refused_and_runs_nothing(here, expression):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: b.csv\n",
            "b.csv": "code\nA\n",
            "sites.yaml.j2": f"version: 1\n# x\nnote: {{{{ {expression} }}}}\n",
        },
    )
    (line,) = messages(validate(here, now=NOW))
    assert line.startswith("sites.yaml.j2:3:1: error: refused by the template sandbox: ")
    assert line.endswith("is unsafe [template-error]")
    assert not (here / "escaped").exists()


def test_a_huge_repetition_is_refused(here):
    write(here, {"sites.yaml.j2": "version: 1\nx: {{ 'ab' * 10000000 }}\n"})
    assert messages(validate(here, now=NOW)) == [
        "sites.yaml.j2:2:1: error: refused by the template sandbox: '*' would build a value of "
        "20,000,000 items; templates may build at most 1,000,000 [template-error]"
    ]


def test_a_failing_expression_is_a_template_error_with_the_row(here):
    write(
        here,
        {
            "organization.yaml": ORGANIZATION + "vars:\n  branches: b.csv\n",
            "b.csv": "code,count\nA,3\nB,0\n",
            "sites.yaml.j2": (
                "version: 1\n{% for b in branches %}\n# {{ 6 // (b.count | int) }}\n{% endfor %}\n"
            ),
        },
    )
    assert messages(validate(here, now=NOW)) == [
        "sites.yaml.j2:3:1: error: rendering failed: ZeroDivisionError: integer division or "
        "modulo by zero [template-error]\n"
        "    note: while rendering row 2 of b.csv (line 3, code: B)"
    ]


def test_includes_are_read_beside_the_template_and_never_above_it(here):
    write(
        here,
        {
            "m/sites.yaml.j2": "version: 1\n{% include 'parts/org.j2' %}\n",
            "m/parts/org.j2": "organization:\n  id: '30001'\n",
            "m/up.yaml.j2": "version: 1\n\n{% include '../secret.txt' %}\n",
            "secret.txt": "x: 1\n",
        },
    )
    result = validate(here / "m", now=NOW)
    assert messages(result) == [
        "m/up.yaml.j2:3:1: error: included template '../secret.txt' not found: includes are "
        "read from the template's own directory and below it [template-error]"
    ]
    assert result.merged["organization"] == {"id": "30001"}


# -- the map from rendered text back to the template -----------------------------------------


def test_every_rendered_line_maps_to_its_template_line_and_row(here):
    (here / "t.yaml.j2").write_text(
        "a: 1\n"  # 1
        "{% for b in rows -%}\n"  # 2
        "{% if b.code -%}\n"  # 3
        "{{ b.code }}: |\n"  # 4
        "  {{ b.text | safe }}\n"  # 5: as is (a line break in a value is quoted otherwise)
        "x{{ b.code }}: y\n"  # 6
        "  more\n"  # 7
        "{%- endif %}\n"  # 8
        "{% endfor %}\n"  # 9
        "tail: 1\n",  # 10
        encoding="utf-8",
    )
    rows = [
        DataRow({"code": "A", "text": "one\ntwo"}, source="r.csv", row=1, line=2),
        DataRow({"code": "B", "text": "three"}, source="r.csv", row=2, line=3),
    ]
    rendered = render_template(Path("t.yaml.j2"), {"rows": rows})
    lines = rendered.text.split("\n")
    origins = []
    for number, text in enumerate(lines):
        if text.strip():
            column = len(text) - len(text.lstrip())
            origin = rendered.origin(number, column)
            origins.append((text, origin.line, origin.row.row if origin.row else None))
    assert origins == [
        ("a: 1", 1, None),
        ("A: |", 4, 1),
        ("  one", 5, 1),
        ("two", 5, 1),  # an expression's output stays on the expression's line
        ("xA: y", 6, 1),
        ("  more", 7, 1),
        ("B: |", 4, 2),
        ("  three", 5, 2),
        ("xB: y", 6, 2),
        ("  more", 7, 2),
        ("tail: 1", 10, None),
    ]
    mark = rendered.make_mark(lines.index("xB: y"), 1)
    assert (str(mark), mark.note) == (
        "t.yaml.j2:6:2",
        "rendered from row 2 of r.csv (line 3, code: B)",
    )


# -- the bulk-onboarding example --------------------------------------------------------------


def test_bulk_example_is_fifty_sites_and_a_hundred_users(in_repo, monkeypatch):
    for name, value in bulk_demo_environment().items():
        monkeypatch.setenv(name, value)
    result = validate(Path("examples/bulk-onboarding"))
    assert messages(result) == []
    assert len(result.merged["sites"]) == 50
    assert len(result.merged["users"]) == 100


def test_a_template_rendered_twice_in_one_process_gives_the_same_places(in_repo):
    """Compiled again, a template's code objects are equal to the first ones but their constants
    are other objects: the places must not come from the first compilation's table."""
    first = [str(d) for d in validate(Path("examples/bulk-onboarding")).diagnostics]
    second = [str(d) for d in validate(Path("examples/bulk-onboarding")).diagnostics]
    assert first == second
    assert any(":36:25: " in line for line in first)

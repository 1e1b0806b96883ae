"""Data files for templates: CSV rows that remember their place, YAML and JSON variables, and
every way a data file can be unusable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ainas_provision.manifest.datafiles import (
    DataFileError,
    DataRow,
    VarsSource,
    load_variables,
    parse_vars_option,
    read_csv,
    read_source,
)


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_are_dicts_that_remember_file_row_and_line():
    text = 'code,name\nSJK01,新宿\n\n"SBY02","渋谷\n(二行)"\nIKB03,池袋\n,\n'
    rows = read_csv(text, "branches.csv")
    assert rows == [
        {"code": "SJK01", "name": "新宿"},
        {"code": "SBY02", "name": "渋谷\n(二行)"},
        {"code": "IKB03", "name": "池袋"},
    ]
    assert all(isinstance(row, DataRow) for row in rows)
    assert [(r.source, r.row, r.line) for r in rows] == [
        ("branches.csv", 1, 2),
        ("branches.csv", 2, 4),  # the blank line is skipped, not counted
        ("branches.csv", 3, 6),  # the quoted value spans two lines
    ]
    assert rows[2].describe() == "row 3 of branches.csv (line 6, code: IKB03)"


def test_csv_with_a_bom_becomes_a_variable_named_after_the_file(here):
    write(here / "branches.csv", "\ufeffcode,name\nSJK01,新宿\n".encode())
    variables = read_source(VarsSource(Path("branches.csv")))
    assert variables == {"branches": [{"code": "SJK01", "name": "新宿"}]}
    assert list(variables["branches"][0]) == ["code", "name"]  # no BOM in the first column


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (
            "code,name\nSJK01\n",
            "row 1 of b.csv has 1 values; the header has 2 columns (code, name)",
            2,
        ),
        ("code,name,code\n", "column 'code' appears twice in the header of b.csv", 1),
        ("code,,name\n", "column 2 of the header of b.csv has no name", 1),
        ("", "b.csv is empty: a CSV data file starts with a header row", 1),
    ],
)
def test_malformed_csv_is_reported_at_its_line(text, message, line):
    with pytest.raises(DataFileError) as caught:
        read_csv(text, "b.csv")
    assert caught.value.message == message
    assert caught.value.mark.line == line


def test_a_csv_saved_as_shift_jis_is_reported_as_such(here):
    write(here / "b.csv", "code,name\nSJK01,新宿\n".encode("cp932"))
    variables, problems = load_variables([VarsSource(Path("b.csv"))])
    assert [str(p) for p in problems] == [
        "b.csv:2:7: error: the file is not UTF-8: byte 0x90 cannot start a character (it reads "
        "as Shift_JIS: save it as UTF-8); data files must be saved as UTF-8 [vars-file]"
    ]
    assert variables["b"].source == "b.csv"  # unavailable, so templates using it stay silent


def test_yaml_and_json_files_give_their_top_level_keys(here):
    write(here / "org.yaml", "region: 関東\nreview_deadline: 16:00\nlimits: {max: 3}\n")
    write(here / "more.json", '{"prefix": "HK", "count": 2}')
    variables, problems = load_variables(
        [VarsSource(Path("org.yaml")), VarsSource(Path("more.json"))]
    )
    assert problems == []
    assert variables == {
        "region": "関東",
        "review_deadline": "16:00",  # text, as in manifests
        "limits": {"max": 3},
        "prefix": "HK",
        "count": 2,
    }


def test_a_named_file_is_one_variable_whatever_it_holds(here):
    write(here / "codes.json", '["SJK01", "SBY02"]')
    write(here / "offices.yaml", "- 練馬\n- 品川\n")
    write(here / "list.csv", "code\nA\n")
    variables, problems = load_variables(
        [
            parse_vars_option("codes=codes.json"),
            parse_vars_option("offices=offices.yaml"),
            parse_vars_option("rows=list.csv"),
        ]
    )
    assert problems == []
    assert variables == {
        "codes": ["SJK01", "SBY02"],
        "offices": ["練馬", "品川"],
        "rows": [{"code": "A"}],
    }


def test_a_later_file_wins(here):
    write(here / "a.yaml", "region: 関東\n")
    write(here / "b.yaml", "region: 関西\n")
    variables, _ = load_variables([VarsSource(Path("a.yaml")), VarsSource(Path("b.yaml"))])
    assert variables == {"region": "関西"}


def test_parse_vars_option(here):
    assert parse_vars_option("branches.csv") == VarsSource(Path("branches.csv"))
    assert parse_vars_option("rows=data/b.csv") == VarsSource(Path("data/b.csv"), name="rows")
    write(here / "odd=name.csv", "a\n")
    assert parse_vars_option("odd=name.csv") == VarsSource(Path("odd=name.csv"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "branch-list.csv",
            "code\nA\n",
            "branch-list.csv:1:1: error: the file name of branch-list.csv does not make a "
            "template variable name ('branch-list'): name the variable, e.g. --vars "
            "branch_list=branch-list.csv [vars-file]",
        ),
        (
            "list.yaml",
            "- a\n",
            "list.yaml:1:1: error: data file list.yaml must hold a mapping of variable names to "
            "values (or name the variable: --vars NAME=list.yaml) [vars-file]",
        ),
        (
            "keys.yaml",
            "ok: 1\nnot-ok: 2\n",
            "keys.yaml:2:1: error: 'not-ok' in keys.yaml cannot be a template variable: use "
            "letters, digits and _, not starting with a digit [vars-file]",
        ),
        (
            "bad.json",
            '{"a": 1,\n "b": }',
            "bad.json:2:7: error: data file bad.json is not valid JSON: Expecting value [vars-file]",
        ),
        (
            "huge.json",
            '{"a": ' + "1" * 5000 + "}",
            "huge.json:1:1: error: data file huge.json holds a number of more than 4,300 digits; "
            "write it as a string [vars-file]",
        ),
        (
            "bad.yaml",
            "a: [1,\n",
            "bad.yaml:2:1: error: data file bad.yaml: YAML syntax error: while parsing a flow "
            "node; did not find expected node content [vars-file]",
        ),
        (
            "notes.txt",
            "x",
            "notes.txt:1:1: error: data file notes.txt: unknown kind of file '.txt'; a data file "
            "is .csv, .yaml, .yml or .json [vars-file]",
        ),
    ],
)
def test_unusable_data_files(here, name, content, message):
    write(here / name, content)
    _, problems = load_variables([parse_vars_option(name)])
    assert [str(p) for p in problems] == [message]


def test_a_missing_data_file(here):
    _, problems = load_variables([parse_vars_option("rows=nowhere.csv")])
    assert [str(p) for p in problems] == [
        "nowhere.csv:1:1: error: data file nowhere.csv does not exist [vars-file]"
    ]

"""The loader: marks for every value, YAML's surprises switched off, hostile YAML refused."""

from __future__ import annotations

import pytest

from ainas_provision.manifest.loader import decode, load_file, manifest_files
from ainas_provision.manifest.marks import Mark, key_mark_of, locate, mark_of, raw_of
from ainas_provision.manifest.yamlfile import YamlProblem, parse_yaml


def parse(text: str):
    return parse_yaml(text, lambda line, col: Mark("m.yaml", line + 1, col + 1))


def test_every_value_keeps_its_place():
    root = parse('sites:\n  akihabara:\n    name: 利活用事務所\n    code: "AKB"\nlist: [a, b]\n')
    site = root["sites"]["akihabara"]
    assert mark_of(site, "name") == Mark("m.yaml", 3, 11)
    assert mark_of(site, "code") == Mark("m.yaml", 4, 12)  # inside the quotes
    assert key_mark_of(site, "code") == Mark("m.yaml", 4, 5)
    assert mark_of(root["list"], 1) == Mark("m.yaml", 5, 11)
    assert locate(root, ["sites", "akihabara", "name"]) == Mark("m.yaml", 3, 11)
    # a missing key is placed at the mapping that should hold it
    assert locate(root, ["sites", "akihabara", "short_name"]) == Mark("m.yaml", 3, 5)


def test_times_and_dates_stay_text():
    root = parse("deadline: 16:00\nday: 2026-12-01\nstamp: 2026-12-01 10:00:00\n")
    assert root == {"deadline": "16:00", "day": "2026-12-01", "stamp": "2026-12-01 10:00:00"}


def test_numbers_keep_their_source_text():
    root = parse("a: 01234567\nb: 12\nc: yes\n")
    assert root == {"a": 342391, "b": 12, "c": True}
    assert raw_of(root, "a") == "01234567"
    assert raw_of(root, "c") == "yes"


def test_merge_keys_and_shared_aliases():
    root = parse("defaults: &d {review_deadline: '16:00', x: 1}\nsite: {<<: *d, x: 2}\n")
    assert root["site"] == {"review_deadline": "16:00", "x": 2}


@pytest.mark.parametrize(
    ("text", "rule", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate-key", 3),
        ("a: [1, 2\n", "yaml-syntax", 2),
        ("a: !!python/object/apply:os.system [ls]\n", "yaml-tag", 1),
        ("a: !!python/name:os.system ''\n", "yaml-tag", 1),
        ("a: !custom 1\n", "yaml-tag", 1),
        ("a: !!set {x, y}\n", "yaml-tag", 1),
        # a value its explicit tag cannot hold, a collection tag on a plain value
        ("a: !!int abc\n", "yaml-tag", 1),
        ("a:\n  b: !!int ''\n", "yaml-tag", 2),
        ("a: !!float .\n", "yaml-tag", 1),
        ("a: !!bool maybe\n", "yaml-tag", 1),
        ("a: !!binary あ\n", "yaml-tag", 1),
        ("a: !!map x\n", "yaml-tag", 1),
        ("a: !!seq x\n", "yaml-tag", 1),
        ("a: " + "1" * 5000 + "\n", "yaml-tag", 1),  # past Python's 4,300 digits
        ("a:\n- 0x" + "f" * 5000 + "\n", "yaml-tag", 2),  # reads, but no message could show it
        ("a: &a [*a]\n", "too-complex", 1),
        ("x: " + "[" * 70 + "]" * 70 + "\n", "too-complex", 1),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "yaml-syntax", 1),
    ],
)
def test_unsafe_or_broken_yaml_is_refused(text, rule, line):
    with pytest.raises(YamlProblem) as caught:
        parse(text)
    assert caught.value.rule == rule
    assert caught.value.mark.line == line


def test_alias_bomb_is_refused_quickly():
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(YamlProblem) as caught:
        parse("\n".join(lines) + "\n")
    assert caught.value.rule == "too-complex"
    assert "aliases expand" in caught.value.message


def test_merge_key_bomb_is_refused():
    lines = ["a0: &a0 {" + ", ".join(f"k{i}: 1" for i in range(100)) + "}"]
    for i in range(1, 6):
        lines.append(f"a{i}: &a{i} {{<<: [*a{i - 1}], x{i}: 1}}")
    root = parse("\n".join(lines) + "\n")  # modest merging is fine
    assert len(root["a5"]) == 105


def test_merge_copy_bomb_is_refused_before_copying():
    # one mapping merging a 5,000-key mapping 5,000 times: 25 million pairs to go through
    keys = ", ".join(f"k{i}: 1" for i in range(5000))
    text = f"a0: &a0 {{{keys}}}\nbomb: {{<<: [{', '.join(['*a0'] * 5000)}]}}\n"
    with pytest.raises(YamlProblem) as caught:
        parse(text)
    assert caught.value.rule == "too-complex"
    assert "merge keys (<<) copy more than 500,000 values" in caught.value.message
    assert caught.value.mark.line == 2


def test_many_mappings_merging_one_large_mapping_are_refused():
    # each copy is built (unlike an alias): 2,000 copies of 1,000 pairs would be gigabytes
    keys = ", ".join(f"k{i}: 1" for i in range(1000))
    text = f"a0: &a0 {{{keys}}}\nlist:\n" + "  - {<<: *a0}\n" * 2000
    with pytest.raises(YamlProblem) as caught:
        parse(text)
    assert caught.value.rule == "too-complex"
    assert "merge keys (<<)" in caught.value.message


def test_empty_document_is_none():
    assert parse("# only a comment\n") is None


def test_decode_points_at_the_bad_byte():
    text, problem = decode("a: 1\nb: 代理\n".encode("cp932"), "m.yaml")
    assert text is None
    assert (problem.mark.line, problem.mark.col) == (2, 4)
    assert "Shift_JIS" in problem.message


def test_decode_accepts_a_bom():
    text, problem = decode("\ufeffa: 1\n".encode(), "m.yaml")
    assert problem is None and text == "a: 1\n"


def test_directory_files_in_stable_order_hidden_skipped(tmp_path):
    for name in ("b.yaml", "a.yml", ".hidden.yaml", "notes.txt", "sub/c.yaml", ".git/x.yaml"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("version: 1\n", encoding="utf-8")
    files, problems = manifest_files(tmp_path)
    assert not problems
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a.yml", "b.yaml", "sub/c.yaml"]


def test_unreadable_file_is_a_diagnostic(tmp_path):
    doc, problem = load_file(tmp_path / "missing.yaml")
    assert doc is None and problem.rule == "path"

"""Hostile input: whatever a manifest file holds, validation ends in a diagnostic (or success),
in bounded time and memory, and never runs code.

- Named hostile documents (bad encodings, nesting 100,000 deep, alias and merge-key bombs,
  recursive aliases, 10 MB strings and keys, hundreds of thousands of values, numbers Python
  cannot print) are validated in a subprocess whose address space is capped
  (``RLIMIT_AS``, :mod:`tests.reliability.probe`): a bomb would end in ``MemoryError`` there,
  not in swapping. The subprocess timeout is only a hang detector.
- YAML tags that would construct Python objects (``!!python/object/apply:os.system`` and
  friends, spelt every way YAML allows, in every position) must not create the file they name:
  in a manifest, a template, a YAML data file, and in a large directory.
- Hypothesis feeds the loader and the validator random bytes, YAML-ish token soup and
  byte-level mutations of a valid manifest: every case ends in diagnostics with their place, or
  success, never an exception.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ainas_provision.manifest.datafiles import Unavailable, load_variables, parse_vars_option
from ainas_provision.manifest.loader import load_file
from ainas_provision.validation.engine import validate
from tests.conftest import REPO
from tests.helpers import run
from tests.reliability.strategies import manifests, write_manifests

MEMORY_LIMIT_MB = 1024
HANG = 180  # seconds: only a hang detector; every case here takes seconds at most
ORGANIZATION = 'version: 1\norganization: {id: "1"}\n'


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "version: 1\n" + "\n".join(lines) + "\n"


def merge_quadratic() -> str:
    keys = ", ".join(f"k{i}: 1" for i in range(5000))
    return f"a0: &a0 {{{keys}}}\nbomb: {{<<: [{', '.join(['*a0'] * 5000)}]}}\n"


def merge_fan_out() -> str:
    lines = ["a0: &a0 {" + ", ".join(f"k{i}: 1" for i in range(10)) + "}"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} {{<<: [{', '.join([f'*a{i - 1}'] * 10)}]}}")
    return "\n".join(lines) + "\n"


def merge_copies() -> str:
    keys = ", ".join(f"k{i}: 1" for i in range(1000))
    return f"a0: &a0 {{{keys}}}\nlist:\n" + "  - {<<: *a0}\n" * 2000


def many_sites(count: int) -> str:
    lines = [ORGANIZATION + "sites:"]
    for i in range(count):
        number = "".join(chr(0xFF10 + int(d)) for d in str(i))
        lines.append(f"  s{i}: {{name: 営業所{number}, short_name: 営業所, code: S{i}}}")
    return "\n".join(lines) + "\n"


TEN_MB = 10 * 1024 * 1024

# name -> (the file's bytes, a rule the diagnostics must include; None: valid)
HOSTILE = {
    "invalid UTF-8": (lambda: ORGANIZATION.encode() + b"x: \xff\xfe\xfd\n", "encoding"),
    "Shift_JIS": (
        lambda: (ORGANIZATION + "sites: {a: {name: 秋葉原, short_name: 秋葉原}}\n").encode("cp932"),
        "encoding",
    ),
    "UTF-16": (lambda: ORGANIZATION.encode("utf-16"), "encoding"),
    "NUL byte": (lambda: ORGANIZATION.encode() + b"x: a\x00b\n", "yaml-syntax"),
    "flow nesting 100,000 deep": (lambda: ("x: " + "[" * 100_000).encode(), "yaml-syntax"),
    "block nesting 100,000 deep": (
        lambda: ("x: " + "- " * 100_000 + "1\n").encode(),
        "yaml-syntax",
    ),
    "nesting past the limit (70)": (
        lambda: ("x: " + "[" * 70 + "]" * 70 + "\n").encode(),
        "too-complex",
    ),
    "billion laughs": (lambda: billion_laughs().encode(), "too-complex"),
    "recursive alias": (lambda: b"version: 1\na: &a [1, *a]\n", "too-complex"),
    "recursive alias through a mapping": (
        lambda: b"version: 1\na: &a {b: {c: [*a]}}\n",
        "too-complex",
    ),
    "merge of 25 million pairs": (lambda: merge_quadratic().encode(), "too-complex"),
    "merge fan-out (10 ** 12 pairs)": (lambda: merge_fan_out().encode(), "too-complex"),
    "2,000 copies of a 1,000-key merge": (lambda: merge_copies().encode(), "too-complex"),
    "10 MB string": (
        lambda: (
            ORGANIZATION + f'sites: {{a: {{name: "{"A" * TEN_MB}", short_name: 事}}}}\n'
        ).encode(),
        "fullwidth",
    ),
    "10 MB key": (lambda: (ORGANIZATION + f'? "{"A" * TEN_MB}"\n: 1\n').encode(), "unknown-key"),
    "10 MB comment": (lambda: (ORGANIZATION + "# " + "x" * TEN_MB + "\n").encode(), None),
    "200,000 values": (
        lambda: (ORGANIZATION + "x: [" + "1, " * 200_000 + "1]\n").encode(),
        "unknown-key",
    ),
    "20,000 sites": (lambda: many_sites(20_000).encode(), None),
    "number of 5,000 digits": (
        lambda: (ORGANIZATION + "x: " + "9" * 5000 + "\n").encode(),
        "yaml-tag",
    ),
    "hex number past 4,300 digits": (
        lambda: (ORGANIZATION + "policy: {max_deletes: 0x" + "f" * 5000 + "}\n").encode(),
        "yaml-tag",
    ),
    "value its tag cannot hold": (lambda: (ORGANIZATION + "x: !!int ''\n").encode(), "yaml-tag"),
}


def probe(path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.probe", str(MEMORY_LIMIT_MB), str(path)],
        capture_output=True,
        text=True,
        timeout=HANG,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_document_ends_in_a_diagnostic_within_bounds(name, tmp_path):
    content, rule = HOSTILE[name]
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content())
    report = probe(path)
    print(f"\nhostile input: {name} ({path.stat().st_size:,} bytes): {report}")
    if rule is None:
        assert report["errors"] == 0, report
    else:
        assert rule in report["rules"], report
        assert report["errors"] >= 1


BOMBS = {
    "billion laughs": billion_laughs,
    "merge of 25 million pairs": merge_quadratic,
    "2,000 copies of a 1,000-key merge": merge_copies,
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_among_many_files_is_bounded_too(name, tmp_path):
    """A bomb among many files (the largest of them) is bounded as well."""
    directory = tmp_path / "many"
    directory.mkdir()
    (directory / "organization.yaml").write_text(ORGANIZATION, encoding="utf-8")
    for i in range(70):
        (directory / f"site{i:02d}.yaml").write_text(
            f"version: 1\nsites: {{s{i}: {{name: 営業所, short_name: 営業所}}}}\n", encoding="utf-8"
        )
    (directory / "bomb.yaml").write_text(BOMBS[name]() + "# " + "x" * 100_000 + "\n")
    report = probe(directory)
    print(f"\nhostile input: {name} among 71 files: {report}")
    assert "too-complex" in report["rules"], report


# -- never code ------------------------------------------------------------------------------
def payloads(marker: Path) -> list[str]:
    """YAML that would create ``marker`` if a loader constructed Python objects."""
    m = str(marker)
    return [
        f"!!python/object/apply:os.system ['touch {m}']",
        f"!!python/object/apply:subprocess.check_call [[touch, '{m}']]",
        f"!!python/object/new:subprocess.Popen [[touch, '{m}']]",
        f"!!python/object/apply:builtins.open ['{m}', w]",
        f"!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {m}']",
        f"!!python/object/apply:os.system {{args: ['touch {m}']}}",
        "!!python/name:os.system ''",
        "!!python/module:os ''",
    ]


def placements(payload: str) -> list[str]:
    """A payload in every place a tag can sit in a manifest file."""
    return [
        f"{ORGANIZATION}x: {payload}\n",
        f"{ORGANIZATION}sites:\n  a:\n    name: {payload}\n",
        f"{ORGANIZATION}? {payload}\n: 1\n",
        f"{ORGANIZATION}a: &a {payload}\nb: *a\n",
        f"{ORGANIZATION}m: {{<<: {payload}}}\n",
        f"{ORGANIZATION}l: [1, {{k: {payload}}}]\n",
        f"%TAG !p! tag:yaml.org,2002:python/\n---\n{ORGANIZATION}x: {payload.replace('!!python/', '!p!')}\n",
        f"{payload}\n",
    ]


def test_python_tags_never_run_code(tmp_path):
    marker = tmp_path / "pwned"
    cases = 0
    for number, payload in enumerate(payloads(marker)):
        for place, text in enumerate(placements(payload)):
            path = tmp_path / f"case{number}-{place}.yaml"
            path.write_text(text, encoding="utf-8")
            validation = validate(path, env={})
            assert not validation.ok, text
            path.unlink()
            cases += 1
    # the same through the command line, a template, a YAML data file
    (tmp_path / "cli.yaml").write_text(placements(payloads(marker)[0])[0], encoding="utf-8")
    result = run("validate", str(tmp_path / "cli.yaml"))
    assert result.exit_code == 1 and "[yaml-tag]" in result.stderr
    templated = tmp_path / "templated"
    templated.mkdir()
    (templated / "organization.yaml").write_text(
        ORGANIZATION + "vars:\n  data: data.yaml\n", encoding="utf-8"
    )
    (templated / "data.yaml").write_text(f"rows: {payloads(marker)[0]}\n", encoding="utf-8")
    (templated / "sites.yaml.j2").write_text(
        "version: 1\nx: " + payloads(marker)[3] + "\n", encoding="utf-8"
    )
    validation = validate(templated, env={})
    assert {"vars-file", "yaml-tag"} <= {d.rule for d in validation.errors}
    cases += 3
    time.sleep(0.2)  # time enough for a spawned `touch` to have run
    assert not marker.exists(), "a YAML tag ran code"
    print(f"\nhostile input: {cases} Python tags refused, none ran")


def test_python_tags_in_a_large_directory_never_run_code(tmp_path):
    marker = tmp_path / "pwned"
    directory = tmp_path / "many"
    directory.mkdir()
    (directory / "organization.yaml").write_text(ORGANIZATION, encoding="utf-8")
    for i in range(70):
        (directory / f"site{i:02d}.yaml").write_text("version: 1\n", encoding="utf-8")
    for number, payload in enumerate(payloads(marker)):
        text = f"version: 1\nx: {payload}\n# {'x' * 20_000}\n"
        (directory / f"tagged{number}.yaml").write_text(text, encoding="utf-8")
    validation = validate(directory, env={})
    assert "yaml-tag" in {d.rule for d in validation.errors}
    time.sleep(0.2)
    assert not marker.exists(), "a YAML tag ran code"


# -- fuzzing -----------------------------------------------------------------------------------
TOKENS = [
    "version: 1\n",
    'organization:\n  id: "1"\n',
    "sites:\n",
    "  a:\n",
    "    name: 事務所\n",
    "users:\n",
    "  u:\n",
    "    role: 拠点管理者\n",
    "    initial_password: {env: X}\n",
    "&a ",
    "*a ",
    "&b ",
    "*b ",
    "*zz ",
    "<<: ",
    "- ",
    "? ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "'",
    '"',
    "!!python/object/apply:os.system ",
    "!!binary ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!set ",
    "!!omap ",
    "!!map ",
    "!!merge ",
    "!t ",
    "!<tag:x> ",
    "%YAML 1.1\n",
    "%TAG ! tag:yaml.org,2002:\n",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "#c\n",
    "\t",
    "\n",
    "  ",
    "\ufeff",
    "\x00",
    "\x85",
    "\u2028",
    "16:00",
    "0x1F",
    "0o17",
    "1_000",
    ".inf",
    "~",
    "yes",
    "2026-12-01",
    "9" * 30,
    "ｱ",
    "秋葉原",
]


@settings(max_examples=settings.default.max_examples * 10)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.lists(st.sampled_from(TOKENS), max_size=40).map(lambda t: "".join(t).encode("utf-8")),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
)
def test_any_bytes_validate_to_placed_diagnostics(data):
    with tempfile.TemporaryDirectory(prefix="ainas-fuzz-") as name:
        path = Path(name) / "m.yaml"
        path.write_bytes(data)
        document, problem = load_file(path)
        assert (document is None) != (problem is None)
        validation = validate(path, env={})
        for diagnostic in validation.errors:
            assert diagnostic.mark is not None and diagnostic.mark.line >= 1, diagnostic


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for position, length, replacement in edits:
        at = position % (len(data) + 1)
        data = data[:at] + replacement + data[at + length :]
    return data


@settings(max_examples=settings.default.max_examples * 5)
@given(
    manifests(min_sites=1, min_users=1),
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 3),
            st.one_of(
                st.binary(max_size=3), st.sampled_from([b"&a ", b"*a", b"<<: ", b"!!", b"\n  "])
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["sites.yaml", "users.yaml", "organization.yaml"]),
)
def test_mutated_manifests_validate_to_placed_diagnostics(manifest, edits, victim):
    with tempfile.TemporaryDirectory(prefix="ainas-fuzz-") as name:
        directory = write_manifests(manifest, Path(name) / "manifests")
        path = directory / victim
        path.write_bytes(mutate(path.read_bytes(), edits))
        validation = validate(directory, env={})
        for diagnostic in validation.errors:
            assert diagnostic.mark is not None and diagnostic.mark.line >= 1, diagnostic


@settings(max_examples=settings.default.max_examples * 5)
@given(st.sampled_from(["rows.csv", "data.json", "data.yaml"]), st.binary(max_size=300))
def test_any_data_file_is_a_diagnostic_or_variables(name, data):
    with tempfile.TemporaryDirectory(prefix="ainas-fuzz-") as directory:
        path = Path(directory) / name
        path.write_bytes(data)
        variables, problems = load_variables([parse_vars_option(f"data={path}")])
        assert isinstance(variables["data"], Unavailable) == bool(problems)
        for problem in problems:
            assert problem.mark is not None and problem.mark.line >= 1, problem

"""The cache of parsed manifest files: hits and misses counted, the same results either way,
safe to delete or damage, off with --no-cache, and never a secret value in it (canaries)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ainas_provision.manifest import cache as cache_module
from ainas_provision.manifest.cache import ManifestCache, default_directory
from ainas_provision.validation.engine import validate
from tests.conftest import REPO, copy_example
from tests.helpers import run

CANARY_PLAIN = "Canary-Plain-9Wx3!"
CANARY_ENV = "Canary-Env-4Hq8!"


def fullwidth(i: int) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in str(i))


def make_tree(root: Path, sites: int = 6) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "organization.yaml").write_text(
        'version: 1\norganization: {id: "1", name: 代理人A, short_name: 代理人A}\n', "utf-8"
    )
    for i in range(sites):
        (root / f"site{i}.yaml").write_text(
            f"version: 1\nsites:\n  s{i}:\n    name: 営業所{fullwidth(i)}\n"
            f"    short_name: 営業所{fullwidth(i)}\n",
            encoding="utf-8",
        )
    (root / "users.yaml").write_text(
        "version: 1\nusers:\n"
        + "".join(
            f"  user{i:03d}:\n    name: 利用者\n    role: 担当者(送信可)\n    site: s{i % sites}\n"
            f"    initial_password: {{env: USER_PASSWORD}}\n"
            for i in range(20)
        ),
        encoding="utf-8",
    )
    return root


ENV = {"USER_PASSWORD": "Pass-word-01"}


def lines(result) -> list[str]:
    return [str(d) for d in result.diagnostics]


def test_a_second_run_reads_every_unchanged_file_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tree = make_tree(Path("m"))
    first = ManifestCache(tmp_path / "cache")
    cold = validate(tree, env=ENV, cache=first)
    assert cold.ok, lines(cold)
    assert (first.counts.hits, first.counts.misses, first.counts.writes) == (0, 8, 8)

    warm_cache = ManifestCache(tmp_path / "cache")
    warm = validate(tree, env=ENV, cache=warm_cache)
    assert (warm_cache.counts.hits, warm_cache.counts.misses, warm_cache.counts.writes) == (8, 0, 0)
    assert warm.merged == cold.merged
    assert [d.display for d in warm.documents] == [d.display for d in cold.documents]

    # one file changes: only it is parsed again
    (tree / "site3.yaml").write_text(
        f"version: 1\nsites:\n  s3:\n    name: 新営業所\n    short_name: 営業所{fullwidth(3)}\n",
        encoding="utf-8",
    )
    third = ManifestCache(tmp_path / "cache")
    changed = validate(tree, env=ENV, cache=third)
    assert (third.counts.hits, third.counts.misses, third.counts.writes) == (7, 1, 1)
    assert changed.merged["sites"]["s3"]["name"] == "新営業所"


def test_marks_from_the_cache_are_the_marks_of_the_file(tmp_path, monkeypatch):
    """Cross-file problems in cached (valid) files are reported at the same places."""
    monkeypatch.chdir(tmp_path)
    tree = make_tree(Path("m"))
    # the same site defined twice, and a user of a site that does not exist: both files valid
    shutil.copy(tree / "site2.yaml", tree / "site2-again.yaml")
    (tree / "more-users.yaml").write_text(
        "version: 1\nusers:\n  late001:\n    name: 利用者\n    role: 担当者(送信可)\n"
        "    site: nowhere\n    initial_password: {env: USER_PASSWORD}\n",
        encoding="utf-8",
    )
    without = validate(tree, env=ENV, cache=False)
    assert {d.rule for d in without.errors} >= {"duplicate-definition", "site-reference"}
    cold = validate(tree, env=ENV, cache=ManifestCache(tmp_path / "cache"))
    warm_cache = ManifestCache(tmp_path / "cache")
    warm = validate(tree, env=ENV, cache=warm_cache)
    assert warm_cache.counts.hits == 10
    assert lines(without) == lines(cold) == lines(warm)


@pytest.mark.parametrize("name", ["duplicate-definition", "site-reference", "schema.yaml"])
def test_broken_fixtures_report_the_same_from_the_cache(name, in_repo, tmp_path):
    path = Path("tests/fixtures/broken") / name
    if not path.exists():
        path = path.with_suffix(".yaml")
    expected = lines(validate(path, cache=False))
    validate(path, cache=ManifestCache(tmp_path / "cache"))
    again = ManifestCache(tmp_path / "cache")
    assert lines(validate(path, cache=again)) == expected


def test_a_file_with_a_problem_is_never_cached(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tree = make_tree(Path("m"))
    (tree / "broken.yaml").write_text(
        'version: 1\norganization: {id: "1", nmae: x}\n', encoding="utf-8"
    )
    (tree / "syntax.yaml").write_text("version: 1\nsites: [\n", encoding="utf-8")
    for _ in range(2):
        cache = ManifestCache(tmp_path / "cache")
        result = validate(tree, env=ENV, cache=cache)
        assert {"unknown-key", "yaml-syntax"} <= {d.rule for d in result.errors}
    assert cache.counts.hits == 8  # the valid files
    assert cache.counts.misses == 2  # broken.yaml and syntax.yaml: looked up, parsed again
    assert cache.counts.writes == 0


def test_the_key_holds_the_tool_version_and_the_schema(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tree = make_tree(Path("m"))
    validate(tree, env=ENV, cache=ManifestCache(tmp_path / "cache"))
    monkeypatch.setattr(cache_module, "__version__", "99.0.0")
    other_version = ManifestCache(tmp_path / "cache")
    validate(tree, env=ENV, cache=other_version)
    assert (other_version.counts.hits, other_version.counts.misses) == (0, 8)
    before = ManifestCache(tmp_path / "cache").key(b"version: 1\n", "a.yaml")
    from ainas_provision import schema

    monkeypatch.setattr(schema, "schema_text", lambda: '{"changed": true}')
    assert ManifestCache(tmp_path / "cache").key(b"version: 1\n", "a.yaml") != before


def packs(directory: Path) -> list[Path]:
    """The packs of parsed files (beside them: the entries of validated trees)."""
    return sorted(p for p in directory.rglob("*.pack") if p.is_file())


def test_deleting_or_damaging_the_cache_is_safe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tree = make_tree(Path("m"))
    expected = validate(tree, env=ENV, cache=False)
    validate(tree, env=ENV, cache=ManifestCache(tmp_path / "cache"))
    (pack,) = packs(tmp_path / "cache")
    whole = pack.read_bytes()
    for damage in (b"\x00garbage", whole[: len(whole) // 2], b""):
        pack.write_bytes(damage)  # damaged, or cut short by a crash
        damaged = ManifestCache(tmp_path / "cache")
        result = validate(tree, env=ENV, cache=damaged)
        assert (damaged.counts.hits, damaged.counts.misses, damaged.counts.writes) == (0, 8, 8)
        assert result.merged == expected.merged and lines(result) == lines(expected)
        assert pack.read_bytes() == whole  # rewritten whole
    shutil.rmtree(tmp_path / "cache")
    again = ManifestCache(tmp_path / "cache")
    assert lines(validate(tree, env=ENV, cache=again)) == lines(expected)
    assert again.counts.writes == 8


def test_entries_of_changed_or_removed_files_drop_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tree = make_tree(Path("m"))
    validate(tree, env=ENV, cache=ManifestCache(tmp_path / "cache"))
    size = packs(tmp_path / "cache")[0].stat().st_size
    (tree / "users.yaml").unlink()
    (tree / "site0.yaml").write_text("version: 1\n", encoding="utf-8")
    cache = ManifestCache(tmp_path / "cache")
    validate(tree, env=ENV, cache=cache)
    assert (cache.counts.hits, cache.counts.misses, cache.counts.writes) == (6, 1, 1)
    (pack,) = packs(tmp_path / "cache")
    assert pack.stat().st_size < size
    unchanged = ManifestCache(tmp_path / "cache")
    validate(tree, env=ENV, cache=unchanged)
    assert (unchanged.counts.hits, unchanged.counts.misses) == (7, 0)
    assert pack.stat().st_mtime_ns == packs(tmp_path / "cache")[0].stat().st_mtime_ns


def test_no_cache_reads_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_tree(Path("m"))
    monkeypatch.setenv("AINAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("USER_PASSWORD", "Pass-word-01")
    result = run("validate", "m", "--no-cache")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "cache").exists()
    result = run("validate", "m")  # --no-cache held for its own command only
    assert result.exit_code == 0, result.output
    assert len(packs(tmp_path / "cache")) == 1
    for command in ("plan", "apply", "render"):
        assert "--no-cache" in run(command, "--help").output


def test_the_cache_lives_where_documented(monkeypatch, tmp_path):
    monkeypatch.delenv("AINAS_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_directory() == Path.home() / ".cache" / "ainas-provision"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "ainas-provision"
    monkeypatch.setenv("AINAS_CACHE_DIR", str(tmp_path / "mine"))
    assert default_directory() == tmp_path / "mine"
    assert default_directory({"LOCALAPPDATA": "C:/x"}) != Path("C:/x")  # posix: not used here


def test_the_cache_never_holds_a_secret_value(tmp_path, monkeypatch):
    """Canaries: a secret written in plain text (allowed by the policy), one from the
    environment and one from a file. The plain-text file is never cached; the others are,
    holding only their references. Through the real commands, plan and apply included."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    text = (path / "ainas.yaml").read_text(encoding="utf-8")
    text = text.replace("{file: secrets/dairi001-password.txt}", f'"{CANARY_PLAIN}"')
    text = text.replace("  prune: false\n", "  prune: false\n  allow_plaintext_secrets: true\n")
    assert CANARY_PLAIN in text and "allow_plaintext_secrets" in text
    (path / "ainas.yaml").write_text(text, encoding="utf-8")
    file_canary = (path / "secrets" / "dairi002-password.txt").read_text().strip()
    # another file: a user whose password comes from the environment (cacheable)
    (path / "more-users.yaml").write_text(
        "version: 1\nusers:\n  dairi003:\n    name: 利活用 次郎\n    role: 担当者(送信可)\n"
        "    site: akihabara\n    initial_password: {env: CANARY_ENV}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CANARY_ENV", CANARY_ENV)
    monkeypatch.setenv("AINAS_CACHE_DIR", str(tmp_path / "cache"))
    for args in (
        ["validate", "quickstart"],
        ["validate", "quickstart"],
        ["plan", "quickstart"],
        ["apply", "quickstart", "--auto-approve"],
        ["render", "quickstart"],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
    (pack,) = packs(tmp_path / "cache")
    data = pack.read_bytes()
    assert b"dairi003" in data  # more-users.yaml is cached
    assert b"dairi001" not in data  # ainas.yaml holds a plain-text secret: not cached
    for canary in (CANARY_PLAIN, CANARY_ENV, file_canary):
        assert canary.encode() not in data
    # no other file of the cache holds one (a tree with a plain-text secret is not kept whole)
    for file in (tmp_path / "cache").rglob("*"):
        if file.is_file():
            for canary in (CANARY_PLAIN, CANARY_ENV, file_canary):
                assert canary.encode() not in file.read_bytes(), file
    # and the refusal is counted
    cache = ManifestCache(tmp_path / "cache")
    validate(path, env={"CANARY_ENV": CANARY_ENV}, cache=cache)
    assert cache.counts.refused == 1 and cache.counts.hits == 1


def test_the_quickstart_without_plaintext_secrets_is_cached_holding_references(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(REPO)
    cache = ManifestCache(tmp_path / "cache")
    validate(Path("examples/quickstart"), cache=cache)
    assert cache.counts.writes == 1
    (pack,) = packs(tmp_path / "cache")
    assert b"secrets/cert-pin.txt" in pack.read_bytes()


def test_a_run_keeps_the_desired_state_not_the_parsed_documents(tmp_path, monkeypatch):
    """After the desired state is built, a plan or apply holds no parsed document nor merged
    tree (their places are most of a large manifest's memory); the desired state holds what
    they said, and the warnings stay."""
    from ainas_provision.workflow.run import load_desired

    monkeypatch.setenv("AINAS_CACHE_DIR", str(tmp_path / "cache"))
    path = copy_example("quickstart", tmp_path / "quickstart")
    full = validate(path, cache=False)
    validation, desired = load_desired(path, os.environ)
    assert validation.documents == [] and validation.merged is None and validation.origin == {}
    # nothing else holds on to a part of the tree either (the secret fields' places did)
    assert not _holds_a_parsed_document(validation)
    assert validation.diagnostics == full.diagnostics
    assert set(desired.users) == set(full.merged["users"])
    assert desired.organization_id == str(full.merged["organization"]["id"])


def _holds_a_parsed_document(root: object) -> bool:
    """Whether a part of a parsed manifest (a mapping or list with its places) is reachable
    from ``root`` (not through modules, classes or functions: what every object reaches)."""
    import gc
    import types

    from ainas_provision.manifest.marks import MarkedList, MarkedMap

    seen: set[int] = set()
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(
            item, type | types.ModuleType | types.FunctionType | types.MethodType
        ):
            continue
        seen.add(id(item))
        if isinstance(item, MarkedMap | MarkedList):
            return True
        stack.extend(gc.get_referents(item))
    return False


def test_source_text_and_places_of_values_survive_the_cache(tmp_path, monkeypatch):
    """What YAML did not read as text keeps its source text (``false``, ``"no"`` stays text),
    and every key and value its place, whether parsed or read from the cache."""
    from ainas_provision.manifest.marks import key_mark_of, mark_of, raw_of

    monkeypatch.chdir(tmp_path)
    tree = make_tree(Path("m"))
    with (tree / "organization.yaml").open("a", encoding="utf-8") as out:
        out.write("policy:\n  prune: false\n  max_deletes: 7\n")
    cold = validate(tree, env=ENV, cache=ManifestCache(tmp_path / "cache"))
    warm_cache = ManifestCache(tmp_path / "cache")
    warm = validate(tree, env=ENV, cache=warm_cache)
    assert cold.ok and warm_cache.counts.hits == 8
    for result in (cold, warm):
        policy = result.merged["policy"]
        assert (raw_of(policy, "prune"), raw_of(policy, "max_deletes")) == ("false", "7")
        assert raw_of(result.merged["users"]["user003"], "name") is None  # text: none kept
        user = result.merged["users"]["user003"]
        assert str(key_mark_of(user, "site")) == "m/users.yaml:21:5"
        assert str(mark_of(user, "site")) == "m/users.yaml:21:11"
        assert str(mark_of(user["initial_password"], "env")) == "m/users.yaml:22:29"

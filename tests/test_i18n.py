"""Messages in Japanese: the catalog covers every message, the language is chosen as documented,
and the commands speak Japanese with the same places, rule IDs and JSON keys as in English."""

from __future__ import annotations

import gettext
import json
import re
import subprocess
import sys

import click
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from click.testing import CliRunner

from ainas_provision import i18n
from ainas_provision.cli.main import cli
from tests.conftest import FIXTURES, REPO, copy_example
from tests.helpers import run

PO = REPO / "ainas_provision" / "locale" / "ja" / "LC_MESSAGES" / "ainas_provision.po"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def catalog():
    with PO.open("rb") as handle:
        return read_po(handle, locale="ja")


def extracted() -> set:
    """Every message the code marks, as Babel extracts it (the README's extract command)."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(REPO / "ainas_provision"), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_message_of_the_code_has_a_japanese_translation():
    po = catalog()
    translated = {}
    for message in po:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else tuple(message.id)
        assert not message.fuzzy, f"fuzzy translation of {key!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"no translation of {key!r}"
        translated[key] = strings
    missing = sorted(map(str, extracted() - set(translated)))
    assert not missing, "messages without a translation (pybabel extract + update):\n" + "\n".join(
        missing
    )


def test_translations_keep_the_placeholders():
    for message in catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, (ids[0], string)


def test_the_compiled_catalog_is_the_po_file():
    """The .mo installed with the package says what the .po says (pybabel compile was run)."""
    with (PO.with_suffix(".mo")).open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in catalog():
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            assert compiled.ngettext(*message.id, 1) == message.string[0], message.id
        else:
            assert compiled.gettext(message.id) == message.string, message.id


@pytest.mark.parametrize(
    ("option", "env", "expected"),
    [
        (None, {}, "en"),
        (None, {"LANG": "ja_JP.UTF-8"}, "ja"),
        (None, {"LANG": "en_US.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8"}, "ja"),
        (None, {"LC_ALL": "C.UTF-8", "LANG": "ja_JP.UTF-8"}, "en"),  # LC_ALL wins, as in POSIX
        (None, {"AINAS_LANG": "ja", "LC_ALL": "C"}, "ja"),
        ("en", {"AINAS_LANG": "ja"}, "en"),
        ("ja", {}, "ja"),
    ],
)
def test_the_language_is_chosen_as_documented(option, env, expected):
    assert i18n.choose(option, env) == expected


def test_validate_speaks_japanese_with_the_same_places_and_rules(in_repo, monkeypatch):
    broken = FIXTURES / "broken"
    english = run("validate", str(broken / "fullwidth.yaml"))
    monkeypatch.setenv("AINAS_LANG", "ja")
    japanese = run("validate", str(broken / "fullwidth.yaml"))
    assert english.exit_code == japanese.exit_code == 1
    place = re.compile(r"^(\S+:\d+:\d+): \S+: .* (\[[a-z-]+\]) \((\S+)\)$")
    en_lines = [place.match(line).groups() for line in english.stderr.splitlines()[:-1]]
    ja_lines = [place.match(line).groups() for line in japanese.stderr.splitlines()[:-1]]
    assert en_lines == ja_lines and en_lines
    assert "エラー: " in japanese.stderr and "全角で入力してください" in japanese.stderr
    assert japanese.stderr.splitlines()[-1].startswith("誤りがあります: 1ファイル中、エラー ")


def test_json_output_keeps_its_keys_and_rule_ids_in_japanese(in_repo, monkeypatch):
    path = str(FIXTURES / "broken" / "fullwidth.yaml")
    english = json.loads(run("validate", path, "--format", "json").stdout)
    monkeypatch.setenv("AINAS_LANG", "ja")
    japanese = json.loads(run("validate", path, "--format", "json").stdout)
    assert english.keys() == japanese.keys()
    for en, ja in zip(english["diagnostics"], japanese["diagnostics"], strict=True):
        assert {k: v for k, v in en.items() if k != "message"} == {
            k: v for k, v in ja.items() if k != "message"
        }
        assert en["message"] != ja["message"]


def test_plan_apply_and_an_error_in_japanese(tmp_path, monkeypatch):
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    monkeypatch.setenv("AINAS_LANG", "ja")
    planned = run("plan", str(path))
    assert planned.exit_code == 0, planned.stderr
    assert "ainas-provision は" in planned.stdout and "計画: 登録 " in planned.stdout
    refused = run("apply", str(path))  # changes, and no terminal to ask on
    assert refused.exit_code == 1
    assert "エラー: apply は確認を求めますが" in refused.stderr
    applied = run("apply", str(path), "--auto-approve")
    assert applied.exit_code == 0, applied.stderr
    assert "適用が完了しました" in applied.stdout
    again = run("plan", str(path), "--detailed-exitcode")
    assert again.exit_code == 0 and "変更はありません" in again.stdout


def test_lang_option_and_help_from_a_fresh_process():
    """`--lang ja --help` through the installed entry point: the summaries are Japanese."""
    result = subprocess.run(
        [sys.executable, "-m", "ainas_provision", "--lang", "ja", "--help"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={"PATH": "/usr/bin:/bin", "AINAS_LANG": "en", "PYTHONIOENCODING": "utf-8"},
        check=True,
    )
    assert "マニフェストを検査します" in result.stdout
    assert "--lang [en|ja]" in result.stdout


def glossary() -> list[tuple[str, str]]:
    text = (REPO / "ainas_provision" / "locale" / "glossary.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([a-z][a-z -]*[a-z]) \| (\S+) \|$", text, re.M)
    assert len(rows) >= 15
    return rows


def test_translations_use_the_glossary_terms():
    """A message whose English names a glossary term says it in the glossary's Japanese (a
    command name or option in backticks, a placeholder or a dotted address such as site.HANDLE is
    not a term)."""
    for message in catalog():
        if not message.id:
            continue
        english = (message.id if isinstance(message.id, str) else message.id[0]).lower()
        english = re.sub(r"\{\w*\}", "X", english)  # site.{handle} is an address too
        english = re.sub(r"`[^`]*`|--[\w-]+|\b\w+(?:\.[\w-]+)+", "", english)
        japanese = message.string if isinstance(message.string, str) else message.string[0]
        # the longer term first: a "site manager" is a 拠点管理者, not a site
        for term, term_ja in sorted(glossary(), key=lambda row: -len(row[0])):
            pattern = rf"\b{re.escape(term)}s?\b"
            if re.search(pattern, english):
                assert term_ja in japanese, f"{message.id!r}: '{term}' is {term_ja}: {japanese}"
                english = re.sub(pattern, "", english)


def _commands(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    """Every command of the tree, with the words that invoke it."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx), (*path, name))


def test_every_help_text_of_every_command_has_a_japanese_translation():
    """The help, short help and option help of every command and subcommand (the next option
    added without N_(), or a command whose help is not in the catalog, fails here)."""
    translated = {m.id: m.string for m in catalog() if m.id and isinstance(m.id, str)}
    i18n.set_language("en")
    texts = {("ainas-provision",): [cli.help] + [p.help for p in cli.params if p.help]}
    for words, command in _commands(cli, click.Context(cli)):
        texts[words] = [command.help, command.short_help] + [
            param.help for param in command.params if isinstance(param, click.Option)
        ]
    assert len(texts) > 20  # the subcommands of state, sandbox, certs and secrets included
    missing = [
        f"{' '.join(words)}: {text!r}"
        for words, strings in texts.items()
        for text in strings
        if text and not translated.get(text)
    ]
    assert not missing, "help without a Japanese translation (wrap it in N_()):\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize(
    "words", [["state", "unlock"], ["sandbox", "serve"], ["secrets"], ["apply"]]
)
def test_help_of_a_subcommand_in_japanese(words):
    result = CliRunner().invoke(cli, ["--lang", "ja", *words, "--help"], terminal_width=2000)
    i18n.set_language("en")
    assert result.exit_code == 0, result.output
    assert "使い方:" in result.output and "オプション:" in result.output
    assert "このヘルプを表示して終了します。" in result.output
    # every line that says something is Japanese, bar a name, a metavar or an example
    for line in result.output.splitlines()[1:]:
        words_of_line = re.findall(r"[A-Za-z]{4,}", re.sub(r"--[\w-]+|\S*[/:.=$_]\S*", "", line))
        assert (
            not line.strip() or re.search(r"[ぁ-んァ-ヶ一-龠]", line) or len(words_of_line) < 2
        ), line


def test_usage_errors_in_japanese():
    result = CliRunner().invoke(cli, ["--lang", "ja", "plan", "--bogus"])
    i18n.set_language("en")
    assert result.exit_code == 1
    assert "エラー: オプション '--bogus' はありません。" in result.output


def test_refusals_in_japanese(tmp_path, monkeypatch):
    """The workflow's and the state commands' refusals, under AINAS_LANG=ja."""
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AINAS_LANG", "ja")
    unknown = run("plan", "quickstart", "--site", "nosuch")
    assert unknown.exit_code == 1
    error = unknown.stderr.splitlines()[-1]
    assert error.startswith(
        "エラー: --site nosuch: マニフェストにこのハンドル名の代理人拠点はありません（代理人拠点: "
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    shown = run("state", "show", "empty")
    assert shown.exit_code == 1 and "にステートはありません" in shown.stderr
    assert run("state", "unlock", "quickstart").stdout.endswith(": ロックされていません\n")
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    moved = run("state", "mv", "site.akihabara", "site.nosuch", "quickstart")
    assert moved.exit_code == 0, moved.stderr
    assert "AINAS は変わっていません" in moved.stdout
    removed = run("state", "rm", "site.nosuch", "quickstart")
    assert "を外しました（シリアル " in removed.stdout
    assert not re.search(r"\b(is|are|the|cannot|not)\b", error + shown.stderr)

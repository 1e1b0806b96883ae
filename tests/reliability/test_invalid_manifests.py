"""Generated invalid manifests: validation reports the mistake at its line, and never raises.

Each example is a valid generated manifest with one mistake of the kinds the AINAS start guide
warns about (a half-width character in a full-width field, hiragana in a katakana field, a bad
time, an admin login ID with 0, 1 or 9, a short password…) or a plain manifest mistake (an
unknown key, a wrong type, a missing required key, a site that does not exist). The library's
``validate()`` must report at least that rule, as an error placed on a line of the file; a few
go through the CLI as well.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ainas_provision.validation.engine import validate
from tests.helpers import run
from tests.reliability.strategies import (
    SITE_MANAGER,
    STAFF,
    SecretValue,
    manifests,
    passwords,
    write_manifests,
)

Mutation = Callable[[dict, st.DataObject], str]  # changes the manifest; returns the rule


def _site(manifest: dict, data: st.DataObject) -> dict:
    return manifest["sites"][data.draw(st.sampled_from(sorted(manifest["sites"])))]


def _user(manifest: dict, data: st.DataObject, roles=(SITE_MANAGER, *STAFF)) -> dict:
    user = manifest["users"][data.draw(st.sampled_from(sorted(manifest["users"])))]
    user["role"] = data.draw(st.sampled_from(roles))
    return user


def _insert(data: st.DataObject, value: str, bad: st.SearchStrategy[str]) -> str:
    at = data.draw(st.integers(0, len(value)))
    return value[:at] + data.draw(bad) + value[at:]


def halfwidth_in_fullwidth(manifest, data) -> str:
    site = _site(manifest, data)
    field = data.draw(st.sampled_from(["name", "short_name"]))
    site[field] = _insert(data, site[field], st.sampled_from(["A", "1", " ", "-", "ｱ", "(", "ｰ"]))
    return "fullwidth"


def hiragana_in_katakana(manifest, data) -> str:
    manifest["certificate"] = {
        "type": "行政書士電子証明書",
        "file": "certs/agent.p12",
        "password": SecretValue("pin-4821", "plain"),
        "trade_name_kana": _insert(data, "ダイリニン", st.sampled_from(["に", "え", "ぁ", "ゔ"])),
        "representative_name_kana": "マルマル\u3000マルマル",
        "postal_code": "123-4567",
        "start_date": "2026-12-01",
    }
    return "katakana"


def bad_time(manifest, data) -> str:
    site = _site(manifest, data)
    section = site.setdefault("registered", {"certificate_manager_name": "利活用\u3000一郎"})
    section["review_deadline"] = data.draw(
        st.sampled_from(["24:00", "9:00", "16:60", "１６:００", "16時", "16:00:00", "ー"])
    )
    return "time"


def unknown_key(manifest, data) -> str:
    where = data.draw(st.sampled_from(["site", "organization", "user", "top"]))
    key = data.draw(st.sampled_from(["nmae", "shortname", "Code", "comment"]))
    if where == "site":
        _site(manifest, data)[key] = "x"
    elif where == "user":
        _user(manifest, data)[key] = "x"
    else:
        (manifest["organization"] if where == "organization" else manifest)[key] = "x"
    return "unknown-key"


def wrong_type(manifest, data) -> str:
    kind = data.draw(st.sampled_from(["max_deletes", "code", "selectable", "name", "sites"]))
    if kind == "max_deletes":
        manifest["policy"]["max_deletes"] = data.draw(st.sampled_from(["ten", "1000", [1]]))
    elif kind == "code":
        _site(manifest, data)["code"] = data.draw(st.integers(0, 10**6))
    elif kind == "selectable":
        site = _site(manifest, data)
        site.setdefault("kei", {"certificate_manager_name": "利活用\u3000一郎"})
        site["kei"]["client_receipt_selectable"] = data.draw(st.sampled_from(["yes", "設定可", 1]))
    elif kind == "name":
        _user(manifest, data)["name"] = data.draw(st.sampled_from([["利活用"], 12, {"a": 1}]))
    else:
        manifest["sites"] = [dict(site) for site in manifest["sites"].values()]
        manifest["users"] = {}
    return "type"


def missing_required(manifest, data) -> str:
    if data.draw(st.booleans()):
        del _site(manifest, data)[data.draw(st.sampled_from(["name", "short_name"]))]
    else:
        del _user(manifest, data)[data.draw(st.sampled_from(["name", "role", "site"]))]
    return "required"


def dangling_site(manifest, data) -> str:
    _user(manifest, data)["site"] = data.draw(st.sampled_from(["nowhere", "akihabra", "Kanda"]))
    return "site-reference"


def admin_login_id(manifest, data) -> str:
    login = _insert(data, "abcd", st.sampled_from(["0", "1", "9"]))
    manifest["admins"] = {login: {"name": "利活用一郎"}}
    return "admin-login-id"


def short_password(manifest, data) -> str:
    user = _user(manifest, data)
    weak = data.draw(
        st.sampled_from(["Ab1!", "abcdefgh", "ABCD1234", "パスワード12Ab", "Abc 12345"])
    )
    user["initial_password"] = SecretValue(weak, user["initial_password"].form)
    return "password"


def staff_only_on_a_manager(manifest, data) -> str:
    user = _user(manifest, data, roles=(SITE_MANAGER,))
    user[data.draw(st.sampled_from(["default_destination", "kei_default_destination"]))] = [
        "東京都",
        "練馬",
    ]
    return "staff-only"


def fullwidth_in_an_id(manifest, data) -> str:
    site = _site(manifest, data)
    section = site.setdefault("kei", {"certificate_manager_name": "利活用\u3000一郎"})
    section["batch_account"] = {
        "payment_user_id": "KN123456",
        "batch_user_id": _insert(data, "KI1234", st.sampled_from(["Ａ", "１", "ー"])),
        "batch_password": SecretValue(data.draw(passwords()), "plain"),
        "arrival_number_password": SecretValue(data.draw(passwords()), "plain"),
        "payment_method_fees": "ダイレクト納付",
        "payment_method_kei_tax": "ダイレクト納付",
    }
    return "halfwidth-id"


def plaintext_secret(manifest, data) -> str:
    manifest["policy"]["allow_plaintext_secrets"] = False
    user = _user(manifest, data)
    user["initial_password"] = SecretValue(user["initial_password"].value, "plain")
    return "secret-plaintext"


MUTATIONS: list[Mutation] = [
    halfwidth_in_fullwidth,
    hiragana_in_katakana,
    bad_time,
    unknown_key,
    wrong_type,
    missing_required,
    dangling_site,
    admin_login_id,
    short_password,
    staff_only_on_a_manager,
    fullwidth_in_an_id,
    plaintext_secret,
]


def assert_placed(diagnostics, directory: Path) -> None:
    """Every error names a file of the manifests and a line inside it."""
    for diagnostic in diagnostics:
        assert diagnostic.mark is not None, diagnostic
        path = Path(diagnostic.mark.file)
        assert path.resolve().parent == directory.resolve(), diagnostic
        lines = path.read_text(encoding="utf-8").count("\n") + 1
        assert 1 <= diagnostic.mark.line <= lines, diagnostic
        assert diagnostic.mark.col >= 1, diagnostic


@settings(max_examples=settings.default.max_examples * 5)
@given(
    manifests(min_sites=1, min_users=1),
    st.sampled_from(MUTATIONS),
    st.data(),
)
def test_a_mistake_is_reported_at_its_line_and_nothing_raises(manifest, mutation, data):
    rule = mutation(manifest, data)
    with tempfile.TemporaryDirectory(prefix="ainas-invalid-") as name:
        directory = write_manifests(manifest, Path(name) / "manifests")
        validation = validate(directory, env={})
        assert not validation.ok
        assert rule in {d.rule for d in validation.errors}, [str(d) for d in validation.errors]
        assert_placed(validation.errors, directory)


@settings(max_examples=max(5, settings.default.max_examples // 2))
@given(manifests(min_sites=1, min_users=1), st.sampled_from(MUTATIONS), st.data())
def test_the_cli_reports_the_mistake_with_file_line_and_rule(manifest, mutation, data):
    rule = mutation(manifest, data)
    with tempfile.TemporaryDirectory(prefix="ainas-invalid-") as name:
        directory = write_manifests(manifest, Path(name) / "manifests")
        result = run("validate", str(directory))
        assert result.exit_code == 1
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if f"[{rule}]" in line]
        assert lines, result.stderr
        place = lines[0].split(": error: ")[0]
        file, line, col = place.rsplit(":", 2)
        assert file.endswith(".yaml") and int(line) >= 1 and int(col) >= 1, lines[0]

"""Choosing the browser, preparing the client certificate, naming the missing extra."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import pytest

from ainas_provision import i18n
from ainas_provision.certs import pki
from ainas_provision.errors import AinasProvisionError
from ainas_provision.targets.browser import _missing_option, parse_target
from ainas_provision.targets.browser.launch import (
    client_certificate_bytes,
    launch_options,
    playwright_api,
)
from ainas_provision.targets.registry import resolve
from tests.conftest import copy_example
from tests.helpers import run


def test_windows_uses_the_installed_edge():
    assert launch_options({}, platform="win32") == {"headless": True, "channel": "msedge"}


def test_linux_uses_debians_headless_shell_or_chromium():
    options = launch_options({}, platform="linux")
    assert options["executable_path"].startswith("/usr/lib/chromium")
    assert os.access(options["executable_path"], os.X_OK)


def test_ainas_browser_names_a_channel_or_a_file(tmp_path):
    assert launch_options({"AINAS_BROWSER": "chrome"}, platform="linux")["channel"] == "chrome"
    binary = tmp_path / "my-chromium"
    binary.write_text("")
    options = launch_options({"AINAS_BROWSER": str(binary)}, platform="win32")
    assert options == {"headless": True, "executable_path": str(binary)}
    with pytest.raises(AinasProvisionError, match="AINAS_BROWSER is /no/such/browser"):
        launch_options({"AINAS_BROWSER": "/no/such/browser"})


def test_missing_playwright_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == "playwright" or name.startswith("playwright."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(AinasProvisionError, match=r"pip install 'ainas-provision\[browser\]'"):
        playwright_api()


def test_a_modern_pfx_is_passed_as_is_and_a_wrong_password_is_explained():
    ca = pki.make_ca("oss-ainasCA")
    data = pki.export_pfx(pki.issue_client_cert(ca), "right-pass-1")
    assert client_certificate_bytes(data, "right-pass-1", "x.pfx") == data
    legacy_like = b"not a pfx"
    with pytest.raises(AinasProvisionError, match=r"cannot open the client certificate x\.pfx"):
        client_certificate_bytes(legacy_like, "wrong", "x.pfx")


def test_target_scheme():
    target = resolve("browser+https://www.oss-ainas.jp/oss_agt", Path("."))
    assert target.kind == "browser"
    assert parse_target(target.location) == "https://www.oss-ainas.jp/oss_agt/"


def test_a_browser_refusal_in_english_and_in_japanese(tmp_path):
    """No client certificate: refused before any browser starts, in the run's language (the
    English as it always was), and the pull-down refusal of a form in Japanese."""
    manifests = copy_example("quickstart", tmp_path / "quickstart")
    target = "browser+https://127.0.0.1:9/oss_agt/"
    env = {"AINAS_CLIENT_CERT": None, "AINAS_LOGIN_ID": "abcde", "AINAS_PASSWORD": "99999999"}
    english = run("plan", str(manifests), "--target", target, env={**env, "AINAS_LANG": "en"})
    assert english.exit_code == 1
    assert english.stderr.splitlines()[-1] == (
        "error: no client certificate for https://127.0.0.1:9/oss_agt/: set AINAS_CLIENT_CERT to "
        "the agent's .pfx (クライアント証明書) and AINAS_CLIENT_CERT_PASSWORD to its password"
    )
    japanese = run("plan", str(manifests), "--target", target, env={**env, "AINAS_LANG": "ja"})
    assert japanese.exit_code == 1 and "Traceback" not in japanese.stderr
    assert japanese.stderr.splitlines()[-1] == (
        "エラー: https://127.0.0.1:9/oss_agt/ のクライアント証明書がありません。AINAS_CLIENT_CERT に"
        "代理人の .pfx（クライアント証明書）を、AINAS_CLIENT_CERT_PASSWORD にそのパスワードを設定"
        "してください"
    )
    try:
        i18n.set_language("ja")
        refusal = _missing_option("代理人拠点登録", "受付区分", "夜間", ["通常", "至急"])
        nothing = _missing_option("代理人拠点登録", "受付区分", "夜間", [])
    finally:
        i18n.set_language("en")
    assert refusal == (
        "代理人拠点登録: プルダウン 受付区分 に選択肢 '夜間' がありません（選択肢: 通常, 至急）。"
        "実際の画面にある場合は `ainas-provision probe --write-override FILE` を実行してください"
    )
    assert "（選択肢: なし）" in nothing
    assert _missing_option("代理人拠点登録", "受付区分", "夜間", []) == (
        "代理人拠点登録: the pull-down 受付区分 has no option '夜間' (it offers nothing); if the "
        "real screen offers it, run `ainas-provision probe --write-override FILE`"
    )

"""Choosing the browser, preparing the client certificate, naming the missing extra."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import pytest

from ainas_provision.certs import pki
from ainas_provision.errors import AinasProvisionError
from ainas_provision.targets.browser import parse_target
from ainas_provision.targets.browser.launch import (
    client_certificate_bytes,
    launch_options,
    playwright_api,
)
from ainas_provision.targets.registry import resolve


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

"""Chromium and Playwright for the tests that need a real browser (one shared place).

The browser is the system's Chromium — Debian's ``chromium-headless-shell`` (installed by
``tools/test-deps.sh``) or a full Chromium — driven by Playwright's Python API; Playwright's own
browser download is not used. Registered as a pytest plugin by ``tests/conftest.py``, so every
test module can ask for these fixtures:

- ``chromium_path``: the browser binary (the session fails, never skips, when there is none);
- ``playwright_instance`` and ``browser``: one Playwright and one browser per test module
  (module, not session: Playwright's synchronous API allows one instance per thread at a time,
  and code under test — the browser target — starts its own; a module that needs the driver
  to trust a test CA sets ``NODE_EXTRA_CA_CERTS`` in a module fixture that these depend on);
- ``browser_context``: a fresh context (cookies, storage) per test, closed after it;
- ``page``: a page in that context, with the page's console errors collected and asserted
  empty at the end (a script error in a page is a failing test).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium-headless-shell",
)


def find_chromium() -> str | None:
    """The Chromium to drive: ``AINAS_TEST_CHROMIUM``, else the first installed candidate."""
    named = os.environ.get("AINAS_TEST_CHROMIUM")
    if named:
        return named
    for candidate in CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium-headless-shell")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail(
            "no Chromium found: run `sh tools/test-deps.sh` (Debian's chromium-headless-shell), or "
            "set AINAS_TEST_CHROMIUM to a Chromium binary"
        )
    return path


@pytest.fixture(scope="module")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance, chromium_path):
    browser = playwright_instance.chromium.launch(executable_path=chromium_path)
    yield browser
    browser.close()


@pytest.fixture
def browser_context(browser):
    context = browser.new_context(viewport={"width": 760, "height": 1000}, locale="ja-JP")
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert not errors, f"script errors in the page: {errors}"

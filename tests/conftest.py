"""Shared test setup: no test reads the real environment or writes to the real home."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from ainas_provision import i18n
from ainas_provision.certs import pki

# Chromium and Playwright fixtures for the tests that need a real browser
pytest_plugins = ["tests.browser_support"]

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
EXAMPLES = REPO / "examples"

# what running the commands leaves beside manifests (see .gitignore): never part of an example
GENERATED = ("ainas.state.json*", "*.state.key", "*.sandbox.sqlite*", "plan.json", "rehearsal")


def copy_example(name: str, destination: Path) -> Path:
    """A copy of ``examples/NAME`` without what a run of the Quick start left in it, so that the
    tests pass in a checkout where the README's commands were run, before or after them."""
    return Path(
        shutil.copytree(EXAMPLES / name, destination, ignore=shutil.ignore_patterns(*GENERATED))
    )


# Hypothesis profiles: `ci` (the default) keeps the whole suite quick; `deep` is for a long run
# before a release: HYPOTHESIS_PROFILE=deep .venv/bin/pytest tests/reliability (see
# RELIABILITY.md). A test that sets max_examples itself scales it with settings.default.
settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """A fresh HOME, and no AINAS_* variables (secrets keys included) nor libpq's PG* variables
    from whoever runs the tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("AINAS_", "PG")):
            monkeypatch.delenv(name)
    # messages in English whatever the machine's locale; a test of Japanese sets AINAS_LANG=ja
    monkeypatch.setenv("AINAS_LANG", "en")
    yield
    i18n.set_language("en")  # a command run in Japanese leaves no trace for the next test


@pytest.fixture(scope="session")
def postgres_server(ca):
    """A real PostgreSQL server for the session (see tests/pg_server.py). Never skipped: without
    the server binaries the tests fail, saying how to install them."""
    from tests import pg_server

    try:
        server = pg_server.start_server(ca)
    except pg_server.ServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def pg_database(postgres_server, request) -> str:
    """A fresh database owned by the operators' role, named after the test."""
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    name = f"{name}_{next(_databases)}"
    return postgres_server.create_database(name)


_databases = itertools.count(1)


@pytest.fixture
def without_compiled_schema(monkeypatch):
    """As on a platform without the jsonschema-rs wheel: its import fails, the pure-Python
    validator decides as well as explains."""
    import sys

    from ainas_provision import schema

    monkeypatch.setitem(sys.modules, "jsonschema_rs", None)  # `import` raises ImportError
    schema.compiled_validator.cache_clear()
    assert not schema.compiled_available()
    yield
    schema.compiled_validator.cache_clear()


@pytest.fixture(params=["compiled", "pure-python"])
def schema_validators(request):
    """Runs a test once with the compiled validator deciding, once with the fallback."""
    if request.param == "pure-python":
        request.getfixturevalue("without_compiled_schema")
    else:
        from ainas_provision import schema

        assert schema.compiled_available(), "the jsonschema-rs wheel is a dependency"
    return request.param


@pytest.fixture
def in_repo(monkeypatch):
    """Run from the repository root, so that messages show repository-relative paths."""
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture(scope="session")
def ca() -> pki.Issued:
    return pki.make_ca("Test G-ID CA")


@pytest.fixture(scope="session")
def rsa_key():
    return pki.new_key("rsa")  # made once: RSA key generation is slow

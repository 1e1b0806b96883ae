from __future__ import annotations

import pytest

from ainas_provision import pki

SECRETS_ENV = ("AINAS_SECRETS_KEY", "AINAS_SECRETS_KEY_FILE")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test reads the developer's key or writes to their home directory."""
    for name in SECRETS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def ca() -> pki.Issued:
    return pki.make_ca("Test G-ID CA")


@pytest.fixture(scope="session")
def rsa_key():
    return pki.new_key("rsa")  # made once: RSA key generation is slow

"""The RC2-40 fixture (see fixtures/certs/README.md): cryptography's bundled OpenSSL loads its
legacy provider and reads RC2-40; without that provider the reader says what to do."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from ainas_provision.certs import pfx
from ainas_provision.certs.reader import read_p12
from ainas_provision.certs.types import SCRIVENER

FIXTURE = Path(__file__).parent / "fixtures" / "certs" / "scrivener-rc2-40.p12"
PASSWORD = "rc2-fixture-pin"


def test_fixture_is_rc2_40():
    assert pfx.inspect(FIXTURE.read_bytes()).ciphers == ("RC2-40",)
    assert pfx.inspect(FIXTURE.read_bytes()).legacy_ciphers == ("RC2-40",)


def test_reads_rc2_40():
    info = read_p12(FIXTURE.read_bytes(), PASSWORD, cert_type=SCRIVENER)
    assert info.trade_name == "旧形式事務所"
    assert info.representative_name == "試験　太郎"
    assert info.address == "大阪府大阪市北区梅田１丁目１−１"
    assert info.not_before == dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    assert info.not_after == dt.datetime(2045, 3, 31, 14, 59, 59, tzinfo=dt.UTC)
    assert info.expiry_date == dt.date(2045, 3, 31)
    assert info.serial_number == "6be2d7e55f95de0b961f3a617e6ae5f6e5e94a65"
    assert info.fingerprint_sha256 == (
        "14187ee46057819b8e4bb9681f011e6645f0e00b9ac8336297ab2a1bb42678ce"
    )
    assert info.issuer == "CN=Test G-ID CA"


SCRIPT = """
import json, sys
from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.reader import read_p12
try:
    read_p12(open(sys.argv[1], "rb").read(), sys.argv[2], cert_type="行政書士電子証明書")
except CertificateError as exc:
    print(json.dumps({"reason": exc.reason, "message": str(exc)}))
else:
    print(json.dumps({"reason": None}))
"""


def test_without_the_legacy_provider_the_error_says_so():
    # cryptography honours this variable by not loading OpenSSL's legacy provider, as on a
    # system whose OpenSSL lacks it; the same right password then fails
    env = {**os.environ, "CRYPTOGRAPHY_OPENSSL_NO_LEGACY": "1"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(FIXTURE), PASSWORD],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["reason"] == "password-or-encryption"
    assert "PIN/password is wrong" in result["message"]
    assert "RC2-40 needs OpenSSL's legacy provider" in result["message"]
    assert "re-export the file with AES" in result["message"]
    assert PASSWORD not in result["message"]

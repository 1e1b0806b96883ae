"""End to end: the signing certificate in plan and apply — typed fields, renewal."""

from __future__ import annotations

import datetime as dt

import pytest

from ainas_emulator.service import AinasSandbox
from ainas_provision.certs import pki
from ainas_provision.certs.types import SCRIVENER
from tests.conftest import copy_example
from tests.helpers import run

JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
def quickstart(tmp_path, monkeypatch):
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    monkeypatch.chdir(tmp_path)
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    return path


def certificates(path):
    sandbox = AinasSandbox(path / "ainas.sandbox.sqlite")
    try:
        admin = sandbox.first_admin("1")
        actor = admin.__class__(admin.login_id, "1", admin.role, None, False)
        return sandbox.list_certificates(actor)
    finally:
        sandbox.close()


def test_typed_fields_update_in_place_resending_the_password(quickstart):
    manifest = quickstart / "ainas.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            "postal_code: 123-4567", "postal_code: 101-0061"
        ),
        encoding="utf-8",
    )
    plan = run("plan", "quickstart")
    assert "  ~ certificate (代理人A): update in place" in plan.stdout
    assert '      ~ 郵便番号 (postal_code) = "123-4567" -> "101-0061"' in plan.stdout
    assert "      + 証明書パスワード (password) = (sensitive)" in plan.stdout
    assert (
        "AINAS requires the certificate password on every update: it is sent again" in plan.stdout
    )
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    listed = certificates(quickstart)
    assert len(listed) == 1 and listed[0]["postal_code"] == "101-0061"
    assert run("plan", "quickstart", "--detailed-exitcode").exit_code == 0


def test_a_new_file_is_a_renewal_with_both_expiry_dates(quickstart):
    renewed = pki.make_signing_certificate(
        SCRIVENER,
        trade_name="代理人A",
        representative_name="〇〇　〇〇",
        address="東京都千代田区三崎町2丁目15-6",
        not_before=dt.datetime(2026, 11, 1, tzinfo=JST),
        not_after=dt.datetime(2031, 10, 31, 23, 59, 59, tzinfo=JST),
    )
    pin = (quickstart / "secrets" / "cert-pin.txt").read_text(encoding="utf-8").strip()
    (quickstart / "certs" / "renewed.p12").write_bytes(pki.export_pfx(renewed, pin))
    manifest = quickstart / "ainas.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("certs/gyoseishoshi.p12", "certs/renewed.p12"),
        encoding="utf-8",
    )
    plan = run("plan", "quickstart", "--detailed-exitcode")
    assert plan.exit_code == 2
    assert "  + certificate (代理人A): renew" in plan.stdout
    assert (
        "# renew: the certificate in force expires 2029-10-31, the new one expires 2031-10-31; "
        "the old registration stays listed"
    ) in plan.stdout
    assert '      ~ 証明書有効期限 (expiry_date) = "2029-10-31" -> "2031-10-31"' in plan.stdout
    applied = run("apply", "quickstart", "--auto-approve")
    assert applied.exit_code == 0
    assert "certificate: renewed" in applied.stdout
    listed = certificates(quickstart)
    assert [c["expiry_date"] for c in listed] == ["2029/10/31", "2031/10/31"]  # as AINAS shows it
    assert run("plan", "quickstart", "--detailed-exitcode").exit_code == 0

"""利用開始日 (start_date): the guide asks for the day of entry. Left out, the day of registration
or renewal (Japan time) is entered; another date is a warning; a renewal never re-sends the old
certificate's date unnoticed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ainas_provision.plan.diff import today_in_japan
from tests.conftest import copy_example
from tests.helpers import run


@pytest.fixture
def quickstart(tmp_path, monkeypatch) -> Path:
    path = copy_example("quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    return path


def set_start_date(path: Path, value: str) -> None:
    manifest = path / "ainas.yaml"
    text = manifest.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("  postal_code: "))
    lines.insert(at + 1, f"  start_date: {value}\n")
    manifest.write_text("".join(lines), encoding="utf-8")


def test_today_is_japans_day():
    now = dt.datetime.now(dt.UTC)
    assert today_in_japan() == (now + dt.timedelta(hours=9)).date()


def test_left_out_the_day_of_entry_is_registered(quickstart):
    plan = run("plan", "quickstart")
    assert plan.exit_code == 0, plan.stderr
    today = today_in_japan().isoformat()
    assert f'+ 利用開始日 (start_date) = "{today}"' in plan.stdout
    assert "利用開始日 (start_date) is" not in plan.stdout  # no warning
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    again = run("plan", "quickstart", "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout  # left out: the registered date stays


def test_another_date_is_a_warning_at_plan_time(quickstart):
    set_start_date(quickstart, "2030-01-01")
    plan = run("plan", "quickstart")
    assert plan.exit_code == 0, plan.stderr
    today = today_in_japan().isoformat()
    assert (
        f"利用開始日 (start_date) is 2030-01-01, not the day of entry ({today}, Japan time), which "
        "the start guide asks for; leave start_date out and the day of entry is entered"
    ) in plan.stdout
    assert '+ 利用開始日 (start_date) = "2030-01-01"' in plan.stdout


def test_today_stated_is_no_warning(quickstart):
    set_start_date(quickstart, today_in_japan().isoformat())
    plan = run("plan", "quickstart")
    assert "not the day of entry" not in plan.stdout


def renew(path: Path, not_after: dt.datetime) -> None:
    from ainas_provision.certs import pki
    from ainas_provision.certs.types import SCRIVENER

    jst = dt.timezone(dt.timedelta(hours=9))
    renewed = pki.make_signing_certificate(
        SCRIVENER,
        trade_name="代理人A",
        representative_name="〇〇　〇〇",
        address="東京都千代田区三崎町2丁目15-6",
        not_before=dt.datetime(2026, 11, 1, tzinfo=jst),
        not_after=not_after.replace(tzinfo=jst),
    )
    pin = (path / "secrets" / "cert-pin.txt").read_text(encoding="utf-8").strip()
    (path / "certs" / "renewed.p12").write_bytes(pki.export_pfx(renewed, pin))
    manifest = path / "ainas.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("certs/gyoseishoshi.p12", "certs/renewed.p12"),
        encoding="utf-8",
    )


def test_a_renewal_enters_the_day_of_renewal_not_the_old_date(quickstart):
    set_start_date(quickstart, "2026-12-01")
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    renew(quickstart, dt.datetime(2031, 10, 31, 23, 59, 59))
    kept = run("plan", "quickstart")
    assert "  + certificate (代理人A): renew" in kept.stdout
    assert (
        "利用開始日 (start_date) is 2026-12-01, not the day of entry"
    ) in kept.stdout or today_in_japan().isoformat() == "2026-12-01"
    if today_in_japan().isoformat() != "2026-12-01":
        assert "it is the start date of the certificate in force" in kept.stdout
    manifest = quickstart / "ainas.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("  start_date: 2026-12-01\n", ""),
        encoding="utf-8",
    )
    left_out = run("plan", "quickstart")
    assert f'+ 利用開始日 (start_date) = "{today_in_japan().isoformat()}"' in left_out.stdout
    assert "not the day of entry" not in left_out.stdout


def test_a_renewal_to_a_certificate_expiring_earlier_is_a_warning(quickstart):
    assert run("apply", "quickstart", "--auto-approve").exit_code == 0
    renew(quickstart, dt.datetime(2028, 3, 31, 23, 59, 59))
    plan = run("plan", "quickstart")
    assert (
        "the new certificate expires 2028-03-31, earlier than the one in force (2029-10-31): "
        "check that certificate.file is the newer certificate"
    ) in plan.stdout


def test_the_guides_date_form_is_answered_once_with_what_to_write(tmp_path):
    from ainas_provision.validation.engine import validate

    (tmp_path / "ainas.yaml").write_text(
        "version: 1\norganization: {id: '1'}\ncertificate:\n  type: 行政書士電子証明書\n"
        "  file: x.p12\n  password: {env: X}\n  trade_name_kana: ダイリニンエー\n"
        "  representative_name_kana: マルマル　マルマル\n  postal_code: 123-4567\n"
        "  start_date: 2018/09/10\n",
        encoding="utf-8",
    )
    result = validate(tmp_path / "ainas.yaml", env={}, resolve_secrets=False)
    dates = [str(d) for d in result.diagnostics if d.rule == "date"]
    assert len(dates) == 1, dates
    assert dates[0].endswith(
        "error: 利用開始日 (start_date) '2018/09/10' must be written YYYY-MM-DD: write "
        "'2018-09-10' [date] (certificate.start_date)"
    )

"""Kinds as objects: what differs between kinds is asked of the kind, never tested by its name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ainas_provision.domain import kinds
from ainas_provision.domain.desired import DesiredState, Resource
from ainas_provision.targets.base import BackendError
from ainas_provision.targets.https.backend import HttpsBackend

PACKAGE = Path(__file__).resolve().parent.parent / "ainas_provision"
SWITCH = re.compile(r"\bkind\s*(==|!=)|(?<!for )\bkind\s+in\s*\(")  # a test, not a loop


def test_no_kind_switch_outside_the_kinds_module():
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "kinds.py" or path.parent.name != "domain"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SWITCH.search(line)
    ]
    assert found == []


def test_what_a_kind_says_about_itself():
    assert [k.name for k in kinds.KINDS.values() if k.per_tenant] == [
        "session",
        "organization",
        "certificate",
    ]
    assert {k.name for k in kinds.KINDS.values() if k.of_site} == {
        "site",
        "batch_account",
        "kei_batch_account",
    }
    assert [k.name for k in kinds.SITE.deleted_with] == [
        "site",
        "batch_account",
        "kei_batch_account",
    ]
    assert kinds.USER.deleted_with == (kinds.USER,)
    assert kinds.USER.create_screen_for({"role": "拠点管理者"}) == "site_manager_register"
    assert kinds.USER.create_screen_for({"role": "担当者(送信不可)"}) == "staff_register"
    assert kinds.SITE.create_screen_for({"role": "拠点管理者"}) == "site_register"
    assert kinds.CERTIFICATE.field("start_date").today_if_absent
    assert kinds.CERTIFICATE.secrets_every_update and not kinds.BATCH_ACCOUNT.secrets_every_update
    # one object per kind, equal only to itself (tables keyed by kinds look them up by identity)
    assert kinds.BATCH_ACCOUNT != kinds.KEI_BATCH_ACCOUNT
    assert {kinds.USER: 1}.get(kinds.KINDS["user"]) == 1


def test_the_desired_resource_of_a_change():
    desired = DesiredState.empty("1")
    site = Resource("site", "akihabara", {"name": "秋葉原営業所"})
    desired.sites["akihabara"] = site
    assert desired.resource("site", "akihabara") is site
    assert desired.resource("batch_account", "akihabara") is None
    assert desired.resource("certificate", "") is None  # the manifests hold none
    assert desired.resource("organization", "") is None  # its change's payload is all there is


@pytest.mark.parametrize(("verb", "call"), [("create", "create"), ("change", "update")])
def test_the_https_backend_refuses_a_kind_it_has_no_resource_for(verb, call):
    backend = HttpsBackend.__new__(HttpsBackend)  # no connection: refused before any request
    args = ("admin", {}) if call == "create" else ("admin", "abcde", {})
    with pytest.raises(BackendError, match=f"cannot {verb} a admin over HTTPS"):
        getattr(backend, call)(*args)

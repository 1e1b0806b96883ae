"""The target registry: --target by prefix to a type, capabilities instead of tests of which
target it is; and the backend-neutral recovery of lost creations by natural key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ainas_provision.domain import kinds
from ainas_provision.domain.desired import DesiredState
from ainas_provision.errors import AinasProvisionError
from ainas_provision.targets import registry
from ainas_provision.targets.recovery import Claims, identifying, natural_query, same
from ainas_provision.targets.registry import TYPES, TargetType, resolve, same_tenant


@pytest.mark.parametrize(
    ("spec", "kind", "location"),
    [
        ("sandbox:x.sqlite", "sandbox", "x.sqlite"),
        ("https://ainas.example.jp/", "https", "https://ainas.example.jp"),
        ("runbook:", "runbook", ""),
    ],
)
def test_a_target_is_resolved_by_its_prefix(spec, kind, location):
    target = resolve(spec, Path("."), env={})
    assert (target.kind, target.location) == (kind, location)
    assert target.type is TYPES[kind]


def test_capabilities_say_what_a_target_can_do():
    assert TYPES["sandbox"].cheap_reads and TYPES["sandbox"].reads_ainas
    assert not TYPES["runbook"].reads_ainas and TYPES["runbook"].serves_any_state
    assert TYPES["https"].reads_ainas and not TYPES["https"].cheap_reads
    assert TYPES["browser"].default_parallelism == 1 and TYPES["https"].default_parallelism == 4


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ftp://x", r"is not a target: give one of sandbox:…, https://…, browser\+https://…, runbook:…"),
        ("http://x", "over HTTPS with a client certificate only"),
        ("sandbox:", "needs a path"),
        ("runbook:x", "takes nothing after 'runbook:'"),
    ],
)
def test_a_wrong_target_says_what_to_write(spec, message):
    with pytest.raises(AinasProvisionError, match=message):
        resolve(spec, Path("."), env={})


def test_a_new_target_is_one_class_and_one_registry_line(monkeypatch):
    opened = {}

    class Recorder(TargetType):
        name, prefix = "recorder", "recorder:"
        max_parallelism = 1

        def describe(self, location):
            return f"the recorder {location}"

        def open(self, target, desired, env, announce, **options):
            opened.update(options)
            return "backend"

    monkeypatch.setitem(TYPES, "recorder", Recorder())
    target = resolve("recorder:tape", Path("."), env={})
    assert target.describe() == "the recorder recorder:tape"
    assert registry.open_backend(target, DesiredState.empty("1"), parallelism=8) == "backend"
    assert opened["parallelism"] == 1  # the target's own limit wins
    identity = target.identity("1")
    assert registry.describe_identity(identity) == "the recorder recorder:tape"


def test_a_state_of_one_target_serves_another_only_through_the_runbook():
    sandbox = {"kind": "sandbox", "location": "a", "organization_id": "1"}
    https = {"kind": "https", "location": "https://x", "organization_id": "1"}
    runbook = {"kind": "runbook", "location": "", "organization_id": "1"}
    assert not same_tenant(sandbox, https)
    assert same_tenant(runbook, https) and same_tenant(sandbox, runbook)
    assert not same_tenant(runbook, {**https, "organization_id": "2"})


def test_a_lost_creation_is_found_by_natural_key_and_claimed_once():
    assert natural_query(kinds.SITE, {"code": "A1", "name": "秋葉原"}) == {"code": "A1"}
    assert natural_query(kinds.SITE, {"code": None, "name": "秋葉原"}) == {"name": "秋葉原"}
    sent = {"payment_user_id": "p", "batch_user_id": "b", "batch_password": "secret"}
    assert identifying(kinds.BATCH_ACCOUNT, sent) == {"payment_user_id": "p", "batch_user_id": "b"}
    assert same({"name": "x", "code": ""}, {"name": "x"}) and not same({"name": "x"}, {"name": "y"})
    claims = Claims()
    claims.know(["100000001"])
    assert not claims.is_new("100000001")
    assert claims.claim(["100000001", "100000003", "100000002"]) == "100000002"
    assert claims.claim(["100000002", "100000003"]) == "100000003"  # two identical creations
    assert claims.claim(["100000002", "100000003"]) is None

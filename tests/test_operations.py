"""The step layer: each change as steps a person can read, and the executor performing them and
recording their effects on the state — before (fingerprints of what a creation sends), after
(the 拠点ID read back) and on failure (taken back)."""

from __future__ import annotations

import pytest

from ainas_provision.apply.executor import Executor
from ainas_provision.apply.operations import (
    RESULT,
    BindSite,
    DropFingerprints,
    Forget,
    Operation,
    SecretOf,
    SetFingerprints,
    SiteIdOf,
    steps_for,
)
from ainas_provision.domain.desired import DesiredState, Resource
from ainas_provision.plan.changes import Change
from ainas_provision.secrets.values import Secret
from ainas_provision.state.model import SiteEntry, UserEntry
from ainas_provision.state.store import LocalStateStore
from ainas_provision.targets.base import BackendError
from tests.helpers import RecordingBackend

CANARY = "Canary-Batch-Pass-7731"


def desired() -> DesiredState:
    state = DesiredState.empty("1")
    state.batch_accounts["akihabara"] = Resource(
        "batch_account",
        "akihabara",
        {"payment_user_id": "pay01"},
        {"batch_password": Secret(CANARY, "{env: BATCH}")},
    )
    state.users["dairi001"] = Resource(
        "user", "dairi001", {"name": "担当一郎"}, {"initial_password": Secret(CANARY, "{env: PW}")}
    )
    return state


SITE = Change("create", "site", "akihabara", payload={"name": "秋葉原営業所"})
BATCH = Change(
    "create",
    "batch_account",
    "akihabara",
    payload={"payment_user_id": "pay01"},
    secrets={"batch_password": "fp-batch"},
    depends_on=["site.akihabara"],
)
USER = Change(
    "create",
    "user",
    "dairi001",
    payload={"name": "担当一郎", "role": "担当者(送信可)", "site": "akihabara"},
    secrets={"initial_password": "fp-user"},
)


def test_a_site_creation_is_one_step_that_reads_back_the_site_id_and_binds_it():
    (step,) = steps_for(SITE, desired())
    assert step.operation is Operation.CREATE and step.screen == "site_register"
    assert step.reads_back == "拠点ID"
    assert step.after == (BindSite("akihabara", RESULT),)
    assert [(f.name, f.label, f.value) for f in step.fields] == [
        ("name", "代理人拠点名", "秋葉原営業所")
    ]


def test_a_creation_with_secrets_records_their_fingerprints_first_and_can_take_them_back():
    (step,) = steps_for(BATCH, desired())
    assert step.parent == SiteIdOf("akihabara")
    assert step.before == (
        SetFingerprints("sites", "akihabara", {"batch_account.batch_password": "fp-batch"}),
    )
    assert step.on_failure == (
        DropFingerprints("sites", "akihabara", ("batch_account.batch_password",)),
    )
    secret = next(f for f in step.fields if f.name == "batch_password")
    assert secret.value == SecretOf("batch_account.akihabara", "batch_password")
    shown = " ".join(f.describe() for f in step.fields)
    assert "(secret: batch_account.akihabara.batch_password)" in shown and CANARY not in shown


def test_a_replaced_user_is_deleted_and_forgotten_then_created_afresh():
    replace = Change("replace", "user", "dairi001", payload=USER.payload, secrets=USER.secrets)
    deleting, creating = steps_for(replace, desired())
    assert (deleting.operation, deleting.after) == (
        Operation.DELETE,
        (Forget("users", "dairi001"),),
    )
    assert creating.before == (
        SetFingerprints("users", "dairi001", {"initial_password": "fp-user"}, fresh=True),
    )
    assert creating.on_failure == (Forget("users", "dairi001"),)
    assert creating.screen == "staff_register"


def executor(tmp_path, backend=None, new_password=None):
    store = LocalStateStore(tmp_path / "ainas.state.json")
    state = store.load()
    store.begin(state)
    backend = backend or RecordingBackend(state)
    backend.state = state
    run = Executor(backend, store, state, desired(), lambda *a: "fp", new_password=new_password)
    return run, backend, store


def test_the_executor_performs_steps_and_records_their_effects(tmp_path):
    run, backend, store = executor(tmp_path)
    assert run.execute(SITE) == "created (拠点ID 100000002)"
    assert run.execute(BATCH) == "created"
    assert run.execute(USER) == "created"
    kind, fields, parent = backend.calls[1][1:]
    assert (kind, parent) == ("batch_account", "100000002")
    assert fields["batch_password"].reveal() == CANARY  # a Secret, revealed only to send it
    assert backend.calls[2][2]["site_id"] == "100000002"  # the 拠点ID bound by the site's step
    # the fingerprints were in the state when the creation was sent
    assert backend.seen_state[1].fingerprints("sites", "akihabara") == {
        "batch_account.batch_password": "fp-batch"
    }
    assert backend.seen_state[2].users == {"dairi001": UserEntry({"initial_password": "fp-user"})}
    store.abandon()
    recorded = LocalStateStore(tmp_path / "ainas.state.json").load()  # the journal holds it all
    assert recorded.sites == {
        "akihabara": SiteEntry("100000002", {"batch_account.batch_password": "fp-batch"})
    }
    assert "dairi001" in recorded.users


def test_a_failed_creation_takes_its_fingerprints_back(tmp_path):
    failing = RecordingBackend(fail=("create batch_account", "create user"))
    run, backend, store = executor(tmp_path, failing)
    run.execute(SITE)
    with pytest.raises(BackendError):
        run.execute(BATCH)
    with pytest.raises(BackendError):
        run.execute(USER)
    assert backend.seen_state[1].fingerprints("sites", "akihabara")  # recorded before…
    assert run.state.sites["akihabara"] == SiteEntry("100000002")  # …and taken back
    assert run.state.users == {}
    store.abandon()


def test_the_first_login_password_change_is_an_explicit_target_call(tmp_path):
    run, backend, store = executor(tmp_path, new_password=Secret(CANARY, "AINAS_NEW_PASSWORD"))
    change = Change("update", "session", "kanri", live_id="kanri", secrets={"password": "fp"})
    assert run.execute(change) == "password changed"
    assert backend.calls == [("change_password", "session", run.new_password)]
    store.abandon()

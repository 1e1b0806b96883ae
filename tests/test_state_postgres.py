"""The state in PostgreSQL, against a real server (tests/pg_server.py): the plan/apply/plan
cycle, the schema made on first use, several states side by side, each record a committed row,
the serial's compare-and-swap, the lock and its holder, migration both ways, masking."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest

from ainas_provision.state.keys import create_key_file
from ainas_provision.state.model import Put, Remove, SiteEntry, UserEntry
from ainas_provision.state.postgres import PostgresStateStore
from ainas_provision.state.protocols import LockInfo
from ainas_provision.state.store import StateError
from tests.conftest import REPO, copy_example
from tests.helpers import run
from tests.pg_server import OPERATOR_PASSWORD


@pytest.fixture
def quickstart(tmp_path):
    path = tmp_path / "quickstart"
    copy_example("quickstart", path)
    return path


@pytest.fixture
def key_env(tmp_path) -> dict[str, str]:
    key_file = tmp_path / "team.key"
    create_key_file(key_file)
    return {"AINAS_STATE_KEY": key_file.read_text(encoding="ascii").strip()}


def test_plan_apply_plan_on_a_postgresql_state(quickstart, postgres_server, pg_database, key_env):
    url = postgres_server.url(pg_database) + "#tenant-a"
    first = run("plan", str(quickstart), "--state", url, "--detailed-exitcode", env=key_env)
    assert first.exit_code == 2, first.output
    applied = run("apply", str(quickstart), "--state", url, "--auto-approve", env=key_env)
    assert applied.exit_code == 0, applied.stderr
    assert "created the state tables in schema ainas_provision" in applied.stderr
    again = run("plan", str(quickstart), "--state", url, "--detailed-exitcode", env=key_env)
    assert again.exit_code == 0, again.stdout + again.stderr
    assert not (quickstart / "ainas.state.json").exists()
    assert not (quickstart / "ainas.state.key").exists()
    for result in (first, applied, again):
        assert OPERATOR_PASSWORD not in result.stdout + result.stderr
    shown = run("state", "show", str(quickstart), "--state", url)
    assert shown.exit_code == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert state["serial"] == 1 and "akihabara" in state["sites"]


# -- helpers -----------------------------------------------------------------------------------
def cli_process(*args: str, env: dict, cwd=None) -> subprocess.Popen:
    """``ainas-provision ARGS`` as a separate process (another operator)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ainas_provision", *args],
        env={**_base_env(), **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _base_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AINAS_", "PG"))} | {
        "PYTHONPATH": str(REPO)
    }


@contextlib.contextmanager
def holder(url: str, mode: str = "idle"):
    """A process holding the state's lock (see tests/pg_holder.py); killed on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.pg_holder", url, mode],
        cwd=REPO,
        env=_base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("locked"), process.stderr.read()
        yield process
    finally:
        process.kill()
        process.communicate(timeout=10)  # reaps it and closes its pipes


def journal(server, database: str, name: str, schema: str = "ainas_provision") -> list[tuple]:
    return server.query(
        database,
        f"SELECT serial, seq, record FROM {schema}.journal WHERE state = %s ORDER BY serial, seq",
        (name,),
    )


# -- the schema --------------------------------------------------------------------------------
def test_state_init_makes_the_versioned_schema_named_by_the_url(postgres_server, pg_database):
    url = postgres_server.url(pg_database, schema="team_state") + "#a"
    made = run("state", "init", "--state", url)
    assert made.exit_code == 0, made.stderr
    assert "created the state tables in schema team_state" in made.stderr
    assert "(schema version 2)" in made.stderr
    again = run("state", "init", "--state", url)
    assert again.exit_code == 0 and "ready (schema version 2)" in again.stdout
    tables = postgres_server.query(
        pg_database,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'team_state' "
        "ORDER BY 1",
    )
    assert [t for (t,) in tables] == ["journal", "locks", "resources", "schema_version", "states"]
    versions = "SELECT version FROM team_state.schema_version ORDER BY 1"
    assert postgres_server.query(pg_database, versions) == [(1,), (2,)]


def test_a_newer_schema_version_is_refused(quickstart, postgres_server, pg_database, key_env):
    url = postgres_server.url(pg_database) + "#t"
    assert run("state", "init", "--state", url).exit_code == 0
    postgres_server.query(pg_database, "INSERT INTO ainas_provision.schema_version VALUES (99)")
    result = run("apply", str(quickstart), "--state", url, "--auto-approve", env=key_env)
    assert result.exit_code == 1
    assert "schema version 99, newer than this ainas-provision knows (2): upgrade" in result.stderr


def test_tables_of_an_older_version_are_migrated(postgres_server, pg_database):
    """Tables made by the first version (no runbook column) are brought up to date when an apply
    locks the state, keeping the state they hold, and saying so."""
    import psycopg
    from psycopg import sql

    from ainas_provision.state.model import Put
    from ainas_provision.state.postgres import MIGRATIONS

    with psycopg.connect(postgres_server.admin_url(pg_database), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ainas_provision AUTHORIZATION operator")
        conn.execute("SET ROLE operator")
        schema = sql.Identifier("ainas_provision")
        conn.execute(
            sql.SQL(
                "CREATE TABLE {s}.schema_version (version integer NOT NULL, "
                "migrated_at timestamptz NOT NULL DEFAULT now())"
            ).format(s=schema)
        )
        for statement in MIGRATIONS[1]:
            conn.execute(sql.SQL(statement).format(s=schema))
        conn.execute("INSERT INTO ainas_provision.schema_version (version) VALUES (1)")
        conn.execute(
            "INSERT INTO ainas_provision.states (name, lineage, serial) VALUES ('old', 'l-1', 7)"
        )
    announced = []
    url = postgres_server.url(pg_database) + "#old"
    store = PostgresStateStore(url, announce=announced.append)
    try:
        lock_id = store.lock(LockInfo.mine("apply"))
        state = store.load()
        assert (state.lineage, state.serial, state.runbook) == ("l-1", 7, None)
        store.begin(state)
        store.record(state, Put("runbook", None, {"plan": "p-1"}))
        store.commit(state)
        store.unlock(lock_id)
        assert store.load().runbook == {"plan": "p-1"}
    finally:
        store.close()
    assert announced == [
        "migrated the state tables in schema ainas_provision of "
        f"postgresql://operator:***@127.0.0.1:{postgres_server.port}/{pg_database} "
        "from schema version 1 to 2"
    ]
    versions = postgres_server.query(
        pg_database, "SELECT version FROM ainas_provision.schema_version ORDER BY version"
    )
    assert versions == [(1,), (2,)]


def test_state_init_refuses_a_file_state(tmp_path):
    result = run("state", "init", "--state", str(tmp_path / "s.json"))
    assert result.exit_code == 1
    assert "is a file, made by the first apply" in result.stderr


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ("#a b", "the state name #a b must be letters, digits"),
        ("?schema=1bad", "schema '1bad' is not a plain SQL name"),
    ],
)
def test_bad_state_names_are_clear_errors(fragment, message):
    password = quote(OPERATOR_PASSWORD, safe="")
    result = run("state", "show", "--state", f"postgresql://u:{password}@h/db{fragment}")
    assert result.exit_code == 1
    assert message in result.stderr
    assert password not in result.stderr and "u:***@h" in result.stderr


def test_a_password_that_is_not_percent_encoded_is_refused_masked():
    result = run("state", "show", "--state", f"postgresql://u:{OPERATOR_PASSWORD}@h/db#t")
    assert result.exit_code == 1
    assert "must be percent-encoded ('#' as %23" in result.stderr
    assert "postgresql://u:***@h/db#t" in result.stderr
    for part in OPERATOR_PASSWORD.split("#"):
        assert part not in result.stderr


def test_several_states_live_side_by_side(tmp_path, postgres_server, pg_database, key_env):
    base = postgres_server.url(pg_database)
    for name, organization in (("tenant-a", "1"), ("tenant-b", "2")):
        manifests = tmp_path / name
        copy_example("quickstart", manifests)
        text = (manifests / "ainas.yaml").read_text(encoding="utf-8")
        (manifests / "ainas.yaml").write_text(
            text.replace('id: "1"', f'id: "{organization}"', 1), encoding="utf-8"
        )
        result = run(
            "apply", str(manifests), "--state", f"{base}#{name}", "--auto-approve", env=key_env
        )
        assert result.exit_code == 0, result.stderr
    a = json.loads(run("state", "show", "--state", f"{base}#tenant-a").stdout)
    b = json.loads(run("state", "show", "--state", f"{base}#tenant-b").stdout)
    assert a["lineage"] != b["lineage"]
    assert a["target"]["organization_id"] == "1" and b["target"]["organization_id"] == "2"
    missing = run("state", "show", "--state", f"{base}#tenant-c")
    assert missing.exit_code == 1
    assert "(the states in that schema: #tenant-a, #tenant-b)" in missing.stderr


# -- records and the serial --------------------------------------------------------------------
def test_each_record_is_a_committed_row_as_the_apply_goes(postgres_server, pg_database):
    url = postgres_server.url(pg_database) + "#r"
    store = PostgresStateStore(url)
    try:
        state = store.load()
        store.begin(state)
        store.record(state, Put("sites", "a", SiteEntry("1")))
        # another connection sees the row before the apply ends
        rows = postgres_server.query(
            pg_database, "SELECT key, value FROM ainas_provision.resources WHERE state = 'r'"
        )
        assert rows == [("a", {"site_id": "1", "fingerprints": {}})]
        store.record(state, Remove("sites", "a"))
        store.record(state, Put("key_check", None, "abc"))
        store.commit(state)
    finally:
        store.close()
    assert [(s, q) for s, q, _ in journal(postgres_server, pg_database, "r")] == [
        (1, 0),
        (1, 1),
        (1, 2),
        (1, 3),
    ]
    again = PostgresStateStore(url)
    try:
        loaded = again.load()
    finally:
        again.close()
    assert loaded.sites == {} and loaded.key_check == "abc" and loaded.serial == 1


def test_records_appended_by_workers_are_committed_together(postgres_server, pg_database):
    """Group commit: what the workers appended while a commit was under way is committed in one
    transaction, in order, when one of them waits; nothing before."""
    from tests.test_group_commit import run_threads

    url = postgres_server.url(pg_database) + "#g"
    store = PostgresStateStore(url)
    try:
        state = store.load()
        store.begin(state)
        tickets = [store.append(state, Put("users", f"u{i}", UserEntry())) for i in range(8)]
        assert len(state.users) == 8  # the state in memory has them for the next records
        rows = postgres_server.query(
            pg_database, "SELECT count(*) FROM ainas_provision.resources WHERE state = 'g'"
        )
        assert rows == [(0,)]  # queued, not yet committed
        assert run_threads(8, lambda i: store.sync(tickets[i])) == [None] * 8
        rows = postgres_server.query(
            pg_database,
            "SELECT count(*), count(DISTINCT xmin::text) FROM ainas_provision.resources "
            "WHERE state = 'g'",
        )
        assert rows == [(8, 1)]  # eight rows, one transaction
        store.record(state, Put("key_check", None, "abc"))  # a plain record still goes on
        store.commit(state)
    finally:
        store.close()
    assert [q for _, q, _ in journal(postgres_server, pg_database, "g")] == list(range(10))
    assert [r["key"] for _, q, r in journal(postgres_server, pg_database, "g") if q][:8] == [
        f"u{i}" for i in range(8)
    ]


def test_the_serial_moves_by_compare_and_swap(postgres_server, pg_database):
    url = postgres_server.url(pg_database) + "#cas"
    first, second = PostgresStateStore(url), PostgresStateStore(url)
    try:
        seed = first.load()
        first.begin(seed)
        first.commit(seed)
        mine, theirs = first.load(), second.load()
        assert mine.serial == theirs.serial == 1
        first.begin(mine)
        first.commit(mine)
        with pytest.raises(StateError, match=r"is now at serial 2, not serial 1 as read: another"):
            second.begin(theirs)
    finally:
        first.close()
        second.close()


def test_a_saved_plan_is_refused_once_another_operator_applied(
    quickstart, tmp_path, postgres_server, pg_database, key_env
):
    url = postgres_server.url(pg_database) + "#t"
    assert (
        run("apply", str(quickstart), "--state", url, "--auto-approve", env=key_env).exit_code == 0
    )
    text = (quickstart / "ainas.yaml").read_text(encoding="utf-8")
    (quickstart / "ainas.yaml").write_text(text.replace("16:00", "15:30", 1), encoding="utf-8")
    saved = tmp_path / "plan.json"
    made = run("plan", str(quickstart), "--state", url, "--out", str(saved), env=key_env)
    assert made.exit_code == 0, made.stderr
    other = tmp_path / "other"  # another operator's checkout, the same change
    shutil.copytree(quickstart, other)
    assert run("apply", str(other), "--state", url, "--auto-approve", env=key_env).exit_code == 0
    stale = run("apply", str(quickstart), "--state", url, "--plan", str(saved), env=key_env)
    assert stale.exit_code == 1
    assert "the plan is stale: it was made from state serial 1" in stale.stderr
    assert "is now at serial 2" in stale.stderr


# -- the lock ----------------------------------------------------------------------------------
def test_a_second_apply_is_refused_at_once_naming_the_holder(
    quickstart, postgres_server, pg_database, key_env
):
    url = postgres_server.url(pg_database) + "#t"
    with holder(url) as process:
        refused = run("apply", str(quickstart), "--state", url, "--auto-approve", env=key_env)
        assert refused.exit_code == 1
        assert re.search(
            rf"error: the state postgresql://operator:\*\*\*@127\.0\.0\.1:\d+/\w+#t is locked by "
            rf"\S+@\S+ \(pid {process.pid}, apply\) since \d{{4}}-",
            refused.stderr,
        ), refused.stderr
        assert OPERATOR_PASSWORD not in refused.stderr
        waited = run(
            "apply",
            str(quickstart),
            "--state",
            url,
            "--auto-approve",
            "--lock-timeout",
            "0.3",
            env=key_env,
        )
        assert waited.exit_code == 1 and "is locked by" in waited.stderr
        unlock = run("state", "unlock", "--state", url)
        assert unlock.exit_code == 1
        assert "its holder is still running" in unlock.stderr and "--force" in unlock.stderr


@pytest.mark.parametrize("mode", ["idle", "query"])
def test_a_holder_killed_with_sigkill_lets_the_waiting_apply_go_on(
    mode, quickstart, postgres_server, pg_database, key_env
):
    """Killed idle, or while the server works for it (a long query): the lock goes with its
    connection — within the connection check, long before the query would have ended."""
    url = postgres_server.url(pg_database) + "#t"
    with holder(url, mode) as process:
        waiting = cli_process(
            "apply",
            str(quickstart),
            "--state",
            url,
            "--auto-approve",
            "--lock-timeout",
            "60",
            env=key_env,
        )
        time.sleep(1.5)  # the waiter is waiting on the lock (the holder sleeps 600 s)
        assert waiting.poll() is None
        process.send_signal(signal.SIGKILL)
        out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "Apply complete" in out
    assert (
        run("plan", str(quickstart), "--state", url, "--detailed-exitcode", env=key_env).exit_code
        == 0
    )


def test_unlock_force_ends_a_wedged_holder(postgres_server, pg_database, quickstart, key_env):
    url = postgres_server.url(pg_database) + "#t"
    with holder(url) as process:
        forced = run("state", "unlock", "--state", url, "--force")
        assert forced.exit_code == 0, forced.stderr
        assert "removed the lock held by" in forced.stdout and f"pid {process.pid}" in forced.stdout
        applied = run("apply", str(quickstart), "--state", url, "--auto-approve", env=key_env)
        assert applied.exit_code == 0, applied.stderr
    assert run("state", "unlock", "--state", url).stdout.endswith("not locked\n")


def test_two_applies_at_once_one_waits_journals_contiguous_no_lost_update(
    quickstart, tmp_path, postgres_server, pg_database, key_env
):
    url = postgres_server.url(pg_database) + "#t"
    other = tmp_path / "other"  # another operator: the same tenant, one more user
    shutil.copytree(quickstart, other)
    users = (other / "ainas.yaml").read_text(encoding="utf-8")
    sandbox = f"sandbox:{tmp_path / 'ainas.sandbox.sqlite'}"
    env = {**key_env, "AINAS_TARGET": sandbox}
    first = run("apply", str(quickstart), "--state", url, "--auto-approve", env=env)
    assert first.exit_code == 0, first.stderr
    text = (quickstart / "ainas.yaml").read_text(encoding="utf-8")
    (quickstart / "ainas.yaml").write_text(text.replace("16:00", "15:30", 1), encoding="utf-8")
    (other / "ainas.yaml").write_text(users.replace("16:00", "15:45", 1), encoding="utf-8")
    with holder(url):  # both start while the lock is held, and race for it when it is freed
        a = cli_process(
            "apply",
            str(quickstart),
            "--state",
            url,
            "--auto-approve",
            "--lock-timeout",
            "60",
            env=env,
        )
        b = cli_process(
            "apply", str(other), "--state", url, "--auto-approve", "--lock-timeout", "60", env=env
        )
        time.sleep(1.5)
        assert a.poll() is None and b.poll() is None
    results = [p.communicate(timeout=60) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, results
    rows = journal(postgres_server, pg_database, "t")
    serials = sorted({serial for serial, _, _ in rows})
    assert serials == [1, 2, 3]
    for serial in serials:
        seqs = [seq for s, seq, _ in rows if s == serial]
        assert seqs == list(range(len(seqs)))  # from the apply's start (0), no gap
    state = json.loads(run("state", "show", "--state", url).stdout)
    assert state["serial"] == 3
    # the last apply's manifests are what AINAS holds, and nothing was lost on the way
    last = [
        m
        for m in (quickstart, other)
        if run("plan", str(m), "--state", url, "--detailed-exitcode", env=env).exit_code == 0
    ]
    assert len(last) == 1


# -- where the state is named ------------------------------------------------------------------
def test_the_state_from_ainas_state_and_from_the_manifests(
    quickstart, postgres_server, pg_database, key_env
):
    url = postgres_server.url(pg_database, password=False)
    env = {**key_env, "PGPASSWORD": OPERATOR_PASSWORD}
    by_env = run("apply", str(quickstart), "--auto-approve", env={**env, "AINAS_STATE": url + "#e"})
    assert by_env.exit_code == 0, by_env.stderr
    text = (quickstart / "ainas.yaml").read_text(encoding="utf-8")
    (quickstart / "ainas.yaml").write_text(
        text + f"connection:\n  state: {url}#e\n", encoding="utf-8"
    )
    planned = run("plan", str(quickstart), "--detailed-exitcode", env=env)
    assert planned.exit_code == 0, planned.stdout + planned.stderr
    shown = run("state", "show", str(quickstart), env=env)
    assert json.loads(shown.stdout)["serial"] == 1
    assert not (quickstart / "ainas.state.json").exists()
    with_password = postgres_server.url(pg_database) + "#e"
    (quickstart / "ainas.yaml").write_text(
        text + f"connection:\n  state: {with_password}\n", encoding="utf-8"
    )
    refused = run("plan", str(quickstart), env=env)
    assert refused.exit_code == 1
    assert "holds a password: the manifests are kept in git" in refused.stderr
    assert quote(OPERATOR_PASSWORD, safe="") not in refused.stderr


def test_a_relative_state_file_in_the_manifests_is_relative_to_them(quickstart, key_env):
    text = (quickstart / "ainas.yaml").read_text(encoding="utf-8")
    (quickstart / "ainas.yaml").write_text(
        text + "connection:\n  state: states/team.json\n", encoding="utf-8"
    )
    assert run("apply", str(quickstart), "--auto-approve", env=key_env).exit_code == 0
    assert (quickstart / "states" / "team.json").exists()


def test_verify_full_and_libpq_environment(quickstart, postgres_server, pg_database, key_env):
    url = f"postgresql://operator@localhost:{postgres_server.port}/{pg_database}#tls"
    env = {
        **key_env,
        "PGPASSWORD": OPERATOR_PASSWORD,
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": str(postgres_server.ca_file),
    }
    applied = run("apply", str(quickstart), "--state", url, "--auto-approve", env=env)
    assert applied.exit_code == 0, applied.stderr
    ssl = postgres_server.query(
        pg_database,
        "SELECT count(*) FROM ainas_provision.journal",  # written over the verified TLS session
    )
    assert ssl[0][0] > 0


def test_verify_full_refuses_a_server_the_ca_did_not_sign(
    tmp_path, quickstart, postgres_server, pg_database, key_env
):
    from ainas_provision.certs import pki

    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(pki.make_ca("Another CA").cert_pem())
    url = (
        f"postgresql://operator:{quote(OPERATOR_PASSWORD, safe='')}@localhost:"
        f"{postgres_server.port}/{pg_database}?sslmode=verify-full&sslrootcert={other_ca}#tls"
    )
    result = run("plan", str(quickstart), "--state", url, env=key_env)
    assert result.exit_code == 1
    assert (
        "cannot connect to the state database postgresql://operator:***@localhost" in result.stderr
    )
    assert "certificate verify failed" in result.stderr
    assert quote(OPERATOR_PASSWORD, safe="") not in result.stderr


def test_a_wrong_password_is_an_error_that_does_not_show_it(
    quickstart, postgres_server, pg_database, key_env
):
    wrong = "Wrong-Canary-Pw-77x"
    url = f"postgresql://operator:{wrong}@127.0.0.1:{postgres_server.port}/{pg_database}#t"
    for args in (
        ("plan", str(quickstart), "--state", url),
        ("apply", str(quickstart), "--state", url, "--auto-approve"),
        ("state", "show", "--state", url),
        ("state", "unlock", "--state", url),
        ("state", "init", "--state", url),
    ):
        result = run(*args, env=key_env)
        assert result.exit_code == 1, args
        assert 'password authentication failed for user "operator"' in result.stderr
        assert wrong not in result.stdout + result.stderr
        assert "operator:***@127.0.0.1" in result.stderr
        assert "Traceback" not in result.stderr


# -- migration ---------------------------------------------------------------------------------
def test_migrate_file_to_postgresql_to_file_is_identical(
    quickstart, tmp_path, postgres_server, pg_database, key_env
):
    assert run("apply", str(quickstart), "--auto-approve", env=key_env).exit_code == 0
    original = quickstart / "ainas.state.json"
    url = postgres_server.url(pg_database) + "#moved"
    there = run("state", "migrate", str(quickstart), "--to", url)
    assert there.exit_code == 0, there.stderr
    assert "copied the state (lineage" in there.stdout and "operator:***@" in there.stdout
    planned = run("plan", str(quickstart), "--state", url, "--detailed-exitcode", env=key_env)
    assert planned.exit_code == 0, planned.stdout + planned.stderr
    back = tmp_path / "back.json"
    result = run("state", "migrate", "--state", url, "--to", str(back))
    assert result.exit_code == 0, result.stderr
    assert back.read_bytes() == original.read_bytes()
    refused = run("state", "migrate", str(quickstart), "--to", url)
    assert refused.exit_code == 1
    assert "already holds a state (serial 1, 1 sites, 2 users)" in refused.stderr
    refused = run("state", "migrate", "--state", url, "--to", str(back))
    assert refused.exit_code == 1 and "migrate into an empty destination" in refused.stderr
    nothing = run(
        "state",
        "migrate",
        "--state",
        url.replace("#moved", "#none"),
        "--to",
        str(tmp_path / "x.json"),
    )
    assert nothing.exit_code == 1 and "nothing to migrate" in nothing.stderr


# -- a connection dropped mid-apply ------------------------------------------------------------
def test_a_connection_dropped_mid_apply_stops_it_and_the_rerun_converges(
    tmp_path, postgres_server, pg_database, key_env, monkeypatch
):
    manifests = tmp_path / "multi-branch"  # two sites: changes that do not wait for each other
    copy_example("multi-branch", manifests)
    url = postgres_server.url(pg_database) + "#t"
    write = PostgresStateStore._write_record
    written = []

    def dropping(self, conn, record, seq):
        written.append(record)
        if len(written) == 4:  # the administrator ends the session in the middle of the apply
            pid = self._conn.info.backend_pid
            postgres_server.query(pg_database, "SELECT pg_terminate_backend(%s)", (pid,))
        return write(self, conn, record, seq)

    monkeypatch.setattr(PostgresStateStore, "_write_record", dropping)
    broken = run(
        "apply",
        str(manifests),
        "--state",
        url,
        "--auto-approve",
        "--parallelism",
        "1",
        env=key_env,
    )
    assert broken.exit_code == 1
    assert "the connection to the state database postgresql://operator:***@" in broken.stderr
    assert "not attempted: the state cannot be written" in broken.stderr + broken.stdout
    assert "Traceback" not in broken.stderr
    recorded = postgres_server.query(
        pg_database, "SELECT count(*) FROM ainas_provision.journal WHERE seq > 0"
    )[0][0]
    assert recorded == 3  # what was committed before the drop, and nothing after
    monkeypatch.setattr(PostgresStateStore, "_write_record", write)
    rerun = run("apply", str(manifests), "--state", url, "--auto-approve", env=key_env)
    assert rerun.exit_code == 0, rerun.stdout + rerun.stderr
    final = run("plan", str(manifests), "--state", url, "--detailed-exitcode", env=key_env)
    assert final.exit_code == 0, final.stdout


def test_without_psycopg_the_message_says_what_to_install(monkeypatch, quickstart, key_env):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    result = run("plan", str(quickstart), "--state", "postgresql://u@h/db", env=key_env)
    assert result.exit_code == 1
    assert "pip install 'ainas-provision[postgresql]'" in result.stderr


def test_import_binds_a_postgresql_state(
    tmp_path, quickstart, postgres_server, pg_database, key_env
):
    sandbox = tmp_path / "tenant.sqlite"
    env = {**key_env, "AINAS_TARGET": f"sandbox:{sandbox}"}
    assert run("apply", str(quickstart), "--auto-approve", env=env).exit_code == 0
    url = postgres_server.url(pg_database) + "#imported"
    out = tmp_path / "imported"
    result = run("import", "--out", str(out), "--state", url, env=env)
    assert result.exit_code == 0, result.stderr
    assert "operator:***@" in result.stdout and OPERATOR_PASSWORD not in result.stdout
    state = json.loads(run("state", "show", "--state", url).stdout)
    assert list(state["sites"]) == ["site-1"] and len(state["users"]) == 2
    assert not list(out.rglob("*.json*")) or [p.name for p in out.rglob("*.json*")] == [
        "ainas-manifest.schema.json"
    ]


def test_after_a_lost_connection_the_store_writes_nothing_more(postgres_server, pg_database):
    """A record arriving after the drop (another change finishing) must not reconnect: it would
    write without the lock, which went with the old connection."""
    from ainas_provision.state.postgres import StateConnectionLost

    url = postgres_server.url(pg_database) + "#lost"
    store = PostgresStateStore(url)
    try:
        lock_id = store.lock(LockInfo.mine("apply"))
        state = store.load()
        store.begin(state)
        pid = store._conn.info.backend_pid
        postgres_server.query(pg_database, "SELECT pg_terminate_backend(%s)", (pid,))
        for key in ("a", "b"):
            with pytest.raises(StateConnectionLost, match="was lost"):
                store.record(state, Put("users", key, UserEntry()))
        store.commit(state)
        store.unlock(lock_id)
    finally:
        store.close()
    rows = postgres_server.query(pg_database, "SELECT count(*) FROM ainas_provision.resources")
    assert rows == [(0,)]
    assert state.users == {}  # the in-memory state did not take what was not written


def test_the_schema_from_a_search_path_in_libpq_options(postgres_server, pg_database):
    url = postgres_server.url(pg_database, options="-c search_path=team_b") + "#a"
    made = run("state", "init", "--state", url)
    assert made.exit_code == 0, made.stderr
    assert "created the state tables in schema team_b" in made.stderr
    tables = postgres_server.query(
        pg_database,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'team_b'",
    )
    assert tables == [(5,)]

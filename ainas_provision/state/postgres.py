"""Keeping the state in PostgreSQL, for a team: one state, one lock, for every operator and CI.

``--state postgresql://user@host/db?schema=ainas#tenant-a`` names a state: the database by a
libpq URL (its parameters and libpq's environment — ``PGPASSWORD``, ``PGSSLMODE``,
``PGSSLROOTCERT``, ``~/.pgpass`` … — apply as they would to ``psql``), the schema holding the
tables by ``?schema=`` (the parameter is ours and is taken out of the URL before libpq sees it),
else by the first schema of a ``search_path`` set in libpq's ``options`` parameter, else
``ainas_provision``; and the state by the fragment (default ``default``): several
states — one per tenant or workspace — live side by side in one schema.

Tables (schema version 2; ``schema_version`` records it, and a newer tool migrates an older
schema under a transaction-level advisory lock, so that two first runs do not race):

- ``states``: one row per state — lineage, serial, target, key check, certificate, and the
  runbook in progress (added by version 2);
- ``resources``: one row per managed site or user (``section``, ``key``, ``value`` as JSON);
- ``journal``: every record of every apply, ``(state, serial, seq)``, as it was committed
  (``seq`` 0: the apply's start, naming who made it);
- ``locks``: who holds a state's lock (user, host, process, operation, since, and the server
  process of its connection).

**Every record is a committed transaction**: the resource row and its journal row are written
together, before the executor goes on, so an apply that dies half-way leaves a true state —
there is nothing to replay. **The serial is advanced by compare-and-swap** when an apply begins
(``UPDATE … SET serial = serial + 1 WHERE serial = <the serial read>``): a store that lost the
race refuses to write anything, so two operators never both apply over the same serial, and a
saved plan made at serial N is refused once another apply moved it.

**The lock** is a session-level advisory lock on the key of (schema, state), held by the
store's connection for the whole apply, plus a ``locks`` row naming the holder for the others'
messages. ``pg_try_advisory_lock`` answers at once; ``--lock-timeout`` waits with
``lock_timeout``. A holder that dies takes its connection down with it and the server releases
the lock: there is no stale lock to break by hand. The connection sets
``client_connection_check_interval``, so that a holder killed while the server is working for it
is noticed within a fraction of a second, and TCP keepalives, so that a holder whose machine
vanished is noticed within about a minute. ``state unlock --force`` ends the connection of a
holder that is alive but wedged (``pg_terminate_backend``).

The fingerprint key never enters the database: like the file store, the state holds only keyed
fingerprints and the key check. A password in the URL is a secret: every message shows the URL
masked, and every error from the driver is masked before it is shown.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ainas_provision.errors import AinasProvisionError
from ainas_provision.i18n import _
from ainas_provision.state.group import GroupCommit
from ainas_provision.state.model import Record, State, entry_from_json
from ainas_provision.state.protocols import LockError, LockInfo
from ainas_provision.state.store import StateError

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = 2
DEFAULT_SCHEMA = "ainas_provision"
DEFAULT_NAME = "default"
MASK = "***"
# the server notices a vanished client while working for it within this time (PostgreSQL 14+)
CONNECTION_CHECK = "250ms"
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_STATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class StateConnectionLost(StateError):
    """The connection to the state database broke during an apply: its lock went with it, so
    the apply must stop starting changes (what was recorded before is true)."""

    halts = True


# -- where the state is ------------------------------------------------------------------------
@dataclass(frozen=True)
class PostgresLocation:
    """A parsed ``postgresql://`` state URL."""

    url: str  # what libpq gets: the URL without ?schema= and the fragment
    schema: str
    name: str
    password: str | None  # from the URL, for masking only

    @classmethod
    def parse(cls, spec: str) -> PostgresLocation:
        parts = urlsplit(spec)
        password = unquote(parts.password) if parts.password is not None else None
        shown = _mask_url(spec, password)
        if "@" in parts.fragment or "@" in parts.path:
            raise StateError(
                _(
                    "--state {url}: the URL's password holds a character that must be "
                    "percent-encoded ('#' as %23, '/' as %2F, '?' as %3F, '@' as %40), or give it "
                    "with PGPASSWORD"
                ).format(url=shown)
            )
        query = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for key, value in query if key == "schema"]
        schema = schemas[-1] if schemas else _search_path(query) or DEFAULT_SCHEMA
        if not _SCHEMA_NAME.fullmatch(schema):
            raise StateError(
                _(
                    "--state {url}: schema {schema} is not a plain SQL name (letters, digits and "
                    "_, not starting with a digit, at most 63 characters)"
                ).format(url=shown, schema=repr(schema))
            )
        name = unquote(parts.fragment) or DEFAULT_NAME
        if not _STATE_NAME.fullmatch(name):
            raise StateError(
                _(
                    "--state {url}: the state name #{name} must be letters, digits, '.', '_' or "
                    "'-' (at most 100, starting with a letter or digit), e.g. #tenant-a"
                ).format(url=shown, name=name)
            )
        rest = urlencode([(k, v) for k, v in query if k != "schema"], quote_via=quote)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
        return cls(url, schema, name, password)

    def mask(self, text: str) -> str:
        """``text`` with the URL's password replaced, in every form it may take."""
        if not self.password:
            return text
        for form in {self.password, quote(self.password, safe=""), quote(self.password)}:
            text = text.replace(form, MASK)
        return text

    def describe(self) -> str:
        """The URL as shown to people: password masked, with the schema and the state name."""
        parts = urlsplit(self.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if self.schema != (_search_path(query) or DEFAULT_SCHEMA):
            query.append(("schema", self.schema))
        netloc = parts.netloc
        if self.password is not None:
            user, _at, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}:{MASK}@{host}"
        rest = urlencode(query, quote_via=quote)
        return urlunsplit((parts.scheme, netloc, parts.path, rest, self.name))


# user:password@ — up to the last "@", so that a password with an unencoded "#", "/" or "?" is
# masked too (such a URL is refused, and its message must not show it)
_USERINFO = re.compile(r"^(?P<head>[a-z]+://[^:/?#@]*:)(?P<password>.*)@")


# the first schema of a search_path set in libpq's options parameter ("-c search_path=team")
_OPTIONS_SEARCH_PATH = re.compile(r"(?:^|\s)(?:-c\s*|--)search_path\s*=\s*([A-Za-z_][A-Za-z0-9_]*)")


def _search_path(query: list[tuple[str, str]]) -> str | None:
    """The schema named by ``options=-c search_path=NAME`` in the URL, if any."""
    for key, value in query:
        if key == "options" and (found := _OPTIONS_SEARCH_PATH.search(value)):
            return found.group(1)
    return None


def _mask_url(spec: str, password: str | None) -> str:
    spec = _USERINFO.sub(lambda m: f"{m['head']}{MASK}@", spec, count=1)
    if password:
        for form in {password, quote(password, safe=""), quote(password)}:
            spec = spec.replace(form, MASK)
    return spec


def _import_psycopg():
    try:
        import psycopg
    except ImportError:
        raise StateError(
            _(
                "a PostgreSQL state needs psycopg: install ainas-provision with its PostgreSQL "
                "extra (pip install 'ainas-provision[postgresql]')"
            )
        ) from None
    return psycopg


# -- the lock ----------------------------------------------------------------------------------
class PostgresLockHeld(LockError):
    def __init__(self, where: str, info: LockInfo | None) -> None:
        self.info = info
        who = info.describe() if info is not None else _("another session (no holder recorded)")
        super().__init__(
            _(
                "the state {state} is locked by {who}; wait for it to finish, or use "
                "--lock-timeout to wait (a holder that dies releases the lock with its connection)"
            ).format(state=where, who=who),
            info,
        )


class PostgresLock:
    """The state's lock: an advisory lock held by the store's connection, and a row naming the
    holder: a :class:`~ainas_provision.state.protocols.Locker`."""

    def __init__(self, store: PostgresStateStore) -> None:
        self.store = store
        self.info: LockInfo | None = None

    @property
    def path(self) -> str:  # what messages name
        return self.store.describe()

    def read(self) -> LockInfo | None:
        """The recorded holder, if any (it may be a dead one's: see :meth:`break_lock`)."""
        store = self.store
        if not store._schema_exists():
            return None
        row = store._fetchone(
            "SELECT id, holder, host, pid, operation, since FROM {s}.locks WHERE state = %s",
            (store.location.name,),
        )
        return _lock_info(row)

    def holder(self) -> LockInfo | None:
        """Who holds the lock now (None: free); a dead holder's connection holds nothing."""
        if self.info is not None:
            return self.info
        store = self.store
        if not store._schema_exists():
            return None
        key = store._lock_key()
        with store._guard():
            conn = store._connection()
            if conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                return None
        return self.read() or LockInfo("?", "an unknown holder", "?", 0, "?", "?")

    def unlock(self, lock_id: str) -> None:
        if self.info is not None and self.info.id == lock_id:
            self.release()

    def force_unlock(self) -> LockInfo | None:
        return self.break_lock(force=True)

    def lock(self, info: LockInfo, *, timeout: float = 0.0) -> str:
        """Take the lock, waiting up to ``timeout`` seconds; raises :class:`LockError`."""
        store = self.store
        store.ensure_schema()
        psycopg = _import_psycopg()
        key = store._lock_key()
        with store._guard():
            conn = store._connection()
            if timeout <= 0:
                got = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
            else:
                conn.execute(f"SET lock_timeout = {int(timeout * 1000) or 1}")
                try:
                    conn.execute("SELECT pg_advisory_lock(%s)", (key,))
                    got = True
                except psycopg.errors.LockNotAvailable:
                    got = False
                finally:
                    conn.execute("RESET lock_timeout")
            if not got:
                raise PostgresLockHeld(store.describe(), self.read())
            with conn.transaction():
                conn.execute(
                    store._sql(
                        "INSERT INTO {s}.locks (state, id, holder, host, pid, operation, since, "
                        "backend_pid) VALUES (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid()) "
                        "ON CONFLICT (state) DO UPDATE SET id = EXCLUDED.id, holder = "
                        "EXCLUDED.holder, host = EXCLUDED.host, pid = EXCLUDED.pid, operation = "
                        "EXCLUDED.operation, since = EXCLUDED.since, backend_pid = "
                        "EXCLUDED.backend_pid"
                    ),
                    (
                        store.location.name,
                        info.id,
                        info.holder,
                        info.host,
                        info.pid,
                        info.operation,
                        dt.datetime.fromisoformat(info.since),
                    ),
                )
        self.info = info
        return info.id

    def release(self) -> None:
        if self.info is None:
            return
        info, self.info = self.info, None
        store = self.store
        if store._conn is None or store._conn.closed:
            return  # the lock went with the connection: nothing to give back
        try:
            with store._guard():
                conn = store._connection()
                conn.execute(
                    store._sql("DELETE FROM {s}.locks WHERE state = %s AND id = %s"),
                    (store.location.name, info.id),
                )
                conn.execute("SELECT pg_advisory_unlock(%s)", (store._lock_key(),))
        except StateError:
            pass  # the connection is gone, and the server released the lock with it

    def break_lock(self, *, force: bool = False) -> LockInfo | None:
        """Remove the record of a holder whose connection is gone; with ``force``, end the
        connection of a holder that is alive (wedged). Returns the holder that was removed."""
        store = self.store
        if not store._schema_exists():
            return None
        key = store._lock_key()
        recorded = self.read()
        with store._guard():
            conn = store._connection()
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                backend = _holder_backend(conn, key)
                if not force:
                    who = (
                        recorded.describe() if recorded else _("a session that recorded no holder")
                    )
                    raise AinasProvisionError(
                        _(
                            "the state {state} is locked by {who}, whose connection is alive "
                            "(server process {backend}): it is still running, or wedged; --force "
                            "ends its connection (only if you are sure it is wedged)"
                        ).format(state=store.describe(), who=who, backend=backend)
                    )
                self._terminate(conn, key, backend)
            conn.execute(
                store._sql("DELETE FROM {s}.locks WHERE state = %s"), (store.location.name,)
            )
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return recorded

    def _terminate(self, conn, key: int, backend: int | None) -> None:
        store = self.store
        if backend is not None:
            ended = conn.execute("SELECT pg_terminate_backend(%s)", (backend,)).fetchone()[0]
            if not ended:
                raise AinasProvisionError(
                    _(
                        "cannot end the lock holder's connection (server process {backend}) of "
                        "the state {state}: ask the database administrator ({sql})"
                    ).format(
                        backend=backend,
                        state=store.describe(),
                        sql=f"SELECT pg_terminate_backend({backend})",
                    )
                )
        deadline = time.monotonic() + 10
        while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise AinasProvisionError(
                    _(
                        "the lock of the state {state} is still held after ending its holder's "
                        "connection; try again"
                    ).format(state=store.describe())
                )
            time.sleep(0.05)


def _holder_backend(conn, key: int) -> int | None:
    """The server process holding the advisory lock ``key`` (a bigint key is split in two)."""
    row = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND classid = ((%s::bigint >> 32) & 4294967295)::oid "
        "AND objid = (%s::bigint & 4294967295)::oid AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
        (key, key),
    ).fetchone()
    return row[0] if row else None


def _lock_info(row) -> LockInfo | None:
    if row is None:
        return None
    id_, holder, host, pid, operation, since = row
    return LockInfo(
        id=id_,
        holder=holder or "unknown",
        host=host or "?",
        pid=pid or 0,
        operation=operation or "?",
        since=since.astimezone(dt.UTC).isoformat(timespec="seconds") if since else "?",
    )


# -- the store ---------------------------------------------------------------------------------
class PostgresStateStore:
    """The state in a PostgreSQL database; the same operations as the file store."""

    kind = "postgresql"

    def __init__(
        self,
        spec: str,
        *,
        key_dir: Path | None = None,
        announce: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.location = PostgresLocation.parse(spec)
        self.path = None  # no file: messages use describe()
        self.key_dir = key_dir or Path(".")  # where the default key file goes
        self.announce = announce
        self.locker = PostgresLock(self)
        self._conn: psycopg.Connection | None = None
        self._mutex = threading.RLock()
        # records appended by the executor's workers, committed together (one transaction for
        # all the records that arrived while the previous one was being committed)
        self._group: GroupCommit[dict] = GroupCommit(self._write_records)
        self._seq = 0
        self._serial: int | None = None  # the serial this store's apply holds
        # the connection broke: its lock went with it, so nothing more may be written through
        # this store — not even on a new connection, which would write without the lock
        self._lost: str | None = None

    # -- describing ---------------------------------------------------------------------
    def describe(self) -> str:
        return self.location.describe()

    def __str__(self) -> str:
        return self.describe()

    def key_file(self) -> Path | None:
        """The key file used when neither AINAS_STATE_KEY nor AINAS_STATE_KEY_FILE is set:
        beside the manifests — never in the database."""
        return self.key_dir / "ainas.state.key"

    def location_base(self) -> Path | None:
        """The directory an embedded sandbox's path in the state is relative to."""
        return self.key_dir

    # -- Locker -------------------------------------------------------------------------
    def lock(self, info: LockInfo, *, timeout: float = 0.0) -> str:
        return self.locker.lock(info, timeout=timeout)

    def unlock(self, lock_id: str) -> None:
        self.locker.unlock(lock_id)

    def holder(self) -> LockInfo | None:
        return self.locker.holder()

    def force_unlock(self) -> LockInfo | None:
        return self.locker.force_unlock()

    # -- the connection -----------------------------------------------------------------
    def _guard(self):
        return _Guard(self)

    def _connection(self) -> psycopg.Connection:
        if self._lost is not None:
            raise StateConnectionLost(self._lost)
        if self._conn is not None:
            if self._conn.closed:
                raise StateConnectionLost(
                    _("the connection to the state database {database} was lost").format(
                        database=self.describe()
                    )
                )
            return self._conn
        psycopg = _import_psycopg()
        conn = psycopg.connect(
            self.location.url,
            autocommit=True,
            application_name="ainas-provision",
            **({} if "connect_timeout" in self.location.url else {"connect_timeout": 15}),
        )
        try:
            if conn.info.server_version < 140000:
                raise StateError(
                    _(
                        "the state database {database} runs PostgreSQL {version}: the state "
                        "needs PostgreSQL 14 or newer"
                    ).format(database=self.describe(), version=conn.info.server_version // 10000)
                )
            conn.execute(f"SET client_connection_check_interval = '{CONNECTION_CHECK}'")
            conn.execute("SET tcp_keepalives_idle = 30")
            conn.execute("SET tcp_keepalives_interval = 10")
            conn.execute("SET tcp_keepalives_count = 3")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                with contextlib.suppress(Exception):  # closing a broken connection
                    conn.close()

    def _sql(self, text: str):
        from psycopg import sql

        return sql.SQL(text).format(s=sql.Identifier(self.location.schema))

    def _fetchone(self, text: str, params: tuple = ()):
        with self._guard():
            return self._connection().execute(self._sql(text), params).fetchone()

    def _lock_key(self) -> int:
        row = self._fetchone(
            "SELECT hashtextextended(%s, 0)",
            (f"ainas-provision state {self.location.schema}.{self.location.name}",),
        )
        return int(row[0])

    # -- the schema ---------------------------------------------------------------------
    def _schema_exists(self) -> bool:
        row = self._fetchone("SELECT to_regclass(%s)", (f"{self.location.schema}.schema_version",))
        return row[0] is not None

    def version(self) -> int | None:
        """The schema version of the state tables (None: there are none yet)."""
        return self._version()

    def _version(self) -> int | None:
        if not self._schema_exists():
            return None
        row = self._fetchone("SELECT max(version) FROM {s}.schema_version")
        return row[0]

    def _check_version(self, version: int | None) -> None:
        if version is not None and version > SCHEMA_VERSION:
            raise StateError(
                _(
                    "the state tables in {database} are of schema version {version}, newer than "
                    "this ainas-provision knows ({known}): upgrade ainas-provision"
                ).format(database=self.describe(), version=version, known=SCHEMA_VERSION)
            )

    def ensure_schema(self) -> bool:
        """Create (or migrate) the state tables; True when something was done."""
        version = self._version()
        self._check_version(version)
        if version == SCHEMA_VERSION:
            return False
        with self._guard():
            conn = self._connection()
            with conn.transaction():
                # one creator at a time: a second first run waits here, then finds it done
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (f"ainas-provision schema {self.location.schema}",),
                )
                conn.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {s}"))
                conn.execute(
                    self._sql(
                        "CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer NOT NULL, "
                        "migrated_at timestamptz NOT NULL DEFAULT now())"
                    )
                )
                current = (
                    conn.execute(
                        self._sql("SELECT max(version) FROM {s}.schema_version")
                    ).fetchone()[0]
                    or 0
                )
                self._check_version(current)
                for number in range(current + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[number]:
                        conn.execute(self._sql(statement))
                    conn.execute(
                        self._sql("INSERT INTO {s}.schema_version (version) VALUES (%s)"),
                        (number,),
                    )
        if current < SCHEMA_VERSION:
            where = {"schema": self.location.schema, "database": self._database_shown()}
            self.announce(
                _(
                    "created the state tables in schema {schema} of {database} (schema version "
                    "{version})"
                ).format(**where, version=SCHEMA_VERSION)
                if current == 0
                else _(
                    "migrated the state tables in schema {schema} of {database} from schema "
                    "version {current} to {version}"
                ).format(**where, current=current, version=SCHEMA_VERSION)
            )
            return True
        return False

    def _database_shown(self) -> str:
        parts = urlsplit(self.describe())
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    # -- reading ------------------------------------------------------------------------
    def exists(self) -> bool:
        if not self._schema_exists():
            return False
        self._check_version(self._version())
        row = self._fetchone("SELECT 1 FROM {s}.states WHERE name = %s", (self.location.name,))
        return row is not None

    def names(self) -> list[str]:
        """The states kept in this schema."""
        if not self._schema_exists():
            return []
        with self._guard():
            rows = self._connection().execute(
                self._sql("SELECT name FROM {s}.states ORDER BY name")
            )
            return [name for (name,) in rows.fetchall()]

    def load(self) -> State:
        """The state as last committed (a new, empty one when there is none yet)."""
        if not self._schema_exists():
            return State()
        self._check_version(self._version())
        with self._guard():
            conn = self._connection()
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                row = conn.execute(
                    self._sql(
                        "SELECT lineage, serial, target, key_check, certificate, runbook "
                        "FROM {s}.states "
                        "WHERE name = %s"
                    ),
                    (self.location.name,),
                ).fetchone()
                if row is None:
                    return State()
                resources = conn.execute(
                    self._sql(
                        "SELECT section, key, value FROM {s}.resources WHERE state = %s "
                        "ORDER BY section, key"
                    ),
                    (self.location.name,),
                ).fetchall()
        lineage, serial, target, key_check, certificate, runbook = row
        state = State(lineage, serial, target, key_check, certificate, runbook=runbook)
        for section, key, value in resources:
            getattr(state, section)[key] = entry_from_json(section, value)
        return state

    # -- an apply -----------------------------------------------------------------------
    def begin(self, state: State) -> None:
        """Advance the serial by compare-and-swap: refuse when the state moved since it was
        read (another apply went first), before anything is changed."""
        self.ensure_schema()
        name = self.location.name
        with self._guard():
            conn = self._connection()
            with conn.transaction():
                if not state.lineage:
                    lineage = str(uuid.uuid4())
                    done = conn.execute(
                        self._sql(
                            "INSERT INTO {s}.states (name, lineage, serial) VALUES (%s, %s, 1) "
                            "ON CONFLICT (name) DO NOTHING"
                        ),
                        (name, lineage),
                    ).rowcount
                    if not done:
                        raise StateError(
                            _(
                                "the state {state} was created by another apply since it was "
                                "read: nothing was changed; plan again"
                            ).format(state=self.describe())
                        )
                    state.lineage = lineage
                    state.serial = 1
                else:
                    row = conn.execute(
                        self._sql(
                            "UPDATE {s}.states SET serial = serial + 1, updated_at = now() "
                            "WHERE name = %s AND lineage = %s AND serial = %s RETURNING serial"
                        ),
                        (name, state.lineage, state.serial),
                    ).fetchone()
                    if row is None:
                        raise StateError(self._moved_message(conn, state))
                    state.serial = row[0]
                # the journal of each apply opens with who made it
                holder = self.locker.info
                begin = {"op": "begin", "lineage": state.lineage, "serial": state.serial}
                if holder is not None:
                    begin["by"] = holder.describe()
                conn.execute(
                    self._sql(
                        "INSERT INTO {s}.journal (state, serial, seq, record) VALUES "
                        "(%s, %s, 0, %s)"
                    ),
                    (name, state.serial, _json(begin)),
                )
        self._serial = state.serial
        self._seq = 0
        self._group.reset()

    def _moved_message(self, conn, state: State) -> str:
        row = conn.execute(
            self._sql("SELECT lineage, serial FROM {s}.states WHERE name = %s"),
            (self.location.name,),
        ).fetchone()
        if row is None:
            text = _(
                "the state {state} was removed, not serial {serial} as read: another apply went "
                "first; nothing was changed — plan again"
            )
        elif row[0] != state.lineage:
            text = _(
                "the state {state} is now at serial {now} of another lineage, not serial "
                "{serial} as read: another apply went first; nothing was changed — plan again"
            )
        else:
            text = _(
                "the state {state} is now at serial {now}, not serial {serial} as read: another "
                "apply went first; nothing was changed — plan again"
            )
        return text.format(state=self.describe(), now=row[1] if row else None, serial=state.serial)

    def record(self, state: State, record: Record) -> None:
        """Write one change and its journal row in one transaction, committed before
        returning; then apply it to ``state`` (what could not be written is not taken)."""
        if self._serial is not None:
            # what the workers appended goes first (before taking the connection's mutex, which
            # the thread committing their batch holds)
            self.sync()
        with self._mutex:
            if self._serial is not None:
                self._write_records([record.to_json()])
            state.apply(record)

    def append(self, state: State, record: Record) -> int:
        """Apply one change to ``state`` and queue it; :meth:`sync` commits the queue."""
        data = record.to_json()
        if self._serial is None:
            state.apply(record)
            return 0
        return self._group.append(data, lambda: state.apply(record))

    def sync(self, ticket: int | None = None) -> None:
        """Return once the record with ``ticket`` (None: all) is committed; the records queued
        meanwhile by other workers are committed with it, in one transaction."""
        self._group.sync(ticket)

    def _write_records(self, records: list[dict]) -> None:
        """The records and their journal rows, in order, in one transaction."""
        if not records:
            return
        with self._guard():
            conn = self._connection()
            seq = self._seq
            with conn.transaction():
                for record in records:
                    seq += 1
                    self._write_record(conn, record, seq)
            self._seq = seq  # the journal's numbering goes on only from what was committed

    def _write_record(self, conn, record: dict, seq: int) -> None:
        name, section = self.location.name, record["section"]
        if section in ("target", "key_check", "certificate", "runbook"):
            value = None if record["op"] == "delete" else record["value"]
            conn.execute(
                self._sql(f"UPDATE {{s}}.states SET {section} = %s WHERE name = %s"),
                (_json(value) if section != "key_check" else value, name),
            )
        elif record["op"] == "delete":
            conn.execute(
                self._sql(
                    "DELETE FROM {s}.resources WHERE state = %s AND section = %s AND key = %s"
                ),
                (name, section, record["key"]),
            )
        else:
            conn.execute(
                self._sql(
                    "INSERT INTO {s}.resources (state, section, key, value) VALUES "
                    "(%s, %s, %s, %s) ON CONFLICT (state, section, key) DO UPDATE SET "
                    "value = EXCLUDED.value"
                ),
                (name, section, record["key"], _json(record["value"])),
            )
        conn.execute(
            self._sql(
                "INSERT INTO {s}.journal (state, serial, seq, record) VALUES (%s, %s, %s, %s)"
            ),
            (name, self._serial, seq, _json(record)),
        )

    def commit(self, state: State) -> None:
        """End the apply: every record is already committed (or has failed and stopped it)."""
        if self._serial is not None and not self._group.failed:
            self.sync()
        with self._mutex:
            self._serial = None

    def abandon(self) -> None:
        with self._mutex:
            self._serial = None

    def write(self, state: State) -> None:
        """Replace the whole state (``state migrate``), in one transaction."""
        self.ensure_schema()
        name = self.location.name
        with self._guard():
            conn = self._connection()
            with conn.transaction():
                conn.execute(self._sql("DELETE FROM {s}.resources WHERE state = %s"), (name,))
                conn.execute(
                    self._sql(
                        "INSERT INTO {s}.states (name, lineage, serial, target, key_check, "
                        "certificate, runbook) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT "
                        "(name) DO UPDATE SET lineage = EXCLUDED.lineage, serial = "
                        "EXCLUDED.serial, target = EXCLUDED.target, key_check = "
                        "EXCLUDED.key_check, certificate = EXCLUDED.certificate, runbook = "
                        "EXCLUDED.runbook, updated_at = now()"
                    ),
                    (
                        name,
                        state.lineage,
                        state.serial,
                        _json(state.target),
                        state.key_check,
                        _json(state.certificate),
                        _json(state.runbook),
                    ),
                )
                with conn.cursor() as cursor:
                    cursor.executemany(
                        self._sql(
                            "INSERT INTO {s}.resources (state, section, key, value) "
                            "VALUES (%s, %s, %s, %s)"
                        ),
                        [
                            (name, section, key, _json(value.to_json()))
                            for section in ("sites", "users")
                            for key, value in getattr(state, section).items()
                        ],
                    )


def _json(value: Any):
    from psycopg.types.json import Json

    return None if value is None else Json(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    # json, not jsonb: the keys keep their order, so that a state moved to the database and back
    # is the same file, byte for byte
    return json.dumps(value, ensure_ascii=False)


class _Guard:
    """Serialises use of the connection (the executor records from several threads) and turns
    the driver's errors into messages a person can act on, the password masked."""

    def __init__(self, store: PostgresStateStore) -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store._mutex.acquire()

    def __exit__(self, kind, exc, tb) -> bool:
        self.store._mutex.release()
        if exc is None or isinstance(exc, AinasProvisionError):
            return False
        psycopg = _import_psycopg()
        if not isinstance(exc, psycopg.Error):
            return False
        store = self.store
        text = store.location.mask(str(exc).strip()) or type(exc).__name__
        conn = store._conn
        if conn is None:
            raise StateError(
                _("cannot connect to the state database {database}: {reason}").format(
                    database=store.describe(), reason=text
                )
            ) from None
        if conn.closed or conn.broken:
            store.close()
            store._lost = _(
                "the connection to the state database {database} was lost ({reason}); what was "
                "recorded before is kept: run apply again"
            ).format(database=store.describe(), reason=text)
            raise StateConnectionLost(store._lost) from None
        raise StateError(
            _("the state database {database}: {reason}").format(
                database=store.describe(), reason=text
            )
        ) from None


MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE TABLE {s}.states (name text PRIMARY KEY, lineage text NOT NULL, "
        "serial bigint NOT NULL, target json, key_check text, certificate json, "
        "updated_at timestamptz NOT NULL DEFAULT now())",
        "CREATE TABLE {s}.resources (state text NOT NULL REFERENCES {s}.states (name) "
        "ON DELETE CASCADE, section text NOT NULL CHECK (section IN ('sites', 'users')), "
        "key text NOT NULL, value json NOT NULL, PRIMARY KEY (state, section, key))",
        "CREATE TABLE {s}.journal (state text NOT NULL, serial bigint NOT NULL, "
        "seq integer NOT NULL, record json NOT NULL, "
        "recorded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (state, serial, seq))",
        "CREATE TABLE {s}.locks (state text PRIMARY KEY, id text NOT NULL, holder text, "
        "host text, pid integer, operation text, since timestamptz, "
        "backend_pid integer NOT NULL)",
    ],
    # the runbook's record: which plan a person is carrying out, and what they entered
    2: ["ALTER TABLE {s}.states ADD COLUMN runbook json"],
}

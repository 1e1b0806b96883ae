"""The sandbox's storage: one SQLite file (WAL), one connection per thread.

Field sets that AINAS treats as one form are stored as JSON in one column; what AINAS never
shows again (passwords) is stored only as a salted scrypt hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import threading
from base64 import b64decode, b64encode
from contextlib import contextmanager
from pathlib import Path

from ainas_emulator.errors import SandboxError
from ainas_provision import portable

SCHEMA_VERSION = 2  # 2: the screen catalogue's field names; sessions that expire

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    org_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    short_name TEXT NOT NULL,
    status TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    cert_id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES tenants(org_id),
    registered_at TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    info TEXT NOT NULL,
    typed TEXT NOT NULL,
    p12 BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sites (
    site_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES tenants(org_id),
    fields TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sites_by_org ON sites(org_id, site_id);
CREATE TABLE IF NOT EXISTS batch_accounts (
    site_id TEXT NOT NULL REFERENCES sites(site_id),
    kind TEXT NOT NULL,
    fields TEXT NOT NULL,
    batch_password TEXT NOT NULL,
    arrival_number_password TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (site_id, kind)
);
CREATE TABLE IF NOT EXISTS api_accounts (
    site_id TEXT PRIMARY KEY REFERENCES sites(site_id),
    api_key TEXT,
    password_expiry TEXT,
    registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    site_id TEXT NOT NULL REFERENCES sites(site_id),
    member_id TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (site_id, member_id)
);
CREATE TABLE IF NOT EXISTS users (
    login_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES tenants(org_id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    site_id TEXT,
    password TEXT NOT NULL,
    must_change_password INTEGER NOT NULL,
    fields TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_login TEXT
);
CREATE INDEX IF NOT EXISTS users_by_org ON users(org_id, login_id);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    login_id TEXT NOT NULL REFERENCES users(login_id),
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(login_id);
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start REAL NOT NULL,
    locked_until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    login_id TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faults (
    fault_id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    kind TEXT NOT NULL,
    field TEXT,
    value TEXT,
    remaining INTEGER
);
"""

# scrypt cost for the sandbox (N=2**10, r=8: 1 MiB, about 1.5 ms): a salted, memory-hard hash,
# light enough that a sandbox of 20,000 users is made quickly. (A production system would choose
# a far higher cost.) ``sandbox serve --hash-cost`` sets the exponent: lower, so that a benchmark
# measures the client rather than a server hashing on the same cores; higher, to feel real costs.
DEFAULT_HASH_COST = 10
SCRYPT_R, SCRYPT_P = 8, 1
MIN_HASH_COST, MAX_HASH_COST = 1, 20


def hash_password(password: str, cost: int = DEFAULT_HASH_COST) -> str:
    """A salted scrypt hash with N = 2**cost; the parameters are kept with it."""
    n = 2**cost
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, maxmem=256 * n * SCRYPT_R + 2**20
    )
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${b64encode(salt).decode()}${b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * int(n) * int(r) + 2**20,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def owner_only(path: Path) -> None:
    """Create the database file 0600 (or make an older one so) before SQLite opens it: it holds
    the tenant's .p12 and password hashes. SQLite gives the -wal and -shm files it creates the
    database file's mode."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        portable.make_private_fd(fd)
    finally:
        os.close(fd)


class Store:
    """The SQLite file. ``transaction()`` gives a connection in an immediate transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        owner_only(self.path)
        self._check_version()
        self.connection().executescript(SCHEMA)  # executescript manages its own transaction
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _check_version(self) -> None:
        """A file made by an older emulator stores other field names: refuse it, saying what
        to do, rather than misread it."""
        db = self.connection()
        has_meta = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and row[0] != str(SCHEMA_VERSION):
            self.close()
            raise SandboxError(
                f"{self.path} was made by another version of the AINAS emulator (format "
                f"{row[0]}, this one reads {SCHEMA_VERSION}): delete it to start afresh (the "
                "embedded sandbox is made again on the next run), or run `ainas-provision "
                "sandbox init --force` for a sandbox directory"
            )

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def transaction(self):
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    @contextmanager
    def snapshot(self):
        """A consistent read of several tables."""
        db = self.connection()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

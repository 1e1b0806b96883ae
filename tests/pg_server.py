"""A real PostgreSQL server for the team-state tests, from the operating system's packages.

The server is a child process of the test run: ``initdb`` makes a cluster in a fresh temporary
directory, ``postgres`` serves it on 127.0.0.1 and a free port, with its own socket directory
(the system's is not ours to write), and stopping it sends SIGINT (a fast shutdown), then
SIGQUIT, then SIGKILL, each with a bounded wait — so that a killed test run never leaves a
server behind the way ``pg_ctl start`` (a daemon) would.

``initdb`` and ``postgres`` refuse to run as root: as root they run as the ``postgres`` OS user
(the packages create it), and the directories they use are made with ``tempfile.mkdtemp`` and
handed to that user (pytest's ``tmp_path`` lives under a 0700 directory that user cannot enter).
Durability is switched off (``--no-sync``, ``fsync=off``): a test cluster is thrown away.

The server listens with TLS (a certificate of the test CA for ``localhost`` and 127.0.0.1), so
that ``sslmode=verify-full`` can be tested, and requires a password (SCRAM) over TCP, so that
``PGPASSWORD`` and a password in the URL are real.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ainas_provision.certs import pki

SUPERUSER = "postgres"
# a canary: the operators' password must never appear in any output, state file or message
OPERATOR = "operator"
OPERATOR_PASSWORD = "Pg-Canary-4kV9#sEcret"


class ServerMissing(Exception):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``postgres``: Debian's (the newest version), else
    the PATH's."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for directory in reversed(candidates):
        if (Path(directory) / "postgres").exists() and (Path(directory) / "initdb").exists():
            return Path(directory)
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if initdb and postgres:
        return Path(postgres).parent
    raise ServerMissing(
        "no PostgreSQL server binaries (initdb, postgres) on this machine: "
        "run `sh tools/test-deps.sh`, which installs them (Debian: apt-get install postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    root: Path  # holds data/, sockets/, tls/, server.log
    port: int = 0
    process: subprocess.Popen | None = None
    ca_file: Path | None = None

    # -- who runs the server --------------------------------------------------------------
    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _run_as(self) -> dict:
        return {"user": "postgres"} if self._as_root else {}

    def _give(self, *paths: Path) -> None:
        if not self._as_root:
            return
        entry = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, ca: pki.Issued) -> None:
        data, sockets, tls = self.root / "data", self.root / "sockets", self.root / "tls"
        for directory in (data, sockets, tls):
            directory.mkdir(mode=0o700)
        self._give(self.root, data, sockets, tls)
        os.chmod(self.root, 0o755)
        self._tls(ca, tls)
        password_file = tls / "superuser.pw"
        self.superuser_password = secrets.token_urlsafe(16)
        password_file.write_text(self.superuser_password + "\n", encoding="ascii")
        self._give(password_file)
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(password_file),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **self._run_as(),
        )
        self.port = _free_port()
        log = open(self.root / "server.log", "wb")  # noqa: SIM115 - the server's output
        self.process = subprocess.Popen(
            [
                str(self.bindir / "postgres"),
                "-D",
                str(data),
                "-k",
                str(sockets),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "max_connections=60",
                "-c",
                "ssl=on",
                "-c",
                f"ssl_cert_file={tls / 'server.pem'}",
                "-c",
                f"ssl_key_file={tls / 'server.key'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **self._run_as(),
        )
        log.close()
        self._wait_ready()
        self._create_operator()

    def _tls(self, ca: pki.Issued, tls: Path) -> None:
        server = pki.issue_server_cert(ca, ("localhost", "127.0.0.1"))
        (tls / "server.pem").write_bytes(server.cert_pem())
        key = tls / "server.key"
        key.write_bytes(server.key_pem())
        os.chmod(key, 0o600)  # the server refuses a key others can read
        self.ca_file = self.root / "ca.pem"
        self.ca_file.write_bytes(ca.cert_pem())
        self._give(tls / "server.pem", key)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the PostgreSQL server exited at start:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                # accepting TCP is not ready: ask through the socket as the superuser
                result = subprocess.run(
                    [
                        str(self.bindir / "pg_isready"),
                        "-h",
                        str(self.root / "sockets"),
                        "-p",
                        str(self.port),
                        "-U",
                        SUPERUSER,
                    ],
                    capture_output=True,
                )
                if result.returncode == 0:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the PostgreSQL server did not become ready:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = (self.root / "server.log").read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def _create_operator(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(
                f"CREATE ROLE {OPERATOR} LOGIN PASSWORD '{OPERATOR_PASSWORD}'"  # test constant
            )

    def stop(self) -> None:
        """SIGINT (fast shutdown), SIGQUIT (immediate), SIGKILL: each with a bounded wait."""
        process = self.process
        if process is None:
            return
        for sig, wait in ((signal.SIGINT, 10), (signal.SIGQUIT, 5), (signal.SIGKILL, 5)):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait)
        self.process = None

    # -- reaching it ---------------------------------------------------------------------
    def admin_url(self, database: str = "postgres") -> str:
        """The superuser, through the socket directory (trust): for the tests' own checks."""
        return f"postgresql://{SUPERUSER}@/{database}?host={quote(str(self.root / 'sockets'))}&port={self.port}"

    def url(self, database: str, *, password: bool = True, **params: str) -> str:
        """The operators' URL over TCP, as a user would write it."""
        auth = f"{OPERATOR}:{quote(OPERATOR_PASSWORD, safe='')}" if password else OPERATOR
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}" + (
            f"?{query}" if query else ""
        )

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER {OPERATOR}')
        return name

    def query(self, database: str, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.admin_url(database), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


def start_server(ca: pki.Issued) -> PostgresServer:
    """A running server; :meth:`PostgresServer.stop` and removing ``root`` are the caller's."""
    bindir = find_bindir()
    root = Path(tempfile.mkdtemp(prefix="ainas-pg-"))
    server = PostgresServer(bindir, root)
    try:
        server.start(ca)
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server

"""The files of a sandbox directory, named once: ``sandbox init`` writes them, ``sandbox serve``
and ``sandbox reset`` read them, and the registration notice points at them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ainas_provision import portable

CLIENT_CERT_NAME = "oss-ainas-agt-1"


@dataclass(frozen=True)
class SandboxFiles:
    """The files of a sandbox server's directory (its CA, certificates and tenants)."""

    directory: Path

    @property
    def ca(self) -> Path:
        """The test CA (``oss-ainasCA``): it signs the server and the client certificate."""
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def client_cert(self) -> Path:
        """The クライアント証明書, as AINAS delivers it: a password-protected .pfx."""
        return self.directory / f"{CLIENT_CERT_NAME}.pfx"

    @property
    def database(self) -> Path:
        return self.directory / "sandbox.sqlite"

    @property
    def notice(self) -> Path:
        return self.directory / "利用登録通知書.txt"

    @property
    def signing(self) -> Path:
        """Demo signing certificates (電子証明書) and the note of their PIN and password."""
        return self.directory / "signing"

    def written(self) -> list[Path]:
        """Everything ``sandbox init`` writes (the database's WAL files included)."""
        database = [self.database, *(Path(f"{self.database}{s}") for s in ("-wal", "-shm"))]
        return [
            self.ca,
            self.server_cert,
            self.server_key,
            self.client_cert,
            self.notice,
            *database,
            self.signing,
        ]

    def missing_for_serving(self) -> list[Path]:
        needed = (self.ca, self.server_cert, self.server_key, self.database)
        return [path for path in needed if not path.is_file()]


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (mode 0600), whatever mode it had before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        portable.make_private_fd(handle.fileno())
        handle.write(data)


def write_public(path: Path, data: bytes) -> None:
    """Write a file that holds nothing secret (a certificate)."""
    path.write_bytes(data)
    if not portable.WINDOWS:
        path.chmod(0o644)

"""The TLS side of mutual TLS: an ``ssl.SSLContext`` holding the client certificate and trusting
the configured CA.

The クライアント証明書 arrives as a password-protected ``.pfx``; Python's ``ssl`` loads a key only
from a file, so the key goes through a temporary file that only its owner can read, encrypted
with a one-time password, and removed right after loading, whatever happens. The server is
always verified — against the configured CA file, else the system's trust store — with host-name
checking; there is no way to turn that off.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.reader import load_p12
from ainas_provision.errors import AinasProvisionError
from ainas_provision.files import MAX_KEY_FILE_BYTES, read_regular
from ainas_provision.i18n import _
from ainas_provision.targets.https.connection import Connection


class TlsSetupError(AinasProvisionError):
    """The client certificate or the CA file cannot be used."""


@dataclass(frozen=True)
class ClientTls:
    """The TLS context with the client certificate, and what it says of itself."""

    context: ssl.SSLContext
    certificate: Path
    subject: str  # the client certificate's CN, e.g. oss-ainas-agt-1
    issuer: str  # its issuer's CN, e.g. oss-ainasCA
    not_after: dt.datetime | None = None  # when it expires (a warning ahead of it)


def _common_name(name: x509.Name) -> str:
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else name.rfc4514_string()


def client_tls(connection: Connection) -> ClientTls:
    """The TLS context for ``connection``; raises :class:`TlsSetupError` saying what to fix."""
    path = connection.client_cert
    if path is None:
        raise TlsSetupError(
            _(
                "no client certificate: AINAS is reached with the クライアント証明書 (.pfx) of the "
                "利用登録通知書; set AINAS_CLIENT_CERT to its file (or connection.client_cert in "
                "the manifests)"
            )
        )
    where = _("the client certificate {file} ({source})").format(
        file=path, source=connection.source("client_cert")
    )
    try:
        data = read_regular(path, limit=MAX_KEY_FILE_BYTES)
    except OSError as exc:
        raise TlsSetupError(
            _("cannot read {file}: {reason}").format(file=where, reason=exc.strerror or exc)
        ) from None
    password = connection.client_cert_password
    if password is None:
        raise TlsSetupError(
            _(
                "{certificate} needs its password: set AINAS_CLIENT_CERT_PASSWORD to the "
                "クライアント証明書パスワード of the 利用登録通知書 (or connection.client_cert_password)"
            ).format(certificate=where)
        )
    try:
        loaded = load_p12(data, password.reveal())
    except CertificateError as exc:
        raise TlsSetupError(
            _("cannot open {certificate}: {reason} (the password comes from {source})").format(
                certificate=where,
                reason=exc.message,
                source=connection.source("client_cert_password"),
            )
        ) from None
    cert = loaded.cert.certificate
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC):
        raise TlsSetupError(
            _("{certificate} expired on {date}: use the renewed クライアント証明書").format(
                certificate=where, date=cert.not_valid_after_utc.date().isoformat()
            )
        )

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the server and its host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if connection.ca_file is not None:
        try:
            # read here, as a regular file (a FIFO would hang OpenSSL's own read)
            pem = read_regular(connection.ca_file, limit=MAX_KEY_FILE_BYTES)
            context.load_verify_locations(cadata=pem.decode("ascii", "replace"))
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError(
                _(
                    "cannot use the CA file {file} ({source}): {reason}; give the PEM file of the "
                    "CA that signed the server's certificate"
                ).format(
                    file=connection.ca_file,
                    source=connection.source("ca_file"),
                    reason=getattr(exc, "strerror", None) or exc,
                )
            ) from None
    else:
        context.load_default_certs()
    chain = [cert, *(c.certificate for c in loaded.additional_certs)]
    _load_key(context, loaded.key, chain, where)
    return ClientTls(
        context,
        path,
        _common_name(cert.subject),
        _common_name(cert.issuer),
        cert.not_valid_after_utc,
    )


def _load_key(context: ssl.SSLContext, key, chain: list[x509.Certificate], where: str) -> None:
    one_time = secrets.token_bytes(32)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time),
    ) + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    fd, name = tempfile.mkstemp(prefix="ainas-client-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        context.load_cert_chain(name, password=one_time)
    except ssl.SSLError as exc:
        raise TlsSetupError(
            _("cannot use {certificate}: {reason}").format(
                certificate=where, reason=exc.reason or exc
            )
        ) from None
    finally:
        os.unlink(name)

"""Reading a signing certificate (``.p12``) as AINAS reads it.

One reader for everybody: the CLI, validation and the embedded sandbox (which parses uploaded
certificates with this same function). It takes bytes and a password and returns plain data or
raises :class:`CertificateError`; it prints nothing and reads no files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from ainas_provision.certs.attributes import read_fields
from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.info import CertificateInfo
from ainas_provision.certs.types import (
    CORPORATE,
    CORPORATE_EXTENSION_OID,
    SCRIVENER,
    check_type,
)
from ainas_provision.i18n import _

Attributes = Mapping[str, str | Sequence[str]]
CORPORATE_OID = x509.ObjectIdentifier(CORPORATE_EXTENSION_OID)


def load_p12(data: bytes, password: str) -> pkcs12.PKCS12KeyAndCertificates:
    """The key and certificate of a PKCS#12 file; both are required."""
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode())
    except ValueError:
        raise _load_error(data) from None
    if loaded.key is None and (loaded.cert is not None or loaded.additional_certs):
        # without a key, OpenSSL files every certificate under additional_certs
        raise CertificateError(
            "no-private-key",
            _(
                "the .p12 file holds a certificate but not its private key: AINAS needs both; "
                "export the certificate together with its private key"
            ),
        )
    if loaded.cert is None and loaded.additional_certs:
        raise CertificateError(
            "no-certificate",
            _(
                "the .p12 file holds a private key and certificates, but none of them is the "
                "key's own certificate: export the signing certificate together with its private "
                "key"
            ),
        )
    if loaded.cert is None:
        raise CertificateError(
            "no-certificate",
            _(
                "the .p12 file holds no certificate (only a key, or nothing): export the signing "
                "certificate together with its private key"
            ),
        )
    return loaded


def _load_error(data: bytes) -> CertificateError:
    """Why ``load_pkcs12`` refused: not PKCS#12 at all, or a password or cipher problem."""
    from ainas_provision.certs import pfx  # its ASN.1 reader, only to explain a refusal

    try:
        shape = pfx.inspect(data)
    except pfx.NotPkcs12:
        return CertificateError("not-pkcs12", _not_pkcs12_message(data))
    used = (
        _(" (this file is encrypted with {ciphers})").format(ciphers=", ".join(shape.ciphers))
        if shape.ciphers
        else ""
    )
    legacy = (
        _("; {ciphers} needs OpenSSL's legacy provider").format(
            ciphers=", ".join(shape.legacy_ciphers)
        )
        if shape.legacy_ciphers
        else ""
    )
    return CertificateError(
        "password-or-encryption",
        _(
            "cannot open the .p12 file: either the PIN/password is wrong, or the file uses a "
            "legacy encryption (such as RC2-40) that this OpenSSL cannot read{used}{legacy}. "
            "Check the PIN/password; if it is right, re-export the file with AES encryption"
        ).format(used=used, legacy=legacy),
    )


def _not_pkcs12_message(data: bytes) -> str:
    head = data[:64].lstrip()
    if head.startswith(b"-----BEGIN"):
        return _(
            "the file is PEM text, not a PKCS#12 (.p12/.pfx) file: give the .p12 file holding "
            "the certificate and its private key"
        )
    try:
        x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    else:
        return _(
            "the file is a bare certificate (.cer/.crt), not a PKCS#12 (.p12/.pfx) file: AINAS "
            "needs the .p12 file holding the certificate and its private key"
        )
    return _("the file is not a PKCS#12 (.p12/.pfx) file")


def detect_type(cert: x509.Certificate) -> str:
    """商業登記電子証明書 when the registeredCorporationInfo extension is present, else
    行政書士電子証明書."""
    return CORPORATE if _corporate_extension(cert) is not None else SCRIVENER


def _corporate_extension(cert: x509.Certificate) -> bytes | None:
    try:
        extension = cert.extensions.get_extension_for_oid(CORPORATE_OID)
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:
        raise CertificateError(
            "bad-extension",
            _("the certificate's extensions are malformed: {reason}").format(reason=exc),
        ) from None
    value = extension.value
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def read_certificate(
    cert: x509.Certificate, *, cert_type: str, attributes: Attributes | None = None
) -> CertificateInfo:
    """The fields of a loaded certificate. ``attributes`` (行政書士 only) says which subject/SAN
    attributes hold 屋号, 氏名 and 住所; see :mod:`ainas_provision.certs.attributes`."""
    check_type(cert_type)
    extension = _corporate_extension(cert)
    if cert_type == CORPORATE:
        from ainas_provision.certs import corporate  # its ASN.1 reader, only when needed

        if extension is None:
            raise CertificateError(
                "not-corporate",
                _(
                    "this is not a 商業登記電子証明書: it has no registeredCorporationInfo "
                    "extension ({oid}); check `certificate.type`"
                ).format(oid=CORPORATE_EXTENSION_OID),
            )
        try:
            registration = corporate.decode(extension)
        except corporate.CorporateExtensionError as exc:
            raise CertificateError(
                "bad-extension",
                _("the registeredCorporationInfo extension is malformed: {reason}").format(
                    reason=exc
                ),
            ) from None
        fields = {
            "trade_name": registration.corporate_name,
            "representative_name": registration.director_name,
            "address": registration.corporate_address,
            "registered_number": registration.registered_number,
            "director_title": registration.director_title,
            "registry_office": registration.registry_office,
        }
    else:
        if extension is not None:
            raise CertificateError(
                "not-scrivener",
                _(
                    "this is a 商業登記電子証明書 (it has the registeredCorporationInfo extension), "
                    "not a 行政書士電子証明書; check `certificate.type`"
                ),
            )
        fields = read_fields(cert, attributes)
    return CertificateInfo(
        cert_type=cert_type,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial_number=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        **fields,
    )


def read_p12(
    data: bytes, password: str, *, cert_type: str, attributes: Attributes | None = None
) -> CertificateInfo:
    """Open a ``.p12`` with its PIN/password and read it as a ``cert_type`` certificate
    (行政書士電子証明書 or 商業登記電子証明書)."""
    check_type(cert_type)
    return read_certificate(
        load_p12(data, password).cert.certificate, cert_type=cert_type, attributes=attributes
    )

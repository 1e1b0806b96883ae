"""The two types of signing certificate (電子証明書) AINAS accepts, as the manifest names them
(``certificate.type``)."""

from __future__ import annotations

from ainas_provision.certs.errors import CertificateError

SCRIVENER = "行政書士電子証明書"  # individual scrivener; Secom; protected by a PIN
CORPORATE = "商業登記電子証明書"  # scrivener corporation; 法務省; protected by a password
TYPES = (SCRIVENER, CORPORATE)
# the extension registeredCorporationInfo marks a 商業登記電子証明書 (read by certs/corporate.py,
# imported only when one is read: its ASN.1 library is not needed to find the extension)
CORPORATE_EXTENSION_OID = "1.2.392.100300.1.1.3"


def check_type(cert_type: str) -> str:
    if cert_type not in TYPES:
        raise CertificateError(
            "unknown-kind",
            f"unknown certificate type '{cert_type}': use {SCRIVENER} or {CORPORATE}",
        )
    return cert_type

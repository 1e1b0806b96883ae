"""The two kinds of signing certificate (電子証明書) AINAS accepts, as the manifest names them."""

from __future__ import annotations

from ainas_provision.certs.errors import CertificateError

SCRIVENER = "行政書士電子証明書"  # individual scrivener; Secom; protected by a PIN
CORPORATE = "商業登記電子証明書"  # scrivener corporation; 法務省; protected by a password
KINDS = (SCRIVENER, CORPORATE)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise CertificateError(
            "unknown-kind", f"unknown certificate type '{kind}': use {SCRIVENER} or {CORPORATE}"
        )
    return kind

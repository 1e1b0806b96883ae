"""Errors of certificate reading: a reason code a program can test, a message a person can act on."""

from __future__ import annotations

from ainas_provision.errors import AinasProvisionError


class CertificateError(AinasProvisionError):
    """A certificate file that cannot be used; the message never contains its password.

    ``reason`` is one of ``not-pkcs12``, ``password-or-encryption``, ``no-private-key``,
    ``no-certificate``, ``not-corporate``, ``not-scrivener``, ``bad-extension``, ``unknown-attribute``,
    ``unknown-kind``; the CLI adds ``unreadable`` and ``no-password``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

"""The root of every expected failure.

An :class:`AinasProvisionError` is something a user can act on: the CLI boundary prints its
message and exits 1, without a traceback. Anything else is a bug and is reported as one.
"""

from __future__ import annotations


class AinasProvisionError(Exception):
    """An expected failure with a message a person can act on."""


class ManifestError(AinasProvisionError):
    """The manifests could not be loaded or are invalid; carries the diagnostics."""

    def __init__(self, diagnostics: list) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        super().__init__(str(first) if first else "invalid manifests")

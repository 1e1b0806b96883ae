"""The emulator's two kinds of failure: AINAS refusing a request, and a sandbox that cannot be
made or served."""

from __future__ import annotations


class AinasError(Exception):
    """AINAS refused a request: a machine ``code``, AINAS's ``message`` (Japanese, naming the
    field), an HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class SandboxError(Exception):
    """A sandbox directory that cannot be made, reset or served; the message says what to do."""

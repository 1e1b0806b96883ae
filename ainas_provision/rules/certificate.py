"""Certificate checks that need no password: the file is there and can be read."""

from __future__ import annotations

from collections.abc import Mapping

from ainas_provision.diagnostics import Diagnostic
from ainas_provision.manifest.loader import Document, display_path
from ainas_provision.manifest.marks import MarkedMap, mark_of
from ainas_provision.rules.registry import register

register("certificate-file", "the certificate file exists and is readable", "certificate")


def check_file(merged: MarkedMap, origin: Mapping[str, Document]) -> list[Diagnostic]:
    cert = merged.get("certificate")
    if not isinstance(cert, MarkedMap) or not isinstance(cert.get("file"), str):
        return []
    doc = origin.get("certificate")
    path = doc.directory if doc else None
    full = (path / cert["file"]) if path else None
    if full is None:
        return []
    try:
        with open(full, "rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        message = (
            f"証明書ファイル (file) {cert['file']} does not exist (looked for {display_path(full)})"
        )
    except IsADirectoryError:
        message = f"証明書ファイル (file) {cert['file']} is a directory, not a .p12 file"
    except OSError as exc:
        message = f"証明書ファイル (file) {cert['file']} cannot be read: {exc.strerror}"
    else:
        return []
    return [Diagnostic(mark_of(cert, "file"), message, "certificate-file", "certificate.file")]

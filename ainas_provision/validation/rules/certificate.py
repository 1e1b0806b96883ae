"""Certificate rules: the file is there, opens with its password, is of the declared type, is in
force, and holds exactly what ``expect`` says — to the character."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.info import CertificateInfo, validity_problems
from ainas_provision.diagnostics import Diagnostic, Severity
from ainas_provision.files import MAX_KEY_FILE_BYTES, read_regular
from ainas_provision.i18n import _
from ainas_provision.manifest.loader import Document, display_path
from ainas_provision.manifest.marks import Mark, MarkedMap, mark_of
from ainas_provision.secrets.values import Secret
from ainas_provision.validation.rules import chars
from ainas_provision.validation.rules.registry import register

register("certificate-file", "the certificate file exists and is readable", "certificate")
register(
    "certificate-open",
    "the certificate opens with its PIN/password and holds its private key",
    "certificate",
)
register(
    "certificate-type",
    "the certificate is of the declared type (行政書士 or 商業登記)",
    "certificate",
)
register(
    "certificate-expect",
    "expect values equal what the certificate holds, character for character",
    "certificate",
)
register(
    "certificate-validity",
    "the certificate is in force: not expired, not before its start",
    "certificate",
)
register(
    "certificate-expiring",
    "a warning when the certificate expires within cert_expiry_warning_days",
    "certificate",
)

_LABELS = {
    "trade_name": "屋号(漢字)",
    "representative_name": "氏名又は代表者名(漢字)",
    "address": "住所(都道府県〜番地)",
}
_TYPE_REASONS = ("not-corporate", "not-scrivener", "bad-extension", "unknown-attribute")
DEFAULT_WARNING_DAYS = 60


@dataclass
class CertificateCheck:
    """What checking the certificate found: its fields (when it opened) and the problems."""

    path: Path | None = None
    info: CertificateInfo | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class CertificateInputs:
    """What checking the certificate reads of the manifests (all of it plain data: the cache of
    validated trees keeps it, and the certificate is checked again on every run, with its
    password): the file as written and its place, the declared type, the attributes, each
    ``expect`` text with its place, and the days of ``policy.cert_expiry_warning_days``."""

    path: Path
    file: str
    file_mark: Mark | None
    cert_type: object
    attributes: dict | None
    expect: list[tuple[str, str, Mark | None]]
    warning_days: object


def certificate_path(merged: MarkedMap, origin: Mapping[str, Document]) -> Path | None:
    cert = merged.get("certificate")
    doc = origin.get("certificate")
    if not isinstance(cert, MarkedMap) or not isinstance(cert.get("file"), str) or doc is None:
        return None
    return doc.directory / cert["file"]


def certificate_inputs(
    merged: MarkedMap, origin: Mapping[str, Document]
) -> CertificateInputs | None:
    """The certificate section's inputs, or None without a certificate file."""
    path = certificate_path(merged, origin)
    if path is None:
        return None
    cert = merged["certificate"]
    attributes = cert.get("attributes") if isinstance(cert.get("attributes"), dict) else None
    expect = cert.get("expect")
    policy = merged.get("policy") if isinstance(merged.get("policy"), dict) else {}
    return CertificateInputs(
        path=path,
        file=cert["file"],
        file_mark=mark_of(cert, "file"),
        cert_type=cert.get("type"),
        attributes=_plain(attributes) if attributes is not None else None,
        expect=[
            (key, expect[key], mark_of(expect, key))
            for key in _LABELS
            if isinstance(expect, MarkedMap) and isinstance(expect.get(key), str)
        ],
        warning_days=policy.get("cert_expiry_warning_days", DEFAULT_WARNING_DAYS),
    )


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def check(
    merged: MarkedMap,
    origin: Mapping[str, Document],
    secrets: Mapping[str, Secret] | None,
    now: dt.datetime,
    *,
    root: Path | None = None,
) -> CertificateCheck:
    """Check the certificate section. Without ``secrets`` (or without the password among them)
    only the file's presence is checked."""
    return check_inputs(certificate_inputs(merged, origin), secrets, now, root=root)


def check_inputs(
    inputs: CertificateInputs | None,
    secrets: Mapping[str, Secret] | None,
    now: dt.datetime,
    *,
    root: Path | None = None,
) -> CertificateCheck:
    """Check the certificate (see :func:`check`) from its inputs."""
    if inputs is None:
        return CertificateCheck()
    result = CertificateCheck(path=inputs.path)
    data = _read(result, inputs, root)
    password = (secrets or {}).get("certificate.password")
    if (
        data is None
        or password is None
        or inputs.cert_type
        not in (
            "行政書士電子証明書",
            "商業登記電子証明書",
        )
    ):
        return result
    from ainas_provision.certs.reader import read_p12  # the X.509 machinery, only when needed

    try:
        info = read_p12(
            data, password.reveal(), cert_type=inputs.cert_type, attributes=inputs.attributes
        )
    except CertificateError as exc:
        rule = "certificate-type" if exc.reason in _TYPE_REASONS else "certificate-open"
        result.diagnostics.append(
            Diagnostic(inputs.file_mark, f"{inputs.file}: {exc.message}", rule, "certificate.file")
        )
        return result
    result.info = info
    days = inputs.warning_days
    for problem in validity_problems(
        info, now, warning_days=days if isinstance(days, int) else None
    ):
        error = problem.severity == "error"
        result.diagnostics.append(
            Diagnostic(
                inputs.file_mark,
                f"{inputs.file}: {problem.message}",
                "certificate-validity" if error else "certificate-expiring",
                "certificate.file",
                Severity.ERROR if error else Severity.WARNING,
            )
        )
    for key, wanted, mark in inputs.expect:
        diagnostic = compare(wanted, getattr(info, key), _LABELS[key], key, mark)
        if diagnostic:
            result.diagnostics.append(diagnostic)
    return result


def _read(result: CertificateCheck, inputs: CertificateInputs, root: Path | None) -> bytes | None:
    """The certificate file's bytes: a regular file, inside the manifest directory ``root``."""
    full = result.path
    try:
        return read_regular(full, within=root, limit=MAX_KEY_FILE_BYTES, shown=inputs.file)
    except FileNotFoundError:
        message = _("証明書ファイル (file) {file} does not exist (looked for {path})").format(
            file=inputs.file, path=display_path(full)
        )
    except IsADirectoryError:
        message = _("証明書ファイル (file) {file} is a directory, not a .p12 file").format(
            file=inputs.file
        )
    except OSError as exc:
        message = _("証明書ファイル (file) {file} cannot be read: {reason}").format(
            file=inputs.file, reason=exc.strerror
        )
    result.diagnostics.append(
        Diagnostic(inputs.file_mark, message, "certificate-file", "certificate.file")
    )
    return None


def first_difference(a: str, b: str) -> int | None:
    """The index of the first character where ``a`` and ``b`` differ; None when equal."""
    if a == b:
        return None
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def compare(
    wanted: str, actual: str | None, label: str, key: str, mark: Mark | None
) -> Diagnostic | None:
    """A diagnostic when ``expect.<key>`` differs from the certificate, pointing at the first
    differing character and naming both characters with their code points."""
    path = f"certificate.expect.{key}"
    if actual is None:
        return Diagnostic(
            mark,
            _(
                "{label} (expect.{key}): the certificate holds no such field — for a "
                "行政書士電子証明書, set certificate.attributes to where it is, or remove the "
                "expectation"
            ).format(label=label, key=key),
            "certificate-expect",
            path,
        )
    index = first_difference(wanted, actual)
    if index is None:
        return None
    if index < len(wanted) and index < len(actual):
        detail = _(
            "at character {position} the manifest has {wanted}, the certificate {actual}"
        ).format(
            position=index + 1,
            wanted=chars.describe(wanted[index]),
            actual=chars.describe(actual[index]),
        )
    elif index < len(actual):
        detail = _(
            "the certificate goes on after character {position}: '{rest}' (starting with "
            "{character})"
        ).format(position=index, rest=actual[index:], character=chars.describe(actual[index]))
    else:
        detail = _(
            "the certificate ends after character {position}; the manifest goes on with "
            "'{rest}' (starting with {character})"
        ).format(position=index, rest=wanted[index:], character=chars.describe(wanted[index]))
    if mark is not None and "\n" not in wanted:
        mark = Mark(mark.file, mark.line, mark.col + index, mark.note)
    return Diagnostic(
        mark,
        _(
            "{label} (expect.{key}) '{wanted}' differs from the certificate's '{actual}': "
            "{detail}. AINAS reads this field from the certificate; one character off and OSS "
            "filings fail"
        ).format(label=label, key=key, wanted=wanted, actual=actual, detail=detail),
        "certificate-expect",
        path,
    )

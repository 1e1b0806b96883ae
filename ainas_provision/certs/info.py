"""What AINAS reads from a signing certificate, and whether the certificate is in force."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ainas_provision.i18n import _, ngettext

# Japan has no daylight saving time: a fixed offset needs no time-zone database.
JST = dt.timezone(dt.timedelta(hours=9), "JST")


@dataclass(frozen=True)
class CertificateInfo:
    """A signing certificate's fields. ``trade_name`` is 屋号(漢字), ``representative_name``
    氏名又は代表者名(漢字), ``address`` 住所(都道府県〜番地); a field the certificate lacks is None.
    ``registered_number``, ``director_title`` and ``registry_office`` are 商業登記 only."""

    cert_type: str  # 行政書士電子証明書 or 商業登記電子証明書 (certs.types)
    trade_name: str | None
    representative_name: str | None
    address: str | None
    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    serial_number: str  # lowercase hex
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime  # aware, UTC
    fingerprint_sha256: str  # lowercase hex, no colons
    registered_number: str | None = None
    director_title: str | None = None
    registry_office: str | None = None

    @property
    def expiry_date(self) -> dt.date:
        """証明書有効期限 as a date: **[project decision]** the day ``not_after`` falls on in
        Japan (UTC+9), as a Japanese system shows it."""
        return self.not_after.astimezone(JST).date()

    def as_json(self) -> dict:
        return {
            "kind": self.cert_type,
            "trade_name": self.trade_name,
            "representative_name": self.representative_name,
            "address": self.address,
            "registered_number": self.registered_number,
            "director_title": self.director_title,
            "registry_office": self.registry_office,
            "expiry_date": self.expiry_date.isoformat(),
            "subject": self.subject,
            "issuer": self.issuer,
            "serial_number": self.serial_number,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "fingerprint_sha256": self.fingerprint_sha256,
        }


@dataclass(frozen=True)
class ValidityProblem:
    """``code`` is ``expired``, ``not-yet-valid`` (errors) or ``expires-soon`` (a warning)."""

    code: str
    severity: str  # "error" | "warning"
    message: str


def validity_problems(
    info: CertificateInfo, now: dt.datetime, *, warning_days: int | None = None
) -> list[ValidityProblem]:
    """Why the certificate is not (or soon not) in force at ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if now > info.not_after:
        days = (now - info.not_after).days
        return [
            ValidityProblem(
                "expired",
                "error",
                ngettext(
                    "the certificate expired on {date} (証明書有効期限; not after {not_after}), "
                    "{days} day ago: AINAS will not accept it; renew it and use the new .p12",
                    "the certificate expired on {date} (証明書有効期限; not after {not_after}), "
                    "{days} days ago: AINAS will not accept it; renew it and use the new .p12",
                    days,
                ).format(date=info.expiry_date, not_after=info.not_after.isoformat(), days=days),
            )
        ]
    if now < info.not_before:
        return [
            ValidityProblem(
                "not-yet-valid",
                "error",
                _(
                    "the certificate is not valid yet: it takes effect at {not_before} (not "
                    "before); register it from that time on"
                ).format(not_before=info.not_before.isoformat()),
            )
        ]
    left = info.not_after - now
    if warning_days is not None and left <= dt.timedelta(days=warning_days):
        return [
            ValidityProblem(
                "expires-soon",
                "warning",
                ngettext(
                    "the certificate expires on {date} (証明書有効期限), in {left} day (warning "
                    "within {days} days): renew it in time",
                    "the certificate expires on {date} (証明書有効期限), in {left} days (warning "
                    "within {days} days): renew it in time",
                    left.days,
                ).format(date=info.expiry_date, left=left.days, days=warning_days),
            )
        ]
    return []

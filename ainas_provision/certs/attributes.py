"""Which certificate attributes hold 屋号, 氏名 and 住所 of a 行政書士電子証明書.

Its X.509 profile is not public, so the fields are read through a mapping the manifest may set
(``certificate.attributes``). **[project decision]** The default is :data:`DEFAULT_ATTRIBUTES`:
屋号 in O, 氏名 in CN, 住所 in ST + L + street joined with no separator.

A selector is an attribute short name (``CN``, ``O``, ``street`` …, case-insensitive) or a dotted
OID, of the subject, or of a subjectAltName directoryName when prefixed ``san:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509 import ObjectIdentifier
from cryptography.x509.oid import NameOID

from ainas_provision.certs.errors import CertificateError

FIELDS = ("trade_name", "representative_name", "address")
DEFAULT_ATTRIBUTES: Mapping[str, str | list[str]] = {
    "trade_name": "O",
    "representative_name": "CN",
    "address": ["ST", "L", "street"],
}

SHORT_NAMES: dict[str, ObjectIdentifier] = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "street": NameOID.STREET_ADDRESS,
    "C": NameOID.COUNTRY_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "title": NameOID.TITLE,
    "givenName": NameOID.GIVEN_NAME,
    "surname": NameOID.SURNAME,
    "SN": NameOID.SURNAME,
    "initials": NameOID.INITIALS,
    "pseudonym": NameOID.PSEUDONYM,
    "postalCode": NameOID.POSTAL_CODE,
    "postalAddress": NameOID.POSTAL_ADDRESS,
    "businessCategory": NameOID.BUSINESS_CATEGORY,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "UID": NameOID.USER_ID,
}
_BY_LOWER = {name.lower(): oid for name, oid in SHORT_NAMES.items()}
_DOTTED = re.compile(r"[0-9]+(\.[0-9]+)+")
SAN_PREFIX = "san:"


@dataclass(frozen=True)
class Selector:
    """One attribute: where it is (``subject`` or ``san``) and its OID."""

    place: str
    oid: ObjectIdentifier
    text: str  # as written in the mapping


def parse_selector(text: str) -> Selector:
    place, name = (
        ("san", text[len(SAN_PREFIX) :]) if text.startswith(SAN_PREFIX) else ("subject", text)
    )
    if _DOTTED.fullmatch(name):
        return Selector(place, ObjectIdentifier(name), text)
    oid = _BY_LOWER.get(name.lower())
    if oid is None:
        import difflib  # a misspelt attribute only

        close = difflib.get_close_matches(name, list(SHORT_NAMES), n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        raise CertificateError(
            "unknown-attribute",
            f"certificate attribute '{text}' is not known{hint}; use one of "
            f"{', '.join(SHORT_NAMES)} or a dotted OID, optionally prefixed 'san:'",
        )
    return Selector(place, oid, text)


def selectors(entry: str | Sequence[str]) -> list[Selector]:
    return [parse_selector(entry)] if isinstance(entry, str) else [parse_selector(e) for e in entry]


def effective_attributes(
    attributes: Mapping[str, str | Sequence[str]] | None,
) -> dict[str, list[Selector]]:
    """The mapping in use: the given entries over the default, each parsed."""
    merged = dict(DEFAULT_ATTRIBUTES)
    if attributes:
        unknown = [key for key in attributes if key not in FIELDS]
        if unknown:
            raise CertificateError(
                "unknown-attribute",
                f"certificate.attributes has an unknown field '{unknown[0]}'; the fields are "
                + ", ".join(FIELDS),
            )
        merged.update(attributes)
    return {field: selectors(entry) for field, entry in merged.items()}


def _names(cert: x509.Certificate, place: str) -> Iterable[x509.Name]:
    if place == "subject":
        return [cert.subject]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DirectoryName)


def read_selector(cert: x509.Certificate, selector: Selector) -> str | None:
    """The attribute's text (several values joined in order), or None when absent."""
    values = [
        attribute.value
        for name in _names(cert, selector.place)
        for attribute in name.get_attributes_for_oid(selector.oid)
        if isinstance(attribute.value, str)
    ]
    return "".join(values) if values else None


def read_fields(
    cert: x509.Certificate, attributes: Mapping[str, str | Sequence[str]] | None = None
) -> dict[str, str | None]:
    """屋号, 氏名 and 住所 read through the mapping; a field none of whose attributes is present
    is None (not an error: validation decides what a missing field means)."""
    result: dict[str, str | None] = {}
    for field, entry in effective_attributes(attributes).items():
        parts = [text for text in (read_selector(cert, s) for s in entry) if text is not None]
        result[field] = "".join(parts) if parts else None
    return result

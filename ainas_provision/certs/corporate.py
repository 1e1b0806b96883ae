"""The 商業登記電子証明書 extension registeredCorporationInfo (OID 1.2.392.100300.1.1.3).

Its value is a SEQUENCE of ``[n] EXPLICIT DirectoryString``; the tags this project knows are
listed in :data:`FIELDS`, any other element is skipped (public sources name no more, and a
reader must not fail on a field it does not need).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyasn1.codec.ber import decoder
from pyasn1.codec.der import encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char, tag, univ

from ainas_provision.certs.types import CORPORATE_EXTENSION_OID as OID  # noqa: F401 - re-exported

# tag number -> field of CorporateRegistration
FIELDS: dict[int, str] = {
    0: "corporate_name",  # 商号 -> 屋号(漢字)
    1: "registered_number",  # 会社法人等番号, 12 digits
    2: "corporate_address",  # 本店 -> 住所
    3: "director_name",  # 代表者の氏名 -> 代表者名
    4: "director_title",  # 代表者の資格, e.g. 代表取締役
    6: "registry_office",  # 登記所
}
DIRECTORY_STRINGS = (
    char.UTF8String,
    char.PrintableString,
    char.TeletexString,
    char.BMPString,
    char.UniversalString,
)


class CorporateExtensionError(ValueError):
    """The extension's value is not the DER this module expects."""


@dataclass(frozen=True)
class CorporateRegistration:
    """The 商業登記 attributes of a 商業登記電子証明書, as the certificate states them."""

    corporate_name: str | None = None
    registered_number: str | None = None
    corporate_address: str | None = None
    director_name: str | None = None
    director_title: str | None = None
    registry_office: str | None = None


def _explicit(number: int) -> tag.Tag:
    return tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number)


def decode(der: bytes) -> CorporateRegistration:
    """The fields of the extension's DER value; unknown or non-string elements are skipped."""
    try:
        elements, rest = decoder.decode(der, asn1Spec=univ.SequenceOf(componentType=univ.Any()))
    except (PyAsn1Error, OverflowError) as exc:  # a length past any index: pyasn1's OverflowError
        raise CorporateExtensionError(f"it is not a SEQUENCE ({exc})") from None
    if rest:
        raise CorporateExtensionError("it has trailing bytes after its SEQUENCE")
    found: dict[str, str] = {}
    for element in elements:
        try:
            value, _ = decoder.decode(bytes(element))
        except (PyAsn1Error, OverflowError):
            continue  # an implicitly tagged element of a kind this reader does not know
        outer = value.tagSet[-1] if len(value.tagSet) > 1 else None
        if outer is None or outer.tagClass != tag.tagClassContext:
            continue
        name = FIELDS.get(outer.tagId)
        if name is None or name in found or not isinstance(value, DIRECTORY_STRINGS):
            continue
        try:
            found[name] = str(value)
        except (PyAsn1Error, UnicodeError):
            raise CorporateExtensionError(f"its [{outer.tagId}] text cannot be decoded") from None
    return CorporateRegistration(**found)


def encode(
    registration: CorporateRegistration,
    *,
    string_type: type[char.AbstractCharacterString] = char.UTF8String,
) -> bytes:
    """DER of the extension's value, each present field as ``[n] EXPLICIT string_type``."""
    sequence = univ.SequenceOf(componentType=univ.Any())
    for number, name in FIELDS.items():
        text = getattr(registration, name)
        if text is None:
            continue
        element = string_type(text).subtype(explicitTag=_explicit(number))
        sequence.append(univ.Any(encoder.encode(element)))
    return encoder.encode(sequence)

"""The outer structure of a PKCS#12 file, read without its password.

``cryptography`` gives one error for a wrong password, an unreadable cipher and a file that is
not PKCS#12 at all. Reading the unencrypted outer structure tells the last apart and names the
ciphers the file uses, so that the error can say what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, tag, univ

DATA = "1.2.840.113549.1.7.1"
ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
PBES2 = "1.2.840.113549.1.5.13"

CIPHERS = {
    "1.2.840.113549.1.12.1.1": "RC4-128",
    "1.2.840.113549.1.12.1.2": "RC4-40",
    "1.2.840.113549.1.12.1.3": "3DES",
    "1.2.840.113549.1.12.1.4": "2-key 3DES",
    "1.2.840.113549.1.12.1.5": "RC2-128",
    "1.2.840.113549.1.12.1.6": "RC2-40",
    "1.2.840.113549.1.5.3": "DES (MD5)",
    "1.2.840.113549.1.5.10": "DES (SHA-1)",
    "2.16.840.1.101.3.4.1.2": "AES-128",
    "2.16.840.1.101.3.4.1.22": "AES-192",
    "2.16.840.1.101.3.4.1.42": "AES-256",
    "1.2.840.113549.3.7": "3DES",
    "1.3.14.3.2.7": "DES",
}
# ciphers OpenSSL 3 keeps in its "legacy" provider, which an installation may lack
LEGACY = {"RC4-128", "RC4-40", "RC2-128", "RC2-40", "DES (MD5)", "DES (SHA-1)", "DES"}


def _explicit(number: int) -> tag.Tag:
    return tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number)


class ContentInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("contentType", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("content", univ.Any().subtype(explicitTag=_explicit(0))),
    )


class PFX(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("authSafe", ContentInfo()),
        namedtype.OptionalNamedType("macData", univ.Any()),
    )


class AlgorithmIdentifier(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("algorithm", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("parameters", univ.Any()),
    )


class PBES2Params(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("keyDerivationFunc", AlgorithmIdentifier()),
        namedtype.NamedType("encryptionScheme", AlgorithmIdentifier()),
    )


class EncryptedContentInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("contentType", univ.ObjectIdentifier()),
        namedtype.NamedType("contentEncryptionAlgorithm", AlgorithmIdentifier()),
        namedtype.OptionalNamedType(
            "encryptedContent",
            univ.OctetString().subtype(
                implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 0)
            ),
        ),
    )


class EncryptedData(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("encryptedContentInfo", EncryptedContentInfo()),
        namedtype.OptionalNamedType("unprotectedAttrs", univ.Any()),
    )


class SafeBag(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("bagId", univ.ObjectIdentifier()),
        namedtype.NamedType("bagValue", univ.Any().subtype(explicitTag=_explicit(0))),
        namedtype.OptionalNamedType("bagAttributes", univ.Any()),
    )


class EncryptedPrivateKeyInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("encryptionAlgorithm", AlgorithmIdentifier()),
        namedtype.NamedType("encryptedData", univ.OctetString()),
    )


class NotPkcs12(ValueError):
    """The bytes are not a PKCS#12 PFX."""


@dataclass(frozen=True)
class PfxShape:
    """What can be known of a PKCS#12 file without its password."""

    ciphers: tuple[str, ...]  # e.g. ("RC2-40", "3DES"): certificates', then keys' encryption

    @property
    def legacy_ciphers(self) -> tuple[str, ...]:
        return tuple(c for c in self.ciphers if c in LEGACY)


def _decode(data: bytes, spec):
    value, rest = decoder.decode(data, asn1Spec=spec)
    if rest:
        raise PyAsn1Error("trailing bytes")
    return value


def _cipher(algorithm: AlgorithmIdentifier) -> str:
    oid = str(algorithm["algorithm"])
    if oid == PBES2 and algorithm["parameters"].isValue:
        params = _decode(bytes(algorithm["parameters"]), PBES2Params())
        oid = str(params["encryptionScheme"]["algorithm"])
    return CIPHERS.get(oid, oid)


def _octets(content) -> bytes:
    return bytes(_decode(bytes(content), univ.OctetString()))


def inspect(data: bytes) -> PfxShape:
    """The file's ciphers; raises :class:`NotPkcs12` when its outer structure is not a PFX."""
    try:
        pfx = _decode(data, PFX())
    except (PyAsn1Error, TypeError, ValueError) as exc:
        raise NotPkcs12(str(exc)) from None
    if int(pfx["version"]) != 3:
        raise NotPkcs12(f"PFX version {int(pfx['version'])}, not 3")
    ciphers: list[str] = []
    try:
        auth_safe = pfx["authSafe"]
        if str(auth_safe["contentType"]) != DATA or not auth_safe["content"].isValue:
            return PfxShape(())  # signed (public-key integrity mode): nothing more to read
        contents = _decode(
            _octets(auth_safe["content"]), univ.SequenceOf(componentType=ContentInfo())
        )
        for info in contents:
            content_type = str(info["contentType"])
            if content_type == ENCRYPTED_DATA:
                encrypted = _decode(bytes(info["content"]), EncryptedData())
                ciphers.append(
                    _cipher(encrypted["encryptedContentInfo"]["contentEncryptionAlgorithm"])
                )
            elif content_type == DATA:
                bags = _decode(_octets(info["content"]), univ.SequenceOf(componentType=SafeBag()))
                for bag in bags:
                    if str(bag["bagId"]) == SHROUDED_KEY_BAG:
                        key = _decode(bytes(bag["bagValue"]), EncryptedPrivateKeyInfo())
                        ciphers.append(_cipher(key["encryptionAlgorithm"]))
    except (PyAsn1Error, TypeError, ValueError):
        pass  # the outer PFX is right; leave the inside to OpenSSL
    return PfxShape(tuple(dict.fromkeys(ciphers)))

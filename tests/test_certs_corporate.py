"""The registeredCorporationInfo extension of 商業登記電子証明書."""

from __future__ import annotations

import pytest
from cryptography import x509
from helpers import PASSWORD, p12, signing_cert, utc_now
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import char, tag, univ

from ainas_provision.certs import corporate, pki
from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.reader import read_certificate, read_p12
from ainas_provision.certs.types import CORPORATE


def explicit(number: int, value):
    return value.subtype(explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number))


def sequence(*elements) -> bytes:
    value = univ.SequenceOf(componentType=univ.Any())
    for element in elements:
        value.append(univ.Any(encoder.encode(element)))
    return encoder.encode(value)


def cert_with_extension(der: bytes, ca) -> x509.Certificate:
    """A certificate carrying ``der`` as its registeredCorporationInfo value."""
    issued = signing_cert(CORPORATE, ca=ca)
    now = utc_now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(issued.cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(issued.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now.replace(year=now.year + 1))
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(corporate.OID), der), critical=False
        )
    )
    return builder.sign(ca.key, pki.hashes.SHA256())


def test_encode_decode_roundtrip():
    registration = corporate.CorporateRegistration(
        corporate_name="株式会社代理人",
        registered_number="012345678901",
        corporate_address="東京都千代田区三崎町２丁目１５−６",
        director_name="〇〇　〇〇",
        director_title="代表取締役",
        registry_office="東京法務局",
    )
    assert corporate.decode(corporate.encode(registration)) == registration


def test_helper_encodes_utf8_strings():
    der = pki.corporate_registration_extension(
        corporate_name="代理人Ａ", registered_number="012345678901"
    )
    elements, _ = decoder.decode(der, asn1Spec=univ.SequenceOf(componentType=univ.Any()))
    assert [type(decoder.decode(bytes(e))[0]) for e in elements] == [char.UTF8String] * 2
    assert corporate.decode(der) == corporate.CorporateRegistration(
        corporate_name="代理人Ａ", registered_number="012345678901"
    )


def test_unknown_tags_are_skipped(ca):
    der = sequence(
        explicit(0, char.UTF8String("代理人Ａ")),
        explicit(5, univ.Integer(42)),  # not a field this project knows
        explicit(1, char.PrintableString("012345678901")),
        char.UTF8String("x").subtype(  # an implicit primitive tag: skipped as well
            implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 9)
        ),
        explicit(7, char.UTF8String("未知の項目")),
        explicit(3, char.BMPString("〇〇　〇〇")),
        explicit(2, char.UTF8String("東京都千代田区三崎町２丁目１５−６")),
    )
    info = read_certificate(cert_with_extension(der, ca), cert_type=CORPORATE)
    assert info.trade_name == "代理人Ａ"
    assert info.registered_number == "012345678901"
    assert info.representative_name == "〇〇　〇〇"
    assert info.address == "東京都千代田区三崎町２丁目１５−６"
    assert (info.director_title, info.registry_office) == (None, None)


@pytest.mark.parametrize("string_type", [char.BMPString, char.UTF8String, char.UniversalString])
def test_string_types(string_type):
    registration = corporate.CorporateRegistration(
        corporate_name="代理人Ａ", director_name="〇〇　〇〇"
    )
    der = corporate.encode(registration, string_type=string_type)
    assert corporate.decode(der) == registration


def test_printable_and_teletex_strings():
    der = sequence(
        explicit(0, char.PrintableString("DAIRININ A")),
        explicit(1, char.PrintableString("012345678901")),
        explicit(4, char.TeletexString("Director")),
    )
    assert corporate.decode(der) == corporate.CorporateRegistration(
        corporate_name="DAIRININ A", registered_number="012345678901", director_title="Director"
    )


def test_first_of_a_repeated_tag_wins():
    der = sequence(explicit(0, char.UTF8String("一")), explicit(0, char.UTF8String("二")))
    assert corporate.decode(der).corporate_name == "一"


def test_malformed_extension(ca):
    with pytest.raises(CertificateError) as caught:
        read_certificate(cert_with_extension(b"\x04\x03abc", ca), cert_type=CORPORATE)
    assert caught.value.reason == "bad-extension"
    assert "registeredCorporationInfo extension is malformed" in str(caught.value)


def test_trailing_bytes_are_malformed():
    der = sequence(explicit(0, char.UTF8String("一"))) + b"\x00"
    with pytest.raises(corporate.CorporateExtensionError, match="trailing"):
        corporate.decode(der)


def test_read_through_p12(ca):
    issued = signing_cert(CORPORATE, ca=ca, registered_number="999999999999")
    assert read_p12(p12(issued), PASSWORD, cert_type=CORPORATE).registered_number == "999999999999"

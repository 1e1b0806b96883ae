"""A small PKI for tests and the sandbox: a CA, TLS server and client certificates, and signing
certificates of both types with the fields AINAS reads.

Built on ``cryptography`` only: EC P-256 keys by default (fast), RSA 2048 on request, SHA-256.
Nothing here is for production use.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ainas_provision.certs import corporate
from ainas_provision.certs.attributes import effective_attributes
from ainas_provision.certs.types import CORPORATE, SCRIVENER, check_type

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Issued:
    """A private key and its certificate."""

    key: PrivateKey
    cert: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def new_key(key_type: str = "ec") -> PrivateKey:
    """An EC P-256 (``"ec"``) or RSA 2048 (``"rsa"``) private key."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"key_type must be 'ec' or 'rsa', not {key_type!r}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _leaf(
    ca: Issued,
    subject: x509.Name,
    key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        _builder(subject, ca.cert.subject, key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )


def make_ca(
    common_name: str = "oss-ainasCA", *, days: int = 3650, key: PrivateKey | None = None
) -> Issued:
    """A self-signed CA certificate (the AINAS client certificates' issuer is ``oss-ainasCA``)."""
    key = key or new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = _now() - dt.timedelta(minutes=5)
    cert = (
        _builder(name, name, key, start, start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_server_cert(
    ca: Issued,
    hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    *,
    days: int = 825,
    key: PrivateKey | None = None,
) -> Issued:
    """A TLS server certificate for ``hosts`` (DNS names or IP addresses)."""
    key = key or new_key()
    start = _now() - dt.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    cert = (
        _leaf(ca, subject, key, start, start + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_host_name(h) for h in hosts]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(key, cert)


def issue_client_cert(
    ca: Issued,
    common_name: str = "oss-ainas-agt-1",
    *,
    days: int = 825,
    key: PrivateKey | None = None,
) -> Issued:
    """A TLS client certificate, like the AINAS クライアント証明書 ``oss-ainas-agt-<n>``."""
    key = key or new_key()
    start = _now() - dt.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _leaf(ca, subject, key, start, start + dt.timedelta(days=days))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(key, cert)


def export_pfx(
    issued: Issued,
    password: str,
    *,
    ca_certs: Iterable[x509.Certificate] = (),
    encryption: str = "aes",
    friendly_name: bytes | None = None,
) -> bytes:
    """A PKCS#12 file of the key and certificate (and ``ca_certs``), encrypted with AES-256
    (``"aes"``) or with the legacy SHA-1/3DES of older Windows exports (``"3des"``)."""
    if encryption == "aes":
        algorithm = serialization.BestAvailableEncryption(password.encode())
    elif encryption == "3des":
        algorithm = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())
            .build(password.encode())
        )
    else:
        raise ValueError(f"encryption must be 'aes' or '3des', not {encryption!r}")
    return pkcs12.serialize_key_and_certificates(
        friendly_name, issued.key, issued.cert, list(ca_certs) or None, algorithm
    )


def corporate_registration_extension(
    *,
    corporate_name: str | None,
    registered_number: str | None = None,
    corporate_address: str | None = None,
    director_name: str | None = None,
    director_title: str | None = None,
    registry_office: str | None = None,
) -> bytes:
    """DER of a registeredCorporationInfo value, every field a ``[n] EXPLICIT UTF8String``."""
    return corporate.encode(
        corporate.CorporateRegistration(
            corporate_name=corporate_name,
            registered_number=registered_number,
            corporate_address=corporate_address,
            director_name=director_name,
            director_title=director_title,
            registry_office=registry_office,
        )
    )


_PREFECTURE = re.compile(r"^(東京都|北海道|(?:京都|大阪)府|.{2,3}県)")
_MUNICIPALITY = re.compile(r"^(.+?郡.+?[町村]|.+?市.+?区|.+?[市区町村])")


def split_text(text: str, parts: int) -> list[str]:
    """``text`` in ``parts`` pieces whose concatenation is ``text``: an address in three is cut
    after its prefecture and municipality when it can be, anything else in near-equal pieces."""
    if parts == 1:
        return [text]
    if parts == 3:
        prefecture = _PREFECTURE.match(text)
        if prefecture:
            rest = text[prefecture.end() :]
            municipality = _MUNICIPALITY.match(rest)
            if municipality and municipality.end() < len(rest):
                return [prefecture.group(0), municipality.group(0), rest[municipality.end() :]]
    size, extra = divmod(len(text), parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _scrivener_names(
    values: Mapping[str, str], attributes: Mapping[str, str | list[str]] | None
) -> tuple[x509.Name, x509.Name | None]:
    """Subject and SAN directoryName holding ``values`` where the attribute mapping looks."""
    subject: list[x509.NameAttribute] = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    san: list[x509.NameAttribute] = []
    for field, selectors in effective_attributes(attributes).items():
        pieces = split_text(values[field], len(selectors))
        for selector, piece in zip(selectors, pieces, strict=True):
            target = san if selector.place == "san" else subject
            if any(a.oid == selector.oid for a in target):
                raise ValueError(f"two fields map to the attribute {selector.text}")
            target.append(x509.NameAttribute(selector.oid, piece))
    return x509.Name(subject), (x509.Name(san) if san else None)


def make_signing_certificate(
    cert_type: str,
    *,
    trade_name: str,
    representative_name: str,
    address: str,
    registered_number: str | None = None,
    director_title: str | None = None,
    registry_office: str | None = None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: Issued | None = None,
    attributes: Mapping[str, str | list[str]] | None = None,
    key: PrivateKey | None = None,
    romaji_name: str = "MARUMARU MARUMARU",
    romaji_trade_name: str = "DAIRININ A",
) -> Issued:
    """A signing certificate as AINAS reads it.

    商業登記電子証明書: subject O/CN in romaji (``romaji_trade_name``/``romaji_name``) and the
    Japanese fields in the registeredCorporationInfo extension. 行政書士電子証明書: the Japanese
    fields in UTF8String attributes where ``attributes`` (default: O, CN, ST+L+street) says.
    """
    check_type(cert_type)
    key = key or new_key()
    ca = ca or make_ca(
        "Test Registrar CA" if cert_type == CORPORATE else "Test G-ID CA", key=new_key()
    )
    if cert_type == CORPORATE:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, romaji_trade_name),
                x509.NameAttribute(NameOID.COMMON_NAME, romaji_name),
            ]
        )
        builder = _leaf(ca, subject, key, not_before, not_after).add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(corporate.OID),
                corporate_registration_extension(
                    corporate_name=trade_name,
                    registered_number=registered_number,
                    corporate_address=address,
                    director_name=representative_name,
                    director_title=director_title,
                    registry_office=registry_office,
                ),
            ),
            critical=False,
        )
    else:
        assert cert_type == SCRIVENER
        values = {
            "trade_name": trade_name,
            "representative_name": representative_name,
            "address": address,
        }
        subject, san = _scrivener_names(values, attributes)
        builder = _leaf(ca, subject, key, not_before, not_after)
        if san is not None:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DirectoryName(san)]), critical=False
            )
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))

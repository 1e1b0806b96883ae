from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from ainas_provision.certs import pki
from ainas_provision.certs.errors import CertificateError


@pytest.fixture(scope="module")
def ainas_ca() -> pki.Issued:
    return pki.make_ca()


def eku(cert: x509.Certificate) -> list:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_ca(ainas_ca):
    cert = ainas_ca.cert
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "oss-ainasCA"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(ainas_ca.key, ec.EllipticCurvePrivateKey)
    cert.verify_directly_issued_by(cert)


def test_rsa_ca(rsa_key):
    ca = pki.make_ca("RSA CA", days=30, key=rsa_key)
    assert isinstance(ca.key, rsa.RSAPrivateKey) and ca.key.key_size == 2048
    assert ca.cert.not_valid_after_utc - ca.cert.not_valid_before_utc == dt.timedelta(days=30)


def test_unknown_key_type():
    with pytest.raises(ValueError, match="'ec' or 'rsa'"):
        pki.new_key("dsa")


def test_server_cert(ainas_ca):
    server = pki.issue_server_cert(ainas_ca, ("localhost", "127.0.0.1", "::1"))
    server.cert.verify_directly_issued_by(ainas_ca.cert)
    san = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert eku(server.cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not server.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_client_cert(ainas_ca):
    client = pki.issue_client_cert(ainas_ca, days=10)
    client.cert.verify_directly_issued_by(ainas_ca.cert)
    assert client.cert.subject.rfc4514_string() == "CN=oss-ainas-agt-1"
    assert client.cert.issuer.rfc4514_string() == "CN=oss-ainasCA"
    assert eku(client.cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_pem_helpers(ainas_ca):
    client = pki.issue_client_cert(ainas_ca)
    assert x509.load_pem_x509_certificate(client.cert_pem()) == client.cert
    key = serialization.load_pem_private_key(client.key_pem(), password=None)
    assert key.public_key() == client.key.public_key()


@pytest.mark.parametrize("encryption", ["aes", "3des"])
def test_export_pfx(ainas_ca, encryption):
    client = pki.issue_client_cert(ainas_ca)
    data = pki.export_pfx(client, "pfx-pass", ca_certs=[ainas_ca.cert], encryption=encryption)
    loaded = pkcs12.load_pkcs12(data, b"pfx-pass")
    assert loaded.cert.certificate == client.cert
    assert [c.certificate for c in loaded.additional_certs] == [ainas_ca.cert]


def test_export_pfx_unknown_encryption(ainas_ca):
    with pytest.raises(ValueError, match="'aes' or '3des'"):
        pki.export_pfx(pki.issue_client_cert(ainas_ca), "x", encryption="rc2")


def test_signing_certificate_unknown_kind():
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(CertificateError):
        pki.make_signing_certificate(
            "電子証明書",
            trade_name="a",
            representative_name="b",
            address="c",
            not_before=now,
            not_after=now,
        )


def test_scrivener_values_are_utf8_strings():
    now = dt.datetime.now(dt.UTC)
    issued = pki.make_signing_certificate(
        "行政書士電子証明書",
        trade_name="代理人Ａ",
        representative_name="〇〇　〇〇",
        address="東京都千代田区三崎町２丁目１５−６",
        not_before=now,
        not_after=now + dt.timedelta(days=1),
    )
    values = {a.oid: a.value for a in issued.cert.subject}
    assert values[NameOID.STATE_OR_PROVINCE_NAME] == "東京都"
    assert values[NameOID.LOCALITY_NAME] == "千代田区"
    assert values[NameOID.STREET_ADDRESS] == "三崎町２丁目１５−６"
    der = issued.cert.subject.public_bytes()
    for text in ("代理人Ａ", "〇〇　〇〇", "東京都", "千代田区", "三崎町２丁目１５−６"):
        encoded = text.encode()
        assert bytes([0x0C, len(encoded)]) + encoded in der  # UTF8String


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        ("東京都千代田区三崎町２丁目１５−６", ["東京都", "千代田区", "三崎町２丁目１５−６"]),
        ("大阪府大阪市北区梅田１丁目１−１", ["大阪府", "大阪市北区", "梅田１丁目１−１"]),
        ("神奈川県横浜市中区本町１−１", ["神奈川県", "横浜市中区", "本町１−１"]),
        ("北海道虻田郡倶知安町北１条西１丁目", ["北海道", "虻田郡倶知安町", "北１条西１丁目"]),
    ],
)
def test_split_address(address, parts):
    assert pki.split_text(address, 3) == parts


@given(st.text(min_size=0, max_size=40), st.integers(min_value=1, max_value=5))
def test_split_text_concatenates_back(text, parts):
    pieces = pki.split_text(text, parts)
    assert len(pieces) == parts
    assert "".join(pieces) == text

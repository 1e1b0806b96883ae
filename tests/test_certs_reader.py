from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from helpers import CORPORATE_FIELDS, PASSWORD, SCRIVENER_FIELDS, p12, signing_cert, utc_now

from ainas_provision.certs import pfx, pki
from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.info import validity_problems
from ainas_provision.certs.reader import detect_type, read_p12
from ainas_provision.certs.types import CORPORATE, SCRIVENER
from ainas_provision.errors import AinasProvisionError


def read_error(data: bytes, password: str = PASSWORD, cert_type: str = SCRIVENER) -> CertificateError:
    with pytest.raises(CertificateError) as caught:
        read_p12(data, password, cert_type=cert_type)
    return caught.value


class TestScrivener:
    def test_reads_the_fields_exactly(self, ca):
        issued = signing_cert(SCRIVENER, ca=ca)
        info = read_p12(p12(issued), PASSWORD, cert_type=SCRIVENER)
        assert info.cert_type == SCRIVENER
        assert info.trade_name == "代理人Ａ"
        assert info.representative_name == "〇〇　〇〇"
        assert info.address == "東京都千代田区三崎町２丁目１５−６"
        assert (info.registered_number, info.director_title, info.registry_office) == (None,) * 3

    def test_certificate_metadata(self, ca):
        issued = signing_cert(SCRIVENER, ca=ca)
        info = read_p12(p12(issued), PASSWORD, cert_type=SCRIVENER)
        cert = issued.cert
        assert info.fingerprint_sha256 == cert.fingerprint(hashes.SHA256()).hex()
        assert info.serial_number == format(cert.serial_number, "x")
        assert info.subject == cert.subject.rfc4514_string()
        assert "O=代理人Ａ" in info.subject
        assert info.issuer == "CN=Test G-ID CA"
        assert info.not_before == cert.not_valid_before_utc
        assert info.not_after == cert.not_valid_after_utc
        assert info.not_after.utcoffset() == dt.timedelta(0)

    def test_rsa_key(self, ca, rsa_key):
        now = utc_now()
        issued = pki.make_signing_certificate(
            SCRIVENER,
            **SCRIVENER_FIELDS,
            ca=ca,
            key=rsa_key,
            not_before=now,
            not_after=now + dt.timedelta(days=730),
        )
        assert (
            read_p12(p12(issued), PASSWORD, cert_type=SCRIVENER).address == SCRIVENER_FIELDS["address"]
        )

    def test_custom_attribute_mapping_with_san(self, ca):
        mapping = {
            "trade_name": "OU",
            "representative_name": ["surname", "givenName"],
            "address": ["san:ST", "san:L", "san:street"],
        }
        issued = signing_cert(SCRIVENER, ca=ca, attributes=mapping)
        data = p12(issued)
        info = read_p12(data, PASSWORD, cert_type=SCRIVENER, attributes=mapping)
        assert (info.trade_name, info.representative_name, info.address) == tuple(
            SCRIVENER_FIELDS.values()
        )
        # the default mapping finds none of them there: fields are None, not an error
        default = read_p12(data, PASSWORD, cert_type=SCRIVENER)
        assert (default.trade_name, default.representative_name, default.address) == (None,) * 3

    def test_dotted_oid_and_partial_mapping(self, ca):
        issued = signing_cert(SCRIVENER, ca=ca)
        info = read_p12(
            p12(issued), PASSWORD, cert_type=SCRIVENER, attributes={"address": ["2.5.4.8", "L"]}
        )
        assert info.address == "東京都千代田区"  # ST + L only, street left out
        assert info.trade_name == "代理人Ａ"  # the default for the fields not given

    def test_missing_attribute_is_none(self, ca):
        issued = signing_cert(SCRIVENER, ca=ca)
        info = read_p12(p12(issued), PASSWORD, cert_type=SCRIVENER, attributes={"trade_name": "title"})
        assert info.trade_name is None

    def test_unknown_attribute_name_suggests(self, ca):
        issued = signing_cert(SCRIVENER, ca=ca)
        with pytest.raises(CertificateError) as caught:
            read_p12(p12(issued), PASSWORD, cert_type=SCRIVENER, attributes={"trade_name": "CNN"})
        assert caught.value.reason == "unknown-attribute"
        assert "did you mean 'CN'" in str(caught.value)

    def test_corporate_certificate_read_as_scrivener_is_refused(self, ca):
        error = read_error(p12(signing_cert(CORPORATE, ca=ca)), cert_type=SCRIVENER)
        assert error.reason == "not-scrivener"
        assert "certificate.type" in str(error)


class TestCorporate:
    def test_reads_the_extension_exactly(self, ca):
        issued = signing_cert(CORPORATE, ca=ca)
        info = read_p12(p12(issued), PASSWORD, cert_type=CORPORATE)
        assert info.trade_name == CORPORATE_FIELDS["trade_name"]
        assert info.representative_name == "利活用　一郎"
        assert info.address == "東京都千代田区三崎町２丁目１５−６"
        assert info.registered_number == "010005012345"
        assert len(info.registered_number) == 12 and info.registered_number.isdigit()
        assert info.director_title == "代表社員"
        assert info.registry_office == "東京法務局"

    def test_subject_is_romaji(self, ca):
        info = read_p12(p12(signing_cert(CORPORATE, ca=ca)), PASSWORD, cert_type=CORPORATE)
        assert info.subject.isascii()

    def test_scrivener_certificate_read_as_corporate(self, ca):
        error = read_error(p12(signing_cert(SCRIVENER, ca=ca)), cert_type=CORPORATE)
        assert error.reason == "not-corporate"
        assert str(error) == (
            "this is not a 商業登記電子証明書: it has no registeredCorporationInfo extension "
            "(1.2.392.100300.1.1.3); check `certificate.type`"
        )

    def test_detect_type(self, ca):
        assert detect_type(signing_cert(CORPORATE, ca=ca).cert) == CORPORATE
        assert detect_type(signing_cert(SCRIVENER, ca=ca).cert) == SCRIVENER


class TestFileProblems:
    def test_wrong_password_names_both_possibilities(self, ca):
        error = read_error(p12(signing_cert(ca=ca)), password="wrong-pin-93817")
        assert error.reason == "password-or-encryption"
        message = str(error)
        assert "PIN/password is wrong" in message
        assert "legacy encryption (such as RC2-40)" in message
        assert "re-export the file with AES" in message
        assert "AES-256" in message  # the file's own cipher
        assert "wrong-pin-93817" not in message and PASSWORD not in message
        assert isinstance(error, AinasProvisionError)

    def test_password_not_in_any_error_text(self, ca):
        error = read_error(p12(signing_cert(ca=ca)), password="canary-pw-55120")
        assert "canary-pw-55120" not in repr(error.args) + str(error) + repr(error)
        assert error.__cause__ is None and error.__suppress_context__

    def test_garbage_is_not_pkcs12(self):
        error = read_error(b"\x00not a certificate at all" * 10)
        assert error.reason == "not-pkcs12"
        assert str(error) == "the file is not a PKCS#12 (.p12/.pfx) file"

    def test_truncated_p12_is_not_pkcs12(self, ca):
        assert read_error(p12(signing_cert(ca=ca))[:200]).reason == "not-pkcs12"

    def test_pem_file_is_named(self, ca):
        error = read_error(signing_cert(ca=ca).cert_pem())
        assert error.reason == "not-pkcs12"
        assert "PEM text" in str(error)

    def test_bare_der_certificate_is_named(self, ca):
        error = read_error(signing_cert(ca=ca).cert.public_bytes(serialization.Encoding.DER))
        assert error.reason == "not-pkcs12"
        assert "bare certificate (.cer/.crt)" in str(error)

    def test_certificate_without_key(self, ca):
        cert = signing_cert(ca=ca).cert
        data = pkcs12.serialize_key_and_certificates(
            None, None, cert, None, serialization.BestAvailableEncryption(PASSWORD.encode())
        )
        error = read_error(data)
        assert error.reason == "no-private-key"
        assert "not its private key" in str(error)

    def test_key_without_certificate(self, ca):
        key = signing_cert(ca=ca).key
        data = pkcs12.serialize_key_and_certificates(
            None, key, None, None, serialization.BestAvailableEncryption(PASSWORD.encode())
        )
        assert read_error(data).reason == "no-certificate"

    def test_unknown_type(self, ca):
        error = read_error(p12(signing_cert(ca=ca)), cert_type="電子証明書")
        assert error.reason == "unknown-kind"


class TestValidity:
    def info(self, ca, not_before, not_after):
        issued = signing_cert(ca=ca, not_before=not_before, not_after=not_after)
        return read_p12(p12(issued), PASSWORD, cert_type=SCRIVENER)

    def test_expired(self, ca):
        now = utc_now()
        info = self.info(ca, now - dt.timedelta(days=400), now - dt.timedelta(days=3))
        [problem] = validity_problems(info, now)
        assert (problem.code, problem.severity) == ("expired", "error")
        assert "expired" in problem.message and "3 days ago" in problem.message

    def test_not_yet_valid(self, ca):
        now = utc_now()
        info = self.info(ca, now + dt.timedelta(days=2), now + dt.timedelta(days=400))
        [problem] = validity_problems(info, now)
        assert (problem.code, problem.severity) == ("not-yet-valid", "error")
        assert "not valid yet" in problem.message

    def test_in_force_and_expiring_soon(self, ca):
        now = utc_now()
        info = self.info(ca, now - dt.timedelta(days=1), now + dt.timedelta(days=30, hours=1))
        assert validity_problems(info, now) == []
        assert validity_problems(info, now, warning_days=20) == []
        [problem] = validity_problems(info, now, warning_days=60)
        assert (problem.code, problem.severity) == ("expires-soon", "warning")
        assert "in 30 days" in problem.message

    def test_now_must_be_aware(self, ca):
        now = utc_now()
        info = self.info(ca, now - dt.timedelta(days=1), now + dt.timedelta(days=10))
        with pytest.raises(ValueError, match="timezone-aware"):
            validity_problems(info, now.replace(tzinfo=None))

    def test_expiry_date_is_the_day_in_japan(self, ca):
        info = self.info(
            ca,
            dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2027, 3, 31, 15, 0, tzinfo=dt.UTC),
        )
        assert info.expiry_date == dt.date(2027, 4, 1)
        assert info.not_after.date() == dt.date(2027, 3, 31)

    def test_as_json(self, ca):
        info = self.info(
            ca,
            dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2027, 3, 31, 14, 59, 59, tzinfo=dt.UTC),
        )
        data = json.loads(json.dumps(info.as_json(), ensure_ascii=False))
        assert data["not_after"] == "2027-03-31T14:59:59+00:00"
        assert data["not_before"] == "2025-01-01T00:00:00+00:00"
        assert data["expiry_date"] == "2027-03-31"
        assert data["trade_name"] == "代理人Ａ"
        assert data["kind"] == SCRIVENER


class TestLegacyEncryption:
    def test_3des(self, ca):
        data = p12(signing_cert(ca=ca), encryption="3des")
        assert pfx.inspect(data).ciphers == ("3DES",)
        info = read_p12(data, PASSWORD, cert_type=SCRIVENER)
        assert info.representative_name == "〇〇　〇〇"

    def test_3des_wrong_password(self, ca):
        error = read_error(p12(signing_cert(ca=ca), encryption="3des"), password="nope-3des")
        assert error.reason == "password-or-encryption"
        assert "encrypted with 3DES" in str(error)

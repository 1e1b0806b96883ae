"""Whatever the bytes, the reader fails with an error a person can act on, never a crash."""

from __future__ import annotations

import contextlib

import pytest
from helpers import p12, signing_cert
from hypothesis import given, settings
from hypothesis import strategies as st

from ainas_provision.certs import corporate, pki
from ainas_provision.certs.errors import CertificateError
from ainas_provision.certs.reader import read_p12
from ainas_provision.certs.types import SCRIVENER

VALID = p12(signing_cert())
EXTENSION = pki.corporate_registration_extension(
    corporate_name="代理人Ａ", registered_number="012345678901", director_name="〇〇　〇〇"
)


def mutations(data: bytes):
    return st.tuples(st.integers(0, len(data) - 1), st.integers(1, 255)).map(
        lambda change: (
            data[: change[0]] + bytes([data[change[0]] ^ change[1]]) + data[change[0] + 1 :]
        )
    )


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        mutations(VALID),
        st.integers(0, len(VALID)).map(lambda n: VALID[:n]),
    )
)
def test_any_bytes_give_a_certificate_error(data):
    with pytest.raises(CertificateError) as caught:
        read_p12(data, "not-the-password", cert_type=SCRIVENER)
    assert caught.value.reason in {"not-pkcs12", "password-or-encryption"}


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=200), mutations(EXTENSION)))
def test_any_extension_bytes_decode_or_fail_cleanly(data):
    with contextlib.suppress(corporate.CorporateExtensionError):
        corporate.decode(data)

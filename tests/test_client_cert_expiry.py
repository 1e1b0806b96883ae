"""The client certificate (AINAS_CLIENT_CERT) expiring soon is said ahead of time, like the
signing certificate: once it has expired, AINAS cannot be reached at all."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

from ainas_provision.targets.https.tls import ClientTls
from ainas_provision.targets.registry import client_cert_expiry_warning

NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)


def tls(not_after: dt.datetime) -> ClientTls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return ClientTls(context, Path("agt.pfx"), "oss-ainas-agt-1", "oss-ainasCA", not_after)


def test_within_the_policy_days_it_warns_with_the_date_in_japan_time():
    # 2026-12-20 20:00 UTC is 2026-12-21 in Japan
    warning = client_cert_expiry_warning(
        tls(dt.datetime(2026, 12, 20, 20, 0, tzinfo=dt.UTC)), 60, NOW
    )
    assert warning == (
        "warning: the client certificate agt.pfx (oss-ainas-agt-1) expires on 2026-12-21 (Japan "
        "time), in 25 days (warning within 60 days): ask the association for the renewed "
        "クライアント証明書 in time"
    )


def test_beyond_the_policy_days_nothing_is_said():
    assert client_cert_expiry_warning(tls(NOW + dt.timedelta(days=61)), 60, NOW) is None
    assert client_cert_expiry_warning(tls(NOW + dt.timedelta(days=61)), 90, NOW) is not None

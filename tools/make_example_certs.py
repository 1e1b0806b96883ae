"""Make the demo signing certificates of the examples (run once; the files are committed).

    python tools/make_example_certs.py

The certificates are issued by a demo CA made on the spot; AINAS would refuse them, the
embedded sandbox accepts them. Their PIN/password is the one in each example's secrets/.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ainas_provision.certs import pki
from ainas_provision.certs.types import CORPORATE, SCRIVENER

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
JST = dt.timezone(dt.timedelta(hours=9))


def write(path: Path, issued: pki.Issued, password_file: Path) -> None:
    password = password_file.read_text(encoding="utf-8").rstrip("\n")
    path.write_bytes(pki.export_pfx(issued, password))
    print(f"wrote {path.relative_to(EXAMPLES.parent)}")


def main() -> None:
    ca = pki.make_ca("Demo Signing CA (ainas-provision examples)")
    scrivener = pki.make_signing_certificate(
        SCRIVENER,
        trade_name="代理人A",
        representative_name="〇〇　〇〇",
        address="東京都千代田区三崎町2丁目15-6",
        not_before=dt.datetime(2026, 11, 1, tzinfo=JST),
        not_after=dt.datetime(2029, 10, 31, 23, 59, 59, tzinfo=JST),
        ca=ca,
    )
    write(
        EXAMPLES / "quickstart" / "certs" / "gyoseishoshi.p12",
        scrivener,
        EXAMPLES / "quickstart" / "secrets" / "cert-pin.txt",
    )
    corporate = pki.make_signing_certificate(
        CORPORATE,
        trade_name="行政書士法人みなと登録センター",
        representative_name="港　太郎",
        address="東京都港区芝公園一丁目２番３号",
        registered_number="010405012345",
        director_title="代表社員",
        registry_office="東京法務局",
        not_before=dt.datetime(2026, 10, 1, tzinfo=JST),
        not_after=dt.datetime(2028, 12, 31, 23, 59, 59, tzinfo=JST),
        ca=ca,
    )
    write(
        EXAMPLES / "multi-branch" / "certs" / "corporate.p12",
        corporate,
        EXAMPLES / "multi-branch" / "secrets" / "cert-password.txt",
    )


if __name__ == "__main__":
    main()

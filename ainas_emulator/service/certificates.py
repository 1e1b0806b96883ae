"""代理人証明書登録, 代理人証明書照会 and 代理人証明書更新.

AINAS reads 屋号(漢字), 氏名又は代表者名(漢字), 住所 and 証明書有効期限 from the uploaded file
itself — and, here, which of the two kinds it is (a 商業登記電子証明書 carries the
registeredCorporationInfo extension). Certificate reading is the one thing the emulator takes
from the tool's packages: parsing a ``.p12`` is not an AINAS rule. A certificate that is expired
or not yet valid is refused; the password is required on every update and must open the file.
"""

from __future__ import annotations

import datetime as dt
import json

from ainas_emulator.errors import AinasError
from ainas_emulator.rules import check_form, parse_screen_date, reveal, today_in_japan
from ainas_emulator.service.base import Actor, ServiceBase, not_found, now_text
from ainas_provision.certs.errors import CertificateError

# the certificate reader (cryptography's PKCS#12, pyasn1: ~40 ms of imports) is imported where a
# file is read, not when the sandbox opens: a plan against the embedded sandbox reads none

TYPED = (
    "trade_name_kana",
    "representative_name_kana",
    "postal_code",
    "address_building",
    "start_date",
)
JST = dt.timezone(dt.timedelta(hours=9))


def _screen_date(day: dt.date) -> str:
    return day.strftime("%Y/%m/%d")


class Certificates(ServiceBase):
    def list_certificates(self, actor: Actor) -> list[dict]:
        self._usable(actor)
        rows = self.store.connection().execute(
            "SELECT cert_id, registered_at, fingerprint, info, typed FROM certificates "
            "WHERE org_id = ? ORDER BY cert_id",
            (actor.org_id,),
        )
        return [
            {
                "id": str(row["cert_id"]),
                "registered_at": row["registered_at"],
                "fingerprint": row["fingerprint"],
                **json.loads(row["info"]),
                **json.loads(row["typed"]),
            }
            for row in rows
        ]

    def _read_file(self, p12: bytes, password: str) -> tuple[dict, str]:
        from ainas_provision.certs.reader import detect_type, load_p12, read_certificate

        try:
            certificate = load_p12(p12, password).cert.certificate
            info = read_certificate(certificate, cert_type=detect_type(certificate))
        except CertificateError:
            # AINAS cannot tell a wrong password from an unreadable file either
            raise AinasError(
                "certificate-invalid",
                "証明書ファイルを読み込めません。証明書ファイルと証明書パスワードを確認してください。",
            ) from None
        now = dt.datetime.now(dt.UTC)
        if info.not_after <= now:
            raise AinasError(
                "certificate-expired",
                f"証明書の有効期限が切れています(証明書有効期限 {_screen_date(info.expiry_date)})。"
                "有効な電子証明書を登録してください。",
            )
        if info.not_before > now:
            raise AinasError(
                "certificate-not-yet-valid",
                "証明書の有効期間が始まっていません。有効な電子証明書を登録してください。",
            )
        return {
            "type": info.cert_type,
            "trade_name": info.trade_name,
            "representative_name": info.representative_name,
            "address": info.address,
            "expiry_date": _screen_date(info.expiry_date),
            "not_after": info.not_after.isoformat(),
        }, info.fingerprint_sha256

    @staticmethod
    def _check_start_date(value: str | None, stored: str | None) -> None:
        """利用開始日 is the day of entry (入力当日の日付): a day before it is refused
        (**[project decision]**: a later day is let through — a start planned ahead)."""
        if value is None or value == stored:
            return
        if parse_screen_date(value) < today_in_japan():
            raise AinasError(
                "start-date-past",
                f"利用開始日は入力当日({_screen_date(today_in_japan())})以降の日付を入力してください。",
            )

    def _create_certificate(self, db, actor: Actor, fields: dict, parent) -> str:
        """代理人証明書登録 then 代理人証明書更新, as one request: the file and its password, and
        the typed fields."""
        self._require_admin(actor, "代理人証明書登録")
        fields = {name: value for name, value in fields.items() if name != "type"}
        register = {name: fields.get(name) for name in ("file", "password")}
        values = check_form("certificate_register", register)
        typed = check_form(
            "certificate_update", {k: v for k, v in fields.items() if k != "file"}
        )
        self._check_start_date(typed["start_date"], None)
        info, fingerprint = self._read_file(bytes(values["file"]), values["password"])
        cursor = db.execute(
            "INSERT INTO certificates(org_id, registered_at, fingerprint, info, typed, p12) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                actor.org_id,
                now_text(),
                fingerprint,
                json.dumps(info, ensure_ascii=False),
                json.dumps({name: typed[name] for name in TYPED}, ensure_ascii=False),
                bytes(values["file"]),
            ),
        )
        return str(cursor.lastrowid)

    def _update_certificate(self, db, actor: Actor, id: str, fields: dict) -> None:
        """代理人証明書更新: the typed fields, with the password that opens the file."""
        row = db.execute(
            "SELECT typed, p12 FROM certificates WHERE cert_id = ? AND org_id = ?",
            (id, actor.org_id),
        ).fetchone()
        if row is None:
            raise not_found("代理人証明書")
        self._require_admin(actor, "代理人証明書更新")
        stored = json.loads(row["typed"])
        merged = {**stored, **{k: v for k, v in fields.items() if k != "password"}}
        values = check_form("certificate_update", {**merged, "password": fields.get("password")})
        self._check_start_date(values["start_date"], stored.get("start_date"))
        from ainas_provision.certs.reader import load_p12

        try:
            load_p12(bytes(row["p12"]), reveal(values["password"]))
        except CertificateError:
            raise AinasError(
                "certificate-password", "証明書パスワードが正しくありません。"
            ) from None
        typed = {name: values[name] for name in TYPED}
        db.execute(
            "UPDATE certificates SET typed = ? WHERE cert_id = ?",
            (json.dumps(typed, ensure_ascii=False), id),
        )

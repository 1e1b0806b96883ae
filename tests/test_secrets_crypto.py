from __future__ import annotations

import base64
import stat

import pytest

from ainas_provision.secrets import crypto
from ainas_provision.secrets.crypto import SecretDecryptError, SecretsKeyError
from ainas_provision.secrets.refs import SecretError, SecretRef, resolve

FIELD = "sites.akihabara.registered.batch_account.arrival_number_password"
OTHER_FIELD = "sites.akihabara.kei.batch_account.arrival_number_password"
CANARY = "canary-PLAINTEXT-7f3a9c"


@pytest.fixture(scope="module")
def key() -> bytes:
    return crypto.generate_key()


def decrypt_error(token: str, field: str, key: bytes) -> SecretDecryptError:
    with pytest.raises(SecretDecryptError) as caught:
        crypto.decrypt(token, field, key)
    error = caught.value
    text = str(error) + repr(error.args) + error.detail
    assert CANARY not in text
    assert crypto.key_text(key) not in text and crypto._b64encode(key) not in text
    return error


def flip(token: str, position: int) -> str:
    version, kid, fid, data = token.split(":")
    raw = bytearray(crypto._b64decode(data))
    raw[position] ^= 0x01
    return ":".join((version, kid, fid, crypto._b64encode(bytes(raw))))


def test_roundtrip(key):
    for value in (CANARY, "日本語のパスワード", "", " spaces kept \n"):
        assert crypto.decrypt(crypto.encrypt(value, FIELD, key), FIELD, key) == value


def test_format(key):
    token = crypto.encrypt(CANARY, FIELD, key)
    version, kid, fid, data = token.split(":")
    assert version == "v1"
    assert kid == crypto.key_id(key) and len(kid) == 8
    assert len(fid) == 8
    assert len(crypto._b64decode(data)) == 12 + len(CANARY) + 16
    assert CANARY not in token


def test_random_nonce(key):
    first, second = (crypto.encrypt(CANARY, FIELD, key) for _ in range(2))
    assert first != second
    assert first.split(":")[3][:16] != second.split(":")[3][:16]


def test_moved_to_another_field(key):
    error = decrypt_error(crypto.encrypt(CANARY, FIELD, key), OTHER_FIELD, key)
    assert error.reason == "other-field"
    assert str(error) == (
        f"the encrypted value of {OTHER_FIELD} was encrypted for another field: an encrypted "
        "value is bound to its field's path; re-encrypt it for this field with "
        f"`ainas-provision secrets encrypt --path {OTHER_FIELD}`"
    )


def test_moved_with_its_field_id_edited_still_fails(key):
    token = crypto.encrypt(CANARY, FIELD, key)
    version, kid, _, data = token.split(":")
    forged = ":".join((version, kid, crypto._field_id(key, OTHER_FIELD), data))
    assert decrypt_error(forged, OTHER_FIELD, key).reason == "damaged"


def test_wrong_key(key):
    other = crypto.generate_key()
    error = decrypt_error(crypto.encrypt(CANARY, FIELD, key), FIELD, other)
    assert error.reason == "other-key"
    assert "encrypted with another key" in str(error)
    assert crypto.key_id(key) in str(error) and crypto.key_id(other) in str(error)
    assert "another field" not in str(error)


@pytest.mark.parametrize("position", [0, 11, 12, -1])  # nonce, ciphertext, tag
def test_tampered(key, position):
    error = decrypt_error(flip(crypto.encrypt(CANARY, FIELD, key), position), FIELD, key)
    assert error.reason == "damaged"
    assert "altered or damaged" in str(error)


@pytest.mark.parametrize("token", ["", "v1:abc", "v2:a:b:c", "plain text", "v1:x:y:!!!notbase64"])
def test_malformed(key, token):
    assert decrypt_error(token, FIELD, key).reason in {"malformed", "other-key"}


def test_truncated(key):
    token = crypto.encrypt(CANARY, FIELD, key)
    assert decrypt_error(token[:-30], FIELD, key).reason == "damaged"


def test_decryptor_for_resolve(key, tmp_path):
    decryptor = crypto.make_decryptor(key)
    token = crypto.encrypt(CANARY, FIELD, key)

    def run(field_path: str):
        return resolve(
            SecretRef("encrypted", token),
            field_path=field_path,
            base_dir=tmp_path,
            env={},
            allow_plaintext=False,
            decrypt=decryptor,
        )

    assert run(FIELD).reveal() == CANARY
    with pytest.raises(SecretError) as caught:
        run(OTHER_FIELD)
    assert caught.value.rule == "secret-encrypted"
    assert caught.value.message.startswith("was encrypted for another field")
    assert f"--path {OTHER_FIELD}" in caught.value.message
    assert CANARY not in str(caught.value)


class TestKeyFile:
    def test_keygen_mode_and_content(self, tmp_path):
        path = tmp_path / "ainas-secrets.key"
        key = crypto.write_key_file(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        assert text == crypto.key_text(key) + "\n"
        assert text.startswith("ainas-secrets-key-v1:")
        assert len(key) == 32

    def test_refuses_to_overwrite(self, tmp_path):
        path = tmp_path / "k"
        first = crypto.write_key_file(path)
        with pytest.raises(SecretsKeyError, match="already exists"):
            crypto.write_key_file(path)
        assert crypto.load_key({"AINAS_SECRETS_KEY_FILE": str(path)}) == first
        second = crypto.write_key_file(path, force=True)
        assert second != first
        assert crypto.load_key({"AINAS_SECRETS_KEY_FILE": str(path)}) == second
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


class TestLoadKey:
    def test_none_when_unset(self):
        assert crypto.load_key({}) is None

    def test_text_form(self, key):
        assert crypto.load_key({"AINAS_SECRETS_KEY": crypto.key_text(key)}) == key

    @pytest.mark.parametrize("encode", [base64.urlsafe_b64encode, base64.b64encode])
    def test_bare_base64(self, encode):
        key = bytes(range(200, 232))  # has bytes whose base64 differs between alphabets
        text = encode(key).decode()
        assert crypto.load_key({"AINAS_SECRETS_KEY": text}) == key
        assert crypto.load_key({"AINAS_SECRETS_KEY": text.rstrip("=") + "\n"}) == key

    def test_key_file(self, tmp_path, key):
        path = tmp_path / "key"
        path.write_text(crypto.key_text(key) + "\n")
        assert crypto.load_key({"AINAS_SECRETS_KEY_FILE": str(path)}) == key

    def test_variable_wins_over_file(self, tmp_path, key):
        env = {
            "AINAS_SECRETS_KEY": crypto.key_text(key),
            "AINAS_SECRETS_KEY_FILE": str(tmp_path / "none"),
        }
        assert crypto.load_key(env) == key

    def test_missing_key_file(self, tmp_path):
        with pytest.raises(
            SecretsKeyError, match=r"AINAS_SECRETS_KEY_FILE names .*, which does not exist"
        ):
            crypto.load_key({"AINAS_SECRETS_KEY_FILE": str(tmp_path / "none")})

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("ainas-secrets-key-v1:" + "A" * 20, "decodes to 15 bytes, not 32"),
            ("ainas-secrets-key-v1:***not-base64***", "not base64"),
            ("other-key-v9:" + "A" * 43, "not an ainas-provision secrets key"),
            ("   ", "set but empty"),
        ],
    )
    def test_malformed_variable(self, text, message):
        with pytest.raises(SecretsKeyError, match=message) as caught:
            crypto.load_key({"AINAS_SECRETS_KEY": text})
        assert "AINAS_SECRETS_KEY" in str(caught.value)
        if text.strip():
            assert text.split(":")[-1] not in str(caught.value)

    def test_malformed_file_never_shows_the_key(self, tmp_path):
        secret_text = base64.urlsafe_b64encode(b"k" * 31).decode()
        path = tmp_path / "key"
        path.write_text(f"ainas-secrets-key-v1:{secret_text}\n")
        with pytest.raises(SecretsKeyError) as caught:
            crypto.load_key({"AINAS_SECRETS_KEY_FILE": str(path)})
        assert str(path) in str(caught.value)
        assert secret_text not in str(caught.value)

    def test_require_key_names_both_variables(self):
        with pytest.raises(SecretsKeyError) as caught:
            crypto.require_key({})
        assert "AINAS_SECRETS_KEY " in str(caught.value)
        assert "AINAS_SECRETS_KEY_FILE" in str(caught.value)

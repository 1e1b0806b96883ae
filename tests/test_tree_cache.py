"""The cache of validated trees: a second run over unchanged manifests uses the kept outcome and
gives what validating them again gives — the same diagnostics in the same language, the same
desired state and digest, the same plan — while any change to what validation read (a manifest,
a template, what a template includes, a data file, a --vars-file, the screen catalogue's
override, the run's language) validates again; secrets and the certificate are checked on every
run; damage is a miss; no secret, nor a hash of one, is ever written."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from ainas_provision import i18n
from ainas_provision.certs import pki
from ainas_provision.certs.types import SCRIVENER
from ainas_provision.domain.desired import DesiredCertificate, Resource
from ainas_provision.manifest import cache as cache_module
from ainas_provision.manifest.marks import Mark
from ainas_provision.validation import tree as tree_module
from ainas_provision.validation.tree import TreeCache, validate_tree
from tests.conftest import copy_example
from tests.helpers import bulk_demo_environment, run, utc_now

WARNINGS_TREE = {
    "organization.yaml": 'version: 1\norganization: {id: "1", name: 代理人A, short_name: 代理人A}\n',
    # two sites of one name (site-name-unique) and an inferred 拠点コード form (halfwidth-code)
    "sites.yaml": (
        "version: 1\nsites:\n"
        "  s1:\n    name: 営業所\n    short_name: 営業所\n    code: 本店の01\n"
        "  s2:\n    name: 営業所\n    short_name: 営業所二\n"
    ),
    "users.yaml": (
        "version: 1\nusers:\n  user001:\n    name: 利用者\n    role: 担当者(送信可)\n"
        "    site: s1\n    initial_password: {env: USER_PASSWORD}\n"
        "  user002:\n    name: 利用者\n    role: 担当者(送信可)\n"
        "    site: s2\n    initial_password: {env: USER_PASSWORD}\n"
    ),
}
ENV = {"USER_PASSWORD": "Pass-word-01"}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def lines(result) -> list[str]:
    return [str(d) for d in result.diagnostics]


def secrets_of(secrets) -> dict:
    return {name: (secret.source, secret.reveal()) for name, secret in secrets.items()}


def snapshot(desired) -> tuple:
    """All a desired state holds, comparable (secrets by source and value)."""
    cert = desired.certificate
    return (
        desired.organization_id,
        [
            (type(r).__name__, r.address, r.fields, secrets_of(r.secrets), r.mark)
            for r in desired.resources()
        ],
        desired.policy,
        desired.connection,
        secrets_of(desired.connection_secrets),
        desired.connection_dir,
        desired.organization_expect,
        desired.moved,
        (cert.path, cert.info) if cert is not None else None,
    )


def made_digest(desired) -> str:
    """The digest computed from the state itself, not the one kept with it."""
    kept, desired.known_digest = desired.known_digest, None
    try:
        return desired.digest()
    finally:
        desired.known_digest = kept


def check(path: Path, cache_dir: Path, **kwargs):
    """Validate with a fresh cache object (as a new run would): its counts, the result, the
    desired state."""
    cache = TreeCache(cache_dir)
    result, desired = validate_tree(path, cache=cache, desired=True, **kwargs)
    return cache.counts, result, desired


def expect_same(result, desired, path: Path, **kwargs) -> None:
    """``result`` and ``desired`` are what validating without any cache gives."""
    fresh, fresh_desired = validate_tree(path, cache=False, desired=True, **kwargs)
    assert lines(result) == lines(fresh)
    assert result.files == fresh.files
    assert secrets_of(result.secrets) == secrets_of(fresh.secrets)
    if fresh_desired is None:
        assert desired is None
        return
    assert snapshot(desired) == snapshot(fresh_desired)
    assert desired.digest() == made_digest(desired) == fresh_desired.digest()


def counted(counts) -> tuple[int, int, int]:
    return counts.hits, counts.misses, counts.writes


def entries(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / f"tree-v{tree_module.FORMAT}").glob("*.entry"))


@pytest.fixture
def bulk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_example("bulk-onboarding", tmp_path / "bulk")
    for name, value in bulk_demo_environment().items():
        monkeypatch.setenv(name, value)
    return Path("bulk")


@pytest.fixture
def quickstart(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_example("quickstart", tmp_path / "quickstart")
    return Path("quickstart")


@pytest.fixture
def warnings_tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return write_tree(Path("m"), WARNINGS_TREE)


# -- a second run ----------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["quickstart", "bulk", "warnings_tree"])
def test_a_second_run_uses_the_entry_and_gives_what_validating_gives(example, request, tmp_path):
    path = request.getfixturevalue(example)
    first, cold, cold_desired = check(path, tmp_path / "cache")
    assert counted(first) == (0, 1, 1)
    assert cold.ok and cold.documents  # validated: the parsed files are there
    expect_same(cold, cold_desired, path)
    second, warm, warm_desired = check(path, tmp_path / "cache")
    assert counted(second) == (1, 0, 0)
    assert warm.documents == [] and warm.merged is None  # nothing parsed, nothing merged
    expect_same(warm, warm_desired, path)
    assert lines(warm) == lines(cold)
    assert warm_desired.digest() == cold_desired.digest()
    if example == "warnings_tree":
        assert {d.rule for d in warm.warnings} == {"site-name-unique", "halfwidth-code"}


def test_a_kept_resource_makes_its_place_a_mark_when_it_is_read():
    kept = Resource("user", "u1", {"name": "x"}, {}, ("m/users.yaml", 3, 5, "rendered from row 2"))
    assert kept.__dict__["_mark"] == ("m/users.yaml", 3, 5, "rendered from row 2")  # not yet
    assert kept.mark == Mark("m/users.yaml", 3, 5, "rendered from row 2")
    assert kept.mark is kept.mark  # made once
    built = Resource(
        "user", "u1", {"name": "x"}, {}, Mark("m/users.yaml", 3, 5, "rendered from row 2")
    )
    assert kept == built and replace(kept, key="u2").mark == built.mark
    assert asdict(kept)["mark"] == asdict(built)["mark"]
    assert Resource("user", "u1", {}).mark is None
    assert DesiredCertificate("certificate", "", {}, {}, ("m/a.yaml", 1, 1, None)).mark == Mark(
        "m/a.yaml", 1, 1
    )


def test_equal_lists_of_kept_users_stay_each_user_s_own(warnings_tree, tmp_path):
    users = (
        WARNINGS_TREE["users.yaml"]
        .replace("    site: s1\n", "    site: s1\n    default_destination: [神奈川県, 練馬]\n")
        .replace("    site: s2\n", "    site: s2\n    default_destination: [神奈川県, 練馬]\n")
    )
    write_tree(warnings_tree, {"users.yaml": users})
    check(warnings_tree, tmp_path / "cache")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (1, 0, 0)
    expect_same(result, desired, warnings_tree)
    one, two = (desired.users[u].fields["default_destination"] for u in ("user001", "user002"))
    assert one == two == ["神奈川県", "練馬"] and one is not two
    one.append("changed")
    assert two == ["神奈川県", "練馬"]


def test_validate_uses_the_entry_of_a_plan_and_a_plan_completes_that_of_validate(
    warnings_tree, tmp_path
):
    cache_dir = tmp_path / "cache"
    validate_only = TreeCache(cache_dir)
    result, desired = validate_tree(warnings_tree, cache=validate_only)
    assert desired is None and counted(validate_only.counts) == (0, 1, 1)
    again = TreeCache(cache_dir)
    validate_tree(warnings_tree, cache=again)
    assert counted(again.counts) == (1, 0, 0)
    # the entry of validate holds no desired state: a plan validates again, and keeps it
    counts, _result, plan_desired = check(warnings_tree, cache_dir)
    assert counted(counts) == (0, 1, 1) and plan_desired is not None
    counts, _result, plan_desired = check(warnings_tree, cache_dir)
    assert counted(counts) == (1, 0, 0)
    only = TreeCache(cache_dir)
    assert lines(validate_tree(warnings_tree, cache=only)[0]) == lines(result)
    assert counted(only.counts) == (1, 0, 0)
    assert len(entries(cache_dir)) == 1


def test_the_entry_is_private_and_written_whole(warnings_tree, tmp_path):
    check(warnings_tree, tmp_path / "cache")
    (entry,) = entries(tmp_path / "cache")
    if os.name == "posix":
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary left


# -- each input ------------------------------------------------------------------------------


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_changed_manifest_byte_validates_again(warnings_tree, tmp_path):
    check(warnings_tree, tmp_path / "cache")
    edit(warnings_tree / "sites.yaml", "short_name: 営業所二", "short_name: 営業所三")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    assert desired.sites["s2"].fields["short_name"] == "営業所三"
    expect_same(result, desired, warnings_tree)
    # a new error: nothing is kept, every run says it
    edit(warnings_tree / "users.yaml", "site: s2", "site: s9")
    for _ in range(2):
        counts, result, desired = check(warnings_tree, tmp_path / "cache")
        assert counted(counts) == (0, 1, 0) and desired is None
        assert "site-reference" in {d.rule for d in result.errors}
        expect_same(result, desired, warnings_tree)


def test_a_new_or_removed_manifest_file_validates_again(warnings_tree, tmp_path):
    check(warnings_tree, tmp_path / "cache")
    (warnings_tree / "more.yaml").write_text(
        "version: 1\nadmins:\n  abcdf: {name: 管理者}\n", encoding="utf-8"
    )
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1) and "abcdf" in desired.admins
    (warnings_tree / "more.yaml").unlink()
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1) and desired.admins == {}
    expect_same(result, desired, warnings_tree)


def test_a_changed_template_validates_again(bulk, tmp_path):
    check(bulk, tmp_path / "cache")
    edit(bulk / "branches.yaml.j2", 'review_deadline: "16:00"', 'review_deadline: "15:00"')
    counts, result, desired = check(bulk, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    assert desired.sites["sjk01"].fields["registered.review_deadline"] == "15:00"
    expect_same(result, desired, bulk)


def test_a_changed_file_a_template_includes_validates_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USER_PASSWORD", ENV["USER_PASSWORD"])
    tree = write_tree(
        Path("m"),
        {
            "organization.yaml": WARNINGS_TREE["organization.yaml"],
            "sites.yaml.j2": "version: 1\nsites:\n{% include 'site.part' %}",
            "site.part": "  s1:\n    name: 営業所\n    short_name: 営業所\n",
        },
    )
    first, _result, _desired = check(tree, tmp_path / "cache")
    assert counted(first) == (0, 1, 1)
    second, _result, _desired = check(tree, tmp_path / "cache")
    assert counted(second) == (1, 0, 0)
    edit(tree / "site.part", "short_name: 営業所", "short_name: 本店")
    counts, result, desired = check(tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    assert desired.sites["s1"].fields["short_name"] == "本店"
    expect_same(result, desired, tree)
    # an include that may be missing: its absence was read too, and its arrival is a change
    edit(
        tree / "sites.yaml.j2",
        "{% include 'site.part' %}",
        "{% include ['extra.part', 'site.part'] %}",
    )
    check(tree, tmp_path / "cache")
    assert counted(check(tree, tmp_path / "cache")[0]) == (1, 0, 0)
    (tree / "extra.part").write_text("  s2:\n    name: 支店\n    short_name: 支店\n", "utf-8")
    counts, result, desired = check(tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1) and set(desired.sites) == {"s2"}
    expect_same(result, desired, tree)


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_a_file_made_a_link_out_of_the_tree_is_refused_as_before(warnings_tree, tmp_path):
    """The same bytes, but through a link that leads out of the manifest directory: the files
    are read again with the checks of the first read, so the link is refused, not reused."""
    check(warnings_tree, tmp_path / "cache")
    outside = tmp_path / "outside.yaml"
    outside.write_bytes((warnings_tree / "users.yaml").read_bytes())
    (warnings_tree / "users.yaml").unlink()
    (warnings_tree / "users.yaml").symlink_to(outside)
    for _ in range(2):
        counts, result, desired = check(warnings_tree, tmp_path / "cache")
        assert counts.hits == 0 and desired is None
        assert any("outside the manifest directory" in d.message for d in result.errors)
        expect_same(result, desired, warnings_tree)


def test_a_changed_csv_cell_validates_again(bulk, tmp_path):
    check(bulk, tmp_path / "cache")
    edit(bulk / "branches.csv", "SJK01,新宿登録センター", "SJK01,新宿第二センター")
    counts, result, desired = check(bulk, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    assert desired.sites["sjk01"].fields["name"] == "新宿第二センター"
    expect_same(result, desired, bulk)
    # a cell that breaks a rule: the error at the template's line, with the row
    edit(bulk / "branches.csv", "SJK01,新宿第二センター", "SJK01,Shinjuku")
    counts, result, desired = check(bulk, tmp_path / "cache")
    assert counted(counts) == (0, 1, 0) and not result.ok
    assert any("row 1 of" in (d.mark.note or "") for d in result.errors)
    expect_same(result, desired, bulk)


def test_a_changed_vars_file_validates_again(bulk, tmp_path):
    other = bulk / "other.csv"
    other.write_text((bulk / "branches.csv").read_text(encoding="utf-8"), encoding="utf-8")
    given = {"vars_files": ["branches=bulk/other.csv"]}
    first, _r, _d = check(bulk, tmp_path / "cache", **given)
    second, _r, _d = check(bulk, tmp_path / "cache", **given)
    assert (counted(first), counted(second)) == ((0, 1, 1), (1, 0, 0))
    edit(other, "SJK01,新宿登録センター", "SJK01,新宿第三センター")
    counts, result, desired = check(bulk, tmp_path / "cache", **given)
    assert counted(counts) == (0, 1, 1)
    assert desired.sites["sjk01"].fields["name"] == "新宿第三センター"
    expect_same(result, desired, bulk, **given)
    # without the option: another entry (the tree's own data file)
    counts, _result, desired = check(bulk, tmp_path / "cache")
    assert counts.hits == 0 and desired.sites["sjk01"].fields["name"] == "新宿登録センター"


SILENCE = (
    "version: 1\nscreens:\n  site_register:\n    fields:\n      site_code: {warn_inferred: false}\n"
)


def test_the_catalogue_override_beside_the_manifests_is_an_input(warnings_tree, tmp_path):
    counts, result, _desired = check(warnings_tree, tmp_path / "cache")
    assert "halfwidth-code" in {d.rule for d in result.warnings}
    override = warnings_tree / "ainas-screens.local.yaml"
    override.write_text(SILENCE, encoding="utf-8")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    assert "halfwidth-code" not in {d.rule for d in result.warnings}
    expect_same(result, desired, warnings_tree)
    override.write_text("version: 1\nscreens: {}\n", encoding="utf-8")  # the warning is back
    counts, result, _desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    assert "halfwidth-code" in {d.rule for d in result.warnings}
    override.unlink()
    counts, result, _desired = check(warnings_tree, tmp_path / "cache")
    assert counts.hits == 0 and "halfwidth-code" in {d.rule for d in result.warnings}


def test_the_environment_variable_naming_the_catalogue_override_is_an_input(
    warnings_tree, tmp_path, monkeypatch
):
    check(warnings_tree, tmp_path / "cache")
    elsewhere = tmp_path / "screens.yaml"
    elsewhere.write_text(SILENCE, encoding="utf-8")
    monkeypatch.setenv("AINAS_SCREENS_FILE", str(elsewhere))
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    assert "halfwidth-code" not in {d.rule for d in result.warnings}
    expect_same(result, desired, warnings_tree)
    assert counted(check(warnings_tree, tmp_path / "cache")[0]) == (1, 0, 0)
    monkeypatch.delenv("AINAS_SCREENS_FILE")
    counts, result, _desired = check(warnings_tree, tmp_path / "cache")
    assert counts.hits == 0 and "halfwidth-code" in {d.rule for d in result.warnings}


def test_the_language_is_an_input(warnings_tree, tmp_path):
    _counts, english, _desired = check(warnings_tree, tmp_path / "cache")
    i18n.set_language("ja")
    try:
        counts, japanese, desired = check(warnings_tree, tmp_path / "cache")
        assert counted(counts) == (0, 1, 1)
        assert lines(japanese) != lines(english) and "警告" in "".join(lines(japanese))
        expect_same(japanese, desired, warnings_tree)
        counts, again, _desired = check(warnings_tree, tmp_path / "cache")
        assert counted(counts) == (1, 0, 0) and lines(again) == lines(japanese)
    finally:
        i18n.set_language("en")
    counts, again, _desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (1, 0, 0) and lines(again) == lines(english)


def test_an_environment_secret_is_resolved_on_every_run(warnings_tree, tmp_path, monkeypatch):
    check(warnings_tree, tmp_path / "cache")
    monkeypatch.setenv("USER_PASSWORD", "short")  # breaks the password rule
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (1, 0, 0) and desired is None
    assert [(d.rule, d.path) for d in result.errors] == [
        ("password", "users.user001.initial_password"),
        ("password", "users.user002.initial_password"),
    ]
    expect_same(result, desired, warnings_tree)
    monkeypatch.delenv("USER_PASSWORD")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counts.hits == 1 and {d.rule for d in result.errors} == {"secret-env"}
    expect_same(result, desired, warnings_tree)
    monkeypatch.setenv("USER_PASSWORD", "Another-pass-02")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counts.hits == 1 and result.ok
    assert desired.users["user001"].secrets["initial_password"].reveal() == "Another-pass-02"
    expect_same(result, desired, warnings_tree)


def test_an_encrypted_secret_is_decrypted_on_every_run(warnings_tree, tmp_path, monkeypatch):
    from ainas_provision.secrets import crypto

    key = crypto.generate_key()
    token = crypto.encrypt("Encrypted-pass-01", "users.user002.initial_password", key)
    edit(
        warnings_tree / "users.yaml",
        "site: s2\n    initial_password: {env: USER_PASSWORD}",
        f'site: s2\n    initial_password: {{encrypted: "{token}"}}',
    )
    monkeypatch.setenv("AINAS_SECRETS_KEY", crypto.key_text(key))
    check(warnings_tree, tmp_path / "cache")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counts.hits == 1 and result.ok
    assert desired.users["user002"].secrets["initial_password"].reveal() == "Encrypted-pass-01"
    expect_same(result, desired, warnings_tree)
    monkeypatch.setenv("AINAS_SECRETS_KEY", crypto.key_text(crypto.generate_key()))
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counts.hits == 1 and [d.rule for d in result.errors] == ["secret-encrypted"]
    expect_same(result, desired, warnings_tree)
    monkeypatch.delenv("AINAS_SECRETS_KEY")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counts.hits == 1 and [d.rule for d in result.errors] == ["secret-encrypted"]
    assert "no secrets key is set" in result.errors[0].message
    expect_same(result, desired, warnings_tree)


def test_a_secret_file_is_read_on_every_run(quickstart, tmp_path):
    check(quickstart, tmp_path / "cache")
    (quickstart / "secrets" / "dairi001-password.txt").write_text("New-pass-0001\n", "utf-8")
    counts, result, desired = check(quickstart, tmp_path / "cache")
    assert counts.hits == 1
    assert desired.users["dairi001"].secrets["initial_password"].reveal() == "New-pass-0001"
    expect_same(result, desired, quickstart)


def renewed_certificate(quickstart: Path, **fields) -> None:
    now = utc_now()
    issued = pki.make_signing_certificate(
        SCRIVENER,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=400),
        **{
            "trade_name": "代理人A",
            "representative_name": "〇〇　〇〇",
            "address": "東京都千代田区三崎町2丁目15-6",
            **fields,
        },
    )
    pin = (quickstart / "secrets" / "cert-pin.txt").read_text(encoding="utf-8").strip()
    (quickstart / "certs" / "gyoseishoshi.p12").write_bytes(pki.export_pfx(issued, pin))


def test_a_changed_certificate_file_is_checked_again(quickstart, tmp_path):
    _counts, _result, before = check(quickstart, tmp_path / "cache")
    renewed_certificate(quickstart)  # the same holder, another certificate and expiry
    counts, result, desired = check(quickstart, tmp_path / "cache")
    assert counts.hits == 1 and result.ok
    assert desired.certificate.info.fingerprint_sha256 != before.certificate.info.fingerprint_sha256
    assert desired.certificate.fields["expiry_date"] != before.certificate.fields["expiry_date"]
    assert desired.digest() != before.digest()
    expect_same(result, desired, quickstart)
    # another holder: the manifests' expectation fails, at its place
    renewed_certificate(quickstart, trade_name="代理人B")
    counts, result, desired = check(quickstart, tmp_path / "cache")
    assert counts.hits == 1 and desired is None
    assert [d.rule for d in result.errors] == ["certificate-expect"]
    expect_same(result, desired, quickstart)
    # the wrong PIN
    (quickstart / "secrets" / "cert-pin.txt").write_text("wrong-pin-0000\n", encoding="utf-8")
    counts, result, desired = check(quickstart, tmp_path / "cache")
    assert counts.hits == 1 and [d.rule for d in result.errors] == ["certificate-open"]
    expect_same(result, desired, quickstart)


def test_the_date_certificates_are_judged_at_is_this_run(quickstart, tmp_path):
    _counts, today, _desired = check(quickstart, tmp_path / "cache")
    later = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    counts, result, desired = check(quickstart, tmp_path / "cache", now=later)
    assert counts.hits == 1 and today.ok and desired is None
    assert [d.rule for d in result.errors] == ["certificate-validity"]
    expect_same(result, desired, quickstart, now=later)


def test_a_change_of_the_tool_is_a_change_of_the_key(tmp_path, monkeypatch):
    """An editable install changes its code, not its version: the files' sizes and times are
    part of the tool's identity."""
    package = tmp_path / "lib" / "ainas_fake_package"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "rules.py").write_text("X = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    monkeypatch.setattr(cache_module, "_PACKAGES", ("ainas_fake_package",))
    monkeypatch.setattr(cache_module, "_files_seen", None)
    before = cache_module.tool_identity()
    monkeypatch.setattr(cache_module, "_files_seen", None)
    assert cache_module.tool_identity() == before
    (package / "rules.py").write_text("X = 2\n", encoding="utf-8")
    os.utime(package / "rules.py", ns=(1, 1))
    monkeypatch.setattr(cache_module, "_files_seen", None)
    assert cache_module.tool_identity() != before


def test_another_version_of_the_tool_misses(warnings_tree, tmp_path, monkeypatch):
    check(warnings_tree, tmp_path / "cache")
    monkeypatch.setattr(cache_module, "__version__", "99.0.0")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    expect_same(result, desired, warnings_tree)


# -- damage ----------------------------------------------------------------------------------


def test_a_damaged_or_foreign_entry_is_a_miss(warnings_tree, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    check(warnings_tree, cache_dir)
    (entry,) = entries(cache_dir)
    whole = entry.read_bytes()
    size = int.from_bytes(whole[:8], "little")
    foreign = bytearray(whole)
    foreign[8 + size - 30 : 8 + size - 20] = b"\x00" * 10  # inside the header
    for damage in (
        b"",
        b"\x00garbage",
        whole[:5],
        whole[: len(whole) // 2],  # cut short by a crash
        whole[:-1],
        bytes(foreign),
        b"\xff" * 8 + whole[8:],  # a header size past the end
    ):
        entry.write_bytes(damage)
        counts, result, desired = check(warnings_tree, cache_dir)
        assert counted(counts) == (0, 1, 1), damage[:12]
        expect_same(result, desired, warnings_tree)
        assert entry.read_bytes() == whole  # written again, whole
    # an entry of another format
    monkeypatch.setattr(tree_module, "FORMAT", tree_module.FORMAT + 1)
    counts, _result, _desired = check(warnings_tree, cache_dir)
    assert counted(counts) == (0, 1, 1)


def test_a_body_that_does_not_decode_is_a_miss(warnings_tree, tmp_path, monkeypatch):
    import marshal

    cache_dir = tmp_path / "cache"
    check(warnings_tree, cache_dir)
    (entry,) = entries(cache_dir)
    whole = entry.read_bytes()
    size = int.from_bytes(whole[:8], "little")
    for body in ({"files": []}, [1, 2, 3], {"places": [], "diagnostics": [(1,)]}):
        entry.write_bytes(whole[: 8 + size] + marshal.dumps(body))
        counts, result, desired = check(warnings_tree, cache_dir)
        assert counted(counts) == (0, 1, 1)
        expect_same(result, desired, warnings_tree)


def test_deleting_the_cache_is_safe(warnings_tree, tmp_path):
    import shutil

    check(warnings_tree, tmp_path / "cache")
    shutil.rmtree(tmp_path / "cache")
    counts, result, desired = check(warnings_tree, tmp_path / "cache")
    assert counted(counts) == (0, 1, 1)
    expect_same(result, desired, warnings_tree)


# -- secrets ---------------------------------------------------------------------------------

CANARY_ENV = "Canary-Env-7Tq2!"
CANARY_FILE = "Canary-File-3Zk9!"
CANARY_PIN = "canary-pin-5521"
CANARY_PLAIN = "Canary-Plain-8Ld4!"


def test_no_cache_file_holds_a_secret_or_a_hash_of_one(quickstart, tmp_path, monkeypatch):
    """Canaries in the environment, in a {file:}, as the certificate's PIN and (in another
    tree) written in plain text: no file of the cache holds one, in clear or hashed."""
    monkeypatch.setenv("AINAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CANARY_ENV", CANARY_ENV)
    (quickstart / "secrets" / "dairi001-password.txt").write_text(CANARY_FILE + "\n", "utf-8")
    edit(
        quickstart / "ainas.yaml",
        "{file: secrets/dairi002-password.txt}",
        "{env: CANARY_ENV}",
    )
    issued = pki.make_signing_certificate(
        SCRIVENER,
        trade_name="代理人A",
        representative_name="〇〇　〇〇",
        address="東京都千代田区三崎町2丁目15-6",
        not_before=utc_now() - dt.timedelta(days=1),
        not_after=utc_now() + dt.timedelta(days=400),
    )
    (quickstart / "certs" / "gyoseishoshi.p12").write_bytes(pki.export_pfx(issued, CANARY_PIN))
    (quickstart / "secrets" / "cert-pin.txt").write_text(CANARY_PIN + "\n", encoding="utf-8")
    plain = copy_example("quickstart", tmp_path / "plain")
    edit(plain / "ainas.yaml", "{file: secrets/dairi001-password.txt}", f'"{CANARY_PLAIN}"')
    edit(
        plain / "ainas.yaml",
        "  prune: false\n",
        "  prune: false\n  allow_plaintext_secrets: true\n",
    )
    for args in (
        ["validate", "quickstart"],
        ["plan", "quickstart"],
        ["plan", "quickstart"],
        ["apply", "quickstart", "--auto-approve"],
        ["validate", "quickstart"],
        ["validate", "plain"],
        ["plan", "plain"],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
    assert len(entries(tmp_path / "cache")) == 1  # the tree with a plain-text secret: none
    canaries = [CANARY_ENV, CANARY_FILE, CANARY_PIN, CANARY_PLAIN]
    forms = []
    for canary in canaries:
        data = canary.encode()
        forms += [data, canary.encode("utf-16-le")]
        for digest in (
            hashlib.sha256(data),
            hashlib.sha256(data + b"\n"),  # a {file:}'s bytes, hashed as the reads are
            hashlib.blake2b(data, digest_size=20),
            hashlib.blake2b(data + b"\n", digest_size=20),  # a {file:}'s bytes
            hashlib.blake2b(data),
        ):
            forms += [digest.digest(), digest.hexdigest().encode()]
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert any(p.suffix == ".entry" for p in files)
    for file in files:
        data = file.read_bytes()
        for form in forms:
            assert form not in data, file
    assert b"CANARY_ENV" in entries(tmp_path / "cache")[0].read_bytes()  # the reference is


def test_a_tree_with_a_plaintext_secret_is_not_kept(quickstart, tmp_path):
    edit(quickstart / "ainas.yaml", "{file: secrets/dairi001-password.txt}", f'"{CANARY_PLAIN}"')
    edit(
        quickstart / "ainas.yaml",
        "  prune: false\n",
        "  prune: false\n  allow_plaintext_secrets: true\n",
    )
    for _ in range(2):
        counts, result, desired = check(quickstart, tmp_path / "cache")
        assert (counts.hits, counts.writes, counts.refused) == (0, 0, 1) and result.ok
        assert desired.users["dairi001"].secrets["initial_password"].reveal() == CANARY_PLAIN
    assert entries(tmp_path / "cache") == []


# -- through the commands --------------------------------------------------------------------


def test_validate_replays_warnings_identically_in_each_language(
    warnings_tree, tmp_path, monkeypatch
):
    monkeypatch.setenv("AINAS_CACHE_DIR", str(tmp_path / "cache"))
    outputs = {}
    for lang in ("en", "ja"):
        first = run("--lang", lang, "validate", "m")
        written = {p: p.stat().st_mtime_ns for p in entries(tmp_path / "cache")}
        second = run("--lang", lang, "validate", "m")
        assert {p: p.stat().st_mtime_ns for p in entries(tmp_path / "cache")} == written
        assert first.exit_code == second.exit_code == 0
        assert first.stderr == second.stderr and first.stdout == second.stdout
        uncached = run("--lang", lang, "validate", "m", "--no-cache")
        assert uncached.stderr == second.stderr
        as_json = run("--lang", lang, "validate", "m", "--format", "json")
        assert (
            as_json.stdout
            == run("--lang", lang, "validate", "m", "--format", "json", "--no-cache").stdout
        )
        outputs[lang] = second.stderr
    assert len(entries(tmp_path / "cache")) == 2  # one per language
    assert "m/sites.yaml:6:11: warning: 代理人拠点コード (code) '本店の01'" in outputs["en"]
    assert "m/sites.yaml:6:11: 警告: " in outputs["ja"]
    assert outputs["en"] != outputs["ja"]
    assert run("validate", "m").stdout == "valid: 3 files, 2 warnings\n"


def test_plans_are_the_same_from_the_entry(quickstart, tmp_path, monkeypatch):
    monkeypatch.setenv("AINAS_CACHE_DIR", str(tmp_path / "cache"))
    runs = [
        run("plan", "quickstart", "--no-cache"),
        run("plan", "quickstart"),  # fills the cache
        run("plan", "quickstart"),  # from it
    ]
    assert len(entries(tmp_path / "cache")) == 1
    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]
    reused = "validation: the manifests are unchanged, their checked outcome is reused"
    assert reused in run("--debug", "plan", "quickstart").stderr
    assert reused not in run("--debug", "plan", "quickstart", "--no-cache").stderr
    shown = [
        [line for line in r.stdout.splitlines() if not line.startswith("Plan digest")] for r in runs
    ]
    assert shown[0] == shown[1] == shown[2]
    saved = []
    for name, extra in (("a", ["--no-cache"]), ("b", []), ("c", [])):
        result = run("plan", "quickstart", "--out", f"{name}.json", *extra)
        assert result.exit_code == 0, result.output
        saved.append(Path(f"{name}.json").read_text(encoding="utf-8"))

    def without_time(text: str) -> str:
        import json

        document = json.loads(text)
        document.pop("created_at")
        document.pop("digest")  # holds created_at
        return json.dumps(document, sort_keys=True)

    assert without_time(saved[0]) == without_time(saved[1]) == without_time(saved[2])
    assert run("apply", "quickstart", "--plan", "c.json", "--auto-approve").exit_code == 0
    again = run("plan", "quickstart", "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_no_cache_keeps_no_entry(warnings_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("AINAS_CACHE_DIR", str(tmp_path / "cache"))
    for args in (["validate", "m", "--no-cache"], ["plan", "m", "--no-cache"]):
        assert run(*args).exit_code in (0, 2)
    assert not (tmp_path / "cache").exists()
    monkeypatch.setenv("AINAS_NO_CACHE", "1")
    assert run("plan", "m").exit_code in (0, 2)
    assert not (tmp_path / "cache").exists()
    monkeypatch.delenv("AINAS_NO_CACHE")
    assert run("validate", "m").exit_code == 0
    assert len(entries(tmp_path / "cache")) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="file modes")
def test_an_entry_that_someone_else_could_write_is_still_only_data(warnings_tree, tmp_path):
    """The entry is marshal data: whatever it holds, loading it runs no code (a code object
    is refused as a body that does not decode)."""
    import marshal

    cache_dir = tmp_path / "cache"
    check(warnings_tree, cache_dir)
    (entry,) = entries(cache_dir)
    whole = entry.read_bytes()
    size = int.from_bytes(whole[:8], "little")
    marker = tmp_path / "ran"
    code = compile(f"open({str(marker)!r}, 'w').close()", "x", "exec")
    entry.write_bytes(whole[: 8 + size] + marshal.dumps({"places": code}))
    counts, result, desired = check(warnings_tree, cache_dir)
    assert counted(counts) == (0, 1, 1) and not marker.exists()
    expect_same(result, desired, warnings_tree)

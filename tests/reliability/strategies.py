"""Hypothesis strategies for valid manifests, and writing them to a directory.

A generated manifest is a plain ``dict`` of the manifest's shape whose secrets are
:class:`SecretValue` objects: :func:`write_manifests` writes each one as a plain string (under
``policy.allow_plaintext_secrets: true``) or as a ``{file:}`` reference to a file it writes
beside the manifests. Values are realistic (full-width site names, half-width IDs, the AINAS
password rule) and small: a few sites, a few users, so that an example applies in a moment.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import yaml
from hypothesis import strategies as st

ORG_ID = "1"
ORG_NAME = "代理人Ａ"
HANDLES = ["akihabara", "kanda", "ueno", "shinjuku", "yokohama"]
LOGIN_IDS = ["dairi001", "dairi002", "tanto-01", "kanri.a", "sjk_03", "u@omiya"]
SITE_MANAGER = "拠点管理者"
STAFF = ("担当者(送信可)", "担当者(送信不可)")
KANJI = "東西南北中央本新上下大山川田村林森橋港町駅前秋葉原神利活用"
FULLWIDTH = KANJI + "０１２３ＡＢＣアイウ　ー・"
NAME_CHARS = KANJI + "アイウエオ太郎花子 abcXYZ"
PREFECTURES = ["東京都", "神奈川県", "埼玉県", "千葉県", "大阪府"]
OFFICES = ["練馬", "品川", "足立", "東京", "横浜", "大宮"]
PASSWORD_SYMBOLS = "!#$%&*+-=?@_~."
WRITE_ONCE = ("payment_user_id", "batch_user_id", "batch_password")


@dataclass(frozen=True)
class SecretValue:
    """A secret of a generated manifest, and how the manifest gives it."""

    value: str
    form: str  # "plain" | "file"


def fullwidth(max_size: int = 10) -> st.SearchStrategy[str]:
    # a full-width space never starts or ends a name: a person would not type one there
    return st.text(FULLWIDTH, min_size=1, max_size=max_size).map(
        lambda s: s.strip("　") or "事務所"
    )


def halfwidth_id(prefix: str, index: int | None = None) -> st.SearchStrategy[str]:
    """An OSS ID; with a site's ``index`` in it, two sites never share one (AINAS refuses a
    write-once ID that another site registered)."""
    if index is None:
        return st.integers(0, 999_999).map(lambda n: f"{prefix}{n:06d}")
    return st.integers(0, 9_999).map(lambda n: f"{prefix}{index:02d}{n:04d}")


@st.composite
def passwords(draw) -> str:
    """A password that meets the AINAS rule: 8 or more half-width characters of 3 or 4 kinds."""
    kinds = [
        ("ABCDEFGHJKLMNPQRSTUVWXYZ", draw(st.integers(1, 3))),
        ("abcdefghijkmnopqrstuvwxyz", draw(st.integers(1, 5))),
        ("23456789", draw(st.integers(1, 3))),
        (PASSWORD_SYMBOLS, draw(st.integers(0, 2))),
    ]
    chars = [draw(st.sampled_from(alphabet)) for alphabet, count in kinds for _ in range(count)]
    chars += draw(st.lists(st.sampled_from("abcdefgh"), min_size=max(0, 8 - len(chars))))
    return "".join(draw(st.permutations(chars)))


def secrets(values: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[SecretValue]:
    return st.builds(SecretValue, values or passwords(), st.sampled_from(["plain", "file"]))


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


def without_absent_sections(mapping: dict) -> dict:
    """Sections (registered, kei, batch_account) are left out when absent; null is no section."""
    return {
        k: v
        for k, v in mapping.items()
        if v is not None or k not in ("registered", "kei", "batch_account")
    }


def times() -> st.SearchStrategy[str]:
    return st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


def phones() -> st.SearchStrategy[str]:
    return st.builds(
        lambda a, b, c: f"0{a}-{b}-{c}",
        st.integers(3, 99),
        st.integers(1000, 9999),
        st.integers(1000, 9999),
    )


def people() -> st.SearchStrategy[str]:
    return st.text(NAME_CHARS, min_size=1, max_size=12).map(lambda s: s.strip() or "利活用")


@st.composite
def batch_accounts(draw, kei: bool, index: int) -> dict:
    account = {
        "payment_user_id": draw(halfwidth_id("KN" if kei else "1", index)),
        "batch_user_id": draw(halfwidth_id("KI" if kei else "AB", index)),
        "batch_password": draw(secrets()),
        "arrival_number_password": draw(secrets()),
    }
    methods = st.sampled_from(["ダイレクト納付(国庫金限定)", "ダイレクト納付"])
    if kei:
        account["payment_method_fees"] = draw(methods)
        account["payment_method_kei_tax"] = "ダイレクト納付"
    else:
        account["payment_method_national"] = draw(methods)
        account["payment_method_prefectural"] = "ダイレクト納付"
    account["email"] = draw(optional(st.sampled_from(["dairi@example.jp", "kei.tanto@example.jp"])))
    account["contact_name"] = draw(optional(people()))
    account["phone"] = draw(optional(phones()))
    return account


@st.composite
def registered_sections(draw, index: int) -> dict:
    section = {
        "certificate_manager_name": draw(fullwidth()),
        "review_deadline": draw(optional(times())),
        "commission_number": draw(optional(st.from_regex(r"\A[0-9]{10}\Z"))),
        "inspection_ecert_update": draw(
            optional(st.sampled_from(["運輸支局等", "代理人事務所等"]))
        ),
        "interim_ecert_update": draw(optional(st.sampled_from(["運輸支局等", "代理人事務所等"]))),
        "batch_account": draw(optional(batch_accounts(kei=False, index=index))),
    }
    return without_absent_sections(section)


@st.composite
def kei_sections(draw, index: int) -> dict:
    section = {
        "certificate_manager_name": draw(fullwidth()),
        "certificate_manager_number": draw(optional(st.from_regex(r"\A[0-9]{9}\Z"))),
        "review_deadline": draw(optional(times())),
        "default_receipt": draw(optional(st.sampled_from(["窓口受取", "郵送"]))),
        "client_receipt_selectable": draw(st.booleans()),
        "inspection_ecert_update": draw(
            optional(st.sampled_from(["軽検協事務所等", "代理人事務所等"]))
        ),
        "batch_account": draw(optional(batch_accounts(kei=True, index=index))),
    }
    return without_absent_sections(section)


@st.composite
def sites(draw, index: int) -> dict:
    site = {
        # the index keeps names and codes distinct within a manifest (codes identify sites)
        "name": draw(fullwidth()) + "事務所" + chr(0xFF10 + index),
        "short_name": draw(fullwidth(6)),
        "code": draw(optional(st.sampled_from(["S", "TKY-", "K_"]))),
        "storage_sticker_receipt": draw(optional(st.sampled_from(["窓口", "郵送"]))),
        "registered": draw(optional(registered_sections(index))),
        "kei": draw(optional(kei_sections(index))),
    }
    if site["code"] is not None:
        site["code"] += str(index)
    return without_absent_sections(site)


@st.composite
def users(draw, handles: list[str]) -> dict:
    role = draw(st.sampled_from([SITE_MANAGER, *STAFF]))
    user = {
        "name": draw(people()),
        "role": role,
        "site": draw(st.sampled_from(handles)),
        "initial_password": draw(secrets()),
    }
    if role != SITE_MANAGER:  # staff-only fields, on staff only
        destination = st.lists(st.sampled_from(OFFICES), min_size=1, max_size=1).flatmap(
            lambda office: st.sampled_from(PREFECTURES).map(lambda pref: [pref, office[0]])
        )
        user["default_destination"] = draw(optional(destination))
        user["kei_default_destination"] = draw(optional(destination))
        user["default_menu"] = draw(optional(st.sampled_from(["申請一覧", "新規申請"])))
    return user


@st.composite
def manifests(
    draw, *, min_sites: int = 0, max_sites: int = 3, min_users: int = 0, max_users: int = 4
) -> dict:
    """A valid manifest: the organization, up to ``max_sites`` sites, users of existing sites."""
    handles = draw(
        st.lists(st.sampled_from(HANDLES), min_size=min_sites, max_size=max_sites, unique=True)
    )
    manifest = {
        "version": 1,
        "organization": {
            "id": ORG_ID,
            "name": ORG_NAME,
            "short_name": draw(st.sampled_from(["代理人Ａ", "代理人Ａ本社", "エー"])),
        },
        "policy": {"allow_plaintext_secrets": True, "max_deletes": 1000},
        # a site's index is its handle's, as in successors(): codes stay unique across versions
        "sites": {handle: draw(sites(HANDLES.index(handle))) for handle in handles},
        "users": {},
    }
    if handles:
        logins = draw(
            st.lists(
                st.sampled_from(LOGIN_IDS), min_size=min_users, max_size=max_users, unique=True
            )
        )
        manifest["users"] = {login: draw(users(handles)) for login in logins}
    return manifest


@st.composite
def successors(draw, before: dict) -> dict:
    """A next version of ``before``, as a person edits manifests: each site kept, redrawn or
    dropped, new sites; each user kept, redrawn (renamed, moved, another role or password) or
    dropped, new users. Write-once values are not kept here: see :func:`keep_write_once`."""
    after = copy.deepcopy(before)
    after["organization"]["short_name"] = draw(
        st.sampled_from(["代理人Ａ", "代理人Ａ本社", "エー"])
    )
    for handle in list(after["sites"]):
        choice = draw(st.sampled_from(["redraw", "drop", "keep"]))
        if choice == "redraw":
            after["sites"][handle] = draw(sites(HANDLES.index(handle)))
        elif choice == "drop":
            del after["sites"][handle]
    free = [h for h in HANDLES if h not in after["sites"]]
    for handle in draw(st.lists(st.sampled_from(free), max_size=2, unique=True)) if free else []:
        after["sites"][handle] = draw(sites(HANDLES.index(handle) + len(HANDLES)))
    handles = list(after["sites"])
    if not handles:
        after["users"] = {}
        return after
    for login in list(after["users"]):
        choice = draw(st.sampled_from(["redraw", "drop", "keep"]))
        if choice == "keep" and after["users"][login]["site"] not in after["sites"]:
            choice = "redraw"  # its site is gone: the user moves
        if choice == "redraw":
            after["users"][login] = draw(users(handles))
        elif choice == "drop":
            del after["users"][login]
    free = [u for u in LOGIN_IDS if u not in after["users"]]
    for login in draw(st.lists(st.sampled_from(free), max_size=2, unique=True)) if free else []:
        after["users"][login] = draw(users(handles))
    return after


@st.composite
def histories(draw) -> tuple[dict, dict]:
    """Two versions of the manifests, A then B: B an edit of A, or unrelated to it."""
    before = draw(manifests())
    after = draw(st.one_of(successors(before), manifests()))
    return before, keep_write_once(before, after)


def batch_of(site: dict, section: str) -> dict | None:
    part = site.get(section)
    return part.get("batch_account") if part else None


def keep_write_once(before: dict, after: dict) -> dict:
    """``after``, changed so that every site that stays keeps the batch accounts it had in
    ``before`` with their write-once values (AINAS refuses to change or delete them alone)."""
    after = copy.deepcopy(after)
    for handle, site in after["sites"].items():
        old = before["sites"].get(handle)
        if old is None:
            continue
        for section in ("registered", "kei"):
            old_account = batch_of(old, section)
            if old_account is None:
                continue
            if site.get(section) is None:
                site[section] = {k: v for k, v in old[section].items() if k != "batch_account"}
            account = site[section].get("batch_account") or copy.deepcopy(old_account)
            for name in WRITE_ONCE:
                account[name] = old_account[name]
            site[section]["batch_account"] = account
    return after


def expected_deletions(before: dict, after: dict) -> int:
    """Deletions and replacements the plan from ``before`` to ``after`` counts."""
    gone = set(before["users"]) - set(after["users"])
    replaced = {
        login
        for login in set(before["users"]) & set(after["users"])
        if (before["users"][login]["role"] == SITE_MANAGER)
        != (after["users"][login]["role"] == SITE_MANAGER)
    }
    return len(gone) + len(replaced) + len(set(before["sites"]) - set(after["sites"]))


# -- writing -------------------------------------------------------------------------------
def _secret_node(secret: SecretValue, name: str, directory: Path):
    if secret.form == "plain":
        return secret.value
    path = directory / "secrets" / f"{name}.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(secret.value + "\n", encoding="utf-8")
    return {"file": f"secrets/{name}.txt"}


def _with_secret_nodes(node, directory: Path, name: str):
    if isinstance(node, SecretValue):
        return _secret_node(node, name, directory)
    if isinstance(node, dict):
        return {k: _with_secret_nodes(v, directory, f"{name}-{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_with_secret_nodes(v, directory, f"{name}-{i}") for i, v in enumerate(node)]
    return node


def write_manifests(manifest: dict, directory: Path) -> Path:
    """Write ``manifest`` as three files (sites, users, and everything else) and the files of
    its ``{file:}`` secrets; returns ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    plain = _with_secret_nodes(manifest, directory, "s")
    parts = {
        "organization.yaml": {k: v for k, v in plain.items() if k not in ("sites", "users")},
        "sites.yaml": {"version": 1, "sites": plain["sites"]},
        "users.yaml": {"version": 1, "users": plain["users"]},
    }
    for name, body in parts.items():
        text = yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=200)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def secret_values(manifest: dict) -> dict[tuple[str, str, str], str]:
    """``(section, key, field) -> value`` of every secret: ``("sites", handle,
    "batch_account.batch_password")``, ``("users", login, "initial_password")``."""
    out = {}
    for handle, site in manifest["sites"].items():
        for section, kind in (("registered", "batch_account"), ("kei", "kei_batch_account")):
            account = batch_of(site, section)
            if account is None:
                continue
            for name in ("batch_password", "arrival_number_password"):
                out[("sites", handle, f"{kind}.{name}")] = account[name].value
    for login, user in manifest["users"].items():
        out[("users", login, "initial_password")] = user["initial_password"].value
    return out

"""The AINAS screen catalogue: its data against its own schema, the guide's screens present,
the loader's typed objects, the local override file, and the tool's mapping onto it."""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

import ainas_catalogue
from ainas_catalogue import CatalogueError
from ainas_provision.domain import kinds, screens

GUIDE_SCREENS = [
    "ログイン",
    "パスワード更新",
    "メニュー",
    "代理人組織照会",
    "代理人証明書登録",
    "代理人証明書照会",
    "代理人証明書更新",
    "代理人拠点検索",
    "代理人拠点登録",
    "代理人拠点照会",
    "代理人拠点更新",
    "代理人拠点削除",
    "一括利用者アカウント登録",
    "一括利用者アカウント更新",
    "軽一括利用者アカウント登録",
    "軽一括利用者アカウント更新",
    "代理人ユーザー検索",
    "代理人拠点管理者ユーザー登録",
    "代理人担当者ユーザー登録",
    "ユーザー照会",
    "ユーザー更新",
    "ユーザー削除",
]


def test_the_catalogue_is_valid_against_its_schema():
    schema = ainas_catalogue.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(ainas_catalogue.raw_catalogue())


def test_the_schema_refuses_a_broken_catalogue():
    data = ainas_catalogue.raw_catalogue()
    data["screens"][0]["fields"][0]["input"] = "textarea"
    with pytest.raises(jsonschema.ValidationError, match="textarea"):
        jsonschema.Draft202012Validator(ainas_catalogue.schema()).validate(data)


def test_every_screen_of_the_guide_is_there_once_with_unique_field_ids():
    catalogue = ainas_catalogue.load()
    names = [screen.name for screen in catalogue.screens.values()]
    for name in GUIDE_SCREENS:
        assert names.count(name) == 1, name
    for screen in catalogue.screens.values():
        ids = [field.id for field in screen.fields]
        assert len(ids) == len(set(ids)), screen.name
        for field in screen.fields:
            assert field.chars is None or field.chars in catalogue.character_classes, field
            assert field.format is None or field.format in catalogue.formats, field
        if screen.flow.then:
            catalogue.screen(screen.flow.then)


def test_the_site_registration_screen_as_the_guide_shows_it():
    screen = ainas_catalogue.load().by_name("代理人拠点登録")
    assert screen.menu == ("代理人拠点管理", "代理人拠点登録")
    assert [f.label for f in screen.inputs][:3] == [
        "代理人拠点名",
        "代理人拠点名(略称)",
        "代理人拠点コード",
    ]
    name = screen.field("site_name")
    assert (name.input, name.required, name.chars) == ("text", True, "fullwidth")
    update = screen.field("inspection_ecert_update")
    assert [(o.value, o.shown_in_guide) for o in update.options] == [
        ("運輸支局等", True),
        ("代理人事務所等", False),
    ]
    assert screen.buttons == ("確定", "戻る")
    assert screen.flow.submit == "確定" and screen.flow.then == "site_view"


def test_batch_account_fields_are_write_once_and_write_only_as_the_guide_says():
    screen = ainas_catalogue.load().screen("batch_account_register")
    write_once = [f.id for f in screen.fields if f.write_once]
    write_only = [f.id for f in screen.fields if f.write_only]
    assert write_once == ["payment_user_id", "batch_user_id", "batch_password"]
    assert write_only == ["batch_password", "arrival_number_password"]


def test_loading_is_cached():
    assert ainas_catalogue.load() is ainas_catalogue.load()


# -- the local override --------------------------------------------------------------------
def write(path, data):
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def test_the_parsed_catalogue_is_kept_for_the_next_run_and_only_for_the_same_bytes(
    tmp_path, monkeypatch
):
    """The catalogue's YAML is parsed once and its parsed form kept (beside the bytecode); a
    run reads that form only if it was made from the very same bytes, and a damaged one or an
    edited ``screens.yaml`` is parsed again."""
    source = (Path(ainas_catalogue.__file__).parent / "screens.yaml").read_bytes()
    compiled = tmp_path / "__pycache__" / "screens.yaml.test.marshal"
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    expected = yaml.safe_load(source)
    assert ainas_catalogue._parsed(source, compiled) == expected
    assert compiled.is_file()

    def no_yaml(text, origin):
        raise AssertionError("parsed again")

    with monkeypatch.context() as m:
        m.setattr(ainas_catalogue, "_yaml_load", no_yaml)
        assert ainas_catalogue._parsed(source, compiled) == expected  # the kept form
    edited = source.replace(b"guide:", b"# an edit\nguide:", 1)
    assert ainas_catalogue._parsed(edited, compiled) == expected  # parsed again, kept anew
    with monkeypatch.context() as m:
        m.setattr(ainas_catalogue, "_yaml_load", no_yaml)
        with pytest.raises(AssertionError, match="parsed again"):
            ainas_catalogue._parsed(source, compiled)  # kept for other bytes: not used
    compiled.write_bytes(compiled.read_bytes()[:100])  # damaged (a run killed mid-write)
    assert ainas_catalogue._parsed(edited, compiled) == expected
    compiled.unlink()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # PYTHONDONTWRITEBYTECODE: kept not
    assert ainas_catalogue._parsed(source, compiled) == expected
    assert not compiled.exists()


def test_an_override_in_the_manifest_directory_adds_options_and_labels(tmp_path):
    write(
        tmp_path / ainas_catalogue.OVERRIDE_NAME,
        {
            "version": 1,
            "screens": {
                "site_register": {
                    "fields": {
                        "storage_sticker_receipt": {"add_options": ["窓口受取"]},
                        "review_deadline": {"label": "登録審査開始締切時刻"},
                        "inspection_ecert_update": {"add_options": ["代理人事務所等"]},
                    }
                }
            },
        },
    )
    catalogue = ainas_catalogue.for_directory(tmp_path, environ={})
    screen = catalogue.screen("site_register")
    assert [(o.value, o.source) for o in screen.field("storage_sticker_receipt").options] == [
        ("窓口受取", "observed")
    ]
    assert screen.field("review_deadline").label == "登録審査開始締切時刻"
    assert [o.source for o in screen.field("inspection_ecert_update").options] == [
        "guide",
        "observed",
    ]
    assert catalogue.override == tmp_path / ainas_catalogue.OVERRIDE_NAME
    assert ainas_catalogue.load().screen("site_register").field("review_deadline").label == (
        "登録審査開始締切時間"
    )


def test_the_environment_variable_names_the_override_and_must_exist(tmp_path):
    named = write(
        tmp_path / "seen.yaml",
        {
            "version": 1,
            "screens": {
                "staff_register": {"fields": {"default_menu": {"options": ["申請データ作成"]}}}
            },
        },
    )
    catalogue = ainas_catalogue.for_directory(None, environ={"AINAS_SCREENS_FILE": str(named)})
    assert catalogue.screen("staff_register").field("default_menu").option_values == (
        "申請データ作成",
    )
    with pytest.raises(CatalogueError, match=r"AINAS_SCREENS_FILE names .*missing\.yaml"):
        ainas_catalogue.find_override(None, {"AINAS_SCREENS_FILE": str(tmp_path / "missing.yaml")})


def test_no_override_without_a_file(tmp_path):
    assert ainas_catalogue.find_override(tmp_path, {}) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"version": 1, "screens": {"site_regster": {}}},
            "screens.site_regster: no such screen .* did you mean 'site_register'",
        ),
        (
            {"version": 1, "screens": {"site_register": {"fields": {"site_nam": {"label": "x"}}}}},
            "screens.site_register.site_nam: no such field of site_register .* did you mean 'site_name'",
        ),
        ({"version": 2}, "version: 1 was expected"),
        (
            {
                "version": 1,
                "screens": {"site_register": {"fields": {"site_name": {"colour": "red"}}}},
            },
            "colour",
        ),
    ],
)
def test_a_broken_override_is_an_error_naming_the_place(tmp_path, data, message):
    path = write(tmp_path / ainas_catalogue.OVERRIDE_NAME, data)
    with pytest.raises(CatalogueError, match=message) as caught:
        ainas_catalogue.load(path)
    assert str(path) in str(caught.value)


def test_write_override_merges_what_a_screen_shows(tmp_path):
    path = tmp_path / ainas_catalogue.OVERRIDE_NAME
    ainas_catalogue.write_override(
        path, "site_register", "storage_sticker_receipt", options=["窓口受取", "郵送"]
    )
    ainas_catalogue.write_override(path, "site_register", "review_deadline", label="締切時間")
    field = ainas_catalogue.load(path).screen("site_register").field("storage_sticker_receipt")
    assert field.option_values == ("窓口受取", "郵送")
    assert (
        ainas_catalogue.load(path).screen("site_register").field("review_deadline").label
        == "締切時間"
    )
    with pytest.raises(KeyError, match="no field 'nope'"):
        ainas_catalogue.write_override(path, "site_register", "nope", label="x")


def test_the_manifest_loader_does_not_read_the_override_as_a_manifest(tmp_path):
    from ainas_provision.manifest.loader import find_manifest_files

    (tmp_path / "ainas.yaml").write_text("version: 1\n", "utf-8")
    write(tmp_path / ainas_catalogue.OVERRIDE_NAME, {"version": 1})
    assert [p.name for p in find_manifest_files(tmp_path)] == ["ainas.yaml"]


# -- the tool's mapping onto the catalogue ----------------------------------------------------
def test_every_mapped_field_exists_on_its_screens():
    """A certificate is registered on one screen and completed on another (代理人証明書登録, then
    代理人証明書更新): a field must be on one of its kind's screens."""
    catalogue = ainas_catalogue.load()
    for mapping in screens.MAPPINGS.values():
        shown = [
            catalogue.screen(screen_id)
            for screen_id in (mapping.create_screen, mapping.update_screen)
            if screen_id is not None
        ]
        for manifest, field_id in mapping.fields.items():
            assert any(s.has(field_id) for s in shown), (mapping.kind, manifest, field_id)
    manager = catalogue.screen("site_manager_register")
    for field_id in ("login_id", "user_name", "password", "site"):
        assert manager.has(field_id)


def test_every_tool_field_of_a_kind_has_a_screen_field():
    for kind in (kinds.SITE, kinds.BATCH_ACCOUNT, kinds.KEI_BATCH_ACCOUNT, kinds.ORGANIZATION):
        for spec in kind.fields:
            assert spec.name in screens.mapping(kind.name).fields, (kind.name, spec.name)
    for name in kinds.CERTIFICATE_TYPED:
        assert name in screens.mapping("certificate").fields


def test_to_screen_and_back():
    site = {
        "name": "利活用事務所",
        "registered.review_deadline": "16:00",
        "kei.client_receipt_selectable": False,
    }
    shown = screens.to_screen("site", site)
    assert shown == {
        "site_name": "利活用事務所",
        "review_deadline": "16:00",
        "kei_client_receipt_selectable": False,
    }
    assert screens.from_screen("site", shown) == site
    user = {
        "name": "花子",
        "site_id": "123456789",
        "default_destination": ["東京都", "練馬"],
        "kei_default_destination": None,
    }
    shown = screens.to_screen("user", user)
    assert shown == {
        "user_name": "花子",
        "site": "123456789",
        "default_destination_prefecture": "東京都",
        "default_destination_office": "練馬",
        "kei_default_destination_prefecture": None,
        "kei_default_destination_office": None,
    }
    assert screens.from_screen("user", shown) == user
    cert = screens.to_screen("certificate", {"start_date": "2026-12-01"})
    assert cert == {"start_date": "2026/12/01"}
    assert screens.from_screen("certificate", cert) == {"start_date": "2026-12-01"}
    assert screens.create_screen_for("user", {"role": "拠点管理者"}) == "site_manager_register"
    assert screens.create_screen_for("user", {"role": "担当者(送信可)"}) == "staff_register"


def test_field_labels_are_the_catalogues_with_its_override(tmp_path):
    labels = screens.Labels()
    assert labels.of("site", "registered.review_deadline") == "登録審査開始締切時間"
    assert labels.of(kinds.USER, "name") == "ユーザー名"
    assert labels.of("user", "initial_password") == "パスワード"
    # a pair of pull-downs: what デフォルト申請先(都道府県) and (運輸支局等) share
    assert labels.of("user", "default_destination") == "デフォルト申請先"
    assert labels.of("user", "kei_default_destination") == "軽デフォルト申請先"
    assert labels.of("certificate", "address") == "住所(都道府県～番地)"  # shown, never typed
    assert labels.of("admin", "name") == "ユーザー名"  # on no screen: the schema's title
    override = tmp_path / ainas_catalogue.OVERRIDE_NAME
    override.write_text(
        "version: 1\n"
        "screens:\n"
        "  site_register:\n"
        "    fields:\n"
        "      review_deadline: {label: 登録審査開始締切時刻}\n"
        "  staff_register:\n"
        "    fields:\n"
        "      default_destination_prefecture: {label: 既定の申請先(都道府県)}\n"
        "      default_destination_office: {label: 既定の申請先(運輸支局)}\n",
        encoding="utf-8",
    )
    local = screens.Labels.for_directory(tmp_path, environ={})
    assert local.of("site", "registered.review_deadline") == "登録審査開始締切時刻"
    assert local.of("user", "default_destination") == "既定の申請先"
    assert local.of("site", "name") == "代理人拠点名"

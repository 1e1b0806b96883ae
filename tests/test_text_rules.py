"""Full-width and katakana explanations stay small, whatever the value's size."""

from __future__ import annotations

import tracemalloc

import pytest

from ainas_provision import schema as manifest_schema
from ainas_provision.validation.rules.text import fullwidth, katakana

FULLWIDTH = manifest_schema.manifest_schema()["$defs"]["fullwidthText"]
KATAKANA = manifest_schema.manifest_schema()["$defs"]["katakanaText"]


@pytest.mark.parametrize(
    ("explain", "schema", "value", "first"),
    [
        (fullwidth, FULLWIDTH, "A" * 10_000_000, "half-width 'A' (U+0041) at character 1"),
        (
            katakana,
            KATAKANA,
            "アイ" + "あ" * 5_000_000,
            "hiragana 'あ' (U+3042 HIRAGANA LETTER A) at character 3",
        ),
    ],
)
def test_a_huge_value_is_explained_by_its_first_bad_character_in_little_memory(
    explain, schema, value, first
):
    tracemalloc.start()
    try:
        explanation = explain(value, "代理人拠点名 (name)", schema)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # was over a gigabyte for ten million characters
    assert first in explanation.message
    assert "more such" not in explanation.message and "write '" not in explanation.message
    assert len(explanation.message) < 300


@pytest.mark.parametrize("dash", ["-", "－", "—", "―", "‐", "−"])
def test_a_dash_in_a_kana_field_asks_for_the_long_vowel_mark(dash):
    explanation = katakana(f"ダイリニン{dash}エ", "屋号(カナ) (trade_name_kana)", KATAKANA)
    assert "(did you mean the long-vowel mark 'ー' (U+30FC)?)" in explanation.message
    assert explanation.message.endswith("write 'ダイリニンーエ'")
    assert explanation.index == 5


def test_a_half_width_space_is_allowed_in_kana_by_the_schema():
    # the guide writes the full-width space; the half-width one is an inferred-rule warning
    import re

    assert re.fullmatch(KATAKANA["pattern"], "マルマル マルマル")

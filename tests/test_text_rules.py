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

"""Masking of free text: hand-worked examples (synthetic names and numbers)."""

from __future__ import annotations

import pytest

from xunfang.ingest.masking import mask_free_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "报警人王小明称其电话13912345678，身份证11010119900307123X",
            "报警人王*称其电话139****5678，身份证110****123X",
        ),
        ("当事人：李四，座机021-64321234", "当事人：李*，座机021****1234"),
        # full-width digits, as Chinese input methods type them; the punctuation stays
        ("报警人：王小明，电话１３９１２３４５６７８。", "报警人：王*，电话139****5678。"),
        ("身份证１１０１０１１９９００３０７１２３Ｘ", "身份证110****123X"),
        # a phone number spelled in Chinese numerals (11 of them)
        ("当事人李四称其电话为一三九一二三四五六七八", "当事人李*称其电话为139****5678"),
        # short runs of numerals are words: left alone
        ("三十一岁男子在一一〇号门前", "三十一岁男子在一一〇号门前"),
        # an incident number is not a phone
        ("见 SYN202400001 号警情", "见 SYN202400001 号警情"),
    ],
)
def test_mask_free_text(text: str, masked: str) -> None:
    assert mask_free_text(text) == masked


def test_mask_free_text_keeps_none() -> None:
    assert mask_free_text(None) is None

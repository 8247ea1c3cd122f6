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
        # the formats a hostile-client test found left in clear
        ("caller John Smith phone (312) 555-1234", "caller J* phone 312****1234"),
        ("tel 3125551234", "tel 312****1234"),
        ("Victim: Mary Ann Lee, ph 312.555.0100", "Victim: M*, ph 312****0100"),
        ("座机62345678", "座机****78"),  # a local number only after a word for phone
        ("电话62345678转123", "电话****78"),  # the extension goes with it
        ("电话 312-555-0199 x123", "电话 312****0199"),  # (it showed 312****9123)
        ("报警人自称陈七", "报警人自称陈*"),
        ("报 警 人 赵六", "报 警 人 赵*"),
        ("报警人:Tom", "报警人:T*"),
        ("当事人张三、李四", "当事人张*、李*"),
        # left alone: words, dates, a long case number, a lower-case word after "caller"
        ("2024年3月1日 14:05 在1500米处", "2024年3月1日 14:05 在1500米处"),
        ("案件编号20240301123", "案件编号20240301123"),
        ("The caller said a man ran", "The caller said a man ran"),
    ],
)
def test_mask_free_text(text: str, masked: str) -> None:
    assert mask_free_text(text) == masked


def test_mask_free_text_keeps_none() -> None:
    assert mask_free_text(None) is None

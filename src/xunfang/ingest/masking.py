"""Masking of personal data: the one rule for a caller's name and phone, used by
``xunfang ingest`` (the parquet, rejected rows and reports) and by the dispatch service
(REST answers, the live feed and the audit log) alike.

* a name keeps its first character and one ``*`` (张三丰 -> 张*, Alice -> A*): the length
  of the name is not shown either;
* a phone keeps its first three and last four digits (13812348000 -> 138****8000,
  021-6432-1234 -> 021****1234; a leading 86 country code of a longer number is dropped);
  numbers of fewer than 8 digits (110, 12345) become ``***``. The masked phone still tells
  one repeat caller from many callers at one spot (same prefix and last four digits),
  which analysts use to discount one person's repeated calls, while it identifies no one;
* free text (a call's description, "报警人王小明称其电话13912345678"): :func:`mask_free_text`
  masks the numbers in it (Chinese mobiles, landlines, resident ID numbers) and the name
  after 报警人/当事人/求助人/受害人/嫌疑人/联系人 by the two rules above.

Standard library only: the service imports it without the geospatial stack.
"""

from __future__ import annotations

import re

MIN_PHONE_DIGITS = 8
"""Numbers with fewer digits are masked entirely (``***``)."""


def mask_name_text(name: str | None) -> str | None:
    """``张三丰`` -> ``张*``, ``Alice`` -> ``A*``; ``None`` or blank -> ``None``."""
    text = (name or "").strip()
    return text[0] + "*" if text else None


def mask_phone_text(phone: str | None) -> str | None:
    """``13812348000`` -> ``138****8000``, ``+86 138-1234-8000`` -> ``138****8000``,
    ``+1 (312) 555-0100`` -> ``131****0100``, ``110`` -> ``***``; ``None`` or blank ->
    ``None``."""
    text = (phone or "").strip()
    if not text:
        return None
    digits = "".join(c for c in text if c.isdigit())
    if digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    if len(digits) < MIN_PHONE_DIGITS:
        return "***"
    return digits[:3] + "****" + digits[-4:]


_ID_OR_PHONE = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"(?P<id>\d{17}[\dXx])"  # resident ID number, 18 characters
    r"|(?P<mobile>(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4})"  # Chinese mobile
    r"|(?P<landline>0\d{2,3}[- ]?\d{7,8})"  # area code and local number
    # a North American number: (312) 555-1234, 312.555.1234, +1 312 555 1234, 3125551234
    r"|(?P<nanp>(?:\+?1[-. ]?)?(?:\(\d{3}\)\s?|\d{3}[-. ]?)\d{3}[-. ]?\d{4})"
    # a local number after a word for phone: 座机62345678, tel 6234567
    r"|(?P<local>(?:[机话码]|tel|TEL|Tel)[:： ]*(?P<ldigits>\d{7,8}))"
    r")(?P<ext>\s*(?:x|ext\.?|转|分机)\s*\d{1,6})?(?![0-9A-Za-z])"
)
"""Numbers that identify a person in free text, with an extension after them (``x123``,
``转123``: masked with the number); not part of a longer run of digits or letters (an
incident number ``SYN202400001`` is left alone). A bare run of 7-8 digits is a phone only
after 座机/电话/号码/手机/tel (it could be anything else)."""

_FULL_WIDTH = str.maketrans(
    {**{chr(0xFF10 + i): str(i) for i in range(10)}, "Ｘ": "X", "ｘ": "x", "＋": "+", "－": "-"}
    | {"\u3000": " "}
)
"""Full-width digits, ``Ｘ``, ``＋``, ``－`` and the ideographic space as their ASCII forms
(Chinese input methods often type full-width digits: ``１３９１２３４５６７８``)."""

_HAN_DIGIT = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0"}
_HAN_RUN = re.compile("[" + "".join(_HAN_DIGIT) + "]{7,}")
"""Seven or more Chinese numerals in a row: a number spelled out (``一三九一二三四五六七八``);
shorter runs (``三十一``, ``一一〇``) are words, not phone numbers."""


def _folded(text: str) -> str:
    """``text`` with the digits written otherwise as ASCII digits, one character for one
    (so that positions in it are positions in ``text``)."""
    text = text.translate(_FULL_WIDTH)
    return _HAN_RUN.sub(lambda m: "".join(_HAN_DIGIT[c] for c in m.group(0)), text)


ROLE_WORDS = ("报警人", "当事人", "求助人", "受害人", "嫌疑人", "联系人", "报案人")
"""Words after which free text names a person (also written with spaces between their
characters: ``报 警 人``)."""
ROLE_WORDS_EN = ("caller", "complainant", "victim", "suspect", "contact", "witness")
"""English words after which free text names a person (any case)."""

_NAME_STOP = "称说在于因的报电手现被和与及向从到反表打自其、，。；：,.;:（）() "
_HAN_NAME = (
    f"(?![{re.escape(_NAME_STOP)}])[\u4e00-\u9fff]"
    f"(?:(?![{re.escape(_NAME_STOP)}])[\u4e00-\u9fff]){{1,3}}"
)
_LATIN_NAME = r"[A-Z][a-zA-Z'-]+(?:\s[A-Z][a-zA-Z'-]+){0,2}"
_NAME = re.compile(
    "(?P<role>"
    + "|".join("\\s*".join(w) for w in ROLE_WORDS)
    + "|(?i:\\b(?:"
    + "|".join(ROLE_WORDS_EN)
    + ")\\b(?:\\s+name)?)"
    + ")(?P<sep>[：:\\s]*(?:自称|名叫|叫做|叫|系)?[：:\\s]*)"
    f"(?P<name>{_HAN_NAME}|{_LATIN_NAME})"
    f"(?P<more>(?:、(?:{_HAN_NAME}))*)"
)
"""A name after one of :data:`ROLE_WORDS` or :data:`ROLE_WORDS_EN` (``报警人王小明称`` ->
``王小明``, ``报警人自称陈七``, ``caller John Smith``): 2-4 Han characters, ending before a
word that usually follows a name (称, 在, 电话 ...), or one to three capitalised Latin
words; names listed after it with ``、`` (``当事人张三、李四``) too."""


def mask_free_text(text: str | None) -> str | None:
    """``text`` with the personal data in it masked: resident ID numbers (18 characters,
    first 3 and last 4 kept: ``110****123X``), Chinese mobile numbers and landlines
    (:func:`mask_phone_text`: ``139****5678``) and the names after :data:`ROLE_WORDS`
    (:func:`mask_name_text`: ``王*``). ``None`` stays ``None``. Numbers are found in full-width
    digits and in runs of seven or more Chinese numerals too (their masked form is in ASCII
    digits); the rest of the text is left as it was.

    Examples
    --------
    >>> mask_free_text("报警人王小明称其电话13912345678，身份证11010119900307123X")
    '报警人王*称其电话139****5678，身份证110****123X'
    >>> mask_free_text("当事人：李四，座机021-64321234")
    '当事人：李*，座机021****1234'
    """
    if text is None:
        return None

    def number(m: re.Match[str]) -> str:
        if m.group("id"):
            return m.group("id")[:3] + "****" + m.group("id")[-4:]
        if m.group("local"):  # 7-8 digits: the first three and last four would show most
            digits = m.group("ldigits")
            return m.group("local")[: -len(digits)] + "****" + digits[-2:]
        main = m.group(0)[: len(m.group(0)) - len(m.group("ext") or "")]
        return mask_phone_text(main) or ""  # an extension goes with the number

    def name(m: re.Match[str]) -> str:
        more = "、".join(mask_name_text(n) or "" for n in m.group("more").split("、")[1:])
        return (
            m.group("role")
            + m.group("sep")
            + (mask_name_text(m.group("name")) or "")
            + ("、" + more if more else "")
        )

    folded = _folded(text)
    parts, last = [], 0
    for m in _ID_OR_PHONE.finditer(folded):
        parts += [text[last : m.start()], number(m)]
        last = m.end()
    parts.append(text[last:])
    return _NAME.sub(name, "".join(parts))

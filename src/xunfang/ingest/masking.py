"""Masking of personal data: the one rule for a caller's name and phone, used by
``xunfang ingest`` (the parquet, rejected rows and reports) and by the dispatch service
(REST answers, the live feed and the audit log) alike.

* a name keeps its first character and one ``*`` (张三丰 -> 张*, Alice -> A*): the length
  of the name is not shown either;
* a phone keeps its first three and last four digits (13812348000 -> 138****8000,
  021-6432-1234 -> 021****1234; a leading 86 country code of a longer number is dropped);
  numbers of fewer than 8 digits (110, 12345) become ``***``. The masked phone still tells
  one repeat caller from many callers at one spot (same prefix and last four digits),
  which analysts use to discount one person's repeated calls, while it identifies no one.

Standard library only: the service imports it without the geospatial stack.
"""

from __future__ import annotations

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

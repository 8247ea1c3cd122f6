"""The command line shows the project's own warnings as one line (a new user saw a line of
Python source under the corrupt-cache warning)."""

from __future__ import annotations

import warnings

from xunfang.errors import CacheWarning
from xunfang.serve import cli  # noqa: F401  (installs the formatter)


def test_cache_warning_is_one_line_and_others_keep_their_location() -> None:
    text = warnings.formatwarning("entry unreadable: rebuilt", CacheWarning, "/x/city.py", 9, "x=1")
    assert text == "warning: entry unreadable: rebuilt\n"
    other = warnings.formatwarning("other", UserWarning, "/x/a.py", 3, "src")
    assert other == "/x/a.py:3: UserWarning: other\n  src\n"


def test_a_comma_list_without_each_says_it_is_planned_as_one_area() -> None:
    from xunfang.serve.cli import one_area_note

    assert one_area_note("community:LOOP,NEAR WEST SIDE,UPTOWN") == (
        "--area community:LOOP,NEAR WEST SIDE,UPTOWN: planned as one area (the union of 3); "
        "--each plans each"
    )
    assert one_area_note("area:东片,西片", "zh") == (
        "--area area:东片,西片：2 个区域合为一个区域规划；--each 则逐个规划"
    )
    assert one_area_note("district:1") is None and one_area_note(None) is None

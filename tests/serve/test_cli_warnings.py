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

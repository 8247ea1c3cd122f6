"""Strict JSON for every file xunfang writes: NaN and infinities become ``null``.

Python's :func:`json.dumps` writes ``NaN`` and ``Infinity`` by default, which RFC 8259
does not allow: ``jq``, browsers' ``JSON.parse`` and most other parsers refuse the file.
:func:`dumps` replaces them (and unwraps NumPy scalars and arrays) before encoding with
``allow_nan=False``, so an undefined figure (a mean over no weeks, a ratio over zero) is
written as ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

_PLAIN = (str, int, bool, type(None))


def clean(value: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """``value`` with every non-finite float replaced by ``None``, NumPy scalars and arrays
    made Python numbers and lists, tuples made lists, and other objects passed through
    ``default`` (as :func:`json.dumps` would) when given."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {k: clean(v, default) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v, default) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # NumPy scalar or array
        return clean(value.tolist(), default)
    if default is not None:
        return clean(default(value), default)
    return value  # json.dumps raises TypeError naming the type, as without cleaning


def dumps(obj: Any, *, default: Callable[[Any], Any] | None = None, **kwargs: Any) -> str:
    """:func:`json.dumps` of :func:`clean` ``(obj)`` with ``allow_nan=False`` (strict JSON,
    RFC 8259); ``kwargs`` (``indent``, ``ensure_ascii``, ``separators``, ...) pass through.

    Raises
    ------
    TypeError
        If ``obj`` holds an object JSON cannot encode and ``default`` does not convert it.
    """
    return json.dumps(clean(obj, default), allow_nan=False, **kwargs)

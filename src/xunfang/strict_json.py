"""Strict JSON: what xunfang writes and what it reads.

Writing: Python's :func:`json.dumps` writes ``NaN`` and ``Infinity`` by default, which
RFC 8259 does not allow: ``jq``, browsers' ``JSON.parse`` and most other parsers refuse the
file. :func:`dumps` replaces them (and unwraps NumPy scalars and arrays) before encoding with
``allow_nan=False``, so an undefined figure (a mean over no weeks, a ratio over zero) is
written as ``null``.

Reading: RFC 8259 (section 4) says the names within an object SHOULD be unique and leaves
what a parser does with a repeated one open; Python's :func:`json.loads` keeps the last
value without a word, so ``{"priority": 1, "priority": 3}`` reads as priority 3 while
another system reading the same text may see 1. :func:`loads` and :func:`load_file` refuse
a repeated name instead, naming it and (for a file) its line; every JSON that a user or a
client hands xunfang (API request bodies, the live feed's first message, plan folders read
back, GeoJSON inputs) goes through them.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xunfang.errors import DataFileError, ValidationError

__all__ = [
    "DuplicateKeyError",
    "NestingError",
    "check_file",
    "clean",
    "dumps",
    "load_file",
    "loads",
]


class DuplicateKeyError(ValidationError):
    """A JSON object names the same key twice.

    Attributes
    ----------
    key
        The repeated key.
    line
        1-based line of its second occurrence, when known.
    """

    def __init__(self, key: str, line: int | None = None) -> None:
        self.key = key
        self.line = line
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"duplicate key {key!r} in a JSON object{where}: each key may appear once")


class NestingError(ValidationError):
    """A JSON document nests arrays or objects deeper than the parser can follow (Python's
    recursion limit, about 1,000 levels): refused as input, never a crash of the reader."""

    def __init__(self) -> None:
        super().__init__(
            "JSON nested too deeply (arrays or objects inside each other beyond the parser's "
            "limit of about 1,000 levels)"
        )


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


class _Found(Exception):
    def __init__(self, pos: int) -> None:
        self.pos = pos


def _line_of(text: str, key: str) -> int | None:
    """Line of the second occurrence of ``key`` in the first object that repeats it: the
    text parsed again by the pure-Python scanner, which knows where each object starts
    (only after a duplicate was found, so the fast C parser does the everyday work)."""
    decoder: Any = json.JSONDecoder()  # parse_object and scan_once are not in the stubs

    def parse_object(s_and_end: tuple[str, int], *args: Any, **kw: Any) -> tuple[Any, int]:
        start = s_and_end[1]
        pairs, end = json.decoder.JSONObject(  # type: ignore[attr-defined]
            s_and_end, decoder.strict, decoder.scan_once, None, lambda p: p, {}
        )
        seen: set[str] = set()
        for k, _ in pairs:
            if k == key and k in seen:
                encoded = json.dumps(key, ensure_ascii=False)
                first = text.find(encoded, start, end)
                second = text.find(encoded, first + len(encoded), end) if first >= 0 else -1
                raise _Found(second if second >= 0 else start)
            seen.add(k)
        return dict(pairs), end

    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        decoder.decode(text)
    except _Found as found:
        return text.count("\n", 0, found.pos) + 1
    except (ValueError, RecursionError):
        return None
    return None


def loads(text: str | bytes | bytearray) -> Any:
    """:func:`json.loads` that refuses an object with a repeated key.

    Raises
    ------
    DuplicateKeyError
        Naming the key and the line of its second occurrence.
    NestingError
        If arrays or objects nest beyond the parser's recursion limit.
    json.JSONDecodeError
        If ``text`` is not JSON (a :class:`ValueError`, as from :func:`json.loads`).
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except DuplicateKeyError as exc:
        if isinstance(text, bytes | bytearray):
            text = text.decode("utf-8", errors="replace")
        raise DuplicateKeyError(exc.key, _line_of(text, exc.key)) from None
    except RecursionError:
        raise NestingError() from None


def _file_error(path: str | Path, exc: DuplicateKeyError | NestingError) -> DataFileError:
    """The error of the file ``path`` for a repeated key (naming the line and the key) or
    nesting beyond the parser's limit."""
    if isinstance(exc, NestingError):
        return DataFileError(path, str(exc))
    message = f"duplicate key {exc.key!r} in a JSON object: each key may appear once"
    if exc.line is not None:
        message = f"line {exc.line}: {message}"
    return DataFileError(path, message, field=exc.key)


def load_file(path: str | Path) -> Any:
    """The JSON document of the file ``path`` (UTF-8), read with :func:`loads`.

    Raises
    ------
    DataFileError
        If the file is not UTF-8 JSON, nests beyond the parser's limit, or repeats a key in
        an object (naming the file, the line and the key).
    OSError
        If the file cannot be read.
    """
    raw = Path(path).read_bytes()
    try:
        return loads(raw.decode("utf-8-sig"))
    except (DuplicateKeyError, NestingError) as exc:
        raise _file_error(path, exc) from None
    except UnicodeDecodeError as exc:
        raise DataFileError(path, f"not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DataFileError(path, f"not valid JSON: {exc}") from None


JSON_SUFFIXES = (".json", ".geojson")
"""File name endings :func:`check_file` reads."""


def check_file(path: str | Path) -> None:
    """Refuse a ``.json`` / ``.geojson`` file that repeats a key (before a reader such as
    GDAL, which keeps one of the values without a word, opens it). Other files, and files
    that are not UTF-8 JSON at all, pass: the reader refuses those with its own message.

    Raises
    ------
    DataFileError
        For a repeated key, naming the file, the line and the key, or for nesting beyond
        the parser's limit.
    """
    p = Path(path)
    if p.suffix.lower() not in JSON_SUFFIXES or not p.is_file():
        return
    try:
        loads(p.read_bytes().decode("utf-8-sig"))
    except (DuplicateKeyError, NestingError) as exc:
        raise _file_error(p, exc) from None
    except ValueError:  # not JSON, not UTF-8: the reader's own error names the formats
        return


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

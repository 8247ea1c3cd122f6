"""Domain errors of xunfang.

Every error subclasses a built-in exception so that callers can catch the
ordinary type (``ValueError``, ``LookupError``, ...) as well as ours. Messages
name the argument, file, row or field, and say how to fix the problem.
"""

from __future__ import annotations

from pathlib import Path


class XunfangError(Exception):
    """Base class of every error raised on purpose by xunfang."""


class ValidationError(XunfangError, ValueError):
    """An argument or a record has a value that cannot be used."""


class DataFileError(ValidationError):
    """A data file cannot be read as asked.

    Parameters
    ----------
    path
        The file.
    message
        What is wrong and how to fix it.
    row
        The row to blame as the file shows it, 1-based: a CSV's line number (the header
        line counts), a sheet's row number.
    field
        The column, when one column is to blame.
    feature
        The feature to blame in a vector file (GeoJSON, GeoPackage, Shapefile, KML),
        1-based in the file's order; said ``feature N`` rather than ``row N``.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        row: int | None = None,
        field: str | None = None,
        feature: int | None = None,
    ) -> None:
        self.path = str(path)
        self.row = row
        self.field = field
        self.feature = feature
        where = [self.path]
        if row is not None:
            where.append(f"row {row}")
        if feature is not None:
            where.append(f"feature {feature}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}")


class CRSError(ValidationError):
    """A coordinate reference system is missing, geographic where a projected one is
    needed, or does not match the coordinates given."""


class AreaNotFoundError(XunfangError, LookupError):
    """A study area name matches no boundary."""


class NetworkError(XunfangError, RuntimeError):
    """A road network cannot be built or is not connected as required."""


class InfeasibleError(XunfangError, ValueError):
    """An optimisation model has no feasible solution (e.g. more fixed sites than K)."""


class SolverError(XunfangError, RuntimeError):
    """A solver failed or stopped without a usable solution."""


class DownloadError(XunfangError, OSError):
    """A public data source could not be downloaded."""


class NotFittedError(XunfangError, AttributeError):
    """A model was used before ``fit``."""


class CacheWarning(UserWarning):
    """A cache entry could not be read or written; the value is computed again."""


class DataWarning(UserWarning):
    """Input data the run goes on with but the user should know about (a boundary whose
    polygons have no name property, ...); shown as one ``warning:`` line."""


def read_toml_text(path: str | Path) -> str:
    """The text of a TOML file (a city, mapping, standards, roster, scenario or table
    file): UTF-8 as TOML requires, a leading byte-order mark (Windows Notepad's UTF-8)
    left out.

    Raises
    ------
    DataFileError
        If the bytes are not UTF-8 (a file saved as GBK/GB18030), naming the first bad
        byte and its position and saying to save the file as UTF-8.
    OSError
        If the file cannot be read (missing, a folder, no permission).
    """
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            path,
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}): a TOML "
            "file is UTF-8; save it as UTF-8",
        ) from None
